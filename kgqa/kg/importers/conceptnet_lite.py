"""conceptnet-lite importer: the edges of a conceptnet-lite SQLite database.

`conceptnet-lite <https://pypi.org/project/conceptnet-lite/>`_ (0.2) loads the ConceptNet 5
assertions CSV into SQLite with this schema (peewee models in ``conceptnet_lite/db.py``)::

    relation(id, name)                      name in snake case: "used_for", "not_desires",
                                            "external_url", "dbpedia/genre"
    language(id, name)                      "en", "fr", ...
    label(id, text, language_id)            text = the URI's label: "ice_cream"
    concept(id, label_id, sense_label)      sense_label = the URI's suffix: "", "n", "v/wn/contact"
    edge(id, relation_id, start_id, end_id, etc)
                                            etc = the CSV's JSON info column, with "weight"

Edge ids follow the order of the dump. This reader queries the file with plain ``sqlite3``
(read-only; no peewee, no global connection) and yields the edges whose two ends are in
``language``, in edge-id order, named as
:func:`~kgqa.kg.importers.conceptnet5.read_conceptnet5_csv` names them: the lower-cased label
with the sense dropped, and the ConceptNet 5 relation name (``used_for`` -> ``UsedFor``,
``dbpedia/influenced_by`` -> ``dbpedia/influencedBy``). As there, senses can repeat a triple;
the builder merges duplicates. A row whose ``etc`` is not usable
JSON, or whose text is not valid UTF-8, is a bad line reported as ``db_path:<edge id>``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.conceptnet5 import parse_weight
from kgqa.kg.relations import CN5_RELATIONS

# CROSS JOIN fixes SQLite's join order: one sequential pass over edge in id order (no sort),
# then primary-key lookups, instead of index probes from label plus a sort of millions of rows.
_EDGES_SQL = """
SELECT e.id, r.name, start_label.text, end_label.text, e.etc
FROM edge AS e
CROSS JOIN concept AS start_concept ON start_concept.id = e.start_id
CROSS JOIN label AS start_label ON start_label.id = start_concept.label_id
CROSS JOIN concept AS end_concept ON end_concept.id = e.end_id
CROSS JOIN label AS end_label ON end_label.id = end_concept.label_id
CROSS JOIN relation AS r ON r.id = e.relation_id
WHERE start_label.language_id = :language AND end_label.language_id = :language
ORDER BY e.id
"""
_TABLES = ("relation", "language", "label", "concept", "edge")


def read_conceptnet_lite(db_path: str | Path, *, language: str = "en",
                         bad_lines: BadLines | None = None) -> Iterator[Triple]:
    """Stream the ``language`` edges of a conceptnet-lite database (see the module docstring).

    Args:
        db_path: the ``conceptnet.db`` file that ``conceptnet_lite.connect()`` built.
        language: ConceptNet language code that both ends must have.
        bad_lines: where malformed rows go; by default the first one raises ``BadInputError``.

    Yields:
        ``Triple(head, relation, tail, weight)`` with the weight from ``edge.etc``.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    db_path = Path(db_path)
    if not db_path.is_file():
        raise FileNotFoundError(2, "No such conceptnet-lite database", str(db_path))
    connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [table for table in _TABLES if table not in tables]
        if missing:
            raise BadInputError(db_path, None, "not a conceptnet-lite database (no table "
                                f"{', '.join(missing)})")
        row = connection.execute("SELECT id FROM language WHERE name = ?", (language,)).fetchone()
        if row is None:
            return
        connection.text_factory = bytes  # decode per row: one undecodable row is one bad line
        relation_names: dict[bytes, str] = {}
        rows = connection.execute(_EDGES_SQL, {"language": row[0]})
        for edge_id, relation, head, tail, etc in rows:
            try:
                head_name, tail_name = head.decode().lower(), tail.decode().lower()
                weight = parse_weight(etc.decode())
                name = relation_names.get(relation)
                if name is None:
                    name = relation_names[relation] = cn5_relation_name(relation.decode())
            except UnicodeDecodeError as exc:
                bad_lines.handle(BadInputError(db_path, edge_id, f"invalid UTF-8 ({exc.reason})"))
                continue
            except ValueError as exc:
                bad_lines.handle(BadInputError(db_path, edge_id, str(exc)))
                continue
            yield Triple(head_name, name, tail_name, weight)
    finally:
        connection.close()


def _snake_case(name: str) -> str:
    """conceptnet-lite's ``_to_snake_case``: ``ExternalURL`` -> ``external_url``."""
    return re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name).lower()


_FROM_SNAKE = {_snake_case(name): name for name in CN5_RELATIONS}


def cn5_relation_name(snake: str) -> str:
    """conceptnet-lite's relation name -> ConceptNet 5's: ``used_for`` -> ``UsedFor``.

    Known ConceptNet 5 relations come back exactly (``external_url`` -> ``ExternalURL``); for
    others the last ``/`` part is camel-cased, with a capital only for a top-level relation
    (``dbpedia/influenced_by`` -> ``dbpedia/influencedBy``, ``not_is_a`` -> ``NotIsA``).
    """
    known = _FROM_SNAKE.get(snake)
    if known is not None:
        return known
    prefix, _, last = snake.rpartition("/")
    words = last.split("_")
    camel = "".join(word[:1].upper() + word[1:] for word in words)
    if prefix:
        camel = camel[:1].lower() + camel[1:]
        return f"{prefix}/{camel}"
    return camel

"""Streaming reader for the official Wikidata JSON dump (``latest-all.json.gz`` / ``.bz2``).

Input format (https://www.wikidata.org/wiki/Wikidata:Database_download#JSON_dumps_(recommended)):
the dump is one JSON array written one entity per line::

    [
    {"type":"item","id":"Q42","labels":{"en":{"language":"en","value":"Douglas Adams"}},...},
    {"type":"property","id":"P31","labels":{"en":{"language":"en","value":"instance of"}},...},
    ...
    {"type":"item","id":"Q64",...}
    ]

The first line is ``[``, the last ``]``, and every entity line but the last ends with ``,``.
Files compressed with gzip, bzip2 (including multi-stream bzip2, as Wikimedia writes it) or xz
are decompressed by suffix. A file of bare JSON lines without the enclosing ``[``/``]`` reads the
same, so filtered dumps (e.g. from ``wdumper``) work too.

For each item entity (``"type": "item"``) the statements live under ``claims`` (``statements``
in newer entity JSON), keyed by property id::

    "claims": {"P31": [{"mainsnak": {"snaktype": "value", "property": "P31",
                                     "datavalue": {"type": "wikibase-entityid",
                                                   "value": {"entity-type": "item",
                                                             "numeric-id": 5, "id": "Q5"}},
                                     "datatype": "wikibase-item"},
                        "type": "statement", "rank": "normal"}]}

A statement becomes ``Triple(subject QID, PID, object QID)`` when its main snak has
``snaktype == "value"``, ``datavalue.type == "wikibase-entityid"`` and an item target
(``entity-type == "item"``; the ``id`` field, or ``"Q" + numeric-id`` in old dumps). Everything
else is ignored: ``somevalue``/``novalue`` snaks, string/time/quantity/coordinate values, targets
that are properties or lexemes, qualifiers and references, and (unless asked for) statements
ranked ``deprecated``, which Wikidata keeps only to record that they are wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines

try:  # orjson parses dump lines several times faster; json is the fallback
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

_QID = re.compile(r"Q\d+")
_PID = re.compile(r"P\d+")


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """English text of one entity, as a linker or a renderer needs it.

    Attributes:
        label: the entity's label (``"Douglas Adams"``), or ``None`` where it has none.
        description: the short description (``"English writer and humorist"``), or ``None``.
        aliases: other names (``("Douglas Noel Adams", "DNA")``); empty where there are none.
    """

    label: str | None
    description: str | None
    aliases: tuple[str, ...] = ()


class _Malformed(Exception):
    """An entity line that parses as JSON but does not have the dump's shape."""


def read_wikidata_dump(
    path: str | Path,
    *,
    entity_info: dict[str, EntityInfo] | None = None,
    property_labels: dict[str, str] | None = None,
    properties: set[str] | frozenset[str] | None = None,
    language: str = "en",
    include_deprecated: bool = False,
    bad_lines: BadLines | None = None,
) -> Iterator[Triple]:
    """Yield the item-to-item statements of a Wikidata JSON dump, one entity at a time.

    Args:
        path: the dump (``.json``, ``.json.gz``, ``.json.bz2`` or ``.json.xz``).
        entity_info: if given, filled with ``QID -> EntityInfo`` for every item that has a label,
            description or alias in ``language`` (items with none are left out to save memory).
            The label falls back to the language-neutral ``mul`` label where ``language`` has none.
        property_labels: if given, filled with ``PID -> label`` from the property entities.
        properties: keep only statements whose property id is in this set (``{"P31", "P279"}``).
        language: language code of the text collected in ``entity_info``/``property_labels``.
        include_deprecated: also yield statements ranked ``deprecated``.
        bad_lines: ``--skip-bad`` accounting; a line that is not valid JSON, or whose entity
            does not have the dump's shape, is reported as ``path:line: problem``.

    Yields:
        ``Triple(head=subject QID, relation=PID, tail=object QID, weight=1.0)``. A subject's
        repeated ``(PID, object)`` pairs (the same fact with different qualifiers) are yielded
        once; the same pair on different subjects is of course yielded for each.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    for number, text in iter_lines(path, bad_lines):
        line = text.strip()
        if line in ("[", "]"):
            continue
        if line.endswith(","):
            line = line[:-1]
        try:
            entity = _loads(line)
        except ValueError as exc:
            bad_lines.handle(BadInputError(path, number, f"invalid JSON ({_short(exc)})"))
            continue
        try:
            triples = _read_entity(entity, entity_info, property_labels, properties, language,
                                   include_deprecated)
        except _Malformed as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))
            continue
        yield from triples


def _read_entity(
    entity: Any,
    entity_info: dict[str, EntityInfo] | None,
    property_labels: dict[str, str] | None,
    properties: set[str] | frozenset[str] | None,
    language: str,
    include_deprecated: bool,
) -> list[Triple]:
    """The triples of one parsed entity line; fills the optional label dictionaries."""
    if not isinstance(entity, dict):
        raise _Malformed(f"expected a JSON object (one entity), found {type(entity).__name__}")
    entity_id = entity.get("id")
    kind = entity.get("type")
    if not isinstance(entity_id, str) or not isinstance(kind, str):
        raise _Malformed("entity has no string 'id' and 'type'")
    if kind == "property":
        if property_labels is not None:
            label = _text(entity, "labels", language) or _text(entity, "labels", "mul")
            if label is not None:
                property_labels[entity_id] = label
        return []
    if kind != "item":  # lexemes, media-info: not part of the item graph
        return []
    if not _QID.fullmatch(entity_id):
        raise _Malformed(f"item id {entity_id!r} is not a Wikidata item id (Q followed by digits)")

    if entity_info is not None:
        info = EntityInfo(
            label=_text(entity, "labels", language) or _text(entity, "labels", "mul"),
            description=_text(entity, "descriptions", language),
            aliases=_aliases(entity, language),
        )
        if info.label is not None or info.description is not None or info.aliases:
            entity_info[entity_id] = info

    claims = entity.get("claims", entity.get("statements")) or {}  # an empty map is written "[]"
    if not isinstance(claims, dict):
        raise _Malformed(f"item {entity_id}: 'claims' is not an object")
    pairs: dict[tuple[str, str], None] = {}
    for pid, statements in claims.items():
        if properties is not None and pid not in properties:
            continue
        if not isinstance(statements, list):
            raise _Malformed(f"item {entity_id}: claims of {pid} are not a list")
        for statement in statements:
            if not isinstance(statement, dict):
                raise _Malformed(f"item {entity_id}: a statement of {pid} is not an object")
            if statement.get("rank") == "deprecated" and not include_deprecated:
                continue
            target = _item_target(statement.get("mainsnak"))
            if target is not None:
                if not _PID.fullmatch(pid):
                    raise _Malformed(f"item {entity_id}: claim key {pid!r} is not a property id")
                pairs[(pid, target)] = None
    return [Triple(entity_id, pid, target) for pid, target in pairs]


def _item_target(snak: Any) -> str | None:
    """The QID a main snak points to, or ``None`` when it is not an item value."""
    if not isinstance(snak, dict) or snak.get("snaktype") != "value":
        return None
    datavalue = snak.get("datavalue")
    if not isinstance(datavalue, dict) or datavalue.get("type") != "wikibase-entityid":
        return None
    value = datavalue.get("value")
    if not isinstance(value, dict) or value.get("entity-type") != "item":
        return None
    target = value.get("id")
    if target is None and isinstance(value.get("numeric-id"), int):
        target = f"Q{value['numeric-id']}"  # dumps before 2015 carry only the numeric id
    if not isinstance(target, str) or not _QID.fullmatch(target):
        raise _Malformed(f"item value {target!r} is not a Wikidata item id")
    return target


def _text(entity: dict, field: str, language: str) -> str | None:
    """``entity[field][language]["value"]`` (labels, descriptions), or ``None``."""
    mapping = entity.get(field)
    entry = mapping.get(language) if isinstance(mapping, dict) else None  # empty maps are "[]"
    if isinstance(entry, dict):
        value = entry.get("value")
        if isinstance(value, str) and value:
            return value
    return None


def _aliases(entity: dict, language: str) -> tuple[str, ...]:
    mapping = entity.get("aliases")
    entries = mapping.get(language) if isinstance(mapping, dict) else None
    if not isinstance(entries, list):
        return ()
    return tuple(e["value"] for e in entries
                 if isinstance(e, dict) and isinstance(e.get("value"), str) and e["value"])


def _short(exc: Exception, limit: int = 120) -> str:
    message = str(exc)
    return message if len(message) <= limit else message[:limit] + "..."

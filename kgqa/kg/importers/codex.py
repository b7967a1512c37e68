"""Importer for CoDEx (Safavi & Koutra, EMNLP 2020), a Wikidata knowledge-graph benchmark.

A CoDEx directory (``codex-s``, ``codex-m``, ``codex-l``) holds:

``train.txt``, ``valid.txt``, ``test.txt``
    positive triples, one per line: ``head QID<TAB>PID<TAB>tail QID`` (``Q7604\\tP1412\\tQ188``),
    no header, no weight.
``valid_negatives.txt``, ``test_negatives.txt``
    hard negatives (plausible but false triples) in the same format, for triple classification.
``relations.en.json``
    ``{PID: {"label": ..., "description": ...}}`` for every CoDEx property.
``types.en.json``
    ``{QID: {"label": ..., "description": ..., "wiki": url}}`` for the entity types; some
    entities of the graph are also types (an occupation such as ``Q1028181`` "painter"), and these
    are the only entities with English labels, as CoDEx's ``entities.json`` is not available.
``entity2types.json``
    ``{QID: [type QID, ...]}``, one key per entity of the split.

Node names are the QIDs and relation names the PIDs, unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kgqa.errors import BadInputError, Errors, KGQAError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines
from kgqa.kg.importers.wikidata_dump import EntityInfo

SPLITS = ("train", "valid", "test", "valid_negatives", "test_negatives")

_QID = re.compile(r"Q\d+")
_PID = re.compile(r"P\d+")


def read_codex(
    directory: str | Path,
    *,
    splits: str | tuple[str, ...] = ("train", "valid", "test"),
    bad_lines: BadLines | None = None,
) -> Iterator[Triple]:
    """Yield the triples of the given CoDEx splits, split by split, in file order.

    Args:
        directory: a CoDEx split directory (``.../codex-s``).
        splits: which files to read, from :data:`SPLITS`; the default is every positive triple.
        bad_lines: ``--skip-bad`` accounting. A line without exactly three tab-separated fields,
            or whose head/tail is not ``Q<digits>`` or relation not ``P<digits>``, is reported
            as ``path:line: problem``.

    Yields:
        ``Triple(head=QID, relation=PID, tail=QID, weight=1.0)``.

    Raises:
        KGQAError: for an unknown split name (before anything is read).
        FileNotFoundError: if a split's file is missing (before anything is read).
    """
    directory = Path(directory)
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    for split in splits:
        if split not in SPLITS:
            raise KGQAError(Errors.E013.format(kind="CoDEx split", name=split, known=", ".join(SPLITS)))
    paths = [directory / f"{split}.txt" for split in splits]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"CoDEx split file not found: {path}")
    return _read_codex_files(paths, bad_lines if bad_lines is not None else BadLines())


def _read_codex_files(paths: list[Path], bad_lines: BadLines) -> Iterator[Triple]:
    for path in paths:
        for number, text in iter_lines(path, bad_lines):
            fields = text.split("\t")
            if len(fields) != 3:
                bad_lines.handle(BadInputError(path, number, (
                    f"expected 3 tab-separated fields (head QID, PID, tail QID), found {len(fields)}")))
                continue
            head, relation, tail = (field.strip() for field in fields)
            problem = None
            if not _QID.fullmatch(head):
                problem = f"head {head!r} is not a Wikidata item id (Q followed by digits)"
            elif not _PID.fullmatch(relation):
                problem = f"relation {relation!r} is not a Wikidata property id (P followed by digits)"
            elif not _QID.fullmatch(tail):
                problem = f"tail {tail!r} is not a Wikidata item id (Q followed by digits)"
            if problem is not None:
                bad_lines.handle(BadInputError(path, number, problem))
                continue
            yield Triple(head, relation, tail)


def read_codex_relation_labels(directory: str | Path) -> dict[str, str]:
    """``PID -> English label`` from ``relations.en.json`` (``{"P106": "occupation", ...}``).

    The file covers all CoDEx properties, including some a given split does not use.
    """
    path = Path(directory) / "relations.en.json"
    labels: dict[str, str] = {}
    for pid, entry in _load_object(path).items():
        label = entry.get("label") if isinstance(entry, dict) else None
        if not _PID.fullmatch(pid) or not isinstance(label, str):
            raise BadInputError(path, None, f"entry {pid!r} is not a property id with a string 'label'")
        labels[pid] = label
    return labels


def read_codex_entity_labels(directory: str | Path) -> dict[str, EntityInfo]:
    """``QID -> EntityInfo`` for the entities of the split that are also types.

    Reads ``types.en.json`` and keeps the QIDs that are keys of ``entity2types.json`` (the
    split's entities), so type-only QIDs are left out. In CoDEx-S that labels 147 of the 2,034
    entities, in CoDEx-M 366 of 17,050. An empty description becomes ``None``; CoDEx has no
    aliases, so ``aliases`` is ``()``.
    """
    directory = Path(directory)
    entities = _load_object(directory / "entity2types.json")
    path = directory / "types.en.json"
    info: dict[str, EntityInfo] = {}
    for qid, entry in _load_object(path).items():
        if qid not in entities:
            continue
        label = entry.get("label") if isinstance(entry, dict) else None
        if not _QID.fullmatch(qid) or not isinstance(label, str):
            raise BadInputError(path, None, f"entry {qid!r} is not an item id with a string 'label'")
        description = entry.get("description")
        info[qid] = EntityInfo(
            label=label or None,
            description=description if isinstance(description, str) and description else None,
        )
    return info


def _load_object(path: Path) -> dict[str, Any]:
    """A JSON file whose top level is an object; syntax errors are reported as ``path:line``."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise BadInputError(path, exc.lineno, f"invalid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise BadInputError(path, None, f"invalid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not isinstance(data, dict):
        raise BadInputError(path, None, f"expected a JSON object, found {type(data).__name__}")
    return data

"""CN-100K importer: the ConceptNet knowledge-base-completion set of Li et al. (ACL 2016).

Input format (``conceptnet/cn100k/`` in the shared data; UTF-8 text, no header), tab-separated:

- ``train.txt`` (100,000 lines): ``rel<TAB>head<TAB>tail``, e.g.
  ``UsedFor<TAB>shovel<TAB>dig hole``;
- ``dev1.txt``, ``dev2.txt`` (1,200 lines), ``test.txt`` (2,400 lines):
  ``rel<TAB>head<TAB>tail<TAB>label``, label ``1`` for a true triple and ``0`` for a corrupted one
  (half of each file).

``rel`` is one of the 34 relation names in :data:`CN100K_RELATIONS`: ConceptNet 5 names in
CamelCase, including a few older ones (``DesireOf``, ``LocationOfAction``, ``InheritsFrom``,
``HasPainIntensity``, ...). The lower-case spelling of ``rel.txt`` is accepted too; the triple
carries the CamelCase name. Heads and tails are lemmatised phrases, normalised with
:func:`~kgqa.kg.importers.base.normalise_concept` (``dig hole`` -> ``dig_hole``). Every triple
has weight 1.0: the confidence column of the original ``train100k.txt`` is not in this copy.

An unknown relation, a wrong column count, a label other than 0/1 or an empty name is a bad line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines, normalise_concept

#: The 34 relations of CN-100K (the names of its ``rel.txt``, in CamelCase).
CN100K_RELATIONS: tuple[str, ...] = (
    "AtLocation", "UsedFor", "IsA", "CapableOf", "HasPrerequisite", "HasProperty", "Causes",
    "HasA", "MotivatedByGoal", "Desires", "CausesDesire", "PartOf", "ReceivesAction",
    "NotDesires", "MadeOf", "NotCapableOf", "DefinedAs", "HasFirstSubevent", "HasLastSubevent",
    "NotHasProperty", "NotIsA", "RelatedTo", "CreatedBy", "NotHasA", "SymbolOf", "NotMadeOf",
    "InstanceOf", "HasSubevent", "InheritsFrom", "LocatedNear", "HasPainIntensity",
    "HasPainCharacter", "DesireOf", "LocationOfAction",
)
_BY_LOWER = {name.lower(): name for name in CN100K_RELATIONS}


def read_cn100k(path: str | Path, *, labelled: bool | None = None, negatives: bool = False,
                bad_lines: BadLines | None = None) -> Iterator[Triple]:
    """Stream the triples of one CN-100K split (see the module docstring).

    Args:
        path: a split file (``train.txt``, ``dev1.txt``, ``dev2.txt``, ``test.txt``).
        labelled: whether lines carry the 4th label column; ``None`` decides from the first
            line (3 columns: no, 4: yes) and then holds every line to that.
        negatives: yield the label-0 (false) triples instead of the label-1 ones; an unlabelled
            file then yields nothing.
        bad_lines: where malformed lines go; by default the first one raises ``BadInputError``.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    wanted_label = "0" if negatives else "1"
    for number, text in iter_lines(path, bad_lines):
        columns = text.split("\t")
        if labelled is None and len(columns) in (3, 4):
            labelled = len(columns) == 4
        try:
            label, triple = _parse_line(columns, labelled)
        except ValueError as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))
            continue
        if label == wanted_label:
            yield triple


def _parse_line(columns: list[str], labelled: bool | None) -> tuple[str, Triple]:
    """One split line -> ``(label, triple)``; an unlabelled line has label ``"1"``."""
    if labelled is None or len(columns) != (4 if labelled else 3):
        expected = "3 or 4" if labelled is None else ("4" if labelled else "3")
        raise ValueError(f"expected {expected} tab-separated columns, found {len(columns)}")
    relation = _BY_LOWER.get(columns[0].lower())
    if relation is None:
        raise ValueError(f"unknown CN-100K relation {columns[0]!r}")
    head, tail = normalise_concept(columns[1]), normalise_concept(columns[2])
    if not head or not tail:
        raise ValueError("empty node name")
    label = columns[3] if labelled else "1"
    if label not in ("0", "1"):
        raise ValueError(f"label {label!r} is not 0 or 1")
    return label, Triple(head, relation, tail)

"""ConceptNet 4 importer: the English graph taken from the Divisi2 package.

Input format (``conceptnet/conceptnet4_en/conceptnet4_en.tsv.gz`` in the shared data; gzip'd
UTF-8, no header, 488,014 lines), five tab-separated columns::

    head<TAB>relation<TAB>tail<TAB>weight<TAB>freq
    ice cream<TAB>AtLocation<TAB>freezer<TAB>12<TAB>5

- head, tail: lemmatised lower-case phrases with spaces (a few with stray outer spaces); they
  become node names via :func:`~kgqa.kg.importers.base.normalise_concept` (``ice_cream``).
- relation: one of the 27 ConceptNet 4 relations in :data:`CN4_RELATIONS`, or its negated
  ``Not<Rel>`` form when ``freq < 0``. Names are yielded as in the file: ConceptNet 4's
  ``ConceptuallyRelatedTo`` stays as is and the builder's
  :class:`~kgqa.kg.relations.RelationMap` maps it to ``RelatedTo`` (through ``CN4_TO_CN5``).
- weight: the ConceptNet 4 ``score`` (net user votes), an integer from 1 to 148.
- freq: the frequency modifier, an integer from -10 to 10 (5 = "generally"; negative =
  negated).

The triple's weight is the score by default (``weight="score"``), or Divisi2's edge weight
``|freq| / 10 * log2(score + 1)`` with ``weight="divisi"``. An unknown relation, a ``Not*``
relation whose sign disagrees with ``freq``, non-integer numbers, a score below 1, a wrong
column count or an empty node name is a bad line. Repeated triples (1,242 in the file) are left
to the builder, which merges them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

from kgqa.errors import BadInputError, Errors, KGQAError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines, normalise_concept

#: The 27 ConceptNet 4 relations (positive forms) of the English graph.
CN4_RELATIONS: frozenset[str] = frozenset({
    "IsA", "HasProperty", "UsedFor", "AtLocation", "CapableOf", "HasSubevent", "HasPrerequisite",
    "ConceptuallyRelatedTo", "HasA", "Causes", "MotivatedByGoal", "ReceivesAction", "Desires",
    "DefinedAs", "LocatedNear", "CausesDesire", "PartOf", "HasFirstSubevent", "HasLastSubevent",
    "MadeOf", "SimilarSize", "CreatedBy", "SymbolOf", "HasPainIntensity", "InstanceOf",
    "InheritsFrom", "HasPainCharacter",
})
_NEGATED: frozenset[str] = frozenset(f"Not{name}" for name in CN4_RELATIONS)
WEIGHTS = ("score", "divisi")


def read_conceptnet4(path: str | Path, *, weight: str = "score",
                     bad_lines: BadLines | None = None) -> Iterator[Triple]:
    """Stream the triples of the ConceptNet 4 TSV (see the module docstring).

    Args:
        path: ``conceptnet4_en.tsv.gz`` (or an uncompressed copy).
        weight: ``"score"`` (the integer vote count) or ``"divisi"`` (Divisi2's weight).
        bad_lines: where malformed lines go; by default the first one raises ``BadInputError``.

    Raises:
        KGQAError: ``E013`` for an unknown ``weight`` (at once, before reading).
    """
    if weight not in WEIGHTS:
        raise KGQAError(Errors.E013.format(kind="ConceptNet 4 weight", name=weight,
                                           known=", ".join(WEIGHTS)))
    return _read(path, weight == "divisi", bad_lines if bad_lines is not None else BadLines())


def _read(path: str | Path, divisi: bool, bad_lines: BadLines) -> Iterator[Triple]:
    for number, text in iter_lines(path, bad_lines):
        try:
            yield _parse_line(text, divisi)
        except ValueError as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))


def _parse_line(text: str, divisi: bool) -> Triple:
    columns = text.split("\t")
    if len(columns) != 5:
        raise ValueError(f"expected 5 tab-separated columns, found {len(columns)}")
    head_text, relation, tail_text, score_text, freq_text = columns
    negated = relation in _NEGATED
    if not negated and relation not in CN4_RELATIONS:
        raise ValueError(f"unknown ConceptNet 4 relation {relation!r}")
    try:
        score = int(score_text)
        freq = int(freq_text)
    except ValueError:
        raise ValueError(f"weight {score_text!r} and freq {freq_text!r} must be integers") from None
    if score < 1:
        raise ValueError(f"weight {score} is not a positive ConceptNet 4 score")
    if negated != (freq < 0):
        raise ValueError(f"relation {relation!r} does not match the sign of freq {freq}")
    head, tail = normalise_concept(head_text), normalise_concept(tail_text)
    if not head or not tail:
        raise ValueError("empty node name")
    value = abs(freq) / 10 * math.log2(score + 1) if divisi else float(score)
    return Triple(head, relation, tail, value)

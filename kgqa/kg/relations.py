"""Relation vocabularies and the maps between them.

Every ConceptNet importer yields ConceptNet 5 relation names (``UsedFor``, ``RelatedTo``, ...).
A :class:`RelationMap` then decides what the stored graph keeps:

``full``
    every relation under its ConceptNet 5 name (negated ``Not*`` relations are their own types).
``merged17``
    the 17-relation scheme of KagNet (Lin et al., 2019), reused by MHGRN (Feng et al., 2020) and
    QA-GNN (Yasunaga et al., 2021). ``*`` marks a relation whose edge is reversed when merged:

    ==============  =====================================================================
    merged          ConceptNet 5 relations
    ==============  =====================================================================
    AtLocation      AtLocation, LocatedNear
    CapableOf       CapableOf
    Causes          Causes, CausesDesire, \\*MotivatedByGoal
    CreatedBy       CreatedBy
    Desires         Desires
    Antonym         Antonym, DistinctFrom
    HasContext      HasContext
    HasProperty     HasProperty
    HasSubevent     HasSubevent, HasFirstSubevent, HasLastSubevent, HasPrerequisite,
                    Entails, MannerOf
    IsA             IsA, InstanceOf, DefinedAs
    MadeOf          MadeOf
    NotCapableOf    NotCapableOf
    NotDesires      NotDesires
    PartOf          PartOf, \\*HasA
    RelatedTo       RelatedTo, SimilarTo, Synonym
    UsedFor         UsedFor
    ReceivesAction  ReceivesAction
    ==============  =====================================================================

    Relations outside the table (``FormOf``, ``DerivedFrom``, ``SymbolOf``, ``ExternalURL``,
    ``dbpedia/...``, ConceptNet 4's ``SimilarSize`` ...) are dropped, counted in the manifest and
    reported by a ``[W100]`` warning at build.
    Negated relations other than ``NotCapableOf``/``NotDesires`` (``NotIsA``,
    ``NotHasProperty``, ...) are never merged into their positive forms: with
    ``negated="keep"`` (default) they stay as their own types, with ``negated="drop"`` they go.

ConceptNet 4 and CN-100K use the same names as ConceptNet 5 except those in
:data:`CN4_TO_CN5` (ConceptNet 4's ``ConceptuallyRelatedTo`` is ConceptNet 5's ``RelatedTo``).

Inverse relations are explicit in the store: relation ``r`` of ``R`` read backwards is ``r + R``,
named ``~Name`` (see :meth:`kgqa.kg.KnowledgeGraph.relation_name`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from kgqa.errors import Errors, KGQAError, Warnings, warn

#: ConceptNet 5.7 relations (without ``/r/``), in the order of the ConceptNet documentation.
CN5_RELATIONS: tuple[str, ...] = (
    "RelatedTo", "FormOf", "IsA", "PartOf", "HasA", "UsedFor", "CapableOf", "AtLocation",
    "Causes", "HasSubevent", "HasFirstSubevent", "HasLastSubevent", "HasPrerequisite",
    "HasProperty", "MotivatedByGoal", "ObstructedBy", "Desires", "CreatedBy", "Synonym",
    "Antonym", "DistinctFrom", "DerivedFrom", "SymbolOf", "DefinedAs", "MannerOf", "LocatedNear",
    "HasContext", "SimilarTo", "EtymologicallyRelatedTo", "EtymologicallyDerivedFrom",
    "CausesDesire", "MadeOf", "ReceivesAction", "ExternalURL", "InstanceOf", "Entails",
    "NotDesires", "NotUsedFor", "NotCapableOf", "NotHasProperty",
)

#: ConceptNet 4 / CN-100K names that differ from ConceptNet 5. Everything else keeps its name.
CN4_TO_CN5: dict[str, str] = {"ConceptuallyRelatedTo": "RelatedTo"}

#: The 17 merged relations, in KagNet's / MHGRN's order.
MERGED17: tuple[str, ...] = (
    "Antonym", "AtLocation", "CapableOf", "Causes", "CreatedBy", "IsA", "Desires", "HasSubevent",
    "PartOf", "HasContext", "HasProperty", "MadeOf", "NotCapableOf", "NotDesires",
    "ReceivesAction", "RelatedTo", "UsedFor",
)

#: ConceptNet 5 name -> (merged name, reversed?).
MERGED17_MAP: dict[str, tuple[str, bool]] = {
    "AtLocation": ("AtLocation", False), "LocatedNear": ("AtLocation", False),
    "CapableOf": ("CapableOf", False),
    "Causes": ("Causes", False), "CausesDesire": ("Causes", False),
    "MotivatedByGoal": ("Causes", True),
    "CreatedBy": ("CreatedBy", False),
    "Desires": ("Desires", False),
    "Antonym": ("Antonym", False), "DistinctFrom": ("Antonym", False),
    "HasContext": ("HasContext", False),
    "HasProperty": ("HasProperty", False),
    "HasSubevent": ("HasSubevent", False), "HasFirstSubevent": ("HasSubevent", False),
    "HasLastSubevent": ("HasSubevent", False), "HasPrerequisite": ("HasSubevent", False),
    "Entails": ("HasSubevent", False), "MannerOf": ("HasSubevent", False),
    "IsA": ("IsA", False), "InstanceOf": ("IsA", False), "DefinedAs": ("IsA", False),
    "MadeOf": ("MadeOf", False),
    "NotCapableOf": ("NotCapableOf", False),
    "NotDesires": ("NotDesires", False),
    "PartOf": ("PartOf", False), "HasA": ("PartOf", True),
    "RelatedTo": ("RelatedTo", False), "SimilarTo": ("RelatedTo", False),
    "Synonym": ("RelatedTo", False),
    "UsedFor": ("UsedFor", False),
    "ReceivesAction": ("ReceivesAction", False),
}

SCHEMES = ("full", "merged17")


def is_negated(relation: str) -> bool:
    """``True`` for ConceptNet's negated relations (``NotIsA``, ``NotUsedFor``, ...)."""
    return relation.startswith("Not") and relation[3:4].isupper()


@dataclass
class RelationMap:
    """Maps source relation names to the stored relation vocabulary.

    Args:
        scheme: ``"full"`` (keep every relation) or ``"merged17"`` (the table above).
        negated: ``"keep"`` negated relations as their own types, or ``"drop"`` them.

    ``apply(name)`` returns ``(stored_name, reversed)`` or ``None`` for a dropped relation;
    ``dropped`` counts the dropped edges per source relation for the manifest.
    """

    scheme: str = "merged17"
    negated: str = "keep"
    dropped: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise KGQAError(Errors.E013.format(kind="relation scheme", name=self.scheme,
                                               known=", ".join(SCHEMES)))
        if self.negated not in ("keep", "drop"):
            raise KGQAError(Errors.E013.format(kind="negated-relation policy", name=self.negated,
                                               known="keep, drop"))
        self._cache: dict[str, tuple[str, bool] | None] = {}

    def apply(self, relation: str) -> tuple[str, bool] | None:
        hit = self._cache.get(relation, False)
        if hit is False:
            hit = self._lookup(relation)
            self._cache[relation] = hit
        if hit is None:
            self.dropped[relation] += 1
        return hit

    def _lookup(self, relation: str) -> tuple[str, bool] | None:
        relation = CN4_TO_CN5.get(relation, relation)
        if self.scheme == "merged17" and relation in MERGED17_MAP:
            return MERGED17_MAP[relation]
        if is_negated(relation):
            return (relation, False) if self.negated == "keep" else None
        if self.scheme == "full":
            return (relation, False)
        return None

    def dropped_outside_table(self) -> dict[str, int]:
        """Dropped edges per relation the scheme has no place for (not the negated ones that
        ``negated="drop"`` asks to drop)."""
        return {name: count for name, count in self.dropped.items() if not is_negated(name)}

    def warn_dropped(self) -> None:
        """``[W100]`` with the count, when relations outside the table were dropped."""
        outside = self.dropped_outside_table()
        if outside:
            ranked = sorted(outside.items(), key=lambda kv: (-kv[1], kv[0]))
            examples = ", ".join(f"{name}: {count:,}" for name, count in ranked[:5])
            examples += f" and {len(ranked) - 5} more relations" if len(ranked) > 5 else ""
            warn(Warnings.W100.format(scheme=self.scheme, edges=sum(outside.values()), examples=examples))

    def describe(self) -> dict:
        """JSON-ready description for the graph manifest."""
        out: dict = {"scheme": self.scheme, "negated": self.negated}
        if self.scheme == "merged17":
            out["map"] = {src: (dst if not rev else f"*{dst}") for src, (dst, rev) in MERGED17_MAP.items()}
        out["dropped_edges"] = dict(sorted(self.dropped.items()))
        return out

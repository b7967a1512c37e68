"""Paths as sentences a reader can check: ``shovel --UsedFor--> dig`` is "shovel is used to dig".

One template per ConceptNet relation (the merged relations of the default graph and the usual
ConceptNet 5 ones), phrased after ConceptNet's own surface texts, with a negated form for the
``Not*`` relations (:func:`kgqa.kg.relations.is_negated`): ``shovel --NotIsA--> rake`` reads
"shovel is not a kind of rake". A relation without a template reads "head <relation in words>
tail" ("shovel has context garden").
"""

from __future__ import annotations

import re

from kgqa.kg.relations import is_negated

#: ``relation: (positive, negated)`` templates over ``{h}`` (head) and ``{t}`` (tail).
TEMPLATES: dict[str, tuple[str, str]] = {
    "RelatedTo": ("{h} is related to {t}", "{h} is not related to {t}"),
    "IsA": ("{h} is a kind of {t}", "{h} is not a kind of {t}"),
    "PartOf": ("{h} is part of {t}", "{h} is not part of {t}"),
    "HasA": ("{h} has {t}", "{h} does not have {t}"),
    "UsedFor": ("{h} is used to {t}", "{h} is not used to {t}"),
    "CapableOf": ("{h} can {t}", "{h} cannot {t}"),
    "AtLocation": ("{h} is found at {t}", "{h} is not found at {t}"),
    "Causes": ("{h} causes {t}", "{h} does not cause {t}"),
    "HasSubevent": ("{h} involves {t}", "{h} does not involve {t}"),
    "HasFirstSubevent": ("{h} begins with {t}", "{h} does not begin with {t}"),
    "HasLastSubevent": ("{h} ends with {t}", "{h} does not end with {t}"),
    "HasPrerequisite": ("{h} requires {t}", "{h} does not require {t}"),
    "HasProperty": ("{h} is {t}", "{h} is not {t}"),
    "MotivatedByGoal": ("you {h} because you want to {t}", "you do not {h} to {t}"),
    "CausesDesire": ("{h} makes you want to {t}", "{h} does not make you want to {t}"),
    "Desires": ("{h} wants {t}", "{h} does not want {t}"),
    "CreatedBy": ("{h} is created by {t}", "{h} is not created by {t}"),
    "MadeOf": ("{h} is made of {t}", "{h} is not made of {t}"),
    "ReceivesAction": ("{h} can be {t}", "{h} cannot be {t}"),
    "Antonym": ("{h} is the opposite of {t}", "{h} is not the opposite of {t}"),
    "DistinctFrom": ("{h} is not {t}", "{h} is not distinct from {t}"),
    "Synonym": ("{h} means the same as {t}", "{h} does not mean the same as {t}"),
    "SimilarTo": ("{h} is similar to {t}", "{h} is not similar to {t}"),
    "DefinedAs": ("{h} is defined as {t}", "{h} is not defined as {t}"),
    "LocatedNear": ("{h} is found near {t}", "{h} is not found near {t}"),
    "SymbolOf": ("{h} is a symbol of {t}", "{h} is not a symbol of {t}"),
    "MannerOf": ("{h} is a way to {t}", "{h} is not a way to {t}"),
    "DerivedFrom": ("{h} is derived from {t}", "{h} is not derived from {t}"),
    "FormOf": ("{h} is a form of {t}", "{h} is not a form of {t}"),
    "EtymologicallyRelatedTo": ("{h} shares a root with {t}", "{h} does not share a root with {t}"),
    "ObstructedBy": ("{h} is obstructed by {t}", "{h} is not obstructed by {t}"),
    "CapitalOf": ("{h} is the capital of {t}", "{h} is not the capital of {t}"),
    "InstanceOf": ("{h} is an instance of {t}", "{h} is not an instance of {t}"),
}


def concept_text(name: str) -> str:
    """A concept name as words: ``dig_hole`` -> ``dig hole``."""
    return name.replace("_", " ")


def _words(relation: str) -> str:
    """``HasContext`` -> ``has context``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", relation).lower()


def hop_sentence(head: str, relation: str, tail: str) -> str:
    """One stored edge ``head --relation--> tail`` as a sentence.

    Example::

        >>> hop_sentence("shovel", "UsedFor", "dig")
        'shovel is used to dig'
        >>> hop_sentence("shovel", "NotIsA", "rake")
        'shovel is not a kind of rake'
    """
    negated = is_negated(relation)
    base = relation[3:] if negated else relation
    h, t = concept_text(head), concept_text(tail)
    if base in TEMPLATES:
        return TEMPLATES[base][1 if negated else 0].format(h=h, t=t)
    return f"{h} {'not ' if negated else ''}{_words(base)} {t}"


def path_sentence(nodes: list[str], relations: list[str]) -> str:
    """A path as sentences, one per hop in the stored edge's direction, joined by ``;``.

    Example::

        >>> path_sentence(["dig", "shovel"], ["~UsedFor"])
        'shovel is used to dig'
        >>> path_sentence(["tool", "rake", "shovel"], ["~IsA", "~NotIsA"])
        'rake is a kind of tool; shovel is not a kind of rake'
    """
    parts = []
    for relation, (a, b) in zip(relations, zip(nodes, nodes[1:])):
        if relation.startswith("~"):
            parts.append(hop_sentence(b, relation[1:], a))
        else:
            parts.append(hop_sentence(a, relation, b))
    return "; ".join(parts)


def negated_relations(relations: list[str]) -> list[str]:
    """The negated relations of a path (``~NotIsA`` -> ``NotIsA``), in hop order."""
    return [r.lstrip("~") for r in relations if is_negated(r.lstrip("~"))]

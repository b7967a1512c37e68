"""A tiny concept graph for the linking tests, built with GraphBuilder."""

from __future__ import annotations

from pathlib import Path

from kgqa.kg import GraphBuilder
from kgqa.kg.importers.base import Triple

#: A 40-concept vocabulary that exercises every linking rule. Degrees are chosen on purpose:
#: ``tree_house`` (3 edges) beats ``apple_tree`` (2) when they overlap; with
#: ``min_phrase_degree=3`` ``ice_cream`` (3) stays whole while ``paper_bag`` (1) also links its parts.
VOCAB_TRIPLES = [
    ("shovel", "UsedFor", "dig"), ("shovel", "IsA", "tool"), ("hammer", "IsA", "tool"),
    ("dig", "HasSubevent", "ground"), ("plant_flower", "HasSubevent", "dig"),
    ("plant", "RelatedTo", "flower"), ("man", "RelatedTo", "men"),
    ("the_ground", "RelatedTo", "ground"), ("something", "RelatedTo", "thing"),
    ("ice_cream", "IsA", "dessert"), ("ice_cream", "AtLocation", "freezer"), ("ice_cream", "HasProperty", "cold"),
    ("ice", "RelatedTo", "cream"), ("paper_bag", "MadeOf", "paper"), ("bag", "RelatedTo", "sack"),
    ("shop_bag", "IsA", "bag"), ("shop", "RelatedTo", "store"), ("have_fun", "Causes", "laugh"),
    ("fun", "RelatedTo", "laugh"), ("cool_off", "HasPrerequisite", "pool"), ("cool", "RelatedTo", "cold"),
    ("apple_tree", "IsA", "tree"), ("apple", "AtLocation", "apple_tree"),
    ("tree_house", "IsA", "house"), ("tree_house", "AtLocation", "tree"), ("tree_house", "RelatedTo", "wood"),
    ("near", "RelatedTo", "close"), ("populated_area", "RelatedTo", "city"),
    ("go_to_store", "HasSubevent", "buy"), ("store", "RelatedTo", "buy"), ("go", "RelatedTo", "store"),
    ("x-ray", "UsedFor", "doctor"), ("x_-_ray", "RelatedTo", "x-ray"),
]


def build_vocab_graph(path: Path, triples=VOCAB_TRIPLES, name: str = "vocab"):
    builder = GraphBuilder(None)
    for head, relation, tail in triples:
        builder.add(Triple(head, relation, tail, 1.0))
    return builder.save(path, name=name)

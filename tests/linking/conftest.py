"""Fixtures of the linking tests: one spaCy pipeline per session and a tiny concept graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgqa.kg import GraphBuilder
from kgqa.kg.importers.base import Triple

#: A 30-concept vocabulary that exercises every linking rule (degrees chosen on purpose:
#: ``tree_house`` (3 edges) beats ``apple_tree`` (2) when they overlap).
VOCAB_TRIPLES = [
    ("shovel", "UsedFor", "dig"), ("shovel", "IsA", "tool"), ("hammer", "IsA", "tool"),
    ("dig", "HasSubevent", "ground"), ("plant_flower", "HasSubevent", "dig"),
    ("plant", "RelatedTo", "flower"), ("man", "RelatedTo", "men"),
    ("the_ground", "RelatedTo", "ground"), ("something", "RelatedTo", "thing"),
    ("ice_cream", "IsA", "dessert"), ("ice", "RelatedTo", "cream"),
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


@pytest.fixture(scope="session")
def nlp():
    """The lemmatizing spaCy pipeline, loaded once for all linking tests."""
    from kgqa.linking.lemmatize import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def vocab_graph(tmp_path_factory):
    return build_vocab_graph(tmp_path_factory.mktemp("graphs") / "vocab")


@pytest.fixture(scope="session")
def linker(vocab_graph, nlp):
    from kgqa.linking.concept_linker import ConceptLinker

    return ConceptLinker(vocab_graph, nlp=nlp)


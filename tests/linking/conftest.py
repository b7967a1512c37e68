"""Fixtures of the linking tests: one spaCy pipeline per session and a tiny concept graph."""

from __future__ import annotations

import pytest

from tests.linking.fixtures import build_vocab_graph


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

    return ConceptLinker(vocab_graph, nlp=nlp, min_phrase_degree=3)


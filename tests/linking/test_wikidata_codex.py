"""Wikidata linking on the real CoDEx-M graph with ERNIE anchor aliases (slow: MiniLM encodes
about 1,200 candidate descriptions once)."""

from __future__ import annotations

import pytest

from kgqa.linking.linker import is_wikidata_graph
from kgqa.linking.wikidata import ERNIE_SAMPLE, WikidataLinker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def codex_m(data_dir):
    from kgqa.kg.recipes import build_recipe

    return build_recipe("codex_m")


def test_codex_m_links_with_ernie_aliases(codex_m, data_dir):
    assert is_wikidata_graph(codex_m)
    linker = WikidataLinker.for_graph(codex_m, ernie_sample=data_dir / ERNIE_SAMPLE)
    assert linker.aliases.meta["cache"]["hit"] is False
    result = linker.link("Paris is the capital of France.")
    assert [(m.text, m.node) for m in result.mentions] == [("Paris", "Q90"), ("France", "Q142")]
    # ERNIE's cut-off labels ("ana" for anarchism) are not aliases
    assert "ana" not in linker.aliases and "sao tome and principe" in linker.aliases
    again = WikidataLinker.for_graph(codex_m)  # finds the shared sample itself; cached
    assert again.aliases.meta["cache"]["hit"] is True
    again.candidate_vectors()
    assert again.vectors_cache["hit"] is True

"""Retrieval: per-choice evidence from the graph, for the reasoning models.

* :mod:`~kgqa.retrieval.paths`: KagNet paths between question and answer concepts (numba kernel);
* :mod:`~kgqa.retrieval.subgraph`: QA-GNN subgraphs (concepts + bridging nodes, capped);
* :mod:`~kgqa.retrieval.ranking`: node relevance (MiniLM) and the degree/random ablations;
* :mod:`~kgqa.retrieval.pruning`: KGE path pruning with a pluggable scorer;
* :mod:`~kgqa.retrieval.retriever`: both for many choices at once, as flat arrays;
* :mod:`~kgqa.retrieval.data`: :class:`ChoiceGraph`, the PyG ``Data`` of one choice;
* :mod:`~kgqa.retrieval.cache`, :mod:`~kgqa.retrieval.preprocess`,
  :mod:`~kgqa.retrieval.backends`: the cached, parallel ``kgqa preprocess``.

Importing this package loads nothing heavy. A lazy name never equals a submodule's name (the
submodule, once imported, would replace it): ``preprocess()`` is
``kgqa.retrieval.preprocess.preprocess``.
"""

from __future__ import annotations

_EXPORTS = {
    "PathFinder": "kgqa.retrieval.paths", "PathSet": "kgqa.retrieval.paths", "find_paths": "kgqa.retrieval.paths",
    "SubgraphBuilder": "kgqa.retrieval.subgraph", "Subgraph": "kgqa.retrieval.subgraph",
    "RetrievalConfig": "kgqa.retrieval.config", "Retriever": "kgqa.retrieval.retriever",
    "ChoiceGraph": "kgqa.retrieval.data", "RetrievalCache": "kgqa.retrieval.cache",
    "PathScorer": "kgqa.retrieval.pruning",
    "prune_paths": "kgqa.retrieval.pruning", "RelevanceRanker": "kgqa.retrieval.ranking",
    "DegreeRanker": "kgqa.retrieval.ranking", "RandomRanker": "kgqa.retrieval.ranking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgqa.retrieval' has no attribute {name!r}")

"""Knowledge-graph embeddings of a graph's nodes: train, save beside the graph, load, score.

* :mod:`~kgqa.kge.train`: :class:`KGEConfig` and :func:`train_embeddings` (TransE by default,
  kgqa's sparse loop :mod:`~kgqa.kge.sparse`; PyKEEN for RotatE);
* :mod:`~kgqa.kge.artifacts`: :class:`EntityEmbeddings`, :func:`load_embeddings` (checks the
  graph checksum; falls back to the compact table shipped for the default graph);
* :mod:`~kgqa.kge.evaluate`: filtered link prediction (MRR, Hits@K), the relation-popularity
  baseline and the CN-100K protocol;
* :mod:`~kgqa.kge.scoring`: triple scores and :class:`TransEPathScorer` (KagNet path pruning).

Importing this package loads neither torch nor PyKEEN.
"""

from __future__ import annotations

from kgqa.kge.artifacts import EntityEmbeddings, find_embeddings, load_embeddings, read_embeddings

__all__ = ["EntityEmbeddings", "load_embeddings", "read_embeddings", "find_embeddings", "KGEConfig",
           "train_embeddings", "TransEPathScorer", "score_triples"]


def __getattr__(name: str):
    if name in ("KGEConfig", "train_embeddings"):
        from kgqa.kge import train

        return getattr(train, name)
    if name in ("TransEPathScorer", "score_triples"):
        from kgqa.kge import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module 'kgqa.kge' has no attribute {name!r}")

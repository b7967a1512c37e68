"""Reusable layers of the reasoning models, one per module (PyG style).

- :class:`ConceptEmbedding`: global concept ids -> vectors (frozen text table or learned).
- :class:`NodeTypeScoreEncoder`: QA-GNN's node-type and relevance-score features.
- :class:`QAGNNConv`: QA-GNN's relation- and node-type-aware attention message passing.
- :class:`PathEncoder`: KagNet's path LSTM and hierarchical path attention.
- :class:`AttentionPool`: multi-head node pooling with an LM query.
- :class:`MLP`: the scorer head.
- :class:`ZeroShotPrior`: the zero-shot sentence cosine as a trainable prior of every scorer.
"""

from __future__ import annotations

_LAYERS = {
    "AttentionPool": "kgqa.nn.attention_pool",
    "ConceptEmbedding": "kgqa.nn.concept_embedding",
    "MLP": "kgqa.nn.mlp",
    "NodeTypeScoreEncoder": "kgqa.nn.node_type_score",
    "PathEncoder": "kgqa.nn.path_encoder",
    "PathEncoderOutput": "kgqa.nn.path_encoder",
    "QAGNNConv": "kgqa.nn.qagnn_conv",
    "ZeroShotPrior": "kgqa.nn.zero_shot_prior",
    "zero_last_linear": "kgqa.nn.zero_shot_prior",
}

__all__ = sorted(_LAYERS)


def __getattr__(name: str):
    if name in _LAYERS:
        import importlib

        return getattr(importlib.import_module(_LAYERS[name]), name)
    raise AttributeError(f"module 'kgqa.nn' has no attribute {name!r}")

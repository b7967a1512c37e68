"""Reasoning models, registered by name: ``lm``, ``kagnet``, ``rgcn``, ``qagnn``.

Every model takes a :class:`QABatch` and returns a :class:`QAModelOutput` (``logits`` ``(B, C)``,
``loss`` only with labels, optional path/node/edge attention); it is built from a config
dataclass as ``cls(config, backbone=None, node_features=None)``::

    from kgqa.models import build_model
    model = build_model("qagnn", {"hidden_size": 64}, backbone=backbone, node_features=table)

The model classes load on first use (``kgqa.models.QAGNN`` or :func:`get_model_class`).
"""

from __future__ import annotations

from typing import Any

from kgqa.models.base import QABatch, QAModelOutput, multiple_choice_loss
from kgqa.models.registry import MODEL_MODULES, get_model_class, register_model

#: class name -> module, for ``from kgqa.models import QAGNN``
_CLASSES = {
    "LMOnly": "kgqa.models.lm", "LMConfig": "kgqa.models.lm",
    "KagNet": "kgqa.models.kagnet", "KagNetConfig": "kgqa.models.kagnet",
    "RGCN": "kgqa.models.rgcn", "RGCNConfig": "kgqa.models.rgcn",
    "QAGNN": "kgqa.models.qagnn", "QAGNNConfig": "kgqa.models.qagnn",
    "QAModel": "kgqa.models.common", "GraphQAModel": "kgqa.models.common",
    "GraphModelConfig": "kgqa.models.common",
}

__all__ = ["MODEL_MODULES", "QABatch", "QAModelOutput", "build_model", "get_model_class",
           "multiple_choice_loss", "register_model", *_CLASSES]


def build_model(name: str, config: Any = None, *, backbone=None, **kwargs):
    """Build the model registered as ``name`` from its config (dataclass, dict or ``None``);
    ``kwargs`` go to the constructor (``node_features=`` for the graph models).

    Raises:
        KGQAError: ``[E013]`` for an unknown name, ``[E040]`` for a bad config key.
    """
    cls = get_model_class(name)
    return cls(config, backbone=backbone, **kwargs)


def __getattr__(name: str):
    if name in _CLASSES:
        import importlib

        return getattr(importlib.import_module(_CLASSES[name]), name)
    raise AttributeError(f"module 'kgqa.models' has no attribute {name!r}")

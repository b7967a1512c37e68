"""Models registered by name (``lm``, ``kagnet``, ``rgcn``, ``qagnn``, ``ernie``...).

Each model module decorates its class with ``@register_model("name")``; the class has a
``config_class`` (a dataclass) and is built as ``cls(config, backbone=...)``.
"""

from __future__ import annotations

import importlib

from kgqa.errors import Errors, KGQAError

MODELS: dict[str, type] = {}

#: name -> module that registers it (imported on first use, so importing kgqa stays light)
MODEL_MODULES = {
    "lm": "kgqa.models.lm",
    "kagnet": "kgqa.models.kagnet",
    "rgcn": "kgqa.models.rgcn",
    "qagnn": "kgqa.models.qagnn",
    "ernie": "kgqa.models.ernie",
    "llm": "kgqa.models.llm",
}


def register_model(name: str):
    def decorator(cls):
        MODELS[name] = cls
        cls.model_name = name
        return cls

    return decorator


def get_model_class(name: str) -> type:
    if name not in MODELS and name in MODEL_MODULES:
        importlib.import_module(MODEL_MODULES[name])
    if name not in MODELS:
        raise KGQAError(Errors.E013.format(kind="model", name=name, known=", ".join(sorted(MODEL_MODULES))))
    return MODELS[name]

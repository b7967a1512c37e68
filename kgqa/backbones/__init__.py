"""Pretrained transformer encoders (BERT, ALBERT, ELECTRA, RoBERTa, DistilBERT, MiniLM).

``Backbone.from_pretrained(name)`` loads any of them by short name (``minilm``), local directory
or hub id; :mod:`kgqa.backbones.tiny` writes tiny random ones for tests. Importing this package
loads neither torch nor transformers; the classes load on first use.
"""

from __future__ import annotations

from kgqa.backbones.names import ResolvedName, resolve_backbone_name, resolve_model_path

__all__ = ["Backbone", "BackboneOutput", "ResolvedName", "resolve_backbone_name",
           "resolve_model_path"]


def __getattr__(name: str):
    if name in ("Backbone", "BackboneOutput"):
        from kgqa.backbones import backbone

        return getattr(backbone, name)
    raise AttributeError(f"module 'kgqa.backbones' has no attribute {name!r}")

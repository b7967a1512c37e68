"""kgqa: knowledge-graph-augmented question answering.

The pipeline, one sub-package per stage: ``kg`` (store, importers) -> ``linking`` -> ``retrieval``
-> ``data`` -> ``models`` -> ``training`` / ``explain``. Importing ``kgqa`` loads nothing heavy;
the public functions import their stage on first call. No public name is also a submodule's name
(``kgqa.embed`` is the function; :class:`Encoder` lives in :mod:`kgqa.embedding`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "KnowledgeGraph", "link", "link_batch", "link_qa", "answer", "embed", "Encoder"]

_API = {"link", "link_batch", "link_qa", "answer", "embed"}


def __getattr__(name: str):
    if name == "KnowledgeGraph":
        from kgqa.kg.store import KnowledgeGraph

        return KnowledgeGraph
    if name == "Encoder":
        from kgqa.embedding import Encoder

        return Encoder
    if name in _API:
        from kgqa import api

        return getattr(api, name)
    raise AttributeError(f"module 'kgqa' has no attribute {name!r}")

"""Causal language models as multiple-choice answerers, with graph knowledge in the prompt.

The scorer itself is a model (:mod:`kgqa.models.llm`, registered as ``llm``); this stage adds
what sits above the models: the retrieved paths written as prompt sentences
(:mod:`.knowledge`), answering and explaining by occlusion (:mod:`.answer`, ``kgqa answer
--model llm:NAME``) and dataset evaluation (:mod:`.evaluate`, ``kgqa llm eval``). It imports
from retrieval, models and explain, never the other way (``explain`` reaches it only through
the ``llm:`` prefix, loaded by name).
"""

from __future__ import annotations

__all__ = ["LLMAnswerer", "evaluate_llm", "load_llm_answerer", "retrieve_knowledge"]


def __getattr__(name: str):
    import importlib

    modules = {"LLMAnswerer": "kgqa.llm.answer", "load_llm_answerer": "kgqa.llm.answer",
               "evaluate_llm": "kgqa.llm.evaluate", "retrieve_knowledge": "kgqa.llm.knowledge"}
    if name in modules:
        return getattr(importlib.import_module(modules[name]), name)
    raise AttributeError(f"module 'kgqa.llm' has no attribute {name!r}")

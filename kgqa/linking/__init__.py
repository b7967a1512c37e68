"""Linking: text to graph nodes (ConceptNet concepts, Wikidata items).

* :mod:`~kgqa.linking.types`: the records every linker returns (``Mention``, ``LinkResult``,
  ``QALinks``);
* :mod:`~kgqa.linking.concept_linker`: ConceptNet grounding (lemmas + surface forms, longest
  match, filters in :mod:`~kgqa.linking.filters`, Aho-Corasick matcher in
  :mod:`~kgqa.linking.matcher`, spaCy lemmas from :mod:`~kgqa.linking.lemmatize`, input checks in
  :mod:`~kgqa.linking.checks`);
* :mod:`~kgqa.linking.linker`: :func:`load_linker` picks the linker that fits the graph;
* :mod:`~kgqa.linking.spacy_component`: the ``kgqa_linker`` spaCy pipeline component.

Importing this package loads nothing heavy (no spaCy, no graph).
"""

from __future__ import annotations

from kgqa.linking.types import LinkResult, Mention, QALinks

__all__ = ["Mention", "LinkResult", "QALinks", "ConceptLinker", "LinkerConfig", "Linker", "load_linker"]


def __getattr__(name: str):
    if name in ("ConceptLinker", "LinkerConfig"):
        from kgqa.linking import concept_linker

        return getattr(concept_linker, name)
    if name in ("Linker", "load_linker"):
        from kgqa.linking import linker

        return getattr(linker, name)
    raise AttributeError(f"module 'kgqa.linking' has no attribute {name!r}")

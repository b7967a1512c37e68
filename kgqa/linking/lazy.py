"""A ``linker`` property that loads the graph's default linker on first use.

Stages that link text only on some calls (:class:`kgqa.embedding.Encoder`,
:class:`kgqa.explain.answer.Answerer`, retrieval's shard workers) take an optional ``linker=`` and otherwise build
:func:`~kgqa.linking.linker.load_linker` for their graph when it is first needed, so that
constructing them stays cheap (no spaCy, no alias table).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgqa.kg.store import KnowledgeGraph


class LazyLinkerMixin:
    """Mixin giving a class with ``self.kg`` and ``self._linker`` a lazy ``linker`` property.

    The subclass sets ``self._linker`` (``None`` for the graph's default) in ``__init__``; the
    first read of :attr:`linker` then calls ``load_linker(self.kg)`` once and keeps the result.
    """

    kg: KnowledgeGraph
    _linker: Any

    @property
    def linker(self):
        """The linker given at construction, else the graph's default (loaded once)."""
        if self._linker is None:
            from kgqa.linking.linker import load_linker

            self._linker = load_linker(self.kg)
        return self._linker

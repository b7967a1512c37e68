"""One entry point for every linker: ConceptNet concepts or Wikidata items, by the graph loaded.

:func:`load_linker` looks at the graph: when its node names are Wikidata ids (``Q42``) it builds
the Wikidata linker (:mod:`kgqa.linking.wikidata`, imported only then), otherwise the ConceptNet
linker (:class:`~kgqa.linking.concept_linker.ConceptLinker`). Linkers are kept per process, keyed
by graph directory, checksum and options, so repeated ``kgqa.link()`` calls build nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.types import LinkResult, QALinks

_QID = re.compile(r"Q\d+")
_LINKERS: dict[tuple, "Linker"] = {}


@runtime_checkable
class Linker(Protocol):
    """What every linker offers (``ConceptLinker``, ``WikidataLinker``); ``ConceptLinker`` also
    has ``link_qa``, ``link_qa_batch`` and ``link(text, as_choice=True)``."""

    def link(self, text: str) -> "LinkResult": ...

    def link_batch(self, texts: Iterable[str]) -> list["LinkResult"]: ...


def link_qa(linker: Linker, question: str, choices: Sequence[str]) -> "QALinks":
    """Question and choice links with any linker (its own ``link_qa`` when it has one).

    Raises:
        KGQAError: ``[E141]`` when ``question`` is not a ``str`` or ``choices`` not a list of ``str``.
    """
    from kgqa.linking.checks import qa_inputs

    question, choices = qa_inputs(question, choices)
    if hasattr(linker, "link_qa"):
        return linker.link_qa(question, choices)
    from kgqa.linking.types import QALinks

    results = linker.link_batch([question, *choices])
    return QALinks(question=results[0], choices=tuple(results[1:]))


def is_wikidata_graph(kg: "KnowledgeGraph", *, sample: int = 64) -> bool:
    """True when (nearly) all of an evenly spaced sample of node names look like ``Q\\d+``."""
    n = kg.num_nodes
    if n == 0:
        return False
    names = kg.node_names
    picks = [names[i * n // min(n, sample)] for i in range(min(n, sample))]
    return sum(bool(_QID.fullmatch(name)) for name in picks) >= 0.9 * len(picks)


def load_linker(graph: "KnowledgeGraph | str | Path" = "default", **options) -> Linker:
    """The linker for ``graph`` (name, path or loaded graph), built once per process.

    Args:
        graph: ``"default"``, a graph name in ``KGQA_HOME/graphs``, a directory, or a
            :class:`~kgqa.kg.store.KnowledgeGraph`.
        **options: linker options (:class:`~kgqa.linking.concept_linker.LinkerConfig` fields for
            ConceptNet graphs; the Wikidata linker's keyword arguments for Wikidata graphs).

    Raises:
        KGQAError: unknown graph name (``E002``), or a Wikidata graph without the Wikidata linker.
    """
    from kgqa.kg.store import KnowledgeGraph

    kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph)
    key = (str(Path(kg.path).resolve()), kg.checksum, repr(sorted(options.items())))
    linker = _LINKERS.get(key)
    if linker is None:
        if is_wikidata_graph(kg):
            try:
                from kgqa.linking.wikidata import WikidataLinker
            except ImportError as exc:
                raise KGQAError(Errors.E015.format(
                    problem=f"graph '{kg.name}' has Wikidata ids as node names, but the Wikidata linker "
                            f"could not be imported ({exc})")) from None
            build = getattr(WikidataLinker, "for_graph", WikidataLinker)
            linker = build(kg, **options)
        else:
            from kgqa.linking.concept_linker import ConceptLinker

            linker = ConceptLinker(kg, **options)
        _LINKERS[key] = linker
    return linker


def clear_linkers() -> None:
    """Forget the linkers kept by :func:`load_linker` (tests, or to free memory)."""
    _LINKERS.clear()

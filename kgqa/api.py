"""The small public surface of kgqa: ``link()`` (and, as later stages land, ``answer()``, ``embed()``).

Every function takes the graph by name (``"default"``), directory or loaded
:class:`~kgqa.kg.store.KnowledgeGraph`; what it builds for that graph (the linker, its matcher,
the spaCy pipeline) is built once per process and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.explain.answer import AnswerResult
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.types import LinkResult, QALinks


def link(text: str, graph: "str | KnowledgeGraph" = "default", *, choice: bool = False, **options) -> "LinkResult":
    """Link one text to the graph's nodes.

    Args:
        text: the text (a question, a sentence, an answer choice).
        graph: graph name, directory or loaded graph. ConceptNet-style graphs get the concept
            linker; graphs whose nodes are Wikidata ids (``Q42``) get the Wikidata linker.
        choice: the text is an answer choice: also try it as one whole concept (ConceptNet).
        **options: linker options (e.g. ``phrase_parts=False``; see
            :class:`~kgqa.linking.concept_linker.LinkerConfig`).

    Returns:
        A :class:`~kgqa.linking.types.LinkResult`; ``mentions`` is empty with a ``reason`` when
        nothing links, and ``error`` is set for unusable input (binary, not English, > 10,000
        characters): bad text never raises.

    Raises:
        KGQAError: unknown graph (``E002``).

    Example::

        >>> import kgqa
        >>> kgqa.link("A man dug the ground to plant flowers.").nodes
        ['man', 'dig', 'ground', 'plant_flower', 'plant', 'flower']
    """
    from kgqa.linking.concept_linker import ConceptLinker
    from kgqa.linking.linker import load_linker

    linker = load_linker(graph, **options)
    return linker.link(text, as_choice=True) if choice and isinstance(linker, ConceptLinker) else linker.link(text)


def link_batch(texts: Iterable[str], graph: "str | KnowledgeGraph" = "default", *, choices: bool = False,
               **options) -> list["LinkResult"]:
    """Link many texts in one spaCy pass (``nlp.pipe``); one result per text, in order.

    A bad text yields a result with ``error`` set, never an exception: 1,000 texts with one
    binary string among them give 999 results and one error record.

    Raises:
        KGQAError: ``[E141]`` when ``texts`` is one string (it would link each character) or
            not iterable.
    """
    from kgqa.linking.checks import text_list
    from kgqa.linking.concept_linker import ConceptLinker
    from kgqa.linking.linker import load_linker

    texts = text_list(texts, function="kgqa.link_batch()", one_text_hint="; to link one text use kgqa.link()",
                      check_items=False)
    linker = load_linker(graph, **options)
    if choices and isinstance(linker, ConceptLinker):
        return linker.link_batch(texts, as_choice=True)
    return linker.link_batch(texts)


def link_qa(question: str, choices: Sequence[str], graph: "str | KnowledgeGraph" = "default",
            **options) -> "QALinks":
    """Question concepts and answer-choice concepts, kept apart (:class:`~kgqa.linking.types.QALinks`).

    Raises:
        KGQAError: ``[E141]`` when ``question`` is not a ``str`` or ``choices`` is not a list of
            ``str`` (``None``, one string, a list with a number in it).

    Example::

        >>> qa = kgqa.link_qa("A man dug the ground to plant flowers. What tool did he use?",
        ...                   ["shovel", "hammer"])
        >>> qa.choices[0].nodes, qa.choices[0].mentions[0].kind
        (['shovel'], 'whole_choice')
    """
    from kgqa.linking.checks import qa_inputs
    from kgqa.linking.linker import link_qa as qa_links
    from kgqa.linking.linker import load_linker

    question, choices = qa_inputs(question, choices, function="kgqa.link_qa()")
    return qa_links(load_linker(graph, **options), question, choices)


def answer(question: str, choices: Sequence[str], *, model=None, graph=None, explain: bool = True,
           **options) -> "AnswerResult":
    """Answer a multiple-choice question and explain it (see :func:`kgqa.explain.answer.answer`).

    ``model`` is a checkpoint directory or ``None`` for the shipped default model; ``graph=None``
    uses the graph the model was trained on.
    """
    from kgqa.explain.answer import answer as _answer

    return _answer(question, choices, model=model, graph=graph, explain=explain, **options)


def embed(texts, model="minilm", graph="default", **options):
    """KG-fused, LM-only or graph-only embeddings of texts (see :func:`kgqa.embedding.embed`).

    Works on a fresh install: without a table trained by ``kgqa graphs embed``, the default
    graph's entity vectors come from the compact TransE table shipped in ``kgqa/kge/default/``.
    """
    from kgqa.embedding import embed as _embed

    return _embed(texts, model=model, graph=graph, **options)

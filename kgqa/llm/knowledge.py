"""Graph knowledge for a causal LM's prompt: each question's retrieved paths written as sentences.

The retrieval is the graph models' (:class:`~kgqa.retrieval.retriever.Retriever` with the same
:class:`~kgqa.retrieval.config.RetrievalConfig`: linked question concepts -> answer concepts,
KagNet paths of up to ``max_hops``). Every path becomes one sentence in the stored edges'
directions (:func:`kgqa.explain.sentences.path_sentence`: ``dig <-UsedFor- shovel`` reads
"shovel is used to dig"), so a sentence is made of real graph edges only, never generated text.

A path's **relevance** is the mean ranker score of its nodes (``node_score``: with the default
``relevance`` ranker, the cosine of the concept name's MiniLM embedding to "question choice"),
ties broken by fewer hops, then by the retriever's order. Per choice, the sentences are ranked
by it and de-duplicated; the **shared** list takes the choices' lists in turn (the best of each
choice, then the second of each...), so no choice's evidence crowds out the others', and within
each turn the choices go by that sentence's relevance, not by their position: with fewer
sentences than choices, the choices with the most relevant evidence are the ones mentioned
(taking them in list order would always show the first choices' evidence, a bias the prompt must
not have).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kgqa.explain.sentences import path_sentence

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.retriever import Retriever


@dataclass
class KnowledgeSentence:
    """One retrieved path as a sentence.

    Attributes:
        text: the sentence (hops joined by ``;``), lower case as the concept names.
        nodes: the path's concept names, question concept first.
        relations: relation names per hop, ``~`` for a hop against the stored edge.
        relevance: mean ranker score of the path's nodes (NaN scores count as 0).
        choice: index of the choice whose retrieval found it.
    """

    text: str
    nodes: list[str]
    relations: list[str]
    relevance: float
    choice: int

    @property
    def edges(self) -> list[tuple[str, str, str]]:
        """The stored edges ``(head, relation, tail)`` the sentence states, in hop order."""
        out = []
        for relation, (a, b) in zip(self.relations, zip(self.nodes, self.nodes[1:])):
            out.append((b, relation[1:], a) if relation.startswith("~") else (a, relation, b))
        return out


@dataclass
class QuestionKnowledge:
    """The ranked knowledge sentences of one question: ``per_choice[c]`` for choice ``c``."""

    per_choice: list[list[KnowledgeSentence]] = field(default_factory=list)

    def shared(self, limit: int) -> list[KnowledgeSentence]:
        """The choices' lists taken in turn (each turn most relevant first, ties by choice
        index), de-duplicated, at most ``limit``."""
        out, seen = [], set()
        depth = max((len(s) for s in self.per_choice), default=0)
        for rank in range(depth):
            turn = [(c, sentences[rank]) for c, sentences in enumerate(self.per_choice) if rank < len(sentences)]
            for _, sentence in sorted(turn, key=lambda item: (-item[1].relevance, item[0])):
                if sentence.text not in seen:
                    seen.add(sentence.text)
                    out.append(sentence)
                    if len(out) == limit:
                        return out
        return out

    def for_prompt(self, mode: str, limit: int) -> list[str] | list[list[str]]:
        """What :meth:`kgqa.models.llm.CausalLMScorer.score` takes: the shared list of texts,
        or one list per choice."""
        if mode == "per_choice":
            return [[s.text for s in sentences[:limit]] for sentences in self.per_choice]
        return [s.text for s in self.shared(limit)]


def _relevance(scores: np.ndarray) -> float:
    values = np.nan_to_num(scores.astype(np.float64), nan=0.0)
    return float(values.mean()) if len(values) else 0.0


def choice_sentences(arrays: dict[str, np.ndarray], kg: "KnowledgeGraph", c: int,
                     choice: int | None = None) -> list[KnowledgeSentence]:
    """The paths of choice ``c`` (its index in the batch's arrays) of :meth:`Retriever.retrieve`'s
    arrays as ranked, distinct sentences; ``choice``: its index in its question (default ``c``)."""
    from kgqa.retrieval.retriever import choice_arrays

    a = choice_arrays(arrays, c)
    found = []
    for p in range(len(a["path_lengths"])):
        hops = int(a["path_lengths"][p])
        local = a["path_nodes"][p, :hops + 1].astype(np.int64)
        ids = a["node_ids"][local]
        names = [kg.node_name(int(i)) for i in ids]
        relations = [kg.relation_name(int(t)) for t in a["path_relations"][p, :hops]]
        relevance = _relevance(a["node_score"][local])
        found.append((-relevance, hops, p, KnowledgeSentence(
            text=path_sentence(names, relations), nodes=names, relations=relations,
            relevance=relevance, choice=c if choice is None else choice)))
    found.sort(key=lambda item: item[:3])
    out, seen = [], set()
    for *_, sentence in found:
        if sentence.text not in seen:
            seen.add(sentence.text)
            out.append(sentence)
    return out


def retrieve_knowledge(retriever: "Retriever", questions: Sequence[str], choices: Sequence[Sequence[str]],
                       links: Sequence) -> list[QuestionKnowledge]:
    """Retrieve the paths of every (question, choice) and write them as ranked sentences.

    Args:
        retriever: the graph models' retriever (same settings as their preprocessing).
        questions, choices: the texts.
        links: one :class:`~kgqa.linking.types.QALinks` per question.

    Returns:
        One :class:`QuestionKnowledge` per question.
    """
    from kgqa.retrieval.retriever import retrieve_links

    arrays = retrieve_links(retriever, questions, choices, links)
    ptr = arrays["choice_ptr"]
    return [QuestionKnowledge([choice_sentences(arrays, retriever.kg, c, c - int(ptr[q]))
                               for c in range(ptr[q], ptr[q + 1])])
            for q in range(len(questions))]

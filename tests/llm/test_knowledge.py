"""Knowledge sentences: retrieved paths of the toy graph written out, made of real edges only."""

from __future__ import annotations

from kgqa.llm.knowledge import retrieve_knowledge
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.retriever import Retriever
from tests.conftest import TOY_TRIPLES
from tests.llm.conftest import CHOICES, QUESTION

STORED = {(h, r, t) for h, r, t, _ in TOY_TRIPLES}


def knowledge_of(toy_kg, toy_linker, questions, choices):
    retriever = Retriever(toy_kg, RetrievalConfig(ranker="degree"))
    links = toy_linker.link_qa_batch(questions, choices)
    return retrieve_knowledge(retriever, questions, choices, links)


def test_sentences_are_real_graph_edges(toy_kg, toy_linker):
    [k] = knowledge_of(toy_kg, toy_linker, [QUESTION], [CHOICES])
    shovel, hammer, ladder = k.per_choice
    assert ladder == []  # not in the graph: no knowledge, nothing invented
    texts = [s.text for s in shovel]
    assert "shovel is used to dig" in texts
    assert "flower is found at garden; shovel is found at garden" in texts
    assert len(texts) == len(set(texts))
    for sentence in shovel + hammer:
        assert sentence.nodes[-1] == CHOICES[sentence.choice]
        assert sentence.nodes[0] in {"dig", "ground", "plant", "flower", "tool"}
        for edge in sentence.edges:
            assert edge in STORED, (sentence.text, edge)
    assert any("hammer is a kind of tool" in s.text for s in hammer)
    # ranked: relevance never increases down the list
    rel = [s.relevance for s in shovel]
    assert rel == sorted(rel, reverse=True)


def test_shared_list_takes_the_choices_in_turn(toy_kg, toy_linker):
    [k] = knowledge_of(toy_kg, toy_linker, [QUESTION], [CHOICES])
    shared = k.shared(3)
    assert [s.choice for s in shared[:2]] == [0, 1]
    assert shared[0].text == k.per_choice[0][0].text and shared[1].text == k.per_choice[1][0].text
    assert k.for_prompt("shared", 2) == [shared[0].text, shared[1].text]
    assert k.for_prompt("per_choice", 1) == [[k.per_choice[0][0].text], [k.per_choice[1][0].text], []]

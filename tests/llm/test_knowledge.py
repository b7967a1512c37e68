"""Knowledge sentences: retrieved paths of the toy graph written out, made of real edges only."""

from __future__ import annotations

from kgqa.llm.knowledge import KnowledgeSentence, QuestionKnowledge, retrieve_knowledge
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


def test_shared_list_takes_the_choices_in_turn_most_relevant_first(toy_kg, toy_linker):
    [k] = knowledge_of(toy_kg, toy_linker, [QUESTION], [CHOICES])
    shared = k.shared(3)
    best = sorted((c for c in range(3) if k.per_choice[c]), key=lambda c: (-k.per_choice[c][0].relevance, c))
    assert [s.choice for s in shared[:len(best)]] == best  # every choice's best sentence first
    assert [s.text for s in shared[:len(best)]] == [k.per_choice[c][0].text for c in best]
    assert k.for_prompt("shared", 2) == [shared[0].text, shared[1].text]
    assert k.for_prompt("per_choice", 1) == [[k.per_choice[0][0].text], [k.per_choice[1][0].text], []]


def _sentence(text, relevance, choice):
    return KnowledgeSentence(text=text, nodes=["q", text], relations=["RelatedTo"], relevance=relevance,
                             choice=choice)


def test_the_shared_list_does_not_depend_on_the_order_of_the_choices():
    lists = [[_sentence("a1", 0.1, 0), _sentence("a2", 0.05, 0)], [_sentence("b1", 0.9, 1)],
             [_sentence("c1", 0.5, 2), _sentence("c2", 0.4, 2)], [], [_sentence("e1", 0.2, 4)]]
    k = QuestionKnowledge(lists)
    assert [s.text for s in k.shared(3)] == ["b1", "c1", "e1"]  # not the first three choices
    assert [s.text for s in k.shared(10)] == ["b1", "c1", "e1", "a1", "c2", "a2"]
    assert [s.text for s in QuestionKnowledge(lists[::-1]).shared(3)] == ["b1", "c1", "e1"]


def test_sentences_of_a_batch_name_their_choice_within_their_question(toy_kg, toy_linker):
    questions = [QUESTION, "What tool is used on a nail?"]
    choices = [CHOICES, ["ladder", "hammer", "shovel"]]
    batch = knowledge_of(toy_kg, toy_linker, questions, choices)
    for q, k in enumerate(batch):
        assert len(k.per_choice) == 3
        for c, sentences in enumerate(k.per_choice):
            assert all(s.choice == c and s.nodes[-1] == choices[q][c] for s in sentences)
    assert batch[1].per_choice[1]  # the second question's hammer has evidence

"""The running example on the real default graph (unpacked into the session's KGQA_HOME)."""

import pytest

RUNNING_EXAMPLE = "A man dug the ground to plant flowers. What tool did he use?"


@pytest.fixture(scope="module")
def default_linker(nlp):
    from kgqa.linking.concept_linker import ConceptLinker

    return ConceptLinker("default", nlp=nlp)


def test_running_example(default_linker):
    qa = default_linker.link_qa(RUNNING_EXAMPLE, ["shovel", "hammer", "ice cream"])
    question = qa.question.nodes
    assert {"dig", "ground", "plant", "flower"} <= set(question)
    # man and tool are kept (as QA-GNN does); plant_flower is the verb phrase; function words are not linked
    assert question == ["man", "dig", "ground", "plant_flower", "plant", "flower", "tool", "use"]
    assert [(m.text, m.node, m.kind) for m in qa.choices[0].mentions] == [("shovel", "shovel", "whole_choice")]
    assert qa.choices[2].nodes == ["ice_cream"]
    dug = qa.question.mentions[1]
    assert (dug.start, dug.end, dug.text, dug.kind) == (6, 9, "dug", "lemma")


def test_default_vocabulary_is_large(default_linker):
    stats = default_linker.matcher.stats
    assert default_linker.kg.num_nodes == 247_877
    assert len(default_linker.matcher) == 241_388
    assert stats.dropped == {"punctuation edge": 228, "too long": 1019, "stop-word edge": 4907,
                             "stop word": 306, "generic": 29}
    assert sum(stats.dropped.values()) + len(default_linker.matcher) + stats.collisions == 247_877

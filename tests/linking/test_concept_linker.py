import pytest

from kgqa.errors import KGQAError
from kgqa.linking.concept_linker import ConceptLinker
from kgqa.linking.types import LinkResult, QALinks



def spans(result) -> list[tuple[int, int, str, str, str]]:
    """``(start, end, text, node, kind)`` of every mention, for exact comparisons."""
    return [(m.start, m.end, m.text, m.node, m.kind) for m in result.mentions]


def test_running_example_lemmas_and_verb_phrase_parts(linker):
    result = linker.link("A man dug the ground to plant flowers.")
    assert spans(result) == [
        (2, 5, "man", "man", "surface"),
        (6, 9, "dug", "dig", "lemma"),          # dug -> dig
        (14, 20, "ground", "ground", "surface"),  # not the_ground: stop-word edge filtered
        (24, 37, "plant flowers", "plant_flower", "lemma"),
        (24, 29, "plant", "plant", "surface"),  # parts of a verb phrase are kept
        (30, 37, "flowers", "flower", "lemma"),  # flowers -> flower
    ]
    assert all(m.score == 1.0 and m.source == "conceptnet" for m in result.mentions)
    assert result.mentions[3].label == "plant flower"
    assert result.reason is None and result.ok


def test_noun_compound_is_atomic_and_longest_wins(linker):
    # ice_cream, not ice + cream (no verb inside, so no parts)
    assert spans(linker.link("Some ice cream.")) == [(5, 14, "ice cream", "ice_cream", "surface")]


def test_phrase_parts_can_be_switched_off(vocab_graph, nlp):
    linker = ConceptLinker(vocab_graph, nlp=nlp, phrase_parts=False, min_phrase_degree=3)
    assert linker.link("to plant flowers").nodes == ["plant_flower"]


def test_weakly_connected_compound_links_its_parts(linker):
    # paper_bag has 1 edge (< min_phrase_degree=3): too weak to stand for "paper" and "bag"
    assert spans(linker.link("A paper bag.")) == [
        (2, 11, "paper bag", "paper_bag", "surface"), (2, 7, "paper", "paper", "surface"),
        (8, 11, "bag", "bag", "surface")]


def test_verb_forms_of_ing_nouns(vocab_graph, nlp, linker):
    # spaCy keeps the noun "shopping"; ConceptNet 4 stores shop_bag
    assert linker.link("my shopping bag").nodes == ["shop_bag", "shop", "bag"]
    assert ConceptLinker(vocab_graph, nlp=nlp, verb_forms=False).link("my shopping bag").nodes == ["bag"]


def test_light_verb_and_particle_edges_are_kept(linker):
    assert linker.link("They were having fun.").nodes == ["have_fun", "fun"]
    assert linker.link("He was cooling off.").nodes == ["cool_off", "cool"]


def test_overlap_resolved_by_degree_then_position(linker):
    # apple_tree (degree 2) and tree_house (degree 3) cross on "tree": tree_house wins, apple stays
    assert spans(linker.link("apple tree house")) == [
        (0, 5, "apple", "apple", "surface"), (6, 16, "tree house", "tree_house", "surface")]


def test_inner_stop_word_phrase_and_parts(linker):
    assert linker.link("They go to store every day").nodes == ["go_to_store", "go", "store"]


def test_lemma_concept_beats_surface_concept(linker):
    # both "men" and "man" are nodes; the lemma's concept is kept for the span
    assert spans(linker.link("The men dug.")) == [(4, 7, "men", "man", "lemma"), (8, 11, "dug", "dig", "lemma")]


def test_function_word_tokens_dropped(vocab_graph, nlp, linker):
    assert linker.link("The shovel is near the tree.").nodes == ["shovel", "tree"]
    keep_all = ConceptLinker(vocab_graph, nlp=nlp, drop_pos=(), min_phrase_degree=3)
    assert keep_all.link("The shovel is near the tree.").nodes == ["shovel", "near", "tree"]


def test_stop_words_and_generic_concepts_not_linked(linker):
    result = linker.link("Something is there, what is it?")
    assert result.mentions == () and result.reason == "no concept found" and result.ok


def test_whole_choice(linker):
    qa = linker.link_qa("What tool did the man use?", ["shovel", "ice cream", "something", "populated areas", "of the"])
    assert isinstance(qa, QALinks)
    assert qa.question.nodes == ["tool", "man"]
    shovel, ice_cream, something, area, nothing = qa.choices
    assert spans(shovel) == [(0, 6, "shovel", "shovel", "whole_choice")]
    assert spans(ice_cream) == [(0, 9, "ice cream", "ice_cream", "whole_choice")]
    assert spans(something) == [(0, 9, "something", "something", "whole_choice")]  # generic, but it is the choice
    assert spans(area)[0] == (0, 15, "populated areas", "populated_area", "whole_choice")
    assert nothing.mentions == () and nothing.reason == "no concept found"
    # the same text as a question is not a whole-choice match
    assert linker.link("something").mentions == ()


def test_question_ids_exclude_answer(linker):
    qa = linker.link_qa("Which tool digs? A shovel.", ["shovel"])
    shovel = linker.kg.node_id("shovel")
    assert shovel in qa.question_ids() and shovel not in qa.question_ids(exclude_answer=0)


@pytest.mark.parametrize("text, error", [
    (None, "expected str, got NoneType"),
    (b"a shovel", "expected str, got bytes"),
    ("shovel \x00\x01 dig", "binary data: the text contains NUL characters"),
    ("a shovel \udcff to dig", "invalid text: lone surrogate U+DCFF at character 10"),
    ("Человек копал землю, чтобы посадить цветы.", "not English"),
    ("shovel " * 1500, "text too long: 10,500 characters > max_chars=10,000"),
])
def test_bad_inputs_give_error_records(linker, text, error):
    result = linker.link(text)
    assert isinstance(result, LinkResult)
    assert not result.ok and result.error.startswith(error) and result.reason == result.error
    assert result.mentions == ()


def test_control_characters_are_replaced_by_spaces_not_refused(linker):
    clean = linker.link("What digs with a shovel?")
    text = "What \x01\x02\x03\x04\x05\x06digs\x1b]0;title\x07 with a\x9b shovel?"
    dirty = linker.link(text)
    assert dirty.ok and dirty.nodes == clean.nodes == ["dig", "shovel"]
    assert len(dirty.text) == len(text) and "\x1b" not in dirty.text
    assert [text[m.start:m.end] for m in dirty.mentions] == ["digs", "shovel"]  # offsets into the given text
    # only control characters: nothing to link, and not an error either
    only = linker.link("".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r\x0b\x0c") + "ab")
    assert only.ok and only.reason == "no concept found"


def test_a_string_where_a_list_is_expected_is_refused(linker):
    with pytest.raises(KGQAError, match=r"\[E141\] link_batch\(\): texts must be a list of texts \(str\), "
                                        r"got one str, 'shovel'; to link one text use link\(\)"):
        linker.link_batch("shovel")
    with pytest.raises(KGQAError, match=r"\[E141\] link_qa\(\): choices must be a list of texts \(str\), "
                                        r"got one str, 'shovel'"):
        linker.link_qa("What digs?", "shovel")
    with pytest.raises(KGQAError, match=r"\[E141\] link_qa\(\): choices .* got NoneType"):
        linker.link_qa("What digs?", None)
    with pytest.raises(KGQAError, match=r"\[E141\] link_qa\(\): choices .* got int 3 at position 2"):
        linker.link_qa("What digs?", ["shovel", 3])
    with pytest.raises(KGQAError, match=r"\[E141\] link_qa\(\): question must be a str, got bytes b'What digs\?'"):
        linker.link_qa(b"What digs?", ["shovel"])
    assert [r.ok for r in linker.link_batch(("shovel", None))] == [True, False]  # items: error records


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_a_reason_not_an_error(linker, text):
    result = linker.link(text)
    assert result.ok and result.mentions == () and result.reason == "empty text" and not result


def test_max_chars_is_configurable(vocab_graph, nlp):
    long_text = "shovel " * 1500
    assert ConceptLinker(vocab_graph, nlp=nlp, max_chars=20_000).link(long_text).mentions[0].node == "shovel"


def test_one_bad_text_in_a_batch_of_1000(linker):
    texts = [f"The man dug hole number {i} with a shovel." for i in range(1000)]
    texts[437] = bytes(range(256)).decode("latin-1")  # binary data
    results = linker.link_batch(texts)
    assert len(results) == 1000
    errors = [i for i, r in enumerate(results) if not r.ok]
    assert errors == [437] and results[437].error.startswith("binary data")
    assert all(r.nodes == ["man", "dig", "shovel"] for i, r in enumerate(results) if i != 437)
    assert results[0].text == texts[0]


def test_batch_dedupes_and_keeps_order(linker):
    results = linker.link_batch(["shovel", "", "ice cream", "shovel"], as_choice=True)
    assert [r.nodes for r in results] == [["shovel"], [], ["ice_cream"], ["shovel"]]
    assert results[0].mentions[0].kind == "whole_choice"


def test_link_qa_batch_matches_single(linker):
    questions = ["A man dug the ground.", "Where is the ice cream?"]
    choices = [["shovel", "hammer"], ["store", "x-ray"]]
    batch = linker.link_qa_batch(questions, choices)
    assert batch == [linker.link_qa(q, c) for q, c in zip(questions, choices)]
    assert batch[1].choices[1].nodes == ["x-ray"]


def test_unknown_option_is_a_clear_error(vocab_graph, nlp):
    with pytest.raises(KGQAError, match=r"\[E013\] Unknown linker option 'max_token'"):
        ConceptLinker(vocab_graph, nlp=nlp, max_token=3)

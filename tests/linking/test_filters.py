from kgqa.linking.filters import FUNCTION_POS, GENERIC_CONCEPTS, STOP_WORDS, filters_fingerprint, pattern_filter_reason


def test_filter_reasons():
    assert pattern_filter_reason(("ground",), "ground") is None
    assert pattern_filter_reason(("the",), "the") == "stop word"
    assert pattern_filter_reason(("something",), "something") == "generic"
    assert pattern_filter_reason(("want", "to"), "want_to") == "generic"
    assert pattern_filter_reason(("the", "ground"), "the_ground") == "stop-word edge"
    assert pattern_filter_reason(("to", "plant"), "to_plant") == "stop-word edge"
    assert pattern_filter_reason(("go", "to", "store"), "go_to_store") is None  # inner stop word is fine
    assert pattern_filter_reason(("'", "arm"), "'arm") == "punctuation edge"
    assert pattern_filter_reason(("x", "-", "ray"), "x_-_ray") is None
    assert pattern_filter_reason(("a", "b", "c", "d", "e"), "a_b_c_d_e") == "too long"
    assert pattern_filter_reason(("a", "b", "c", "d", "e"), "a_b_c_d_e", max_tokens=5) == "stop-word edge"
    assert pattern_filter_reason((), "") == "empty"


def test_lists_keep_content_words():
    for kept in ("man", "person", "people", "tool", "go", "use", "plant"):
        assert kept not in STOP_WORDS and kept not in GENERIC_CONCEPTS
    assert {"the", "what", "n't", "would"} <= STOP_WORDS
    assert "NOUN" not in FUNCTION_POS and "ADP" in FUNCTION_POS
    assert len(filters_fingerprint()) == 64

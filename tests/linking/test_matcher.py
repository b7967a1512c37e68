import numpy as np

from kgqa.linking.matcher import ConceptMatcher, build_patterns, tokenize_names, english_tokenizer


def test_tokenize_names_like_text():
    assert tokenize_names(["ice_cream", "don't", "x-ray", "Mr._Smith"], english_tokenizer()) == [
        ("ice", "cream"), ("do", "n't"), ("x", "-", "ray"), ("mr.", "smith")]


def test_patterns_filtered_and_collisions_resolved():
    names = ["ice_cream", "the", "the_ground", "x-ray", "x_-_ray", "something"]
    degree = np.array([1, 5, 1, 2, 1, 9])
    keys, values, stats = build_patterns(names, tokenize_names(names, english_tokenizer()), degree)
    assert keys == ["ice cream", "x - ray"]
    assert [(v >> 4, v & 15) for v in values.tolist()] == [(0, 2), (3, 3)]  # x-ray (degree 2) wins
    assert stats.dropped == {"stop word": 1, "stop-word edge": 1, "generic": 1}
    assert stats.collisions == 1


def test_find_on_token_boundaries_with_overlaps():
    matcher = ConceptMatcher.from_names(["ice", "cream", "ice_cream", "ice_cream_cone", "cone", "nice"])
    hits = sorted((c.start, c.end, c.node_id) for c in matcher.find(("nice", "ice", "cream", "cone"), "lemma"))
    # every hit, overlapping ones included; "ice" inside "nice" is not a hit
    assert hits == [(0, 1, 5), (1, 2, 0), (1, 3, 2), (1, 4, 3), (2, 3, 1), (3, 4, 4)]
    assert matcher.lookup(("ice", "cream")) == 2
    assert matcher.lookup(("ice", "creams")) is None
    assert matcher.find((), "lemma") == []

import gzip
import json
from collections import Counter

import pytest

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines
from kgqa.kg.importers.ernie_mentions import (
    AnchoredSentence,
    iter_ernie_mentions,
    mention_labels,
    read_ernie_mentions,
    read_ernie_sentences,
)
from tests.conftest import shared_data_path


ERNIE_SAMPLE = shared_data_path() / "samples" / "ernie" / "wiki_sample_decoded.jsonl.gz"

# Spans marked the way ERNIE does: the QID sits on the first word piece of each word only.
ARTICLE_1 = {"doc": 7, "sentences": [
    {"text": "batman lives in gotham city .",
     "wordpieces": ["bat", "##man", "lives", "in", "got", "##ham", "city", "."],
     "entities": [{"qid": "Q2695156", "tok_start": 0, "tok_end": 1, "surface": "bat"},
                  {"qid": "Q214027", "tok_start": 4, "tok_end": 5, "surface": "got"},
                  {"qid": "Q214027", "tok_start": 6, "tok_end": 7, "surface": "city"}]},
    {"text": "no links here .", "wordpieces": ["no", "links", "here", "."], "entities": []},
]}
ARTICLE_2 = {"sentences": [  # no "doc": the line number - 1
    {"text": "The batman met paris hilton .",
     "wordpieces": ["The", "bat", "##man", "met", "paris", "hilton", "."],
     "entities": [
         {"qid": "Q2695156", "tok_start": 0, "tok_end": 2},  # whole pieces: no surface needed
         # two anchors side by side stay two mentions
         {"qid": "Q90", "tok_start": 4, "tok_end": 5},
         {"qid": "Q47899", "tok_start": 5, "tok_end": 6},
     ]},
    # a QID on a continuation piece only: the word takes it
    {"text": "batman .", "wordpieces": ["bat", "##man", "."],
     "entities": [{"qid": "Q2", "tok_start": 1, "tok_end": 2, "surface": "##man"}]},
]}


def _write_jsonl(path, lines):
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


def test_sentences_are_read_as_whole_words(tmp_path):
    path = _write_jsonl(tmp_path / "sample.jsonl", [ARTICLE_1, ARTICLE_2])
    sentences = list(read_ernie_sentences(path))
    assert sentences == [
        AnchoredSentence(doc=7, text="batman lives in gotham city .",
                         mentions=((0, 6, "Q2695156"), (16, 27, "Q214027"))),
        AnchoredSentence(doc=7, text="no links here .", mentions=()),
        AnchoredSentence(doc=1, text="The batman met paris hilton .",
                         mentions=((0, 10, "Q2695156"), (15, 20, "Q90"), (21, 27, "Q47899"))),
        AnchoredSentence(doc=1, text="batman .", mentions=((0, 6, "Q2"),)),
    ]


@pytest.mark.parametrize("name", ["sample.jsonl", "sample.jsonl.gz"])
def test_reads_mention_counts(tmp_path, name):
    path = _write_jsonl(tmp_path / name, [ARTICLE_1, ARTICLE_2])
    assert list(iter_ernie_mentions(path)) == [
        ("batman", "Q2695156"), ("gotham city", "Q214027"),
        ("the batman", "Q2695156"), ("paris", "Q90"), ("hilton", "Q47899"), ("batman", "Q2"),
    ]
    assert read_ernie_mentions(path) == {
        "batman": Counter({"Q2695156": 1, "Q2": 1}),
        "gotham city": Counter({"Q214027": 1}),
        "the batman": Counter({"Q2695156": 1}),
        "paris": Counter({"Q90": 1}),
        "hilton": Counter({"Q47899": 1}),
    }


def test_mention_labels_most_frequent_then_alphabetical():
    counts = {
        "batman": Counter({"Q2695156": 2, "Q2": 1}),
        "the batman": Counter({"Q2695156": 1}),
        "dark knight": Counter({"Q2": 1}),
        "man": Counter({"Q1": 1}),
    }
    assert mention_labels(counts) == {"Q2695156": "batman", "Q2": "batman", "Q1": "man"}
    counts["dark knight"]["Q2"] = 2
    assert mention_labels(counts)["Q2"] == "dark knight"


@pytest.mark.parametrize("line, problem", [
    ('{"doc": 5, "sentences": [', "invalid JSON (Expecting value at column 26)"),
    ('[1, 2]', "expected an object with a 'sentences' list"),
    ('{"sentences": [3]}', "sentence 0: expected an object"),
    ('{"sentences": [{"text": "x"}]}', "sentence 0: expected 'wordpieces' and 'entities' lists"),
    ('{"sentences": [{"wordpieces": ["a", ""], "entities": []}]}',
     "sentence 0: word piece 1 ('') is not a non-empty string"),
    ('{"sentences": [{"wordpieces": ["a"], "entities": [7]}]}', "sentence 0, entity 0: expected an object"),
    ('{"sentences": [{"wordpieces": ["batman"], "entities": [{"qid": "batman", "tok_start": 0, "tok_end": 1}]}]}',
     "sentence 0, entity 0: qid 'batman' is not a Wikidata item id (Q followed by digits)"),
    ('{"sentences": [{"wordpieces": ["a"], "entities": [{"qid": "Q1", "tok_start": 0, "tok_end": 2}]}]}',
     "sentence 0, entity 0: span [0, 2) is outside the 1 word pieces"),
    ('{"sentences": [{"wordpieces": ["a"], "entities": [{"qid": "Q1", "surface": "a"}]}]}',
     "sentence 0, entity 0: tok_start/tok_end must be integers, got None/None"),
])
def test_bad_line_raises_with_location(tmp_path, line, problem):
    path = _write_jsonl(tmp_path / "sample.jsonl.gz", [ARTICLE_1, line, ARTICLE_2])
    with pytest.raises(BadInputError) as info:
        read_ernie_mentions(path)
    assert str(info.value) == f"[E001] {path}:2: {problem}"

    bad = BadLines(skip_bad=True)
    counts = read_ernie_mentions(path, bad_lines=bad)
    assert sum(sum(c.values()) for c in counts.values()) == 6
    assert bad.count == 1
    assert bad.first.line == 2


@pytest.mark.skipif(not ERNIE_SAMPLE.is_file(), reason="shared data not available")
def test_shared_ernie_sample_counts():
    # SOURCES.md counts 18,505 raw spans (11,251 QIDs); 7,782 of them stop inside a word, and
    # joining the per-word spans of multi-word anchors leaves 2,131 fewer mentions
    sentences = list(read_ernie_sentences(ERNIE_SAMPLE))
    assert len(sentences) == 16_365
    assert sum(len(s.mentions) for s in sentences) == 16_374
    counts = read_ernie_mentions(ERNIE_SAMPLE)
    assert sum(sum(c.values()) for c in counts.values()) == 16_374
    assert len(counts) == 11_752
    qids = set().union(*counts.values())
    assert len(qids) == 11_251
    labels = mention_labels(counts)
    assert labels.keys() == qids
    assert all("##" not in mention for mention in counts)
    assert "ana" not in counts
    assert (labels["Q179805"], labels["Q6199"], labels["Q1708603"]) == (
        "political philosophy", "anarchism", "stateless societies")

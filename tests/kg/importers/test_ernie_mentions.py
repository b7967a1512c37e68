import gzip
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines
from kgqa.kg.importers.ernie_mentions import (
    iter_ernie_mentions,
    join_wordpieces,
    mention_labels,
    read_ernie_mentions,
)


def _data_dir() -> Path:
    env = os.environ.get("KGQA_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3].parent / "shared" / "data"


ERNIE_SAMPLE = _data_dir() / "samples" / "ernie" / "wiki_sample_decoded.jsonl.gz"

ARTICLE_1 = {"doc": 0, "sentences": [
    {"text": "batman lives in gotham city .",
     "wordpieces": ["bat", "##man", "lives", "in", "got", "##ham", "city", "."],
     "entities": [{"qid": "Q2695156", "tok_start": 0, "tok_end": 2, "surface": "bat ##man"},
                  {"qid": "Q214027", "tok_start": 4, "tok_end": 7, "surface": "Got ##ham  City"}]},
    {"text": "no links here .", "wordpieces": ["no", "links", "here", "."], "entities": []},
]}
ARTICLE_2 = {"doc": 1, "sentences": [
    {"text": "the batman and batman .",
     "wordpieces": ["the", "bat", "##man", "and", "bat", "##man", "."],
     "entities": [
         # no surface: rebuilt from the word pieces
         {"qid": "Q2695156", "tok_start": 1, "tok_end": 3},
         {"qid": "Q2695156", "tok_start": 0, "tok_end": 3, "surface": "the bat ##man"},
         # a mention that starts inside a word
         {"qid": "Q1", "tok_start": 5, "tok_end": 6, "surface": "##man"},
         {"qid": "Q2", "tok_start": 4, "tok_end": 6, "surface": "bat ##man"},
     ]},
]}


def _write_jsonl(path, lines):
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


@pytest.mark.parametrize("surface, words", [
    ("bat ##man", "batman"),
    ("Got ##ham  City", "gotham city"),
    ("##man", "man"),
    ("ana ##rch ##ism is", "anarchism is"),
    ("self - governed", "self - governed"),
    ("  ", ""),
])
def test_join_wordpieces(surface, words):
    assert join_wordpieces(surface) == words


@pytest.mark.parametrize("name", ["sample.jsonl", "sample.jsonl.gz"])
def test_reads_mention_counts(tmp_path, name):
    path = _write_jsonl(tmp_path / name, [ARTICLE_1, ARTICLE_2])
    assert list(iter_ernie_mentions(path)) == [
        ("batman", "Q2695156"), ("gotham city", "Q214027"),
        ("batman", "Q2695156"), ("the batman", "Q2695156"), ("man", "Q1"), ("batman", "Q2"),
    ]
    assert read_ernie_mentions(path) == {
        "batman": Counter({"Q2695156": 2, "Q2": 1}),
        "gotham city": Counter({"Q214027": 1}),
        "the batman": Counter({"Q2695156": 1}),
        "man": Counter({"Q1": 1}),
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
    ('{"sentences": [{"text": "x"}]}', "sentence 0: expected an object with an 'entities' list"),
    ('{"sentences": [{"entities": [{"qid": "batman", "surface": "batman"}]}]}',
     "sentence 0, entity 0: qid 'batman' is not a Wikidata item id (Q followed by digits)"),
    ('{"sentences": [{"wordpieces": ["a"], "entities": [{"qid": "Q1", "tok_start": 0, "tok_end": 2}]}]}',
     "sentence 0, entity 0: span [0, 2) is outside the 1 word pieces"),
    ('{"sentences": [{"entities": [{"qid": "Q1"}]}]}',
     "sentence 0, entity 0: no surface, and no wordpieces/tok_start/tok_end to rebuild it"),
    ('{"sentences": [{"entities": [{"qid": "Q1", "surface": " ## "}]}]}',
     "sentence 0, entity 0: empty mention text"),
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
    counts = read_ernie_mentions(ERNIE_SAMPLE)
    assert sum(sum(c.values()) for c in counts.values()) == 18_505
    qids = set().union(*counts.values())
    assert len(qids) == 11_251
    labels = mention_labels(counts)
    assert labels.keys() == qids
    assert all("##" not in mention for mention in counts)
    assert labels["Q179805"] == "political philosophy"

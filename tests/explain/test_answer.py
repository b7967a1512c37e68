"""Answering new questions with checkpoints of every model (random weights, toy graph)."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.explain.answer import AnswerResult, Answerer, check_question, get_answerer
from kgqa.explain.loading import load_answerer
from tests.explain.conftest import CHOICES, QUESTION, save_toy_checkpoint


@pytest.mark.parametrize("name, kind", [("kagnet", "path"), ("qagnn", "node+edge"), ("rgcn", "node"),
                                        ("lm", "none")])
def test_every_model_answers_and_explains(answerers, name, kind):
    result = answerers[name].answer(QUESTION, CHOICES)
    assert isinstance(result, AnswerResult) and result.model == name
    assert [r.choice for r in result.ranked] == sorted(CHOICES, key=lambda c: -result.probabilities[CHOICES.index(c)])
    assert math.isclose(sum(result.probabilities), 1.0, rel_tol=1e-6)
    assert result.prediction == result.ranked[0].choice == result.explanation.prediction
    exp = result.explanation
    assert exp.attention == kind and exp.choices == CHOICES and exp.graph == "toy"
    assert exp.question_concepts == ["dig", "ground", "plant", "flower", "tool"]
    shovel = exp.per_choice[0]
    assert shovel.answer_concepts == ["shovel"] and "dig" in shovel.question_concepts
    names = {n.name for n in shovel.nodes}
    assert {"dig", "shovel"} <= names
    if name == "lm":
        assert "reads the text only" in exp.message and shovel.paths == []
    else:
        assert exp.message is None
        # the toy subgraph of shovel holds the edge shovel --UsedFor--> dig, and a path over it
        assert any(e.relation == "UsedFor" for e in shovel.edges)
        assert "dig <-UsedFor-- shovel" in [p.text for p in shovel.paths]
        assert all(0.0 <= n.score <= 1.0 for n in shovel.nodes)
        # every shown path checked by occlusion and ranked by it; attention beside it where the
        # model has some (R-GCN has none)
        assert shovel.ranking == "occlusion" and shovel.num_checked >= len(shovel.paths)
        assert all(p.occlusion is not None and p.probability_drop is not None for p in shovel.paths)
        assert all((p.attention is None) == (name == "rgcn") for p in shovel.paths)
        assert sum(e.path_rank is not None for e in shovel.edges) >= 1
    if name == "kagnet":
        total = sum(p.weight for p in shovel.paths)
        assert 0 < total <= 1 + 1e-6 and shovel.num_paths >= len(shovel.paths)
    # ladder is not in the toy graph: no answer concept, a message instead of evidence
    assert exp.per_choice[2].answer_concepts == [] and "links to no concept" in exp.per_choice[2].message
    assert set(result.seconds) == {"link", "encode", "retrieve", "model", "explain", "total"}


def test_same_question_same_answer_in_a_batch(answerers):
    one = answerers["qagnn"].answer(QUESTION, CHOICES)
    many = answerers["qagnn"].answer_many([QUESTION, "Where do flowers grow?", QUESTION],
                                          [CHOICES, ["garden", "tool"], CHOICES], ids=["a", "b", "c"],
                                          labels=[0, 0, 0])
    for result in (many[0], many[2]):
        np.testing.assert_allclose(result.probabilities, one.probabilities, rtol=1e-5, atol=1e-6)
    assert [r.id for r in many] == ["a", "b", "c"] and many[1].explanation.label == 0
    assert len(many[1].choices) == 2  # a different number of choices went to its own batch


def test_bad_input():
    with pytest.raises(KGQAError, match=r"\[E080\].*0 answer choices given"):
        check_question(QUESTION, [])
    with pytest.raises(KGQAError, match=r"\[E080\].*1 answer choice given.*at least two"):
        check_question(QUESTION, ["shovel"])
    for empty in ("   ", "\x01\x1b ", None):
        with pytest.raises(KGQAError, match=r"\[E080\].*question is empty"):
            check_question(empty, ["a", "b"])
    with pytest.raises(KGQAError, match=r"\[E080\].*choice 2 is empty"):
        check_question(QUESTION, ["a", "\x07"])
    with pytest.raises(KGQAError, match=r"\[E080\].*not one string"):
        check_question(QUESTION, "shovel hammer")
    with pytest.raises(KGQAError, match=r"\[E080\].*choice 2 is int, not text"):
        check_question(QUESTION, ["shovel", 2])
    with pytest.raises(KGQAError, match=r"\[E080\].*the question is bytes, not text"):
        check_question(b"What digs?", ["shovel", "hammer"])
    # invalid UTF-8 from a command line arrives as lone surrogates: a coded error, not a tokenizer crash
    with pytest.raises(KGQAError, match=r"\[E140\] the question is not valid text: lone surrogate U\+DCE9 at "
                                        r"character 4\. Pass UTF-8 text"):
        check_question("caf\udce9?", ["a", "b"])
    with pytest.raises(KGQAError, match=r"\[E140\] choice 2 is not valid text: lone surrogate U\+DCFF"):
        check_question(QUESTION, ["a", "b\udcff"])
    assert check_question("  What  tool? ", [" a", "b  c"]) == ("What tool?", ["a", "b c"], [])


def test_duplicate_choices_are_allowed_and_noted():
    question, choices, notes = check_question(QUESTION, ["shovel", "hammer", "Shovel ", "saw", "SHOVEL"])
    assert choices == ["shovel", "hammer", "Shovel", "saw", "SHOVEL"]
    assert notes == ["choices 1, 3 and 5 are the same answer ('shovel'): they are scored alike"]


def test_control_characters_are_removed_with_a_note():
    question, choices, notes = check_question("What \x01\x02\x03\x04\x05\x06 digs?", ["sho\x1bvel", "hammer"])
    assert (question, choices) == ("What digs?", ["sho vel", "hammer"])
    assert notes == ["removed 6 control characters from the question", "removed 1 control character from choice 1"]


def test_control_characters_do_not_drop_the_question(answerers):
    """A question with control characters answers like the clean one (it used to lose its concepts)."""
    clean = answerers["qagnn"].answer("What digs?", CHOICES)
    dirty = answerers["qagnn"].answer("What \x01\x02\x03\x04\x05\x06 digs?", CHOICES)
    assert dirty.explanation.question_concepts == clean.explanation.question_concepts == ["dig"]
    np.testing.assert_allclose(dirty.probabilities, clean.probabilities, rtol=1e-5, atol=1e-6)
    ladder = "choice 3 links to no concept of the graph (no concept found)"  # not in the toy graph
    assert dirty.notes == dirty.explanation.notes == ["removed 6 control characters from the question", ladder]
    assert clean.notes == [ladder]


def test_texts_with_no_concept_are_said_not_silent(answerers):
    """A question or choice in which the linker finds no concept is answered with a note saying so
    (a graph model then has no graph knowledge of it); a model that reads only the text has none."""
    result = answerers["qagnn"].answer("xqzv blorf?", ["shovel", "qwx"])
    assert result.explanation.question_concepts == []
    assert result.notes == result.explanation.notes == [
        "the question links to no concept of the graph (no concept found): the answer uses no question concept",
        "choice 2 links to no concept of the graph (no concept found)"]
    assert answerers["qagnn"].answer("What digs?", ["shovel", "hammer"]).notes == []
    assert answerers["lm"].answer("xqzv blorf?", ["shovel", "qwx"]).notes == []


def test_a_refused_question_is_said_not_silent(answerers):
    long_question = "What digs? " + "Some more words here. " * 460  # 10,130 characters, stripped
    result = answerers["qagnn"].answer(long_question, CHOICES)
    assert result.explanation.question_concepts == []
    assert result.notes == result.explanation.notes == [
        "the question was not linked to the graph (text too long: 10,130 characters > max_chars=10,000; "
        "split it into sentences or passages, or raise max_chars): the answer uses no question concept",
        "choice 3 links to no concept of the graph (no concept found)"]  # ladder: not in the toy graph
    assert "notes" in result.to_dict() and result.to_dict()["notes"] == result.notes
    russian = answerers["lm"].answer("Что люди используют, чтобы копать землю?", ["большая лопата", "shovel"])
    assert russian.notes[0].startswith("the question was not linked to the graph (not English: ")
    assert russian.notes[1].startswith("choice 1 was not linked to the graph (not English")


@pytest.mark.parametrize("name", ["qagnn", "lm"])
def test_duplicate_choices_are_scored_alike(answerers, name):
    result = answerers[name].answer(QUESTION, ["shovel", "hammer", "Shovel", "ladder"], top_paths=2)
    p = result.probabilities
    assert p[0] == p[2] and math.isclose(sum(p), 1.0, rel_tol=1e-6)
    assert result.explanation.probabilities[0] == result.explanation.probabilities[2]
    assert result.notes == ["choices 1 and 3 are the same answer ('shovel'): they are scored alike"] + (
        ["choice 4 links to no concept of the graph (no concept found)"] if name == "qagnn" else [])  # ladder
    result.label = 2  # the gold answer is the second 'shovel': predicting the first one is right
    result.ranked[0] = dataclasses.replace(result.ranked[0], choice="shovel", index=0)
    assert result.correct is True


@pytest.mark.parametrize("option, value", [("top_paths", -1), ("max_nodes", 0), ("max_hops", 1.5),
                                           ("max_edges", True)])
def test_bad_explanation_options_are_coded_errors(answerers, option, value):
    with pytest.raises(KGQAError, match=rf"\[E141\] answer\(\): {option} must be a whole number >= 1, got "):
        answerers["lm"].answer(QUESTION, CHOICES, **{option: value})


def test_nothing_links_answers_from_the_lm(answerers):
    result = answerers["qagnn"].answer("Xyzzy plugh frobnicate?", ["qwerty", "asdfgh"])
    exp = result.explanation
    assert math.isclose(sum(result.probabilities), 1.0, rel_tol=1e-6)
    assert not exp.has_graph_evidence and "no graph evidence" in exp.message
    assert "language model alone" in exp.message
    assert all("no graph evidence" in c.message for c in exp.per_choice)


def test_checkpoint_of_another_graph_is_refused(tmp_path, toy_kg, tiny_bert):
    from tests.conftest import build_graph

    other = build_graph(tmp_path / "other", [("cat", "IsA", "animal", 1.0), ("dog", "IsA", "animal", 1.0)],
                        name="pets")
    path = save_toy_checkpoint(tmp_path / "ckpt", "qagnn", toy_kg, tiny_bert)
    with pytest.raises(KGQAError, match=r"\[E081\] Model '.*ckpt' was trained on graph 'toy' \(checksum "
                                        r"[0-9a-f]{16}\), but graph 'pets' has checksum [0-9a-f]{16}"):
        load_answerer(path, graph=str(other.path))
    # without a recorded checksum: a warning, and the relation count still guards the ids
    bare = save_toy_checkpoint(tmp_path / "bare", "qagnn", toy_kg, tiny_bert, checksum=None)
    with pytest.warns(UserWarning, match="records no graph checksum"):
        with pytest.raises(KGQAError, match=r"\[E031\].*knows 16 edge types but graph 'pets' gives 6"):
            load_answerer(bare, graph=str(other.path))


def test_missing_default_model_says_how_to_make_it(tmp_path, monkeypatch):
    import kgqa.explain.loading as loading

    monkeypatch.setattr(loading, "default_model_dir", lambda: tmp_path / "none")
    with pytest.raises(KGQAError, match=r"\[E082\] No default model.*kgqa train "
                                        + re.escape(f"{loading.DEFAULT_MODEL_CONFIG} --seed {loading.DEFAULT_MODEL_SEED}")):
        load_answerer(None)


def test_get_answerer_caches_and_answer_function(toy_checkpoints):
    import kgqa.explain.answer as answer_module

    first = get_answerer(toy_checkpoints["rgcn"])
    assert get_answerer(toy_checkpoints["rgcn"]) is first and get_answerer(first) is first
    result = answer_module.answer(QUESTION, CHOICES, model=toy_checkpoints["rgcn"], top_paths=1)
    assert all(len(c.paths) <= 1 for c in result.explanation.per_choice)
    with pytest.raises(KGQAError, match=r"unknown explanation option"):
        answer_module.answer(QUESTION, CHOICES, model=toy_checkpoints["rgcn"], top_k=1)


def test_ernie_explanation_shows_fused_concepts(toy_kg, tiny_bert):
    from kgqa.backbones.backbone import Backbone
    from kgqa.kge.artifacts import EntityEmbeddings
    from kgqa.models.ernie import ErnieConfig, ErnieForMultipleChoice

    torch.manual_seed(0)
    table = EntityEmbeddings.from_arrays(toy_kg, np.random.default_rng(0).normal(size=(toy_kg.num_nodes, 8))
                                         .astype(np.float32))
    model = ErnieForMultipleChoice(ErnieConfig(lm_hidden_size=32, num_aggregators=1, entity_dim=8,
                                               entity_hidden_size=8, entity_heads=2, max_length=48),
                                   Backbone.from_pretrained(str(tiny_bert)), entity_embeddings=table)
    from kgqa.linking.linker import load_linker

    model._linker = load_linker(toy_kg)
    answerer = Answerer(model, kg=toy_kg, regime="finetune", max_length=48)
    result = answerer.answer(QUESTION, CHOICES)
    exp = result.explanation
    assert exp.model == "ernie" and exp.attention == "none" and "fuses the linked concepts" in exp.message
    assert {n.name for n in exp.per_choice[0].nodes} == {"dig", "ground", "plant", "flower", "tool", "shovel"}
    assert ("shovel", "UsedFor", "dig") in {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst))
                                            for e in exp.per_choice[0].edges}


def test_a_model_with_the_zero_shot_prior_gets_its_sentence_vectors(tmp_path, toy_kg, tiny_bert):
    """Frozen models may add the zero-shot cosine prior; the answerer then encodes the question
    and the choices on their own, as the frozen cache does in training."""
    path = save_toy_checkpoint(tmp_path / "prior", "qagnn", toy_kg, tiny_bert,
                               extra_config={"prior": "cosine", "prior_hidden": 8})
    answerer = load_answerer(path)
    assert answerer.model.prior is not None
    result = answerer.answer(QUESTION, CHOICES)
    assert math.isclose(sum(result.probabilities), 1.0, rel_tol=1e-6)
    assert result.explanation.per_choice[0].ranking == "occlusion"  # the copies carry the vectors too


def test_a_partial_regime_model_answers_as_it_was_evaluated(tmp_path, toy_kg, tiny_bert):
    """A ``partial`` checkpoint holds only the trained top layers: the answerer runs the lower
    layers of the backbone package and then the model, which must give the logits of the
    training-time path (cached lower states through the collator)."""
    from kgqa.backbones import Backbone
    from kgqa.backbones.split import TopLayers
    from kgqa.data.records import QADataset, QAExample
    from kgqa.models import build_model
    from kgqa.training.checkpoint import save_checkpoint
    from kgqa.training.collate import QACollator
    from kgqa.training.lower_states import load_or_compute_lower_states
    from tests.explain.conftest import model_config

    torch.manual_seed(0)
    backbone = Backbone.from_pretrained(str(tiny_bert), freeze="all", pooling="mean")
    top = TopLayers(backbone, backbone.num_layers - 1)
    with torch.no_grad():  # a "trained" top layer: not the package's weights
        for param in top.parameters():
            if param.requires_grad:
                param.add_(0.1 * torch.randn_like(param))
    config = {**model_config("lm", toy_kg)}
    model = build_model("lm", config, backbone=top).eval()
    experiment = {"name": "toy_partial", "regime": "partial",
                  "backbone": {"name": str(tiny_bert), "max_length": 32, "pooling": "mean",
                               "train_layers": 1},
                  "graph": {"name": str(toy_kg.path), "retrieval": {"ranker": "degree"}},
                  "model": {"name": "lm", "kwargs": config}}
    path = save_checkpoint(tmp_path / "partial", model=model, model_name="lm", model_config=model.config,
                           experiment=experiment, extra={"regime": "partial", "backbone": str(tiny_bert),
                                                         "graph_name": toy_kg.name,
                                                         "graph_checksum": toy_kg.checksum})
    answerer = load_answerer(path)
    assert answerer.regime == "partial"
    got = answerer.answer(QUESTION, CHOICES).probabilities

    dataset = QADataset(name="one", split="one",
                        examples=(QAExample(id="q", question=QUESTION, choices=tuple(CHOICES)),))
    cached = load_or_compute_lower_states(backbone, dataset, num_lower=backbone.num_layers - 1,
                                          max_length=32, dtype="float32", cache_dir=tmp_path / "f",
                                          autocast=False)
    batch = QACollator(dataset.examples, "one", require_labels=False, lower_states=cached)([0])
    with torch.no_grad():
        expected = torch.softmax(model(batch).logits, -1)[0]
    assert torch.allclose(torch.tensor(got), expected, atol=1e-5)
    fresh = Backbone.from_pretrained(str(tiny_bert), freeze="all", pooling="mean")
    untrained = build_model("lm", config, backbone=TopLayers(fresh, fresh.num_layers - 1)).eval()
    with torch.no_grad():
        assert not torch.allclose(torch.softmax(untrained(batch).logits, -1)[0], expected, atol=1e-3)

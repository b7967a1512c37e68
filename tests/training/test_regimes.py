"""Regimes: frozen starts at the zero-shot baseline, partial = cached lower + trained top layers,
bf16 autocast on the CPU."""

from __future__ import annotations

import json
import re

import pytest
import torch

from kgqa.data import load_dataset
from kgqa.training import pipeline
from kgqa.training.collate import QACollator
from kgqa.training.config import parse_config


def _config(csqa_fixture, regime="frozen", backbone=None, **training):
    return {"name": f"tiny_{regime}", "regime": regime, "model": {"name": "lm"},
            "dataset": {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev",
                        "test_split": "test"},
            "backbone": {"max_length": 32, **(backbone or {})},
            "training": {"epochs": 2, "batch_size": 4, "eval_batch_size": 8, "lr": 1e-2,
                         "lm_lr": 1e-3, "patience": None, "mixed_precision": "no", **training}}


@pytest.mark.parametrize("model,head", [
    ("lm", {}), ("rgcn", {}),
    ("lm", {"pair_state": False, "prior_interaction": "linear", "prior_features": "infersent"})])
def test_frozen_model_starts_at_the_zero_shot_predictions(tmp_path, csqa_fixture, tiny_backbone_dir,
                                                          model, head):
    from kgqa.encoders.sentence import SentenceEncoder
    from kgqa.training.regimes import get_regime
    from kgqa.training.runner import build_model
    from kgqa.training.zeroshot import zeroshot_logits
    from tests.training.test_pipeline import _fixture_graphs
    from tests.conftest import build_graph

    raw = _config(csqa_fixture, backbone={"name": str(tiny_backbone_dir)})
    raw["model"] = {"name": model}
    cfg = parse_config(raw)
    dev = load_dataset(csqa_fixture, "dev")
    inputs = get_regime("frozen").prepare(cfg, {"dev": dev}, cache_dir=tmp_path)
    kwargs = {}
    graphs = None
    if model == "rgcn":
        kg = build_graph(tmp_path / "toy")
        kwargs = dict(node_embedding="learned", num_nodes=kg.num_nodes,
                      num_relations=kg.num_relations, hidden_size=8, num_bases=0)
        graphs = _fixture_graphs(kg, dev)
    cfg.model.kwargs = {**kwargs, **head}
    net = build_model(cfg, lm_hidden_size=inputs.lm_hidden, derived=inputs.derived).eval()
    assert net.config.prior == "cosine"
    batch = QACollator(dev.examples, "dev", graphs=graphs, **inputs.collate["dev"])(list(range(len(dev))))
    with torch.no_grad():
        logits = net(batch).logits
    zeroshot = zeroshot_logits(dev, SentenceEncoder(str(tiny_backbone_dir), max_length=32))
    assert torch.allclose(logits, 20.0 * zeroshot, atol=1e-4)  # the initial scale is 20
    assert torch.equal(logits.argmax(-1), zeroshot.argmax(-1))


def test_frozen_run_keeps_the_zero_shot_start_as_first_best(tmp_path, csqa_fixture, tiny_backbone_dir):
    from kgqa.encoders.sentence import SentenceEncoder
    from kgqa.training.zeroshot import zeroshot_accuracy, zeroshot_logits

    result = pipeline(config=_config(csqa_fixture), backbone=str(tiny_backbone_dir), seed=0,
                      out_dir=tmp_path / "runs", feature_cache_dir=tmp_path / "f", progress=False)
    dev = load_dataset(csqa_fixture, "dev")
    expected = zeroshot_accuracy(zeroshot_logits(dev, SentenceEncoder(str(tiny_backbone_dir),
                                                                      max_length=32)), dev)
    first = result.training["history"][0]
    assert first["step"] == 0 and first["dev_accuracy"] == pytest.approx(expected)
    assert result.training["best_dev_accuracy"] >= expected  # early stopping never keeps worse


@pytest.mark.parametrize("arch", ["bert", "roberta", "electra", "distilbert"])
def test_partial_forward_from_cached_lower_states_equals_the_full_forward(tmp_path, csqa_fixture,
                                                                          arch):
    from kgqa.backbones import Backbone
    from kgqa.backbones.split import TopLayers
    from kgqa.backbones.tiny import save_tiny_backbone
    from kgqa.models.lm import LMOnly
    from kgqa.training.lower_states import load_or_compute_lower_states

    directory = save_tiny_backbone(arch, tmp_path / arch)
    backbone = Backbone.from_pretrained(str(directory), freeze="all", pooling="mean").eval()
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    dev = load_dataset(csqa_fixture, "dev")
    cached = load_or_compute_lower_states(backbone, dev, num_lower=1, max_length=32, dtype="float32",
                                          cache_dir=tmp_path / "cache", batch_size=3)
    assert cached.tokens.dtype == "float32" and len(cached) == 4
    partial = LMOnly(None, TopLayers(backbone, 1)).eval()
    full = LMOnly(None, backbone).eval()
    rows = [2, 0, 3]
    batch = QACollator(dev.examples, "dev", lower_states=cached)(rows)
    enc = QACollator(dev.examples, "dev", encode_choices=backbone.encode_choices, max_length=32)(rows)
    with torch.no_grad():
        got, want = partial.statement_vectors(batch), full.statement_vectors(enc)
    assert got.shape == want.shape == (3 * 5, 32)
    assert torch.allclose(got, want, atol=1e-5)
    # the views share the weights and leave the backbone as it was
    assert all(torch.equal(v, before[k]) for k, v in backbone.state_dict().items())
    trainable = {n for n, p in partial.named_parameters() if p.requires_grad}
    assert trainable and all("layer.0." in n or n.startswith("scorer") for n in trainable)


def test_partial_regime_trains_only_the_top_layers_and_evaluates(tmp_path, csqa_fixture,
                                                                tiny_backbone_dir):
    from kgqa.backbones import Backbone
    from kgqa.training.runner import evaluate_checkpoint

    backbone = Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all", pooling="mean")
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    cfg = _config(csqa_fixture, regime="partial",
                  backbone={"name": str(tiny_backbone_dir), "train_layers": 1, "pooling": "mean"})
    result = pipeline(config=cfg, backbone=backbone, seed=0, out_dir=tmp_path / "runs",
                      feature_cache_dir=tmp_path / "f", progress=False)
    changed = {k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("model.encoder.layer.1.") for k in changed)
    again = evaluate_checkpoint(result.checkpoint, split="dev", feature_cache_dir=tmp_path / "f")
    assert again["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])
    info = json.loads((tmp_path / "runs" / "tiny_partial" / "seed-0" / "results.json").read_text())
    assert info["checksums"]["features"]["train"]["num_lower"] == 1


def test_partial_cache_damage_is_recomputed(tmp_path, csqa_fixture, tiny_backbone_dir):
    from kgqa.backbones import Backbone
    from kgqa.training.lower_states import load_or_compute_lower_states

    backbone = Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all")
    dev = load_dataset(csqa_fixture, "dev")
    first = load_or_compute_lower_states(backbone, dev, num_lower=1, max_length=32, cache_dir=tmp_path)
    assert first.tokens.dtype == "float16" and not first.hit
    assert load_or_compute_lower_states(backbone, dev, num_lower=1, max_length=32,
                                        cache_dir=tmp_path).hit
    tokens = first.path / "tokens.npy"
    tokens.write_bytes(tokens.read_bytes()[:-10])  # truncated
    with pytest.warns(UserWarning, match=r"\[W191\]"):
        again = load_or_compute_lower_states(backbone, dev, num_lower=1, max_length=32,
                                             cache_dir=tmp_path)
    assert not again.hit
    with pytest.raises(Exception, match=r"\[E018\].*train_layers=3"):
        from kgqa.backbones.split import num_lower_layers

        num_lower_layers(backbone, 3)


def test_bf16_autocast_trains_a_tiny_model(tmp_path, csqa_fixture, tiny_backbone_dir, monkeypatch):
    import kgqa.utils.precision as precision

    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: True)
    assert precision.resolve_mixed_precision("auto") in ("bf16", "fp16")  # fp16: an old GPU
    monkeypatch.setattr(precision, "cpu_supports_bf16", lambda: False)
    if not torch.cuda.is_available():
        assert precision.resolve_mixed_precision("auto") == "no"
    assert precision.resolve_mixed_precision("no") == "no"
    cfg = _config(csqa_fixture, regime="finetune", backbone={"name": str(tiny_backbone_dir)},
                  mixed_precision="bf16", epochs=1)
    result = pipeline(config=cfg, seed=0, out_dir=tmp_path, progress=False)
    assert result.training["mixed_precision"] == "bf16"
    assert all(0 < r["dev_loss"] < 10 for r in result.training["history"])


def test_tracker_is_called_per_step(tmp_path, csqa_fixture, tiny_backbone_dir, monkeypatch):
    import kgqa.training.tracking as tracking

    logged = []

    class Recorder:
        def log(self, values, step):
            logged.append((step, dict(values)))

        def finish(self):
            logged.append(("finished", {}))

    monkeypatch.setattr(tracking, "make_tracker", lambda kind, run_dir, config: Recorder())
    pipeline(config=_config(csqa_fixture, log_with="tensorboard"), backbone=str(tiny_backbone_dir),
             seed=0, out_dir=tmp_path / "runs", feature_cache_dir=tmp_path / "f", progress=False)
    steps = [s for s, v in logged if "train/loss" in v]
    assert steps == list(range(1, 7))  # 2 epochs x 3 batches
    assert [s for s, v in logged if "dev/accuracy" in v] == [0, 3, 6]
    assert logged[-1][0] == "finished"


def test_each_regime_rebuilds_the_lm_its_checkpoints_were_trained_with(tiny_backbone_dir):
    """``checkpoint_lm``: what a model of each regime holds when a checkpoint is loaded over a
    frozen backbone (kgqa.explain.loading), the same modules ``prepare`` handed it in training."""
    from kgqa.backbones import Backbone
    from kgqa.backbones.split import TopLayers
    from kgqa.training.regimes import REGIME_MODULES, get_regime

    def fresh():
        return Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all")

    assert set(REGIME_MODULES) == {"frozen", "partial", "finetune", "lora"}
    assert get_regime("frozen").checkpoint_lm(fresh(), {}) is None
    backbone = fresh()
    assert get_regime("finetune").checkpoint_lm(backbone, {}) is backbone
    backbone = fresh()
    top = get_regime("partial").checkpoint_lm(backbone, {"train_layers": 1})
    assert isinstance(top, TopLayers)
    assert top.num_lower == backbone.num_layers - 1
    backbone = fresh()
    lora = get_regime("lora").checkpoint_lm(backbone, {"lora": {"r": 2, "alpha": 4.0}})
    trainable = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_pretrained_weights_are_the_packaged_backbone_under_the_models_names(tiny_backbone_dir):
    """What ``kgqa export --dtype int8`` takes differences from: the packaged weights a loaded
    model holds under ``backbone.``, per regime; nothing for frozen models, no LoRA adapters."""
    from kgqa.backbones import Backbone
    from kgqa.models import build_model
    from kgqa.training.regimes import get_regime, pretrained_weights

    def meta(regime, **backbone):
        return {"model_name": "lm", "regime": regime, "backbone": str(tiny_backbone_dir),
                "experiment": {"backbone": {"name": str(tiny_backbone_dir), **backbone}}}

    assert pretrained_weights(meta("frozen")) is None
    assert pretrained_weights({**meta("partial", train_layers=1), "model_name": "ernie"}) is None
    weights, source = pretrained_weights(meta("partial", train_layers=1))
    assert str(tiny_backbone_dir) in source
    backbone = Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all")
    model = build_model("lm", {}, backbone=get_regime("partial").checkpoint_lm(backbone, {"train_layers": 1}))
    state = model.state_dict()
    assert weights and set(weights) <= set(state)
    assert {n for n in state if n.startswith("backbone.")} == set(weights)
    assert all(torch.equal(weights[n], state[n]) for n in weights)
    assert any(".layer.0." in n for n in weights) and not any(".layer.1." in n for n in weights)
    full, _ = pretrained_weights(meta("finetune"))
    assert any("embeddings" in n for n in full) and len(full) > len(weights)
    lora, _ = pretrained_weights(meta("lora", lora={"r": 2, "alpha": 4.0}))
    assert lora and not any("lora_" in n for n in lora)


@pytest.mark.parametrize("regime,state_layers,problem", [
    ("partial", 2, "applies to regime 'frozen' only"), ("finetune", "all", "applies to regime 'frozen' only"),
    ("frozen", 0, "at least 1"), ("frozen", True, "valid integer")])
def test_state_layers_is_checked_against_the_regime(csqa_fixture, regime, state_layers, problem):
    from kgqa.errors import KGQAError

    backbone = {"state_layers": state_layers, **({"train_layers": 1} if regime == "partial" else {})}
    with pytest.raises(KGQAError, match=r"(?s)E030.*" + re.escape(problem)):
        parse_config(_config(csqa_fixture, regime=regime, backbone=backbone))


def test_multi_layer_frozen_run_answers_as_it_evaluated(tmp_path, csqa_fixture, tiny_backbone_dir):
    """A frozen LM-only run on the top 2 hidden states of each pair: its head reads the wider
    state, and ``kgqa answer``'s loader rebuilds that state from the checkpoint's config (its
    answers are the run's own test predictions)."""
    from kgqa.explain.loading import load_answerer

    raw = _config(csqa_fixture, backbone={"name": str(tiny_backbone_dir), "pooling": "mean",
                                          "state_layers": 2})
    result = pipeline(config=raw, seed=0, out_dir=tmp_path / "runs",
                      feature_cache_dir=tmp_path / "f", progress=False)
    assert result.config["backbone"]["state_layers"] == 2
    test = load_dataset(csqa_fixture, "test")
    answerer = load_answerer(result.checkpoint)
    assert answerer.state_layers == 2
    answers = answerer.answer_many([ex.question for ex in test], [list(ex.choices) for ex in test])
    expected = [int(c) for c in result.metrics["test"]["predictions"]]
    assert [a.ranked[0].index for a in answers] == expected

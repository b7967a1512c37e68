"""Regime ``lora`` through the runner: a tiny random causal LM (model ``llm``) and a tiny BERT
(model ``lm``) train only their LoRA adapters; checkpoints hold only what trains and load back
to the same predictions."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from kgqa.errors import KGQAError
from kgqa.training import pipeline
from kgqa.training.checkpoint import Checkpoint
from kgqa.training.config import parse_config
from kgqa.training.runner import evaluate_checkpoint
from tests.training.toys import interrupt_at_train_batch

pytest.importorskip("peft")


def _config(csqa_fixture, backbone, model="llm", **training):
    return {"name": f"tiny_lora_{model}", "regime": "lora", "model": {"name": model},
            "dataset": {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev",
                        "test_split": "test"},
            "backbone": {"name": str(backbone), "max_length": 32,
                         "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
            "training": {"epochs": 4, "batch_size": 4, "eval_batch_size": 8, "lr": 1e-2,
                         "lm_lr": 5e-2, "patience": None, "mixed_precision": "no",
                         "warmup_ratio": 0.0, **training}}


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def tiny_causal_dir(request, tmp_path_factory):
    from kgqa.backbones.tiny import save_tiny_causal_lm

    return save_tiny_causal_lm(request.param, tmp_path_factory.mktemp(f"lora_{request.param}") / "lm")


def test_llm_lora_run_trains_only_the_adapters_and_reloads(tmp_path, csqa_fixture, tiny_causal_dir):
    from kgqa.models.llm import load_causal_lm

    cfg = _config(csqa_fixture, tiny_causal_dir, epochs=4, eval_every=3)
    result = pipeline(config=cfg, out_dir=tmp_path / "runs", progress=False)
    assert result.regime == "lora" and result.model == "llm"
    assert result.config["model"]["kwargs"] == {}
    params = result.parameters
    assert 0 < params["trainable"] < 0.2 * params["total"]
    # the checkpoint holds the adapters only: every tensor a lora_ weight, a fraction of the model
    ckpt = Checkpoint.load(result.checkpoint)
    assert ckpt.meta["weights"] == "trainable"
    saved = load_file(ckpt.path / "model.safetensors")
    assert saved and all(".lora_A." in k or ".lora_B." in k for k in saved)
    assert sum(t.numel() for t in saved.values()) == params["trainable"]
    # training moved the adapters' B (zero at the start) and the loss on the train split fell
    assert any(float(t.abs().max()) > 0 for k, t in saved.items() if ".lora_B." in k)
    losses = [h["train_loss"] for h in result.training["history"] if h["train_loss"] is not None]
    assert len(losses) == 4 and losses[-1] < losses[0]  # one evaluation per epoch (3 steps)
    # the evaluation of the checkpoint (frozen weights from the directory, adapters from the
    # checkpoint) reproduces the run's test metrics, and the adapters change the scores
    again = evaluate_checkpoint(result.checkpoint, split="test", progress=False)
    assert again["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    assert again["loss"] == pytest.approx(result.metrics["test"]["loss"], abs=1e-5)
    from kgqa.training.regimes.lora import CausalLMBackbone, prepare

    inputs = prepare(parse_config(cfg), {}, backbone=CausalLMBackbone(*load_causal_lm(str(tiny_causal_dir))))
    scorer = _scorer(inputs)
    questions, choices = ["What tool digs the ground?"], [["shovel", "cloud", "song", "lamp", "river"]]
    plain = scorer.score(questions, choices).logits
    ckpt.load_weights(scorer)
    assert not torch.allclose(scorer.score(questions, choices).logits, plain)


def _scorer(inputs):
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer

    return CausalLMScorer(CausalLMConfig(model="tiny", mixed_precision="no"), inputs.backbone)


def test_a_trainable_checkpoint_refuses_a_model_with_other_adapters(tmp_path, csqa_fixture):
    from kgqa.backbones.tiny import save_tiny_causal_lm

    directory = save_tiny_causal_lm("llama", tmp_path / "lm")
    result = pipeline(config=_config(csqa_fixture, directory, epochs=1), out_dir=tmp_path / "runs",
                      progress=False)
    other = _config(csqa_fixture, directory)
    other["backbone"]["lora"]["r"] = 2
    from kgqa.models.llm import load_causal_lm
    from kgqa.training.regimes.lora import CausalLMBackbone, prepare

    inputs = prepare(parse_config(other), {}, backbone=CausalLMBackbone(*load_causal_lm(str(directory))))
    with pytest.raises(KGQAError, match=r"E031.*shape mismatch .*lora_A"):
        Checkpoint.load(result.checkpoint).load_weights(_scorer(inputs))


def test_encoder_lora_trains_adapters_and_head(tmp_path, csqa_fixture, tiny_backbone_dir):
    cfg = _config(csqa_fixture, tiny_backbone_dir, model="lm", epochs=2)
    result = pipeline(config=cfg, out_dir=tmp_path / "runs", progress=False)
    saved = load_file(Checkpoint.load(result.checkpoint).path / "model.safetensors")
    lora = [k for k in saved if "lora_" in k]
    assert lora and all(k.startswith("backbone.") for k in lora)
    assert all("lora_" in k or not k.startswith("backbone.") for k in saved)  # no base weight
    assert sum(t.numel() for t in saved.values()) == result.parameters["trainable"]
    again = evaluate_checkpoint(result.checkpoint, split="dev", progress=False)
    assert again["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])


def test_lora_resume_matches_the_uninterrupted_run(tmp_path, csqa_fixture, monkeypatch):
    from kgqa.backbones.tiny import save_tiny_causal_lm

    directory = save_tiny_causal_lm("gpt2", tmp_path / "lm")
    cfg = _config(csqa_fixture, directory, epochs=2, checkpoint_every=2, eval_every=2)
    full = pipeline(config=cfg, out_dir=tmp_path / "full", seed=1, progress=False)
    interrupt_at_train_batch(monkeypatch, 4, lambda: pipeline(config=cfg, out_dir=tmp_path / "crash",
                                                              seed=1, progress=False))
    resumed = pipeline(config=cfg, out_dir=tmp_path / "crash", seed=1, resume=True, progress=False)
    assert resumed.metrics == full.metrics
    assert resumed.training["history"] == full.training["history"]


@pytest.mark.parametrize("change, key", [
    ({"regime": "finetune", "backbone": {"name": "x"}}, "regime"),
    ({"model": {"name": "llm", "kwargs": {"shots": 5}}}, "model.kwargs.shots"),
    ({"model": {"name": "llm", "kwargs": {"knowledge": "shared"}}}, "model.kwargs.knowledge"),
    ({"model": {"name": "llm", "kwargs": {"model": "gemma-3-270m"}}}, "model.kwargs.model"),
])
def test_llm_training_config_errors_name_the_key(csqa_fixture, tmp_path, change, key):
    from kgqa.training.config import check_model_kwargs

    raw = _config(csqa_fixture, tmp_path / "lm")
    raw.update(change)
    with pytest.raises(KGQAError, match=rf"E030.*\({key}\)"):
        check_model_kwargs(parse_config(raw))


def test_lora_settings_belong_to_regime_lora(csqa_fixture, tmp_path):
    raw = _config(csqa_fixture, tmp_path / "lm", model="lm")
    raw["regime"] = "finetune"
    with pytest.raises(KGQAError, match="backbone.lora applies to regime 'lora' only"):
        parse_config(raw)
    raw["regime"] = "lora"
    del raw["backbone"]["lora"]
    assert parse_config(raw).backbone.lora.r == 8  # Hu et al.'s default


def test_trained_checkpoints_answer_like_the_run_predicted(tmp_path, csqa_fixture, tiny_backbone_dir):
    """``kgqa answer --model CHECKPOINT`` (and ``llm:CHECKPOINT``) rebuilds the frozen weights
    from their files and the adapters from the checkpoint: the run's own test predictions."""
    from kgqa.backbones.tiny import save_tiny_causal_lm
    from kgqa.data import load_dataset
    from kgqa.explain.loading import load_answerer
    from kgqa.llm.answer import load_llm_answerer

    test = load_dataset(csqa_fixture, "test")
    directory = save_tiny_causal_lm("llama", tmp_path / "lm")
    for model, backbone in (("llm", directory), ("lm", tiny_backbone_dir)):
        result = pipeline(config=_config(csqa_fixture, backbone, model=model, epochs=2),
                          out_dir=tmp_path / "runs", progress=False)
        expected = [int(c) for c in result.metrics["test"]["predictions"]]
        loaders = [load_answerer(result.checkpoint)]
        if model == "llm":
            loaders.append(load_llm_answerer(f"llm:{result.checkpoint}"))
        for answerer in loaders:
            answers = answerer.answer_many([ex.question for ex in test], [list(ex.choices) for ex in test])
            assert [a.ranked[0].index for a in answers] == expected, (model, type(answerer).__name__)


def test_cli_trains_answers_and_compares_with_the_zero_shot_row(tmp_path, csqa_fixture, monkeypatch):
    """The whole chain a user runs: ``kgqa llm eval`` (zero-shot row), ``kgqa train`` (LoRA),
    ``kgqa answer --model CHECKPOINT``, ``kgqa results`` (Δ against the named baseline)."""
    import yaml
    from typer.testing import CliRunner

    from kgqa.backbones.tiny import save_tiny_causal_lm
    from kgqa.cli import app

    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    directory = save_tiny_causal_lm("gpt2", tmp_path / "lm")
    experiments = tmp_path / "experiments"
    (experiments / "llm").mkdir(parents=True)
    dataset = {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev", "test_split": "test"}
    zeroshot = {"name": "tiny_zeroshot", "seeds": [0], "dataset": dataset,
                "model": {"name": "llm", "kwargs": {"model": str(directory), "mixed_precision": "no"}}}
    lora = {**_config(csqa_fixture, directory, epochs=2), "name": "tiny_lora", "baseline": "tiny_zeroshot"}
    lora["model"]["kwargs"] = {"mixed_precision": "no"}
    (experiments / "llm" / "tiny_zeroshot.yaml").write_text(yaml.safe_dump(zeroshot))
    (experiments / "tiny_lora.yaml").write_text(yaml.safe_dump(lora))
    runner = CliRunner()
    runs = experiments / "runs"
    done = runner.invoke(app, ["llm", "eval", str(experiments / "llm" / "tiny_zeroshot.yaml"), "--out", str(runs)])
    assert done.exit_code == 0, done.output
    done = runner.invoke(app, ["train", str(experiments / "tiny_lora.yaml")])
    assert done.exit_code == 0, done.output
    best = runs / "tiny_lora" / "seed-0" / "checkpoints" / "best"
    answered = runner.invoke(app, ["answer", "What tool digs the ground?", "--model", str(best),
                                   "--choices", "shovel", "cloud", "song", "lamp", "river"])
    assert answered.exit_code == 0, answered.output
    assert "shovel" in answered.output
    done = runner.invoke(app, ["results", str(experiments)])
    assert done.exit_code == 0, done.output
    row = next(line for line in (experiments / "RESULTS.md").read_text().splitlines()
               if line.startswith("| tiny_lora |"))
    assert "| llm | lora |" in row and "(vs tiny_zeroshot)" in row

"""``kgqa train`` / ``kgqa eval`` / ``kgqa results`` on the tiny fixture."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from kgqa.cli import app


def test_train_eval_results(tmp_path, csqa_fixture, tiny_backbone_dir, monkeypatch):
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    experiments = tmp_path / "experiments"
    experiments.mkdir()
    config = {"name": "tiny_lm_frozen", "regime": "frozen", "seeds": [0, 1],
              "dataset": {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev",
                          "test_split": "test"},
              "backbone": {"name": str(tiny_backbone_dir), "max_length": 32},
              "model": {"name": "lm"},
              "training": {"epochs": 1, "batch_size": 4, "lr": 0.01},
              "reported": {"metadata": {"title": "t", "year": 2021}, "results": {"ih_test": 68.69}}}
    path = experiments / "tiny_lm_frozen.yaml"
    path.write_text(yaml.safe_dump(config))
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(path)])
    assert result.exit_code == 0, result.output
    assert "tiny_lm_frozen seed 1: dev acc" in result.output
    runs = experiments / "runs" / "tiny_lm_frozen"
    assert sorted(p.name for p in runs.iterdir()) == ["seed-0", "seed-1"]

    again = runner.invoke(app, ["train", str(path), "--seed", "0"])
    assert again.exit_code == 1 and "already exists" in again.output
    resumed = runner.invoke(app, ["train", str(path), "--seed", "0", "--resume"])
    assert resumed.exit_code == 0, resumed.output

    best = runs / "seed-0" / "checkpoints" / "best"
    preds = tmp_path / "preds.jsonl"
    evaluated = runner.invoke(app, ["eval", str(best), "--split", "dev", "--json",
                                    "--predictions", str(preds)])
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads(evaluated.output)
    saved = json.loads((runs / "seed-0" / "results.json").read_text())
    assert summary["accuracy"] == saved["metrics"]["dev"]["accuracy"]
    assert summary["num_questions"] == 4 and len(preds.read_text().splitlines()) == 4

    rendered = runner.invoke(app, ["results", str(experiments)])
    assert rendered.exit_code == 0, rendered.output
    table = (experiments / "RESULTS.md").read_text()
    assert "| tiny_lm_frozen | lm | frozen |" in table and "| 0,1 |" in table and "68.69" in table

    bad = experiments / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "training": {"epoch": 1}}))
    failed = runner.invoke(app, ["train", str(bad)])
    assert failed.exit_code == 1 and "(training.epoch): unknown key" in failed.output

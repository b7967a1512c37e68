"""results.json round trip and the generated RESULTS.md table."""

from __future__ import annotations

import math

from kgqa.training.config import parse_config
from kgqa.training.results import RunResult, collect_results, render_results_markdown


def _run(name, model, seed, dev, test, regime="frozen", minutes=2.0):
    return RunResult(name=name, model=model, regime=regime, backbone="minilm", seed=seed,
                     metrics={"ih_dev": {"accuracy": dev, "loss": 1.2, "num_questions": 1221},
                              "ih_test": {"accuracy": test, "loss": 1.3, "num_questions": 1241}},
                     roles={"dev": "ih_dev", "test": "ih_test"}, wall_seconds=minutes * 60,
                     git={"commit": "abcdef1234567", "dirty": False}, device="cpu (2 cores)",
                     training={"planned_steps": 100})


def test_results_json_round_trip_writes_nan_as_null(tmp_path):
    run = _run("a", "lm", 0, 0.5, 0.25)
    run.metrics["ih_test"]["loss"] = float("nan")
    path = run.save_to_directory(tmp_path / "a" / "seed-0")
    assert '"loss": null' in path.read_text()
    loaded = RunResult.load(path.parent)
    assert loaded.metrics["ih_dev"] == {"accuracy": 0.5, "loss": 1.2, "num_questions": 1221}
    assert loaded.accuracy("test") == 0.25 and loaded.accuracy("dev") == 0.5
    assert [r.name for r in collect_results(tmp_path)] == ["a"]


def test_results_table_from_two_fake_results():
    lm = parse_config({"name": "csqa_lm_frozen_minilm", "model": {"name": "lm"},
                       "reported": {"metadata": {"title": "QA-GNN", "authors": "Yasunaga et al.",
                                                 "year": 2021, "table": "Table 2"},
                                    "pipeline": {"backbone": "roberta-large", "regime": "finetune"},
                                    "results": {"ih_dev": 73.07, "ih_test": 68.69}}})
    qagnn = parse_config({"name": "csqa_qagnn_frozen_minilm", "model": {"name": "qagnn"}})
    pending = parse_config({"name": "csqa_rgcn_frozen_minilm", "model": {"name": "rgcn"}})
    runs = [_run("csqa_lm_frozen_minilm", "lm", 0, 0.50, 0.40),
            _run("csqa_lm_frozen_minilm", "lm", 1, 0.52, 0.44),
            _run("csqa_qagnn_frozen_minilm", "qagnn", 0, 0.55, 0.47, minutes=6.0)]
    text = render_results_markdown(runs, [lm, qagnn, pending])
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| experiment"))
    assert "IHdev acc (%)" in header and "IHtest acc (%)" in header
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| csqa_")}
    assert list(rows) == ["csqa_lm_frozen_minilm", "csqa_rgcn_frozen_minilm",
                          "csqa_qagnn_frozen_minilm"]  # lm first, then graph models by name order
    # mean ± sample std over seeds: dev (50, 52) -> 51.00 ± 1.41; test (40, 44) -> 42.00 ± 2.83
    assert ("| csqa_lm_frozen_minilm | lm | frozen | minilm | 0,1 | 51.00 ± 1.41 | 42.00 ± 2.83 "
            "| — | 2.0 | 73.07 | 68.69 | Yasunaga et al. 2021, Table 2 (roberta-large, finetune) |"
            ) == rows["csqa_lm_frozen_minilm"]
    assert "| 0 | 55.00 | 47.00 | +5.00 | 6.0 | — | — | — |" in rows["csqa_qagnn_frozen_minilm"]
    assert "| — | — | — | — | — | — | — | — |" in rows["csqa_rgcn_frozen_minilm"]
    assert "Runs: 3; devices: cpu (2 cores); git commits: abcdef1234." in text
    assert math.isclose(float(rows["csqa_qagnn_frozen_minilm"].split(" | ")[5]), 55.0)


def test_runs_of_an_older_config_or_engine_are_marked_stale():
    from kgqa.training.results import is_stale

    cfg = parse_config({"name": "x", "model": {"name": "lm"}, "seeds": [0, 1],
                        "training": {"lr": 1e-3, "max_minutes": 10}})
    same = _run("x", "lm", 0, 0.5, 0.4)
    same.config = {**cfg.to_dict(), "seeds": [0], "training": {**cfg.to_dict()["training"],
                                                              "max_minutes": 3}}
    assert not is_stale(same, cfg)  # seeds and the time budget may differ
    other_lr = _run("x", "lm", 1, 0.5, 0.4)
    other_lr.config = {**cfg.to_dict(), "training": {**cfg.to_dict()["training"], "lr": 1e-2}}
    assert is_stale(other_lr, cfg)
    old_engine = _run("x", "lm", 2, 0.5, 0.4)
    old_engine.training = {"steps": 10}  # no planned_steps: before budget-planned schedules
    assert is_stale(old_engine, cfg)
    text = render_results_markdown([same, other_lr], [cfg])
    assert "| x † |" in text and "† Runs made with an earlier version" in text

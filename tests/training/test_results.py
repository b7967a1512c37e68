"""results.json round trip and the generated RESULTS.md table."""

from __future__ import annotations

import math

from kgqa.training.config import parse_config
from kgqa.training.results import RunResult, collect_results, render_results_markdown, run_seconds


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


def test_run_seconds_counts_the_earlier_segments_of_a_resumed_run():
    fresh = _run("a", "lm", 0, 0.5, 0.4, minutes=10.0)
    fresh.training.update(train_seconds=500.0)
    fresh.timings = {"train": 520.0}  # in-loop evaluations: train() takes longer than its steps
    assert run_seconds(fresh) == 600.0
    # written before resumed_at_step existed: 1,087 s of training happened before the resume
    old = _run("b", "llm", 0, 0.5, 0.4, minutes=16.5)
    old.training.update(train_seconds=1087.0)
    old.timings = {"train": 0.0, "eval": 932.0}
    assert run_seconds(old) == 990.0 + 1087.0
    new = _run("c", "llm", 0, 0.5, 0.4, minutes=34.6)  # the runner already added them
    new.training.update(train_seconds=1087.0, resumed_at_step=60)
    new.timings = {"train": 0.0}
    assert run_seconds(new) == new.wall_seconds


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
    # Δ over the seeds both rows ran: QA-GNN seed 0 (47) against LM-only seed 0 (40)
    assert "| 0 | 55.00 | 47.00 | +7.00 | 6.0 | — | — | — |" in rows["csqa_qagnn_frozen_minilm"]
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
    checkpointed = _run("x", "lm", 0, 0.5, 0.4)
    checkpointed.config = {**cfg.to_dict(), "training": {**cfg.to_dict()["training"],
                                                         "checkpoint_every": 50}}
    assert not is_stale(checkpointed, cfg)  # how often the resumable checkpoint is saved
    other_baseline = _run("x", "lm", 0, 0.5, 0.4)
    other_baseline.config = {**cfg.to_dict(), "baseline": "csqa_lm_other"}
    assert not is_stale(other_baseline, cfg)  # which row the table compares with: reporting only
    other_lr = _run("x", "lm", 1, 0.5, 0.4)
    other_lr.config = {**cfg.to_dict(), "training": {**cfg.to_dict()["training"], "lr": 1e-2}}
    assert is_stale(other_lr, cfg)
    old_engine = _run("x", "lm", 2, 0.5, 0.4)
    old_engine.training = {"steps": 10}  # no planned_steps: before budget-planned schedules
    assert is_stale(old_engine, cfg)
    text = render_results_markdown([same, other_lr], [cfg])
    assert "| x † |" in text and "† Runs made with an earlier version" in text


def test_paired_bootstrap_on_hand_made_correctness():
    from kgqa.training.results import paired_bootstrap

    # 200 questions: the model is right on 40 more than the baseline and never worse
    base = "1" * 60 + "0" * 140
    better = "1" * 100 + "0" * 100
    out = paired_bootstrap([better, better], [base, base], resamples=2000)
    assert math.isclose(out["delta"], 0.2)
    assert out["low"] > 0.1 and out["high"] < 0.3 and out["p"] == 0.0
    # the same runs: no difference, interval [0, 0], p = 1
    same = paired_bootstrap([base], [base], resamples=500)
    assert same["delta"] == 0.0 and same["low"] == same["high"] == 0.0 and same["p"] == 1.0
    # one question better, one worse out of 200: centred on 0, not significant
    noisy = paired_bootstrap(["10" + "0" * 198], ["01" + "0" * 198], resamples=2000)
    assert noisy["delta"] == 0.0 and noisy["low"] < 0 < noisy["high"] and noisy["p"] > 0.5
    try:
        paired_bootstrap(["10"], ["101"])
    except ValueError as exc:
        assert "different numbers" in str(exc)
    else:
        raise AssertionError("strings of different lengths must be refused")


def test_versus_lm_cell_has_spread_interval_and_p_value():
    lm = [_run("csqa_lm_partial_minilm", "lm", s, 0.42, acc, regime="partial")
          for s, acc in ((0, 0.40), (1, 0.42))]
    graph = [_run("csqa_qagnn_partial_minilm", "qagnn", s, 0.45, acc, regime="partial")
             for s, acc in ((0, 0.45), (1, 0.46))]
    for run, correct in zip(lm + graph, ("1" * 40 + "0" * 60, "1" * 42 + "0" * 58,
                                         "1" * 45 + "0" * 55, "1" * 46 + "0" * 54)):
        run.metrics["ih_test"]["correct"] = correct
    assert lm[1].correct("test") == "1" * 42 + "0" * 58 and lm[1].correct("dev") is None
    text = render_results_markdown(lm + graph)
    row = next(line for line in text.splitlines() if line.startswith("| csqa_qagnn"))
    cell = row.split(" | ")[7]
    # mean +4.50; per-seed differences (+5, +4): std 0.71; every question right for the
    # baseline is right for the model, so the interval is positive and p small
    assert cell.startswith("+4.50 ± 0.71; 95% [+"), cell
    low = float(cell.split("[")[1].split(",")[0])
    p = cell.rsplit("p ", 1)[1]
    assert low > 0 and (p == "< 0.001" or float(p) < 0.05), cell


def test_versus_cell_compares_only_the_seeds_both_rows_ran():
    # the baseline ran seeds 0-2, the graph row 0-1; the baseline's seed 2 (far better) must not
    # enter the difference, its spread or the bootstrap
    lm = [_run("csqa_lm_partial_minilm", "lm", s, 0.42, acc, regime="partial")
          for s, acc in ((0, 0.40), (1, 0.42), (2, 0.60))]
    graph = [_run("csqa_qagnn_partial_minilm", "qagnn", s, 0.45, acc, regime="partial")
             for s, acc in ((0, 0.45), (1, 0.46))]
    for run, correct in zip(lm + graph, ("1" * 40 + "0" * 60, "1" * 42 + "0" * 58, "1" * 60 + "0" * 40,
                                         "1" * 45 + "0" * 55, "1" * 46 + "0" * 54)):
        run.metrics["ih_test"]["correct"] = correct
    text = render_results_markdown(lm + graph)
    row = next(line for line in text.splitlines() if line.startswith("| csqa_qagnn"))
    cell = row.split(" | ")[7]
    assert cell.startswith("+4.50 ± 0.71; 95% [+"), cell  # (45 + 46)/2 - (40 + 42)/2
    lm_row = next(line for line in text.splitlines() if line.startswith("| csqa_lm"))
    assert "| 0,1,2 |" in lm_row and "| 47.33 ± 11.02 |" in lm_row  # the row itself keeps every seed


def test_a_named_baseline_replaces_the_lm_row_in_the_delta_column():
    zero = _run("llm_zeroshot", "llm", 0, 0.40, 0.40, regime="prompt")
    shots = _run("llm_5shot", "llm", 0, 0.41, 0.43, regime="prompt")
    other = _run("llm_calibrated", "llm", 0, 0.41, 0.39, regime="prompt")
    zero.metrics["ih_test"]["correct"] = "1" * 40 + "0" * 60
    shots.metrics["ih_test"]["correct"] = "1" * 43 + "0" * 57
    other.metrics["ih_test"]["correct"] = "1" * 39 + "0" * 61
    shots.config = {"name": "llm_5shot", "baseline": "llm_zeroshot"}
    other.config = {"name": "llm_calibrated", "baseline": "llm_missing"}  # not run: no cell
    text = render_results_markdown([zero, shots, other])
    assert "| Δ test vs baseline |" in text
    cells = {line.split(" | ")[0][2:]: line.split(" | ")[7] for line in text.splitlines()
             if line.startswith("| llm_")}
    assert cells["llm_5shot"].startswith("+3.00; 95% [+") and cells["llm_5shot"].endswith(" (vs llm_zeroshot)")
    assert cells["llm_zeroshot"] == "—" and cells["llm_calibrated"] == "—"
    assert list(cells) == ["llm_calibrated", "llm_zeroshot", "llm_5shot"]  # a baseline before its rows


def test_evaluation_records_per_question_strings():
    from kgqa.training.loop import EvalResult

    out = EvalResult(accuracy=0.5, loss=1.0, num_questions=4, ids=list("abcd"),
                     predictions=[0, 3, 1, 2], correct=[True, False, False, True]).to_dict()
    assert out["predictions"] == "0312" and out["correct"] == "1001"
    shard = EvalResult(accuracy=0.5, loss=1.0, num_questions=8, ids=list("abcd"),
                       predictions=[0, 3, 1, 2], correct=[True, False, False, True]).to_dict()
    assert "predictions" not in shard and "correct" not in shard  # one of several processes

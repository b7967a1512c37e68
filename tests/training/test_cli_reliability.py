"""``kgqa train`` / ``eval`` / ``answer`` on damaged checkpoints, bad outputs and Ctrl-C: coded
errors (rc 1) or clear messages, never tracebacks or silently wrong numbers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.training.checkpoint import (CONFIG_FILE, OPTIMIZER_FILE, RNG_FILE, WEIGHTS_FILE,
                                      record_checksums)
from tests.conftest import REPO
from tests.training.toys import write_csqa_fixture

runner = CliRunner()


def _config(csqa: Path, backbone: Path, **training) -> dict:
    return {"name": "tiny_lm", "regime": "frozen", "seeds": [0],
            "dataset": {"name": str(csqa), "train_split": "train", "dev_split": "dev",
                        "test_split": "test"},
            "backbone": {"name": str(backbone), "max_length": 32},
            "model": {"name": "lm", "kwargs": {"scorer_hidden": 16}},
            "training": {"epochs": 1, "batch_size": 4, "lr": 0.01, **training}}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_backbone_dir):
    """A finished tiny run: ``(config path, run dir)``; tests damage copies of it."""
    root = tmp_path_factory.mktemp("trained")
    csqa = write_csqa_fixture(root / "csqa")
    config = root / "experiments" / "tiny_lm.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(_config(csqa, tiny_backbone_dir)))
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    return config, config.parent / "runs" / "tiny_lm" / "seed-0"


@pytest.fixture()
def run(trained, tmp_path):
    """A private copy of the trained run (config beside it, as ``kgqa train`` expects)."""
    config, run_dir = trained
    shutil.copytree(config.parent, tmp_path / "experiments")
    experiments = tmp_path / "experiments"
    return experiments / config.name, experiments / "runs" / "tiny_lm" / "seed-0"


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch):
    """No line wrapping: where rich wraps depends on the temporary path's length, and a wrap on a
    space drops that space."""
    monkeypatch.setenv("COLUMNS", "2000")


def _out(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return result.output.replace("\n", "")


def _flip_tail(path: Path, count: int) -> None:
    data = bytearray(path.read_bytes())
    for i in range(max(0, len(data) - count), len(data)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_eval_of_flipped_weights_is_an_error_not_chance_accuracy(run):
    _, run_dir = run
    best = run_dir / "checkpoints" / "best"
    good = runner.invoke(app, ["eval", str(best), "--split", "dev", "--json"])
    assert good.exit_code == 0 and json.loads(good.output)["num_questions"] == 4
    _flip_tail(best / WEIGHTS_FILE, 200 * 1024)  # the case: every weight byte flipped
    bad = runner.invoke(app, ["eval", str(best), "--split", "dev", "--json"])
    assert bad.exit_code == 1 and "Traceback" not in _out(bad)
    assert "[E120]" in _out(bad) and f"{WEIGHTS_FILE}' is damaged" in _out(bad)
    assert "accuracy" not in _out(bad)


def test_answer_with_flipped_weights_is_an_error(run):
    _, run_dir = run
    best = run_dir / "checkpoints" / "best"
    _flip_tail(best / WEIGHTS_FILE, 64)
    result = runner.invoke(app, ["answer", "Where do flowers grow?", "--model", str(best),
                                 "--choices", "garden", "freezer", "library"])
    assert result.exit_code == 1 and "[E120]" in _out(result) and "0.333" not in _out(result)


@pytest.mark.parametrize("damage", ["truncate", "pickle"])
def test_eval_of_unreadable_weights_without_checksums_is_an_error(run, damage):
    _, run_dir = run
    best = run_dir / "checkpoints" / "best"
    weights = best / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:200] if damage == "truncate" else
                        b"\x80\x04\x95" + b"\x00" * 64)  # a pickle header where safetensors was
    meta = json.loads((best / CONFIG_FILE).read_text())
    del meta["files"]  # as an older kgqa wrote it: only the reader can tell
    (best / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"\[W122\].*records no checksums"):
        result = runner.invoke(app, ["eval", str(best), "--split", "dev"])
    assert result.exit_code == 1 and "Traceback" not in _out(result)
    assert "[E120]" in _out(result) and "not a readable safetensors file" in _out(result)


def test_eval_of_config_without_model_config_is_an_error(run):
    _, run_dir = run
    best = run_dir / "checkpoints" / "best"
    meta = json.loads((best / CONFIG_FILE).read_text())
    del meta["model_config"]
    (best / CONFIG_FILE).write_text(json.dumps(meta))
    result = runner.invoke(app, ["eval", str(best), "--split", "dev"])
    assert result.exit_code == 1 and "[E031]" in _out(result) and "'model_config'" in _out(result)


def test_eval_of_config_whose_model_config_does_not_build_is_an_error(run):
    _, run_dir = run
    best = run_dir / "checkpoints" / "best"
    meta = json.loads((best / CONFIG_FILE).read_text())
    meta["model_config"]["dropout"] = 7
    (best / CONFIG_FILE).write_text(json.dumps(meta))
    result = runner.invoke(app, ["eval", str(best), "--split", "dev"])
    assert result.exit_code == 1 and "Traceback" not in _out(result)
    assert "[E031]" in _out(result) and "model_config does not build model 'lm'" in _out(result)


def test_eval_refuses_a_directory_for_predictions_before_evaluating(run, tmp_path, monkeypatch):
    import kgqa.training.runner as runner_module

    calls = []
    monkeypatch.setattr(runner_module, "evaluate_checkpoint", lambda *a, **k: calls.append(a))
    _, run_dir = run
    folder = tmp_path / "preds"
    folder.mkdir()
    result = runner.invoke(app, ["eval", str(run_dir / "checkpoints" / "best"), "--split", "dev",
                                 "--predictions", str(folder)])
    assert result.exit_code == 1 and "[E014]" in _out(result) and "is a directory" in _out(result)
    assert calls == []


def test_eval_json_of_a_split_without_answers_is_valid_json(run, tmp_path):
    _, run_dir = run
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    source = write_csqa_fixture(tmp_path / "labelled")
    rows = [{**json.loads(line), "answerKey": ""}
            for line in (source / "test.jsonl").read_text().splitlines()]
    (unlabelled / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = runner.invoke(app, ["eval", str(run_dir / "checkpoints" / "best"), "--split", "test",
                                 "--dataset", str(unlabelled), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)  # json.loads accepts NaN; the text must not hold it
    assert "NaN" not in _out(result)
    assert summary == {"split": "test", "accuracy": None, "loss": None, "num_questions": 4}
    text = runner.invoke(app, ["eval", str(run_dir / "checkpoints" / "best"), "--split", "test",
                               "--dataset", str(unlabelled)])
    assert text.exit_code == 0 and "test: no answers to score (4 questions" in _out(text)
    assert "nan" not in _out(text)


@pytest.mark.parametrize("name", [OPTIMIZER_FILE, RNG_FILE])
def test_resume_from_truncated_training_state_is_an_error(run, name):
    config, run_dir = run
    path = run_dir / "checkpoints" / "last" / name
    path.write_bytes(path.read_bytes()[:64])
    result = runner.invoke(app, ["train", str(config), "--resume"])
    assert result.exit_code == 1 and "Traceback" not in _out(result)
    assert "[E120]" in _out(result) and f"{name}' is damaged" in _out(result)


@pytest.mark.parametrize("name", [OPTIMIZER_FILE, RNG_FILE])
def test_resume_refuses_pickled_code_without_unsafe_advice(run, tmp_path, name):
    config, run_dir = run
    last = run_dir / "checkpoints" / "last"
    marker = tmp_path / "ran"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"optimizer": {}, "x": RunsCode()}, last / name)
    record_checksums(last)
    result = runner.invoke(app, ["train", str(config), "--resume"])
    assert result.exit_code == 1 and "[E120]" in _out(result)
    assert "not a plain tensor file" in _out(result)
    assert "weights_only" not in _out(result) and "Traceback" not in _out(result)
    assert not marker.exists()


def test_resume_recovers_a_checkpoint_left_aside_by_an_interrupted_save(run):
    config, run_dir = run
    last = run_dir / "checkpoints" / "last"
    os.replace(last, last.with_name(".last.old-31337"))
    again = runner.invoke(app, ["train", str(config)])  # not --resume: the run still exists
    assert again.exit_code == 1 and "already exists" in _out(again)
    with pytest.warns(UserWarning, match=r"\[W121\].*\.last\.old-31337"):
        result = runner.invoke(app, ["train", str(config), "--resume"])
    assert result.exit_code == 0, result.output
    assert (last / CONFIG_FILE).is_file() and not last.with_name(".last.old-31337").exists()
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["training"]["stop_reason"] == "epochs"  # resumed the finished run, not afresh


def test_bad_model_kwarg_is_a_coded_error(run):
    config, _ = run
    data = yaml.safe_load(config.read_text())
    data["model"]["kwargs"]["dropout"] = 7
    config.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["train", str(config), "--overwrite"])
    assert result.exit_code == 1 and "Traceback" not in _out(result)
    assert "[E030]" in _out(result) and "(model.kwargs.dropout)" in _out(result)


def test_checkpoint_every_on_the_command_line_saves_mid_epoch_and_is_recorded(run, monkeypatch):
    import kgqa.training.runner as runner_module

    config, run_dir = run
    saved = []
    real_save = runner_module.save_checkpoint

    def counting(target, **kwargs):
        saved.append((Path(target).name, kwargs["state"].step))
        return real_save(target, **kwargs)

    monkeypatch.setattr(runner_module, "save_checkpoint", counting)
    result = runner.invoke(app, ["train", str(config), "--overwrite", "--checkpoint-every", "2"])
    assert result.exit_code == 0, result.output
    results = json.loads((run_dir / "results.json").read_text())
    steps = results["training"]["steps"]
    assert steps >= 3  # one epoch of several steps, so "every 2" falls inside the epoch
    assert [step for name, step in saved if name == "last"] == list(range(2, steps, 2)) + [steps]
    assert results["training"]["overrides"]["training.checkpoint_every"] == 2
    assert results["config"]["training"]["checkpoint_every"] == 2
    # without the flag: once, at the epoch's evaluation
    saved.clear()
    assert runner.invoke(app, ["train", str(config), "--overwrite"]).exit_code == 0
    assert [step for name, step in saved if name == "last"] == [steps]


_TRAIN = "import sys; from kgqa.cli import app; sys.argv = ['kgqa', *sys.argv[1:]]; app()"


@pytest.mark.parametrize("stop", ["ctrl_c", "sigterm_in_background"])
def test_ctrl_c_in_training_says_where_the_checkpoint_is_and_how_to_resume(tmp_path, tiny_backbone_dir,
                                                                           stop):
    csqa = write_csqa_fixture(tmp_path / "csqa")
    config = tmp_path / "long.yaml"
    # checkpoints every step from the command line (a run-only setting: the resume below, without
    # the flag, is the same experiment)
    config.write_text(yaml.safe_dump(_config(csqa, tiny_backbone_dir, epochs=100000, patience=None)))
    last = tmp_path / "runs" / "tiny_lm" / "seed-0" / "checkpoints" / "last"
    env = {**os.environ, "PYTHONPATH": str(REPO), "KGQA_PROGRESS": "0"}
    # a terminal's Ctrl-C: SIGINT handled by default in the child even when the tests run in a
    # background job (a shell starts those with SIGINT ignored, and children inherit that); or a
    # `kill` of a run started in such a background job, SIGINT ignored: SIGTERM stops it the same way
    sigint = signal.SIG_DFL if stop == "ctrl_c" else signal.SIG_IGN
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN, "train", str(config),
                             "--checkpoint-every", "1"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
    try:
        for _ in range(3000):  # wait (up to minutes on a busy machine) for the first checkpoint
            if (last / "trainer_state.json").is_file() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT if stop == "ctrl_c" else signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if stop == "ctrl_c" else 143), stderr
    assert "Traceback" not in stderr
    assert "the last checkpoint (step " in stderr and str(last) in stderr.replace("\n", "")
    # the hint repeats the run-only flag the run was started with
    assert f"kgqa train {config} --resume --checkpoint-every 1`" in stderr.replace("\n", "")
    resumed = runner.invoke(app, ["train", str(config), "--resume", "--max-minutes", "0.001"])
    assert resumed.exit_code == 0, resumed.output
    results = json.loads((last.parents[1] / "results.json").read_text())
    assert results["training"]["stop_reason"] == "time_budget" and results["training"]["steps"] > 1

"""``kgqa results DIR --plot``: learning-curve PNGs from the training histories in results.json."""

from __future__ import annotations

import struct
from pathlib import Path

from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.training.results import (CURVE_DPI, CURVE_FIGSIZE, RunResult, histories_by_experiment,
                                   collect_results, write_learning_curves)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _history(losses, accuracies, lrs):
    return [{"step": 10 * (i + 1), "epoch": i + 1, "train_loss": loss, "train_accuracy": acc - 0.05,
             "dev_loss": loss - 0.1, "dev_accuracy": acc, "lr": lr}
            for i, (loss, acc, lr) in enumerate(zip(losses, accuracies, lrs))]


def _save(root: Path, name: str, seed: int, history: list, model: str = "lm") -> None:
    run = RunResult(name=name, model=model, regime="frozen", backbone="minilm", seed=seed,
                    metrics={"dev": {"accuracy": 0.4, "loss": 1.4, "num_questions": 10}},
                    training={"steps": 10 * len(history), "history": history})
    run.save_to_directory(root / "runs" / name / f"seed-{seed}")


def write_fake_runs(root: Path) -> None:
    """Experiment ``a`` with seeds 0 and 1, ``b`` with two learning-rate groups decaying to 0,
    and a zero-shot run without history."""
    _save(root, "a", 0, _history([1.6, 1.5, 1.45], [0.30, 0.36, 0.35], [[1e-3]] * 3))
    _save(root, "a", 1, _history([1.6, 1.52], [0.31, 0.33], [[1e-3], [9e-4]]))
    _save(root, "b", 0, _history([1.5, 1.3], [0.42, 0.44], [[5e-4, 5e-4, 3e-5, 3e-5], [0.0] * 4]),
          model="ernie")
    _save(root, "zeroshot", 0, [])


def flat_output(result) -> str:
    """The command's output without line breaks (rich folds long paths at the terminal width)."""
    return result.output.replace("\n", "")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG header, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_one_png_per_experiment_with_a_history(tmp_path):
    write_fake_runs(tmp_path)
    groups = histories_by_experiment(collect_results(tmp_path))
    assert {name: [r.seed for r in runs] for name, runs in groups.items()} == {"a": [0, 1], "b": [0]}
    paths = write_learning_curves(tmp_path, tmp_path / "curves")
    assert paths == [tmp_path / "curves" / "a.png", tmp_path / "curves" / "b.png"]
    expected = (round(CURVE_FIGSIZE[0] * CURVE_DPI), round(CURVE_FIGSIZE[1] * CURVE_DPI))
    for path in paths:
        assert path.stat().st_size > 10_000 and png_size(path) == expected
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == ["a.png", "b.png"]  # no temp


def test_cli_results_plot_writes_curves_beside_results_md(tmp_path):
    experiments = tmp_path / "experiments"
    write_fake_runs(experiments)
    runner = CliRunner()
    done = runner.invoke(app, ["results", str(experiments), "--plot"])
    assert done.exit_code == 0, done.output
    curves = experiments / "curves"
    flat = flat_output(done)
    assert flat == "".join(f"wrote {p}" for p in (experiments / "RESULTS.md", curves / "a.png",
                                                   curves / "b.png"))
    assert png_size(curves / "b.png")[0] > 0

    empty = tmp_path / "empty"
    _save(empty, "zeroshot", 0, [])
    done = runner.invoke(app, ["results", str(empty), "--plot"])
    assert done.exit_code == 0 and "no training history in the results.json" in flat_output(done)
    assert not (empty / "curves").exists()

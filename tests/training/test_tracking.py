"""make_tracker: the no-op tracker, the coded errors and (with tensorboard installed) event files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.training.tracking import NullTracker, flatten_scalars, make_tracker


def test_none_is_a_no_op_tracker(tmp_path):
    for kind in (None, "none", "None"):
        tracker = make_tracker(kind, tmp_path / "run", {"model": {"name": "lm"}})
        assert isinstance(tracker, NullTracker) and tracker.kind == "none"
        tracker.log({"train/loss": 1.5}, step=1)
        tracker.finish()
    assert not (tmp_path / "run").exists()


def test_unknown_kind_and_missing_tensorboard_are_coded_errors(tmp_path, monkeypatch):
    with pytest.raises(KGQAError, match=r"\[E185\] Experiment tracker 'wandb': unknown tracker; "
                                        r"choose one of: none, tensorboard"):
        make_tracker("wandb", tmp_path)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorboard" else real_find_spec(name, *a))
    with pytest.raises(KGQAError, match=r"\[E185\].*pip install kgqa\[tensorboard\]"):
        make_tracker("tensorboard", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_flatten_scalars_makes_one_number_per_name():
    flat = flatten_scalars({"lr": [0.001, torch.tensor(5e-5)], "dev": {"accuracy": np.float64(0.36)},
                            "epoch": 2, "best": True, "stop": "early_stopping", "skip": None})
    assert flat == {"lr/0": 0.001, "lr/1": pytest.approx(5e-5), "dev/accuracy": 0.36,
                    "epoch": 2.0, "best": 1.0, "stop": "early_stopping"}


def test_importing_tracking_loads_neither_accelerate_tracking_nor_tensorboard():
    code = ("import sys, kgqa.training.tracking; "
            "print([m for m in ('tensorboard', 'accelerate.tracking') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "seed-0"
    with make_tracker("tensorboard", run, {"model": {"name": "lm", "hidden": [64, 32]},
                                           "training": {"lr": 0.01, "warmup": None}}) as tracker:
        for step, loss in ((10, 1.6), (20, 1.5), (30, 1.25)):
            tracker.log({"train/loss": loss, "lr": [0.01, 5e-5]}, step=step)
    assert tracker.log_dir == run / "tensorboard"
    events = sorted(tracker.log_dir.glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    accumulator = EventAccumulator(str(tracker.log_dir))
    accumulator.Reload()
    assert {"train/loss", "lr/0", "lr/1"} <= set(accumulator.Tags()["scalars"])
    points = [(e.step, round(e.value, 6)) for e in accumulator.Scalars("train/loss")]
    assert points == [(10, 1.6), (20, 1.5), (30, 1.25)]

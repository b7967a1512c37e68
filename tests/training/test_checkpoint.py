"""Checkpoints: round trip, weights_only loading of optimizer/RNG state, atomic replacement."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.models.base import QABatch
from kgqa.training.checkpoint import (OPTIMIZER_FILE, RNG_FILE, Checkpoint, TrainState, rng_state,
                                      save_checkpoint, set_rng_state)
from kgqa.training.config import TrainingConfig
from kgqa.training.loop import build_optimizer, build_scheduler
from tests.training.toys import ToyConfig, ToyModel, synthetic_split


def _trained_toy(steps: int = 3):
    torch.manual_seed(0)
    model = ToyModel(ToyConfig(lm_hidden_size=8, dropout=0.0))
    opt = build_optimizer(model, lr=0.1, lm_lr=0.1, weight_decay=0.01)
    sched = build_scheduler(opt, TrainingConfig(warmup_ratio=0.2), total_steps=10)
    ds, states = synthetic_split(8)
    batch = QABatch(ids=ds.ids, num_choices=5, labels=torch.tensor([e.label for e in ds]),
                    lm_states=states)
    for _ in range(steps):
        model(batch).loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    return model, opt, sched, batch


def test_round_trip_gives_identical_outputs(tmp_path):
    model, opt, sched, batch = _trained_toy()
    state = TrainState(step=3, epoch=0, batch_in_epoch=3, best_dev_accuracy=0.5, best_step=2,
                       history=[{"step": 2, "dev_accuracy": 0.5}])
    path = save_checkpoint(tmp_path / "ckpt", model=model, model_name="toy_mc",
                           model_config=model.config, experiment={"name": "x"}, state=state,
                           optimizer=opt, scheduler=sched, extra={"regime": "frozen"})
    ckpt = Checkpoint.load(path)
    assert ckpt.model_name == "toy_mc" and ckpt.meta["regime"] == "frozen"
    assert ckpt.meta["model_config"] == {"lm_hidden_size": 8, "dropout": 0.0}
    assert ckpt.state == state and ckpt.can_resume
    rebuilt = ckpt.load_weights(ToyModel(ToyConfig(**ckpt.meta["model_config"])))
    model.eval()
    rebuilt.eval()
    assert torch.equal(model(batch).logits, rebuilt(batch).logits)
    assert torch.equal(model(batch).loss, rebuilt(batch).loss)


def test_optimizer_and_scheduler_state_load_with_weights_only(tmp_path):
    model, opt, sched, _ = _trained_toy()
    save_checkpoint(tmp_path / "c", model=model, model_name="toy_mc", state=TrainState(step=3),
                    optimizer=opt, scheduler=sched)
    # the files are plain tensors/containers: torch.load(weights_only=True) accepts them
    saved = torch.load(tmp_path / "c" / OPTIMIZER_FILE, weights_only=True)
    torch.load(tmp_path / "c" / RNG_FILE, weights_only=True)
    assert saved["scheduler"]["last_epoch"] == 3
    fresh_model, fresh_opt, fresh_sched, _ = _trained_toy(steps=0)
    Checkpoint.load(tmp_path / "c").load_training(fresh_opt, fresh_sched)
    old, new = opt.state_dict(), fresh_opt.state_dict()
    for pid, pstate in old["state"].items():
        assert torch.equal(pstate["exp_avg"], new["state"][pid]["exp_avg"])
        assert torch.equal(pstate["exp_avg_sq"], new["state"][pid]["exp_avg_sq"])
        assert float(pstate["step"]) == float(new["state"][pid]["step"]) == 3.0
    assert [g["lr"] for g in fresh_opt.param_groups] == [g["lr"] for g in opt.param_groups]
    assert fresh_sched.last_epoch == 3


def test_rng_state_round_trip():
    state = rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], again[0]) and np.array_equal(expected[1], again[1])
    assert expected[2] == again[2]


def test_checkpoint_is_replaced_atomically(tmp_path):
    model, opt, sched, _ = _trained_toy()
    target = tmp_path / "last"
    save_checkpoint(target, model=model, model_name="toy_mc", state=TrainState(step=1))

    class Exploding(torch.nn.Module):
        def state_dict(self, *a, **k):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(target, model=Exploding(), model_name="toy_mc", state=TrainState(step=2))
    assert Checkpoint.load(target).state.step == 1  # the old checkpoint is intact
    assert [p.name for p in tmp_path.iterdir()] == ["last"]  # no temp dir left behind


def test_bad_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E031\].*no such directory"):
        Checkpoint.load(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KGQAError, match=r"\[E031\].*model.safetensors is missing"):
        Checkpoint.load(tmp_path / "empty")
    model, *_ = _trained_toy(steps=0)
    save_checkpoint(tmp_path / "w", model=model, model_name="toy_mc")
    ckpt = Checkpoint.load(tmp_path / "w")
    with pytest.raises(KGQAError, match="weights only"):
        ckpt.load_training()
    with pytest.raises(KGQAError, match=r"\[E031\].*do not fit"):
        ckpt.load_weights(ToyModel(ToyConfig(lm_hidden_size=4)))
    meta = json.loads((tmp_path / "w" / "config.json").read_text())
    meta["format"] = 99
    (tmp_path / "w" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(KGQAError, match="format 99"):
        Checkpoint.load(tmp_path / "w")

"""The training loop: lr schedule, learning, exact resume, NaN stop, early stopping."""

from __future__ import annotations

import math

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.training.checkpoint import Checkpoint, save_checkpoint
from kgqa.training.collate import QACollator, SplitLoader
from kgqa.training.config import TrainingConfig
from kgqa.training.loop import build_optimizer, build_scheduler, lr_factor, plan_steps, train

from tests.training.toys import ToyModel, synthetic_split


def test_lr_factor_warmup_then_linear_and_cosine():
    assert [lr_factor(s, 10, 2, "linear") for s in range(4)] == [0.5, 1.0, 1.0, 0.875]
    assert lr_factor(10, 10, 2, "linear") == 0.0
    assert lr_factor(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert lr_factor(7, 10, 0, "constant") == 1.0


def test_two_learning_rates_for_lm_and_graph():
    model = ToyModel()
    model.backbone = torch.nn.Linear(3, 3)  # stands in for a backbone
    opt = build_optimizer(model, lr=1e-3, lm_lr=2e-5, weight_decay=0.01)
    by_name = {g["name"]: (g["lr"], g["weight_decay"], sum(p.numel() for p in g["params"]))
               for g in opt.param_groups}
    assert by_name == {"lm": (2e-5, 0.01, 9), "lm_no_decay": (2e-5, 0.0, 3),
                       "graph": (1e-3, 0.01, 8), "graph_no_decay": (1e-3, 0.0, 2)}


def _setup(tmp_path, *, settings: TrainingConfig, seed: int = 0, n_train: int = 64):
    torch.manual_seed(seed)
    train_ds, train_states = synthetic_split(n_train, split="train", seed=1)
    dev_ds, dev_states = synthetic_split(32, split="dev", seed=2)
    model = ToyModel()
    train_loader = SplitLoader(QACollator(train_ds.examples, "train", lm_states=train_states),
                               len(train_ds), batch_size=settings.batch_size, shuffle=True, seed=seed)
    dev_loader = SplitLoader(QACollator(dev_ds.examples, "dev", lm_states=dev_states),
                             len(dev_ds), batch_size=16)
    opt = build_optimizer(model, lr=settings.lr, lm_lr=settings.lm_lr, weight_decay=settings.weight_decay)
    sched = build_scheduler(opt, settings, plan_steps(settings, len(train_loader)))
    return model, train_loader, dev_loader, opt, sched


def _hook(model, opt, sched, root):
    def on_checkpoint(kind, state):
        target = root / kind
        save_checkpoint(target, model=model, model_name="toy_mc", model_config=model.config,
                        state=state, optimizer=opt if kind == "last" else None,
                        scheduler=sched if kind == "last" else None)
        return target
    return on_checkpoint


def test_train_learns_the_signal(tmp_path, accelerator):
    settings = TrainingConfig(epochs=5, batch_size=8, lr=0.05, patience=None)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator,
                  on_checkpoint=_hook(model, opt, sched, tmp_path))
    assert state.step == 5 * 8 and state.epoch == 5 and state.stop_reason == "epochs"
    assert len(state.history) == 5  # one evaluation per epoch
    assert state.history[0]["dev_accuracy"] < state.best_dev_accuracy
    assert state.best_dev_accuracy >= 0.9  # the synthetic signal is easy
    assert state.history[-1]["lr"][0] == pytest.approx(0.0)  # linear decay reached zero
    assert (tmp_path / "best" / "model.safetensors").is_file()


def test_resume_gives_identical_final_weights_and_metrics(tmp_path, accelerator, monkeypatch):
    settings = TrainingConfig(epochs=3, batch_size=8, lr=0.05, patience=None, eval_every=5,
                              checkpoint_every=5, warmup_ratio=0.1)
    # uninterrupted: 3 epochs x 8 batches = 24 steps
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    full = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                 settings=settings, accelerator=accelerator,
                 on_checkpoint=_hook(model, opt, sched, tmp_path / "full"))
    full_weights = {k: v.clone() for k, v in model.state_dict().items()}

    # interrupted: the 13th training batch "crashes" (after the checkpoint at step 10)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    calls = {"n": 0}
    real_call = QACollator.__call__

    def crashing(self, indices):
        if self.split == "train":
            calls["n"] += 1
            if calls["n"] == 13:
                raise RuntimeError("simulated crash")
        return real_call(self, indices)

    monkeypatch.setattr(QACollator, "__call__", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
              settings=settings, accelerator=accelerator,
              on_checkpoint=_hook(model, opt, sched, tmp_path / "crashed"))
    monkeypatch.setattr(QACollator, "__call__", real_call)
    ckpt = Checkpoint.load(tmp_path / "crashed" / "last")
    assert ckpt.state.step == 10 and ckpt.state.epoch == 1 and ckpt.state.batch_in_epoch == 2

    # resume in a fresh "process": new objects, different global RNG, state from the checkpoint
    torch.manual_seed(12345)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings, seed=0)
    ckpt.load_weights(model)
    state = ckpt.load_training(opt, sched)
    resumed = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                    settings=settings, accelerator=accelerator, state=state,
                    on_checkpoint=_hook(model, opt, sched, tmp_path / "crashed"))
    assert resumed.step == full.step == 24
    for key, value in model.state_dict().items():
        assert torch.equal(value, full_weights[key]), key
    strip = lambda h: [{k: v for k, v in r.items()} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)
    assert resumed.best_dev_accuracy == full.best_dev_accuracy
    assert resumed.best_step == full.best_step


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, accelerator):
    settings = TrainingConfig(epochs=3, batch_size=8, lr=0.05, patience=None, checkpoint_every=4,
                              eval_every=4)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    model.nan_at = 11  # the 11th training forward returns a NaN loss
    with pytest.raises(KGQAError, match=r"\[E032\] Training stopped at step 11 \(epoch 2\)") as info:
        train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
              settings=settings, accelerator=accelerator,
              on_checkpoint=_hook(model, opt, sched, tmp_path))
    assert "training loss is nan" in str(info.value)
    assert str(tmp_path / "last") in str(info.value)
    ckpt = Checkpoint.load(tmp_path / "last")
    assert ckpt.state.step == 8  # the last checkpoint before the NaN
    fresh = ToyModel()
    ckpt.load_weights(fresh)
    assert all(torch.isfinite(p).all() for p in fresh.parameters())


def test_early_stopping_after_patience(tmp_path, accelerator):
    # lr = 0 (constant): dev accuracy never improves after the first evaluation
    settings = TrainingConfig(epochs=20, batch_size=8, lr=1e-12, schedule="constant", patience=2)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert state.stop_reason == "early_stopping"
    assert len(state.history) == 3 and state.step == 24 and state.best_step == 8


def test_max_steps_and_time_budget(tmp_path, accelerator):
    settings = TrainingConfig(epochs=20, batch_size=8, lr=0.01, max_steps=5, patience=None)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert (state.step, state.stop_reason, len(state.history)) == (5, "max_steps", 1)
    settings = TrainingConfig(epochs=20, batch_size=8, lr=0.01, max_minutes=1e-9, patience=None)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert (state.step, state.stop_reason) == (1, "time_budget")
    assert math.isfinite(state.history[-1]["dev_accuracy"])

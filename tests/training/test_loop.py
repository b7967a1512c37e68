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

from tests.training.toys import ToyConfig, ToyModel, synthetic_split


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
    assert len(state.history) == 6  # the starting point, then one evaluation per epoch
    assert state.history[0]["step"] == 0
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


def test_micro_batches_give_the_whole_batch_step(tmp_path, accelerator):
    # batch 8 as micro-batches of 3, 3 and 2 questions: gradients weighted by each slice's share
    # of the batch add up to the whole batch's, so the weights after 2 epochs are the same
    train_ds, train_states = synthetic_split(64, split="train", seed=1)
    weights, histories = [], []
    for micro in (None, 3):
        torch.manual_seed(0)
        model = ToyModel(ToyConfig(dropout=0.0))  # no dropout: the same forward either way
        loader = SplitLoader(QACollator(train_ds.examples, "train", lm_states=train_states),
                             len(train_ds), batch_size=8, shuffle=True, seed=0,
                             micro_batch_size=micro)
        assert [len(step) for step in loader.step_batches(0)][:2] == ([1, 1] if micro is None else [3, 3])
        settings = TrainingConfig(epochs=2, batch_size=8, lr=0.05, patience=None, max_grad_norm=0.5,
                                  micro_batch_size=micro)
        # SGD: Adam would blow the shared bias' float-noise gradient (exactly 0 in a softmax
        # over choices) up to steps of lr either way
        opt = torch.optim.SGD(model.parameters(), lr=settings.lr)
        state = train(model, train_loader=loader, dev_loader=None, optimizer=opt, scheduler=None,
                      settings=settings, accelerator=accelerator)
        assert state.step == 16 and model.train_calls == (16 if micro is None else 48)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        histories.append(state.interval_loss_sum)
    assert not torch.equal(weights[0], torch.zeros_like(weights[0]))
    torch.testing.assert_close(weights[1], weights[0], rtol=1e-5, atol=1e-6)
    assert histories[1] == pytest.approx(histories[0], rel=1e-5)


def test_early_stopping_after_patience(tmp_path, accelerator):
    # lr = 0 (constant): dev accuracy never improves after the first evaluation
    settings = TrainingConfig(epochs=20, batch_size=8, lr=1e-12, schedule="constant", patience=2)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert state.stop_reason == "early_stopping"
    assert len(state.history) == 3 and state.step == 16 and state.best_step == 0


def test_max_steps_and_time_budget(tmp_path, accelerator):
    settings = TrainingConfig(epochs=20, batch_size=8, lr=0.01, max_steps=5, patience=None)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert (state.step, state.stop_reason, len(state.history)) == (5, "max_steps", 2)
    settings = TrainingConfig(epochs=20, batch_size=8, lr=0.01, max_minutes=1e-9, patience=None)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert (state.step, state.stop_reason) == (1, "time_budget")
    assert math.isfinite(state.history[-1]["dev_accuracy"])


def test_budget_steps_fit_the_time_left():
    from kgqa.training.loop import budget_steps

    # 60 s left at 0.5 s a step and a 10 s evaluation every 20 steps: 0.95 * 60 / 1.0 = 57 more
    assert budget_steps(step=20, planned=1000, seconds_left=60, seconds_per_step=0.5,
                        seconds_per_eval=10, eval_every=20) == 77
    assert budget_steps(step=20, planned=50, seconds_left=60, seconds_per_step=0.5,
                        seconds_per_eval=10, eval_every=20) == 50  # never beyond the epochs
    assert budget_steps(step=20, planned=1000, seconds_left=-5, seconds_per_step=0.5,
                        seconds_per_eval=10, eval_every=20) == 21  # out of time: one more step


def test_budget_planned_schedule_decays_to_zero_inside_the_budget(tmp_path, accelerator, monkeypatch):
    """A fake clock: every model forward costs 0.1 s. 20 epochs x 8 steps would take 16 s of
    training; a 4-second budget re-plans the schedule after the calibration steps so the linear
    decay reaches 0 at the last step, before the budget is spent."""
    import kgqa.training.loop as loop

    clock = {"t": 0.0}
    monkeypatch.setattr(loop.time, "perf_counter", lambda: clock["t"])
    settings = TrainingConfig(epochs=20, batch_size=8, lr=0.05, patience=None, warmup_ratio=0.1,
                              max_minutes=4 / 60)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    real_forward = model.forward

    def slow_forward(batch):
        clock["t"] += 0.1
        return real_forward(batch)

    model.forward = slow_forward
    state = train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched,
                  settings=settings, accelerator=accelerator)
    assert state.budget_planned and state.stop_reason == "max_steps"
    assert 20 < state.planned_steps < 160 and state.step == state.planned_steps
    assert clock["t"] <= 4.0  # finished inside the budget
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)  # decay completed
    assert sched.lr_lambdas[0].total_steps == state.planned_steps


def test_freeze_lm_phase_keeps_the_backbone_fixed(tmp_path, accelerator):
    settings = TrainingConfig(epochs=2, batch_size=8, lr=0.05, lm_lr=0.05, patience=None,
                              freeze_lm_steps=5, eval_at_start=False)
    model, tl, dl, opt, sched = _setup(tmp_path, settings=settings)
    model.backbone = torch.nn.Linear(3, 3)  # a stand-in backbone in the 'backbone' group
    model.parameter_groups = lambda: {"backbone": list(model.backbone.parameters()),
                                      "head": list(model.scorer.parameters())}
    opt = build_optimizer(model, lr=0.05, lm_lr=0.05, weight_decay=0.0)
    sched = build_scheduler(opt, settings, plan_steps(settings, len(tl)))
    before = model.backbone.weight.detach().clone()
    seen = []
    real_step = opt.step

    def spy(*args, **kwargs):
        seen.append(model.backbone.weight.requires_grad)
        return real_step(*args, **kwargs)

    opt.step = spy
    # the toy's forward ignores the backbone, so give it a gradient path through the loss
    real_forward = model.forward

    def forward(batch):
        out = real_forward(batch)
        if out.loss is not None:
            out.loss = out.loss + 0.0 * model.backbone.weight.sum() + 1e-3 * model.backbone.weight.pow(2).sum()
        return out

    model.forward = forward
    train(model, train_loader=tl, dev_loader=dl, optimizer=opt, scheduler=sched, settings=settings,
          accelerator=accelerator)
    assert seen[:5] == [False] * 5 and all(seen[5:])
    assert not torch.equal(before, model.backbone.weight)
    assert model.backbone.weight.requires_grad  # trainable again after training


def test_replanning_happens_early_and_not_late():
    from kgqa.training.loop import _replan_now

    when = [t for t in range(1, 400) if _replan_now(t, 20, step=t + 1, total_steps=500)]
    assert when == [20, 120, 220]  # then step 321 >= half of 500: no more re-planning

"""The training loop: short and linear, like nanoGPT's ``train.py``.

One loop over optimizer steps calls :func:`lr_factor` for the schedule and :func:`estimate` for
dev accuracy; it checkpoints, stops early when dev accuracy has not improved for ``patience``
evaluations, and stops with a clear error on a non-finite loss (the last good checkpoint is never
overwritten by a bad state). Everything that varies between runs — model, data, checkpoint
writing — comes in as arguments; device placement, mixed precision and multi-process gradient
sync come from a Hugging Face ``accelerate.Accelerator``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from kgqa.errors import Errors, KGQAError
from kgqa.models.base import QAModelOutput
from kgqa.training.checkpoint import TrainState
from kgqa.training.collate import SplitLoader
from kgqa.training.config import TrainingConfig

#: Called as ``on_checkpoint(kind, state)`` with kind ``"last"`` or ``"best"``; returns the path.
CheckpointHook = Callable[[str, TrainState], Path]


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Learning-rate multiplier at ``step``: linear warmup, then constant, linear or cosine decay.

    .. math::
        f(s) = \\begin{cases} s / W & s < W \\\\
               1 - \\frac{s - W}{T - W} & \\text{linear} \\\\
               \\tfrac12 \\left(1 + \\cos \\pi \\frac{s - W}{T - W}\\right) & \\text{cosine}
               \\end{cases}
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant" or total_steps <= warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(model: torch.nn.Module, *, lr: float, lm_lr: float,
                    weight_decay: float) -> torch.optim.AdamW:
    """AdamW with QA-GNN's two learning rates: ``lm_lr`` for the backbone, ``lr`` for the rest.

    Backbone parameters come from ``model.parameter_groups()["backbone"]`` when the model has
    it (:class:`kgqa.models.common.QAModel`), else from the names under a ``backbone``
    attribute. Biases and norm weights (1-d tensors) get no weight decay; frozen parameters are
    left out.
    """
    if hasattr(model, "parameter_groups"):
        lm_ids = {id(p) for p in model.parameter_groups().get("backbone", [])}
    else:
        lm_ids = {id(p) for n, p in model.named_parameters()
                  if n.startswith("backbone.") or ".backbone." in n}
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    for param in model.parameters():
        if param.requires_grad:
            groups.setdefault((id(param) in lm_ids, param.dim() >= 2), []).append(param)
    param_groups = [{"params": params, "lr": lm_lr if is_lm else lr,
                     "weight_decay": weight_decay if decay else 0.0,
                     "name": f"{'lm' if is_lm else 'graph'}{'' if decay else '_no_decay'}"}
                    for (is_lm, decay), params in sorted(groups.items())]
    if not param_groups:
        raise KGQAError(Errors.E015.format(problem="the model has no trainable parameters"))
    return torch.optim.AdamW(param_groups)


def plan_steps(settings: TrainingConfig, steps_per_epoch: int) -> int:
    """Total optimizer steps: ``epochs * steps_per_epoch``, capped by ``max_steps``."""
    total = settings.epochs * steps_per_epoch
    return min(total, settings.max_steps) if settings.max_steps is not None else total


def budget_steps(*, step: int, planned: int, seconds_left: float, seconds_per_step: float,
                 seconds_per_eval: float, eval_every: int, margin: float = 0.95) -> int:
    r"""The total steps a time budget allows: the steps taken, plus as many more as fit in
    ``seconds_left`` at the measured cost of a step and of the evaluations they bring
    (``margin`` keeps room for the final evaluation and checkpoint), never more than
    ``planned``.

    .. math::
        T = \min\Big(T_{plan},\ s + \Big\lfloor m \frac{t_{left}}{t_{step} + t_{eval} / k}
        \Big\rfloor\Big)
    """
    per_step = seconds_per_step + seconds_per_eval / max(1, eval_every)
    more = int(margin * max(0.0, seconds_left) / max(per_step, 1e-9))
    return max(step + 1, min(planned, step + more))


class Schedule:
    """The learning-rate multiplier of :func:`lr_factor` over a total that can be re-planned
    while training (a time budget measured after the first steps); ``LambdaLR`` calls it and
    saves its plain attributes in the scheduler's state (loadable with ``weights_only``)."""

    def __init__(self, total_steps: int, settings: TrainingConfig):
        self.total_steps = int(total_steps)
        self.warmup_ratio = float(settings.warmup_ratio)
        self.kind = str(settings.schedule)

    @property
    def warmup_steps(self) -> int:
        return int(self.warmup_ratio * self.total_steps)

    def __call__(self, step: int) -> float:
        return lr_factor(step, self.total_steps, self.warmup_steps, self.kind)


def build_scheduler(optimizer: torch.optim.Optimizer, settings: TrainingConfig,
                    total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` applying :func:`lr_factor` to every parameter group's base rate; its
    :class:`Schedule` is ``scheduler.lr_lambdas[0]`` (re-planned by :func:`train` on a budget)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, Schedule(total_steps, settings))


@dataclass
class EvalResult:
    """Accuracy and mean loss over a split (summed over processes).

    Attributes:
        accuracy: fraction of questions answered right.
        loss: mean cross-entropy (``nan`` without labels).
        num_questions: questions scored.
        ids, predictions: this process's question ids and predicted choice indices.
        correct: this process's per-question correctness (empty without labels).
        logits: this process's ``(n, C)`` logits, in ``ids`` order.
    """

    accuracy: float
    loss: float
    num_questions: int
    ids: list[str] = field(default_factory=list)
    predictions: list[int] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    logits: torch.Tensor | None = None

    def to_dict(self) -> dict:
        """Accuracy, loss and count; with every question in this process (one process), also
        the per-question ``predictions`` (choice digits) and ``correct`` (``0``/``1``) as strings
        in split order, which paired significance tests between runs read
        (:func:`kgqa.training.results.paired_bootstrap`)."""
        out = {"accuracy": self.accuracy, "loss": self.loss, "num_questions": self.num_questions}
        out.update(per_question_strings(self.predictions, self.correct, self.num_questions))
        return out


def per_question_strings(predictions: list[int], correct: list[bool], num_questions: int) -> dict:
    """``{"predictions": "3104...", "correct": "1001..."}`` when they cover all ``num_questions``
    (``{}`` otherwise, e.g. one shard of several processes, or more than 10 choices)."""
    out: dict = {}
    if len(predictions) == num_questions and all(0 <= p < 10 for p in predictions):
        out["predictions"] = "".join(str(int(p)) for p in predictions)
    if correct and len(correct) == num_questions:
        out["correct"] = "".join("1" if c else "0" for c in correct)
    return out


@torch.no_grad()
def estimate(model: torch.nn.Module, loader: SplitLoader, accelerator) -> EvalResult:
    """Score every batch of ``loader`` with ``model`` in eval mode (like nanoGPT's
    ``estimate_loss``); the model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    device = accelerator.device
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    count = torch.zeros((), dtype=torch.long, device=device)
    labelled = torch.zeros((), dtype=torch.long, device=device)
    ids, predictions, hits, all_logits = [], [], [], []
    for batch in loader.batches(0):
        batch = batch.to(device)
        with accelerator.autocast():
            out: QAModelOutput = model(batch)
        logits = out.logits.float()
        pred = logits.argmax(dim=-1)
        if batch.labels is not None:
            loss = torch.nn.functional.cross_entropy(logits, batch.labels, reduction="sum")
            loss_sum += loss.double()
            right = pred == batch.labels
            correct += right.sum()
            labelled += len(batch.ids)
            hits.extend(right.tolist())
        count += len(batch.ids)
        ids.extend(batch.ids)
        predictions.extend(pred.tolist())
        all_logits.append(logits.cpu())
    totals = accelerator.reduce(torch.stack([loss_sum, correct.double(), count.double(),
                                             labelled.double()]), reduction="sum")
    loss_total, correct_total, n, n_labelled = (float(v) for v in totals)
    model.train(was_training)
    return EvalResult(accuracy=correct_total / n_labelled if n_labelled else float("nan"),
                      loss=loss_total / n_labelled if n_labelled else float("nan"),
                      num_questions=int(n), ids=ids, predictions=predictions, correct=hits,
                      logits=torch.cat(all_logits) if all_logits else None)


def _describe(state: TrainState, loss: float, acc: float) -> str:
    best = f" dev {state.best_dev_accuracy:.3f}" if state.best_dev_accuracy >= 0 else ""
    return f"epoch {state.epoch + 1} loss {loss:.3f} acc {acc:.3f}{best}"


def train(model: torch.nn.Module, *, train_loader: SplitLoader, dev_loader: SplitLoader | None,
          optimizer: torch.optim.Optimizer, scheduler, settings: TrainingConfig, accelerator,
          state: TrainState | None = None, on_checkpoint: CheckpointHook | None = None,
          progress=None, tracker=None) -> TrainState:
    """Train until the epochs or ``max_steps`` are done, dev accuracy stops improving, or the
    time budget is spent.

    Args:
        model: the model, prepared by ``accelerator`` (its ``forward(QABatch)`` returns a
            :class:`QAModelOutput` with ``loss``).
        train_loader: the shuffled training batches (:class:`SplitLoader`).
        dev_loader: the dev batches for early stopping, or ``None`` (no evaluation).
        optimizer, scheduler: ``scheduler.step()`` is called after every optimizer step.
        settings: the :class:`TrainingConfig`.
        accelerator: an ``accelerate.Accelerator`` (device, autocast, backward, clipping).
        state: a :class:`TrainState` restored from a checkpoint to resume, else a fresh one.
        on_checkpoint: saves a checkpoint (``"last"`` for resuming, ``"best"`` on a new best dev
            accuracy) and returns its path.
        progress: a ``rich`` progress bar (:func:`kgqa.utils.progress.progress_bar`) or ``None``.
        tracker: logs per-step ``train/loss``, ``train/accuracy``, ``lr`` and per-evaluation
            ``dev/*`` (:func:`kgqa.training.tracking.make_tracker`), or ``None``.

    A fresh run is evaluated once before its first step (a model that starts at the zero-shot
    baseline keeps that as its best checkpoint until training beats it). With
    ``settings.max_minutes`` and ``budget_schedule``, the schedule is re-planned after
    ``CALIBRATION_STEPS`` steps from the measured step and evaluation times (and again every
    5 x that many steps in the first half of the plan, as step times drift on a shared machine), so warm-up and
    decay complete inside the budget (:func:`budget_steps`). With ``freeze_lm_steps`` /
    ``freeze_lm_epochs`` the backbone gets no gradient for that many first steps. A loader with
    ``micro_batch_size`` gives each step as micro-batches whose gradients add up to the batch's.

    Returns:
        The final :class:`TrainState` (``stop_reason`` says why it ended).

    Raises:
        KGQAError: ``[E032]`` on a non-finite training loss, naming the step and the last good
            checkpoint (which is kept as it was).
    """
    state = state or TrainState()
    if state.stop_reason is not None:  # resumed a run that had already finished
        return state
    steps_per_epoch = len(train_loader)
    epoch_steps = plan_steps(settings, steps_per_epoch)
    total_steps = state.planned_steps or epoch_steps
    schedule = _schedule_of(scheduler)
    if schedule is not None:
        schedule.total_steps = total_steps
    plan_by_budget = (settings.max_minutes is not None and settings.budget_schedule
                      and not state.budget_planned)
    calibration = min(CALIBRATION_STEPS, max(1, total_steps // 10))
    eval_seconds: list[float] = []
    step_clock: list[float] = []  # (time after the first step, steps then)
    raw = accelerator.unwrap_model(model)
    freeze_steps = max(settings.freeze_lm_steps, int(settings.freeze_lm_epochs * steps_per_epoch))
    lm_params = list(raw.parameter_groups().get("backbone", [])) if (
        freeze_steps and hasattr(raw, "parameter_groups")) else []
    eval_every = settings.eval_every or steps_per_epoch
    checkpoint_every = settings.checkpoint_every or eval_every
    last_checkpoint: Path | None = None
    session_start = time.perf_counter()
    seconds_before = state.train_seconds
    task = progress.add_task(_describe(state, 0.0, 0.0), total=total_steps,
                             completed=state.step) if progress is not None else None

    def checkpoint(kind: str) -> None:
        nonlocal last_checkpoint
        state.train_seconds = seconds_before + time.perf_counter() - session_start
        if on_checkpoint is not None:
            path = on_checkpoint(kind, state)
            if kind == "last":
                last_checkpoint = path

    def evaluate() -> None:
        if dev_loader is None:
            return
        t_eval = time.perf_counter()
        dev = estimate(model, dev_loader, accelerator)
        eval_seconds.append(time.perf_counter() - t_eval)
        if tracker is not None:
            tracker.log({"dev/accuracy": dev.accuracy, "dev/loss": dev.loss}, step=state.step)
        n = max(1, state.interval_count)
        record = {"step": state.step, "epoch": state.epoch,
                  # no training since the last evaluation (step 0): no training loss to report
                  "train_loss": state.interval_loss_sum / n if state.interval_count else None,
                  "train_accuracy": state.interval_correct / n if state.interval_count else None,
                  "dev_loss": dev.loss, "dev_accuracy": dev.accuracy,
                  "lr": [group["lr"] for group in optimizer.param_groups]}
        state.history.append(record)
        state.interval_loss_sum, state.interval_correct, state.interval_count = 0.0, 0, 0
        if dev.accuracy > state.best_dev_accuracy:
            state.best_dev_accuracy, state.best_step = dev.accuracy, state.step
            state.evals_without_improvement = 0
            checkpoint("best")
        else:
            state.evals_without_improvement += 1
            if settings.patience is not None and state.evals_without_improvement >= settings.patience:
                state.stop_reason = "early_stopping"

    def replan() -> None:
        nonlocal total_steps
        (t_first, s_first), now = step_clock[0], time.perf_counter()
        per_step = (now - t_first) / max(1, state.step - s_first)
        spent = now - session_start + seconds_before
        per_eval = max(eval_seconds) if eval_seconds else per_step * len(dev_loader or [])
        total_steps = budget_steps(step=state.step, planned=epoch_steps,
                                   seconds_left=settings.max_minutes * 60 - spent,
                                   seconds_per_step=per_step, seconds_per_eval=per_eval,
                                   eval_every=eval_every)
        if schedule is not None:
            schedule.total_steps = total_steps
        state.planned_steps, state.budget_planned = total_steps, True

    def set_lm_trainable(trainable: bool) -> None:
        for param in lm_params:
            param.requires_grad_(trainable)

    model.train()
    if settings.eval_at_start and state.step == 0 and not state.history:
        evaluate()  # step 0: the starting point (the zero-shot baseline for a prior model)
        model.train()
    state.planned_steps = state.planned_steps or total_steps
    while state.stop_reason is None:
        if state.step >= total_steps:
            state.stop_reason = "max_steps" if total_steps < settings.epochs * steps_per_epoch \
                else "epochs"
            break
        for micro_batches in train_loader.step_batches(state.epoch, start=state.batch_in_epoch):
            if lm_params:
                set_lm_trainable(state.step >= freeze_steps)
            questions = sum(len(micro.ids) for micro in micro_batches)
            losses, corrects = [], []
            for i, micro in enumerate(micro_batches):
                loss, correct = _micro_step(model, micro, accelerator,
                                            weight=len(micro.ids) / questions,
                                            sync=i == len(micro_batches) - 1)
                losses.append(loss)
                corrects.append(correct)
            losses = torch.stack(losses)
            _check_finite(losses, micro_batches, accelerator, state=state,
                          last_checkpoint=last_checkpoint)
            # losses and correct counts each read from the device once per step, not per micro-batch
            step_loss = sum(value * len(micro.ids) for value, micro in zip(losses.tolist(), micro_batches))
            batch_correct = int(torch.stack(corrects).sum())
            if settings.max_grad_norm is not None:
                accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)

            state.step += 1
            state.batch_in_epoch += 1
            state.interval_loss_sum += step_loss
            state.interval_correct += batch_correct
            state.interval_count += questions
            if tracker is not None:
                tracker.log({"train/loss": step_loss / questions,
                             "train/accuracy": batch_correct / questions,
                             "lr": optimizer.param_groups[0]["lr"]}, step=state.step)
            if not step_clock:
                step_clock.append((time.perf_counter(), state.step))  # the first step warms up
            elif plan_by_budget and _replan_now(state.step - step_clock[0][1], calibration,
                                                state.step, total_steps):
                replan()
            if state.batch_in_epoch >= steps_per_epoch:
                state.epoch += 1
                state.batch_in_epoch = 0
            if progress is not None:
                n = max(1, state.interval_count)
                progress.update(task, completed=state.step, total=total_steps, description=_describe(
                    state, state.interval_loss_sum / n, state.interval_correct / n))

            finished = state.step >= total_steps
            out_of_time = (settings.max_minutes is not None and
                           time.perf_counter() - session_start + seconds_before
                           > settings.max_minutes * 60)
            if state.step % eval_every == 0 or finished or out_of_time:
                evaluate()
            if out_of_time and state.stop_reason is None:
                state.stop_reason = "time_budget"
            if finished and state.stop_reason is None:
                state.stop_reason = ("max_steps" if total_steps < settings.epochs * steps_per_epoch
                                     else "epochs")
            if state.stop_reason is not None or state.step % checkpoint_every == 0:
                checkpoint("last")
            if state.stop_reason is not None or state.batch_in_epoch == 0:
                break  # a new epoch regenerates its permutation
    if lm_params:
        set_lm_trainable(True)
    state.train_seconds = seconds_before + time.perf_counter() - session_start
    return state


def _micro_step(model, batch, accelerator, *, weight: float,
                sync: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward of one micro-batch, its loss scaled by ``weight`` (its share of the
    step's questions) so the gradients of a step's micro-batches add up to the whole batch's.
    Gradients are synchronised across processes only on the step's last micro-batch (``sync``).

    Returns:
        The micro-batch's mean loss (detached) and its number of correct predictions, as
        0-d tensors on the device (read once per step by the caller).
    """
    batch = batch.to(accelerator.device)
    with contextlib.nullcontext() if sync else accelerator.no_sync(model):
        with accelerator.autocast():
            out: QAModelOutput = model(batch)
        loss = out.loss
        if loss is None:
            raise KGQAError(Errors.E033.format(problem="the model returned no loss for a "
                                                       "training batch (labels missing?)"))
        accelerator.backward(loss * weight if weight != 1.0 else loss)
    with torch.no_grad():
        correct = (out.logits.argmax(-1) == batch.labels).sum()
    return loss.detach(), correct


def _check_finite(losses: torch.Tensor, micro_batches: list, accelerator, *,
                  state: TrainState, last_checkpoint: Path | None) -> None:
    """Stop on a non-finite loss before the optimizer steps (the weights stay as they were).

    One check per step, whatever the number of micro-batches, so every process makes the same
    collective call (a process's last batch may have fewer micro-batches than another's).

    Args:
        losses: ``(M,)`` the mean loss of each of the step's ``M`` micro-batches.

    Raises:
        KGQAError: ``[E032]`` naming the step, the batch and its first questions.
    """
    finite = torch.isfinite(losses).all()
    if accelerator.num_processes > 1:  # every process stops together
        finite = accelerator.reduce(finite.float(), reduction="sum") == accelerator.num_processes
    if finite.item():
        return
    bad = next((i for i, loss in enumerate(losses) if not torch.isfinite(loss)), 0)
    ids = micro_batches[bad].ids
    state.stop_reason = "nan"
    raise KGQAError(Errors.E032.format(
        step=state.step + 1, epoch=state.epoch + 1,
        problem=(f"the training loss is {losses[bad].item()} on batch "
                 f"{state.batch_in_epoch + 1} (questions {', '.join(ids[:3])}"
                 f"{'...' if len(ids) > 3 else ''}); lower the learning rate "
                 "or the fp16 loss scale, or check the inputs for NaN"),
        checkpoint=last_checkpoint or "(none written yet)"))


#: Steps timed (after the first) before a time budget re-plans the schedule.
CALIBRATION_STEPS = 20


def _replan_now(timed: int, calibration: int, step: int, total_steps: int) -> bool:
    """Re-plan after the calibration steps, then every 5 x calibration steps while less than
    half of the planned steps are done: the step time on a shared machine drifts, and a plan made
    late would bend the decay too much."""
    if timed < calibration or (timed - calibration) % (5 * calibration):
        return False
    return timed == calibration or step < total_steps // 2


def _schedule_of(scheduler) -> Schedule | None:
    lambdas = getattr(scheduler, "lr_lambdas", None)
    return lambdas[0] if lambdas and isinstance(lambdas[0], Schedule) else None

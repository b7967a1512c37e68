"""Training checkpoints: everything needed to rebuild a model, or to resume its training exactly.

A checkpoint is one directory, written to a temporary sibling and renamed into place, so a crash
never leaves a half-written one (:func:`kgqa.utils.io.atomic_directory`)::

    model.safetensors     model weights (safetensors; shared tensors stored once)
    config.json           model name + its config dataclass + the experiment config (as nanoGPT's
                          ``model_args``: enough to rebuild the model without the YAML file)
    trainer_state.json    step, epoch, position in the epoch, best dev accuracy, history
    optimizer.pt          optimizer, lr-scheduler and grad-scaler state  (torch.save)
    rng.pt                torch / CUDA / numpy / python RNG states       (torch.save)

The ``.pt`` files hold only tensors and plain containers and are read with
``torch.load(weights_only=True)``: loading a checkpoint never runs pickled code.
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgqa.errors import Errors, KGQAError
from kgqa.utils.io import atomic_directory

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.pt"


@dataclass
class TrainState:
    """Where training is; saved in every checkpoint and restored by ``--resume``.

    Attributes:
        step: optimizer steps taken.
        epoch: the current epoch (0-based).
        batch_in_epoch: batches of ``epoch`` already consumed (resume skips them).
        best_dev_accuracy: best dev accuracy so far (``-1`` before the first evaluation).
        best_step: the step that reached it.
        evals_without_improvement: evaluations since the last improvement (early stopping).
        history: one record per evaluation (``step``, ``epoch``, ``train_loss``, ``dev_loss``,
            ``dev_accuracy``, ``lr``...).
        interval_loss_sum, interval_correct, interval_count: training loss and accuracy
            accumulated since the last evaluation (saved so a resumed run logs the same).
        train_seconds: wall time spent training, summed over resumed sessions.
        stop_reason: why training ended (``epochs``, ``max_steps``, ``early_stopping``,
            ``time_budget``, ``nan``), ``None`` while running.
        planned_steps: the steps the schedule decays over once fixed (``0`` until then); with a
            time budget this is planned from the measured step time (``budget_planned``).
        budget_planned: whether ``planned_steps`` came from the time budget.
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_dev_accuracy: float = -1.0
    best_step: int = -1
    evals_without_improvement: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    interval_loss_sum: float = 0.0
    interval_correct: int = 0
    interval_count: int = 0
    train_seconds: float = 0.0
    stop_reason: str | None = None
    planned_steps: int = 0
    budget_planned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainState:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# ---------------------------------------------------------------------- RNG
def rng_state() -> dict[str, Any]:
    """Every RNG state that affects training, as tensors and plain containers."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)),
                  "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "python": _to_lists(random.getstate()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    npst = state["numpy"]
    np.random.set_state({"bit_generator": npst["bit_generator"],
                         "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": npst["pos"]},
                         "has_gauss": npst["has_gauss"], "gauss": npst["gauss"]})
    random.setstate(_to_tuples(state["python"]))


def _to_lists(value):
    return [_to_lists(v) for v in value] if isinstance(value, tuple) else value


def _to_tuples(value):
    return tuple(_to_tuples(v) for v in value) if isinstance(value, list) else value


# ---------------------------------------------------------------------- save / load
def _model_config_dict(model_config) -> dict[str, Any]:
    if model_config is None:
        return {}
    if dataclasses.is_dataclass(model_config):
        return json.loads(json.dumps(dataclasses.asdict(model_config), default=str))
    return dict(model_config)


def save_checkpoint(directory: str | Path, *, model: torch.nn.Module, model_name: str,
                    model_config=None, experiment: dict[str, Any] | None = None,
                    state: TrainState | None = None, optimizer=None, scheduler=None,
                    scaler=None, extra: dict[str, Any] | None = None) -> Path:
    """Write a checkpoint directory atomically (temp dir + rename).

    Args:
        directory: the checkpoint directory (replaced as a whole if it exists).
        model: the (unwrapped) model.
        model_name: its registry name, to rebuild it.
        model_config: its config dataclass (saved as a dict).
        experiment: the experiment config (``ExperimentConfig.to_dict()``).
        state: the :class:`TrainState`; with ``optimizer``/``scheduler`` the checkpoint can resume.
        optimizer, scheduler, scaler: objects with ``state_dict()``; ``None`` to skip.
        extra: more JSON-able fields for ``config.json`` (regime, backbone name, ...).

    Returns:
        ``directory``.
    """
    from safetensors.torch import save_model

    from kgqa import __version__

    directory = Path(directory)
    with atomic_directory(directory) as tmp:
        save_model(model, str(tmp / WEIGHTS_FILE))
        meta = {"format": FORMAT_VERSION, "kgqa_version": __version__, "model_name": model_name,
                "model_config": _model_config_dict(model_config), "experiment": experiment or {},
                **(extra or {})}
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if state is not None:
            (tmp / STATE_FILE).write_text(json.dumps(state.to_dict(), indent=2) + "\n")
        if optimizer is not None:
            torch.save({"optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "scaler": scaler.state_dict() if scaler is not None else None},
                       tmp / OPTIMIZER_FILE)
            torch.save(rng_state(), tmp / RNG_FILE)
    return directory


@dataclass
class Checkpoint:
    """A checkpoint directory, read lazily.

    Attributes:
        path: the directory.
        meta: ``config.json`` (``model_name``, ``model_config``, ``experiment``, ...).
        state: the :class:`TrainState`, or ``None`` for a weights-only checkpoint.
    """

    path: Path
    meta: dict[str, Any]
    state: TrainState | None

    @classmethod
    def load(cls, directory: str | Path) -> Checkpoint:
        """Read ``config.json`` and ``trainer_state.json``.

        Raises:
            KGQAError: ``[E031]`` when the directory, its weights or config are missing or bad.
        """
        path = Path(directory)
        if not path.is_dir():
            raise KGQAError(Errors.E031.format(path=path, problem="no such directory"))
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if not (path / name).is_file():
                raise KGQAError(Errors.E031.format(path=path, problem=f"{name} is missing"))
        try:
            meta = json.loads((path / CONFIG_FILE).read_text())
            state = (TrainState.from_dict(json.loads((path / STATE_FILE).read_text()))
                     if (path / STATE_FILE).is_file() else None)
        except (json.JSONDecodeError, TypeError) as exc:
            raise KGQAError(Errors.E031.format(path=path, problem=f"unreadable JSON: {exc}")) from None
        if meta.get("format") != FORMAT_VERSION:
            raise KGQAError(Errors.E031.format(path=path, problem=(
                f"format {meta.get('format')!r}; this kgqa reads format {FORMAT_VERSION}")))
        return cls(path=path, meta=meta, state=state)

    @property
    def model_name(self) -> str:
        return self.meta["model_name"]

    @property
    def experiment(self) -> dict[str, Any]:
        return self.meta.get("experiment", {})

    @property
    def can_resume(self) -> bool:
        return self.state is not None and (self.path / OPTIMIZER_FILE).is_file()

    def load_weights(self, model: torch.nn.Module, *, strict: bool = True) -> torch.nn.Module:
        """Load ``model.safetensors`` into ``model`` (same architecture).

        Raises:
            KGQAError: ``[E031]`` on missing or unexpected keys / shape mismatches.
        """
        from safetensors.torch import load_model

        try:
            missing, unexpected = load_model(model, str(self.path / WEIGHTS_FILE), strict=strict)
        except RuntimeError as exc:
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                f"weights do not fit model '{self.model_name}': {str(exc).splitlines()[0]}"))) from None
        return model

    def load_training(self, optimizer=None, scheduler=None, scaler=None, *,
                      restore_rng: bool = True) -> TrainState:
        """Restore optimizer / scheduler / scaler / RNG state (``weights_only=True``).

        Raises:
            KGQAError: ``[E031]`` when the checkpoint has no training state.
        """
        if not self.can_resume:
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                "it holds weights only (no optimizer state), so training cannot resume from it")))
        saved = torch.load(self.path / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
        if optimizer is not None:
            optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None and saved.get("scheduler") is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler") is not None:
            scaler.load_state_dict(saved["scaler"])
        if restore_rng and (self.path / RNG_FILE).is_file():
            set_rng_state(torch.load(self.path / RNG_FILE, map_location="cpu", weights_only=True))
        return self.state

"""Training curves as they happen: a tiny wrapper over ``accelerate``'s experiment trackers.

``make_tracker(kind, run_dir, config)`` returns an object with ``log(values, step=...)`` and
``finish()``, so the training loop logs without knowing where the numbers go::

    tracker = make_tracker(cfg.tracker, run_dir, cfg.to_dict())   # "tensorboard" or None
    tracker.log({"train/loss": 1.52, "dev/accuracy": 0.36, "lr": [1e-3, 5e-5]}, step=266)
    tracker.finish()

``"tensorboard"`` writes event files to ``run_dir/tensorboard`` through accelerate's
``TensorBoardTracker`` (needs the optional ``tensorboard`` package: ``pip install
kgqa[tensorboard]``; view with ``tensorboard --logdir experiments/runs``). ``None`` / ``"none"``
is a tracker that does nothing. Neither accelerate's tracking module nor tensorboard is imported
until a TensorBoard tracker is made.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kgqa.errors import Errors, KGQAError

#: Tracker kinds :func:`make_tracker` accepts (``None`` means ``"none"``).
TRACKER_KINDS = ("none", "tensorboard")
#: Folder of a run that holds the TensorBoard event files.
TENSORBOARD_DIR = "tensorboard"


class Tracker(Protocol):
    """What the training loop calls."""

    kind: str

    def log(self, values: Mapping[str, Any], step: int) -> None: ...

    def finish(self) -> None: ...


class NullTracker:
    """Logs nothing (``kind`` ``"none"``)."""

    kind = "none"
    log_dir: Path | None = None

    def log(self, values: Mapping[str, Any], step: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def __enter__(self) -> NullTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.finish()


def flatten_scalars(values: Mapping[str, Any], prefix: str = "") -> dict[str, float | str]:
    """``{"lr": [a, b], "dev": {"acc": x}}`` -> ``{"lr/0": a, "lr/1": b, "dev/acc": x}``.

    Numbers (Python, NumPy, tensor elements) become floats, strings stay strings, ``None``
    is dropped: every value is one scalar or text that a tracker can plot.
    """
    flat: dict[str, float | str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if hasattr(value, "tolist"):  # tensors and NumPy values -> Python numbers / lists
            value = value.tolist()
        if isinstance(value, Mapping):
            flat.update(flatten_scalars(value, f"{name}/"))
        elif isinstance(value, (list, tuple)):
            flat.update(flatten_scalars({str(i): v for i, v in enumerate(value)}, f"{name}/"))
        elif isinstance(value, bool):
            flat[name] = float(value)
        elif isinstance(value, numbers.Number):
            flat[name] = float(value)
        else:
            flat[name] = str(value)
    return flat


def _hparams(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config flattened to ``a.b`` keys with values TensorBoard's hparams accept."""
    out: dict[str, Any] = {}

    def visit(value, name):
        if isinstance(value, Mapping):
            for key, inner in value.items():
                visit(inner, f"{name}.{key}" if name else str(key))
        elif isinstance(value, (bool, str)) or (isinstance(value, numbers.Real)
                                                and math.isfinite(float(value))):
            out[name] = value
        else:
            out[name] = json.dumps(value, default=str)

    visit(config, "")
    return out


class AccelerateTracker:
    """Forwards :meth:`log` / :meth:`finish` to a started ``accelerate`` tracker.

    Args:
        tracker: an ``accelerate.tracking.GeneralTracker`` (already started).
        kind: its kind (``"tensorboard"``).
        log_dir: where it writes.
    """

    def __init__(self, tracker, kind: str, log_dir: Path | None):
        self.tracker = tracker
        self.kind = kind
        self.log_dir = log_dir
        self.finished = False

    def log(self, values: Mapping[str, Any], step: int) -> None:
        """Log ``values`` (nested dicts and lists are flattened, see :func:`flatten_scalars`)."""
        self.tracker.log(flatten_scalars(values), step=int(step))

    def finish(self) -> None:
        """Flush and close (only once)."""
        if not self.finished:
            self.finished = True
            self.tracker.finish()

    def __enter__(self) -> AccelerateTracker:
        return self

    def __exit__(self, *exc) -> None:
        self.finish()


def make_tracker(kind: str | None, run_dir: str | Path,
                 config: Mapping[str, Any] | None = None) -> NullTracker | AccelerateTracker:
    """A tracker for one run.

    Args:
        kind: ``"tensorboard"``, or ``None`` / ``"none"`` for a tracker that does nothing.
        run_dir: the run's folder; TensorBoard writes to ``run_dir/tensorboard``.
        config: the run's config, stored as TensorBoard hyperparameters (flattened).

    Raises:
        KGQAError: ``[E185]`` for an unknown kind, or ``"tensorboard"`` without the
            ``tensorboard`` package installed.
    """
    key = "none" if kind is None else str(kind).strip().lower()
    if key in ("", "none"):
        return NullTracker()
    if key != "tensorboard":
        raise KGQAError(Errors.E185.format(
            kind=kind, problem=f"unknown tracker; choose one of: {', '.join(TRACKER_KINDS)}"))
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise KGQAError(Errors.E185.format(
            kind=kind, problem="the tensorboard package is not installed. Install it with "
                               "`pip install kgqa[tensorboard]` (or `pip install "
                               "'tensorboard>=2.14'`), or log with tracker: none"))
    from accelerate.tracking import TensorBoardTracker

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = TensorBoardTracker(TENSORBOARD_DIR, run_dir)
    tracker.start()
    if config:
        tracker.store_init_configuration(_hparams(config))
    return AccelerateTracker(tracker, key, run_dir / TENSORBOARD_DIR)

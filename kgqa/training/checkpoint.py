"""Training checkpoints: everything needed to rebuild a model, or to resume its training exactly.

A checkpoint is one directory, written to a temporary sibling and renamed into place, so a crash
never leaves a half-written one (:func:`kgqa.utils.io.atomic_directory`)::

    model.safetensors     model weights (safetensors; shared tensors stored once)
    config.json           model name + its config dataclass + the experiment config (as nanoGPT's
                          ``model_args``: enough to rebuild the model without the YAML file), and
                          ``files``: the sha256 and size of each file below, recorded when written
    trainer_state.json    step, epoch, position in the epoch, best dev accuracy, history
    optimizer.pt          optimizer, lr-scheduler and grad-scaler state  (torch.save)
    rng.pt                torch / CUDA / numpy / python RNG states       (torch.save)

The ``.pt`` files hold only tensors and plain containers and are read with
``torch.load(weights_only=True)``: loading a checkpoint never runs pickled code.

Loading verifies each file against ``files`` before reading it (the size, then the sha256, at
~600 MB/s on a 2-core CPU), so a truncated, replaced or bit-flipped file is an ``[E120]`` error
naming the file, never silently wrong weights. A save interrupted between its two renames
leaves the previous copy as ``.<name>.old-<pid>`` beside the missing directory;
:func:`recover_interrupted_save` (run by ``--resume``) renames it back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.utils.io import atomic_directory, atomic_write_json, new_file_mode, sha256_file
from kgqa.utils.safe_load import UnreadableFile, load_problem, torch_load_plain

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.pt"
#: What ``model.safetensors`` holds: every tensor, or only the parameters that train.
WEIGHT_KINDS = ("all", "trainable")
#: The files whose sha256 and size ``config.json`` records under ``files``.
CHECKED_FILES = (WEIGHTS_FILE, STATE_FILE, OPTIMIZER_FILE, RNG_FILE)
#: What an ``[E120]`` for a damaged file of a run's checkpoint tells the user to do.
RUN_REMEDY = ("Restore the file from a copy, use the run's other checkpoint (checkpoints/best or "
              "checkpoints/last), or train the run again with --overwrite.")


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


def _file_records(directory: Path) -> dict[str, dict[str, Any]]:
    return {name: {"sha256": sha256_file(directory / name), "bytes": (directory / name).stat().st_size}
            for name in CHECKED_FILES if (directory / name).is_file()}


def record_checksums(directory: str | Path) -> Path:
    """Record the sha256 and size of the checkpoint's files in its ``config.json`` (``files``).

    :func:`save_checkpoint` does this itself; call it for a checkpoint written by an older kgqa,
    once you trust its files.
    """
    directory = Path(directory)
    meta = json.loads((directory / CONFIG_FILE).read_text())
    meta["files"] = _file_records(directory)
    atomic_write_json(directory / CONFIG_FILE, meta)
    return directory


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``{name: tensor}`` of the parameters of ``model`` that train (``requires_grad``)."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(directory: str | Path, *, model: torch.nn.Module, model_name: str,
                    model_config=None, experiment: dict[str, Any] | None = None,
                    state: TrainState | None = None, optimizer=None, scheduler=None,
                    scaler=None, extra: dict[str, Any] | None = None,
                    weights: str = "all") -> Path:
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
        weights: ``all`` (the whole state dict) or ``trainable``: only the parameters that
            train (LoRA adapters, head, graph part); the frozen pretrained weights come from
            the backbone's own files and the buffers from the model's constructor on loading
            (:meth:`Checkpoint.load_weights`). ``config.json`` records which.

    Returns:
        ``directory``.
    """
    from safetensors.torch import save_model

    from kgqa import __version__

    directory = Path(directory)
    if weights not in WEIGHT_KINDS:
        raise KGQAError(Errors.E030.format(location="checkpoint weights", problem=(
            f"'{weights}': use one of {', '.join(WEIGHT_KINDS)}")))
    with atomic_directory(directory) as tmp:
        if weights == "trainable":
            from safetensors.torch import save_file

            save_file({name: tensor.detach().contiguous() for name, tensor in trainable_state(model).items()},
                      str(tmp / WEIGHTS_FILE), metadata={"format": "pt"})
        else:
            save_model(model, str(tmp / WEIGHTS_FILE))
        os.chmod(tmp / WEIGHTS_FILE, new_file_mode(tmp))  # safetensors writes 0o600 whatever the umask
        meta = {"format": FORMAT_VERSION, "kgqa_version": __version__, "model_name": model_name,
                "model_config": _model_config_dict(model_config), "experiment": experiment or {},
                "weights": weights, **(extra or {})}
        if state is not None:
            (tmp / STATE_FILE).write_text(json.dumps(state.to_dict(), indent=2) + "\n")
        if optimizer is not None:
            torch.save({"optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "scaler": scaler.state_dict() if scaler is not None else None},
                       tmp / OPTIMIZER_FILE)
            torch.save(rng_state(), tmp / RNG_FILE)
        meta["files"] = _file_records(tmp)  # config.json last: it vouches for the files above
        (tmp / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return directory


@dataclass
class Checkpoint:
    """A checkpoint directory, read lazily; each file is verified against ``config.json``'s
    ``files`` record before it is read.

    Attributes:
        path: the directory.
        meta: ``config.json`` (``model_name``, ``model_config``, ``experiment``, ``files``...).
        state: the :class:`TrainState`, or ``None`` for a weights-only checkpoint.
        remedy: what an ``[E120]`` (a damaged file) tells the user to do.
    """

    path: Path
    meta: dict[str, Any]
    state: TrainState | None
    remedy: str = RUN_REMEDY
    _verified: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def load(cls, directory: str | Path, *, remedy: str = RUN_REMEDY) -> Checkpoint:
        """Read and check ``config.json``, verify and read ``trainer_state.json``.

        Raises:
            KGQAError: ``[E031]`` when the directory, its weights or config are missing or bad;
                ``[E120]`` when ``trainer_state.json`` differs from what was written.
        """
        path = Path(directory)
        if not path.is_dir():
            copies = interrupted_copies(path)
            hint = (f" (an interrupted save left the previous copy at '{copies[0]}': rename it to "
                    f"'{path.name}', or resume the run with `kgqa train CONFIG --resume`, which "
                    "recovers it)") if copies else ""
            raise KGQAError(Errors.E031.format(path=path, problem=f"no such directory{hint}"))
        for name in (WEIGHTS_FILE, CONFIG_FILE):
            if not (path / name).is_file():
                raise KGQAError(Errors.E031.format(path=path, problem=f"{name} is missing"))
        try:
            meta = json.loads((path / CONFIG_FILE).read_text())
        except (ValueError, OSError) as exc:
            raise KGQAError(Errors.E031.format(path=path, problem=(
                f"{CONFIG_FILE} is unreadable: {exc}"))) from None
        _check_meta(path, meta)
        ckpt = cls(path=path, meta=meta, state=None, remedy=remedy)
        if "files" not in meta:
            warn(Warnings.W122.format(path=path))
        if (path / STATE_FILE).is_file():
            ckpt.verify(STATE_FILE)
            try:
                ckpt.state = TrainState.from_dict(json.loads((path / STATE_FILE).read_text()))
            except (ValueError, TypeError, AttributeError) as exc:
                raise KGQAError(Errors.E031.format(path=path, problem=(
                    f"{STATE_FILE} is unreadable: {exc}"))) from None
        return ckpt

    @property
    def model_name(self) -> str:
        return self.meta["model_name"]

    @property
    def experiment(self) -> dict[str, Any]:
        return self.meta.get("experiment") or {}

    @property
    def can_resume(self) -> bool:
        return self.state is not None and (self.path / OPTIMIZER_FILE).is_file()

    def verify(self, name: str) -> Path:
        """Check file ``name`` against the size and sha256 recorded when it was written.

        A checkpoint without a record (older kgqa; ``[W122]`` at load) is not checked; a file is
        hashed once per :class:`Checkpoint` (verify the weights early, load them later).

        Raises:
            KGQAError: ``[E120]`` naming the file when it is missing, truncated or altered.
        """
        path = self.path / name
        record = (self.meta.get("files") or {}).get(name)
        if record is None or name in self._verified:
            return path
        if not path.is_file():
            raise self._damaged(name, f"it is missing, but {CONFIG_FILE} records it")
        size = path.stat().st_size
        if size != record["bytes"]:
            raise self._damaged(name, f"it has {size:,} bytes but {record['bytes']:,} were "
                                      "written (truncated or replaced)")
        digest = sha256_file(path)
        if digest != record["sha256"]:
            raise self._damaged(name, f"its sha256 is {digest[:16]}... but {record['sha256'][:16]}"
                                      "... was recorded when it was written (bytes changed on disk)")
        self._verified.add(name)
        return path

    def verify_all(self) -> None:
        """:meth:`verify` every file ``config.json`` records that is present (a copy may leave
        out what it does not need, e.g. the default model has no ``trainer_state.json``)."""
        for name in (self.meta.get("files") or {}):
            if (self.path / name).is_file():
                self.verify(name)

    def _damaged(self, name: str, problem: str) -> KGQAError:
        return KGQAError(Errors.E120.format(path=self.path / name, problem=problem,
                                            remedy=self.remedy))

    def load_weights(self, model: torch.nn.Module, *, strict: bool = True) -> torch.nn.Module:
        """Verify and load ``model.safetensors`` into ``model`` (same architecture).

        Raises:
            KGQAError: ``[E120]`` for a damaged or unreadable file; ``[E031]`` on missing or
                unexpected keys / shape mismatches.
        """
        tensors = self._read_weights(self.verify(WEIGHTS_FILE), model.state_dict())
        if self.meta.get("weights", "all") == "trainable":
            return self._load_trainable(model, tensors)
        try:
            model.load_state_dict(_with_tied_names(model, tensors), strict=strict)
        except RuntimeError as exc:
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                f"weights do not fit model '{self.model_name}': {str(exc).splitlines()[0]}"))) from None
        return model

    def _read_weights(self, path: Path, base: dict[str, torch.Tensor] | None = None, *,
                      no_base: str = "no base weights were given to add them to"
                      ) -> dict[str, torch.Tensor]:
        """The tensors of ``model.safetensors``, int8 exports dequantised (:mod:`.quantize`);
        matrices stored as differences are added to ``base`` (name -> tensor: the loading
        model's state, or the weights given to an export), after checking that those are the
        weights the export took them from (``export.delta_base``); ``no_base`` says why
        ``[E031]`` when none are given."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from kgqa.training.quantize import base_digest, delta_names, dequantize_int8

        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise self._damaged(WEIGHTS_FILE, f"it is not a readable safetensors file "
                                              f"({load_problem(exc)})") from None
        names = delta_names(tensors)
        if names:
            recorded = ((self.meta.get("export") or {}).get("delta_base") or {})
            if not recorded.get("sha256"):
                raise self._damaged(WEIGHTS_FILE, "it stores int8 differences from base weights "
                                                  "but config.json records no base to add them to")
            source = recorded.get("source", "base weights")
            if base is None:
                raise KGQAError(Errors.E031.format(path=self.path, problem=(
                    f"it stores int8 differences from {source}; {no_base}")))
            base = {name: base[name] for name in names if name in base}
            missing = sorted(set(names) - set(base))
            if missing or base_digest(base, names) != recorded["sha256"]:
                raise KGQAError(Errors.E031.format(path=self.path, problem=(
                    f"its int8 weights are differences from {source}, and the weights here "
                    f"differ ({'no ' + missing[0] if missing else 'sha256 differs'}): use the "
                    f"backbone package it was exported with, or export the float32 checkpoint again")))
        try:
            return dequantize_int8(tensors, base=base)
        except ValueError as exc:
            raise self._damaged(WEIGHTS_FILE, str(exc)) from None

    def _load_trainable(self, model: torch.nn.Module, saved: dict[str, torch.Tensor]
                        ) -> torch.nn.Module:
        """Load a ``weights: trainable`` file: its tensors must be exactly the model's trainable
        parameters (names and shapes); everything else stays as the model was built."""
        expected = trainable_state(model)
        missing, unexpected = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
        shapes = [f"{name} {tuple(saved[name].shape)} vs {tuple(p.shape)}"
                  for name, p in expected.items() if name in saved and saved[name].shape != p.shape]
        if missing or unexpected or shapes:
            problem = "; ".join(part for part in (
                f"missing {', '.join(missing[:3])}" if missing else "",
                f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                f"shape mismatch {', '.join(shapes[:3])}" if shapes else "") if part)
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                f"its trainable weights do not fit model '{self.model_name}' ({problem})")))
        with torch.no_grad():
            for name, p in expected.items():
                p.copy_(saved[name].to(p.dtype))
        return model

    def load_training(self, optimizer=None, scheduler=None, scaler=None, *,
                      restore_rng: bool = True) -> TrainState:
        """Restore optimizer / scheduler / scaler / RNG state (``weights_only=True``).

        Both files are verified and read before anything is restored.

        Raises:
            KGQAError: ``[E031]`` when the checkpoint has no training state or it does not fit
                the optimizer; ``[E120]`` for a damaged, unreadable or unsafe file.
        """
        if not self.can_resume:
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                "it holds weights only (no optimizer state), so training cannot resume from it")))
        saved = self._read_plain(OPTIMIZER_FILE)
        rng = self._read_plain(RNG_FILE) if restore_rng and (self.path / RNG_FILE).is_file() else None
        if not isinstance(saved, dict) or not isinstance(saved.get("optimizer"), dict):
            raise self._damaged(OPTIMIZER_FILE, "it holds no optimizer state")
        try:
            if optimizer is not None:
                optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved.get("scheduler") is not None:
                scheduler.load_state_dict(saved["scheduler"])
            if scaler is not None and saved.get("scaler") is not None:
                scaler.load_state_dict(saved["scaler"])
            if rng is not None:
                set_rng_state(rng)
        except (ValueError, KeyError, TypeError, RuntimeError, IndexError, AttributeError) as exc:
            raise KGQAError(Errors.E031.format(path=self.path, problem=(
                f"its training state does not fit this run: {load_problem(exc)}"))) from None
        return self.state

    def _read_plain(self, name: str) -> Any:
        try:
            return torch_load_plain(self.verify(name))
        except UnreadableFile as exc:
            raise self._damaged(name, exc.problem) from None


def _check_meta(path: Path, meta: Any) -> None:
    """``[E031]`` unless ``config.json`` has what rebuilding the model needs, in this format."""
    if not isinstance(meta, dict):
        raise KGQAError(Errors.E031.format(path=path, problem=(
            f"{CONFIG_FILE} holds {type(meta).__name__}, not a JSON object")))
    if meta.get("format") != FORMAT_VERSION:
        raise KGQAError(Errors.E031.format(path=path, problem=(
            f"format {meta.get('format')!r}; this kgqa reads format {FORMAT_VERSION}")))
    expected = {"model_name": str, "model_config": dict, "experiment": (dict, type(None)),
                "files": dict}
    for key, kind in expected.items():
        if key in meta or key in ("model_name", "model_config"):
            value = meta.get(key)
            if not isinstance(value, kind) or (key == "model_name" and not value):
                what = "missing" if key not in meta else f"a {type(value).__name__}"
                raise KGQAError(Errors.E031.format(path=path, problem=(
                    f"{CONFIG_FILE} key '{key}' is {what}: the file is not a kgqa checkpoint "
                    "config or was edited; use the config.json written with the weights")))
    for name, record in (meta.get("files") or {}).items():
        if not (isinstance(record, dict) and isinstance(record.get("sha256"), str)
                and isinstance(record.get("bytes"), int)):
            raise KGQAError(Errors.E031.format(path=path, problem=(
                f"{CONFIG_FILE} key 'files.{name}' is not {{sha256, bytes}}: the file was edited; "
                "use the config.json written with the weights")))


# ---------------------------------------------------------------------- interrupted saves
def interrupted_copies(directory: str | Path) -> list[Path]:
    """The previous copies an interrupted save left beside ``directory`` (newest first).

    :func:`kgqa.utils.io.atomic_directory` renames ``directory`` to ``.<name>.old-<pid>``, then
    the new copy into place: a kill between the two renames leaves only the old copy.
    """
    directory = Path(directory)
    copies = [p for p in directory.parent.glob(f".{directory.name}.old-*") if p.is_dir()]
    return sorted(copies, key=lambda p: p.stat().st_mtime, reverse=True)


def recover_interrupted_save(directory: str | Path) -> Path | None:
    """Rename the previous copy back when ``directory`` is missing after an interrupted save.

    Only a copy whose files all verify is taken (``[W121]`` says which). Returns the recovered
    directory, or ``None`` when ``directory`` exists or there is nothing to recover.
    """
    directory = Path(directory)
    if directory.exists():
        return None
    for copy in interrupted_copies(directory):
        try:
            ckpt = Checkpoint.load(copy)
            ckpt.verify_all()
        except KGQAError:
            continue
        os.replace(copy, directory)
        step = ckpt.state.step if ckpt.state is not None else "?"
        warn(Warnings.W121.format(path=directory, copy=copy, step=step))
        return directory
    return None


def _with_tied_names(model: torch.nn.Module, tensors: dict[str, torch.Tensor]
                     ) -> dict[str, torch.Tensor]:
    """``tensors`` plus, for each group of tied names of ``model`` (one storage, offset and shape),
    the saved tensor of the group under its other names.

    ``safetensors.torch.save_model`` keeps one name per shared storage (``load_model`` would fill
    the others in); every checkpoint, int8 exports included, loads through ``load_state_dict``,
    which needs every name.
    """
    groups: dict[tuple, list[str]] = {}
    for name, value in model.state_dict(keep_vars=True).items():
        if value.device.type == "meta" or value.numel() == 0:
            continue
        key = (value.device, value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
        groups.setdefault(key, []).append(name)
    out = dict(tensors)
    for names in groups.values():
        saved = next((name for name in names if name in tensors), None)
        if saved is not None:
            for name in names:
                out.setdefault(name, tensors[saved])
    return out


def export_checkpoint(source: str | Path, destination: str | Path, *,
                      dtype: str | None = None,
                      base: dict[str, torch.Tensor] | None = None,
                      base_source: str = "base weights", delta: bool = True) -> Path:
    """A weights-only copy of a checkpoint (``model.safetensors`` + ``config.json``; no optimizer,
    RNG or trainer state), e.g. for the shipped default model.

    The source is verified first (``[E120]``). With ``dtype`` (``float16`` or ``bfloat16``)
    floating tensors are stored at that precision, halving the file; ``int8`` stores weight
    matrices as int8 with a float32 scale per row and the rest as float16
    (:func:`kgqa.training.quantize.quantize_int8`, about a quarter of float32). Loading copies
    them into the model's float32 parameters (:meth:`Checkpoint.load_weights`). Each file is written
    atomically, the weights first and ``config.json`` last, recording the new file's sha256 and
    size and ``export`` (source and dtype); other files of ``destination`` (a README) stay.

    Args:
        base: the weights the loading model is built with (name -> tensor, e.g.
            :func:`kgqa.training.regimes.pretrained_weights`). With ``int8``, the matrices found
            there are stored as int8 differences from them, a finer step at the same size;
            ``export.delta_base`` records ``base_source`` and their sha256, checked at load.
            Also needed to re-export such an export.
        delta: ``False`` keeps ``int8`` matrices absolute even with a ``base`` (which then only
            serves to read a source that stores differences).

    Raises:
        KGQAError: ``[E120]`` for a damaged source, ``[E030]`` for another ``dtype``.
    """
    from safetensors.torch import save

    from kgqa.utils.io import atomic_write_bytes

    from kgqa.training.quantize import base_digest, delta_names, quantize_int8

    dtypes = {None: None, "float16": torch.float16, "bfloat16": torch.bfloat16, "int8": None}
    if dtype not in dtypes:
        raise KGQAError(Errors.E030.format(location="dtype", problem=(
            f"'{dtype}' is not a storage dtype; use float16, bfloat16, int8 or none")))
    ckpt = Checkpoint.load(source)
    # an int8 export re-exported: start from its dequantised weights
    tensors = ckpt._read_weights(ckpt.verify(WEIGHTS_FILE), base, no_base=(
        "exporting it again needs those weights (`kgqa export` loads them)"))
    if dtype == "int8":
        tensors = quantize_int8(tensors, base=base if delta else None)
    elif dtypes[dtype] is not None:
        tensors = {k: (v.to(dtypes[dtype]) if v.is_floating_point() else v) for k, v in tensors.items()}
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(destination / WEIGHTS_FILE, save(tensors, metadata={"format": "pt"}))
    meta = dict(ckpt.meta)
    meta["export"] = {"from": str(source), "dtype": dtype or "as trained"}
    names = delta_names(tensors)
    if names:
        meta["export"]["delta_base"] = {"source": base_source, "matrices": len(names),
                                        "sha256": base_digest(base, names)}
    meta["files"] = {WEIGHTS_FILE: {"sha256": sha256_file(destination / WEIGHTS_FILE),
                                    "bytes": (destination / WEIGHTS_FILE).stat().st_size}}
    atomic_write_json(destination / CONFIG_FILE, meta)
    return destination

"""``pipeline(...)``: one keyword-only entry point that trains and evaluates one run.

Modelled on PyKEEN's ``pipeline()``: every part can be given by name (``model="qagnn"``), as a
class or as an instance, or all at once as an experiment config (a YAML path or an
:class:`ExperimentConfig`); keyword arguments override the config. The result is a
:class:`RunResult` that records the metrics with the seed, the full config, package versions,
git commit, dataset and graph checksums, wall time and peak memory, and saves itself with
``save_to_directory()``::

    from kgqa.training import pipeline
    result = pipeline(config="experiments/csqa_qagnn_frozen_minilm.yaml", seed=0)
    result.metrics["ih_test"]["accuracy"]

A run lives in ``OUT/<name>/seed-<seed>/``: ``results.json`` and ``checkpoints/{last,best}/``.
``resume=True`` continues from ``checkpoints/last`` to the same final weights and metrics as an
uninterrupted run.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.training.checkpoint import (WEIGHTS_FILE, Checkpoint, TrainState, interrupted_copies,
                                      recover_interrupted_save, save_checkpoint)
from kgqa.training.config import (ZEROSHOT_MODEL, ExperimentConfig, TrainingConfig,
                                  check_model_kwargs, load_config, parse_config)
from kgqa.training.provenance import dataset_checksums, git_state, package_versions, peak_memory_mb
from kgqa.training.results import RunResult, comparable_config, without_run_only
from kgqa.utils.memory import malloc_top_pad
from kgqa.utils.precision import resolve_mixed_precision
from kgqa.utils.safe_load import load_problem
from kgqa.utils.threads import torch_threads

#: Roles of the splits; metrics are reported under the split names.
ROLES = ("train", "dev", "test")


# ---------------------------------------------------------------------- config
def resolve_config(config=None, **overrides) -> ExperimentConfig:
    """Merge a config (path, dict or :class:`ExperimentConfig`) with keyword overrides.

    Overrides are the :func:`pipeline` keywords that name a part (``model="rgcn"``,
    ``backbone="minilm"``, ``training={"epochs": 2}`` ...); instances contribute their name.
    """
    if config is None:
        data: dict[str, Any] = {}
    elif isinstance(config, ExperimentConfig):
        data = config.to_dict()
    elif isinstance(config, (str, os.PathLike)):
        data = load_config(config, check_model=False).to_dict()
    elif isinstance(config, Mapping):
        data = dict(config)
    else:
        raise KGQAError(Errors.E015.format(problem=(
            f"config must be a YAML path, a dict or an ExperimentConfig, not {type(config).__name__}")))
    data = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}

    def section(key: str) -> dict:
        value = data.get(key)
        data[key] = dict(value) if isinstance(value, Mapping) else {}
        return data[key]

    if overrides.get("regime") is not None:
        data["regime"] = overrides["regime"]
    if overrides.get("seed") is not None:
        data["seeds"] = [int(overrides["seed"])]
    model = overrides.get("model")
    if model is not None:
        section("model")["name"] = model if isinstance(model, str) else getattr(model, "model_name", type(model).__name__)
    if overrides.get("model_kwargs"):
        section("model").setdefault("kwargs", {})
        data["model"]["kwargs"] = {**data["model"].get("kwargs", {}), **overrides["model_kwargs"]}
    backbone = overrides.get("backbone")
    if backbone is not None:
        section("backbone")["name"] = backbone if isinstance(backbone, str) else backbone.name
    dataset = overrides.get("dataset")
    if isinstance(dataset, (str, os.PathLike)):
        section("dataset")["name"] = str(dataset)
    elif isinstance(dataset, Mapping) and dataset:
        first = next(iter(dataset.values()))
        section("dataset")["name"] = getattr(first, "name", "custom")
        for role in ROLES:
            if role in dataset:
                data["dataset"][f"{role}_split"] = getattr(dataset[role], "split", role)
        if "test" not in dataset:
            data["dataset"]["test_split"] = None
    graph = overrides.get("graph")
    if graph is not None:
        section("graph")["name"] = graph if isinstance(graph, str) else getattr(graph, "name", "custom")
    training = overrides.get("training")
    if isinstance(training, TrainingConfig):
        training = training.model_dump()
    if training:
        section("training").update(training)
    data.setdefault("name", _default_name(data))
    if "model" not in data:
        raise KGQAError(Errors.E030.format(location="pipeline()", problem=(
            "(model): give a model name, class or instance, or a config with model.name")))
    resolved = parse_config(data, source="pipeline()")
    if (isinstance(config, ExperimentConfig) and resolved.graph == config.graph
            and resolved.model.name == config.model.name):  # warned once, when it was loaded
        resolved._graph_use_checked = config._graph_use_checked
    return resolved


def _default_name(data: dict) -> str:
    model = (data.get("model") or {}).get("name", "model")
    return f"{(data.get('dataset') or {}).get('name', 'csqa')}_{model}_{data.get('regime', 'frozen')}".replace("/", "_")


def make_accelerator(mixed_precision: str = "auto"):
    """An ``accelerate.Accelerator``: CPU-only without CUDA, mixed precision as
    :func:`resolve_mixed_precision` says (bf16 autocast on CPUs with AVX512-BF16).

    Under ``accelerate launch`` the model is wrapped in ``DistributedDataParallel`` with
    ``find_unused_parameters``: an LM-freeze phase (``freeze_lm_epochs``) turns the backbone's
    gradients off after wrapping, and a batch whose choices have no graph leaves the graph part
    without one; DDP would otherwise stop at the first such step."""
    from accelerate import Accelerator, DistributedDataParallelKwargs
    from accelerate.state import AcceleratorState

    wanted = resolve_mixed_precision(mixed_precision)
    if AcceleratorState._shared_state and not torch.distributed.is_initialized():
        # accelerate keeps one state per process; a later run in the same process (tests, a
        # notebook, train then eval) may ask for another precision
        if str(AcceleratorState().mixed_precision) != wanted:
            AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(mixed_precision=wanted, cpu=not torch.cuda.is_available(),
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


def uses_subgraphs(name: str, model=None) -> bool:
    """Whether a model reads retrieved per-choice subgraphs (it has ``graph_inputs``); ``lm``,
    ``ernie`` (entities come from linking inside its ``encode_choices``) and ``zeroshot`` do not."""
    if isinstance(model, torch.nn.Module):
        return hasattr(model, "graph_inputs")
    if name == ZEROSHOT_MODEL:
        return False
    from kgqa.models.registry import get_model_class

    cls = model if isinstance(model, type) else get_model_class(name)
    return hasattr(cls, "graph_inputs")


# ---------------------------------------------------------------------- data
def load_splits(cfg: ExperimentConfig, dataset=None) -> dict[str, Any]:
    """``{"train", "dev", "test"}`` -> :class:`QADataset` (``test`` only if configured)."""
    if isinstance(dataset, Mapping) and dataset:
        splits = {role: dataset[role] for role in ROLES if role in dataset}
    else:
        from kgqa.data import load_dataset

        ds = cfg.dataset
        names = {"train": ds.train_split, "dev": ds.dev_split, "test": ds.test_split}
        splits = {role: load_dataset(ds.name, split, directory=ds.directory, source=ds.source)
                  for role, split in names.items() if split}
    if cfg.dataset.limit is not None:
        from dataclasses import replace

        from kgqa.data.jsonl import examples_checksum

        splits = {role: replace(s, examples=s.examples[:cfg.dataset.limit],
                                checksum=examples_checksum(s.examples[:cfg.dataset.limit]))
                  for role, s in splits.items()}
    if cfg.regime != "zeroshot" and "train" not in splits:
        raise KGQAError(Errors.E030.format(location="pipeline()", problem=(
            "(dataset.train_split): training needs a train split")))
    return splits


def load_split_graphs(cfg: ExperimentConfig, splits: Mapping[str, Any], graph=None,
                      progress: bool | None = None) -> dict[str, Any]:
    """Per-choice subgraphs of every split from the retrieval cache (built on a miss), and the
    node-feature table; see :mod:`kgqa.training.graphs`."""
    from kgqa.training.graphs import retrieve_split_graphs

    return retrieve_split_graphs(cfg, splits, graph=graph, progress=bool(progress))


# ---------------------------------------------------------------------- model
def build_model(cfg: ExperimentConfig, *, model=None, backbone=None, lm_hidden_size: int | None = None,
                node_features=None, derived: Mapping[str, Any] | None = None):
    """The model from a name / class / instance and ``cfg.model.kwargs``.

    ``lm_hidden_size`` (the width of the LM states) is always set; ``derived`` settings (from
    retrieval: ``num_relations``, ``num_nodes``) fill the config fields the experiment does not
    set itself.
    """
    from kgqa.models.registry import get_model_class

    if isinstance(model, torch.nn.Module):
        return model
    cls = model if isinstance(model, type) else get_model_class(cfg.model.name)
    kwargs = dict(cfg.model.kwargs)
    config_class = getattr(cls, "config_class", None)
    fields = getattr(config_class, "__dataclass_fields__", {})
    if lm_hidden_size is not None and "lm_hidden_size" in fields:
        kwargs["lm_hidden_size"] = lm_hidden_size
    for key, value in (derived or {}).items():
        if key in fields and key not in kwargs:
            kwargs[key] = value
    try:
        config = config_class(**kwargs) if config_class is not None else kwargs
        try:
            return cls(config, backbone, node_features=node_features)
        except TypeError:
            return cls(config, backbone=backbone)
    except KGQAError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:  # torch's own checks, e.g. dropout=7
        raise KGQAError(Errors.E040.format(model=cfg.model.name, problem=(
            f"cannot be built from model.kwargs {dict(cfg.model.kwargs)}: {load_problem(exc)}; "
            "fix those settings in the experiment config"))) from None


def _model_config(model) -> Any:
    return getattr(model, "config", None)


# ---------------------------------------------------------------------- the pipeline
def pipeline(*, config=None, dataset=None, model=None, model_kwargs: dict | None = None,
             backbone=None, regime: str | None = None, graph=None, graphs: Mapping | None = None,
             node_features=None, training: TrainingConfig | dict | None = None,
             seed: int | None = None, out_dir: str | Path | None = None, resume: bool = False,
             overwrite: bool = False, progress: bool | None = None, accelerator=None,
             feature_cache_dir: str | Path | None = None,
             overrides: Mapping[str, Any] | None = None) -> RunResult:
    """Train and evaluate one run; every argument is keyword-only.

    Args:
        config: an experiment config: YAML path, dict or :class:`ExperimentConfig`.
        dataset: a dataset name (``"csqa"``), a jsonl path, or ``{"train": QADataset, "dev": ...,
            "test": ...}``.
        model: a registered name, a model class or an instance.
        model_kwargs: overrides of the model's config dataclass.
        backbone: a backbone name (``"minilm"``, a directory, a hub id) or a loaded
            :class:`~kgqa.backbones.Backbone`.
        regime: ``"frozen"`` (cached backbone states, graph part trained), ``"finetune"`` (the
            whole model trained, ``training.lm_lr`` for the backbone) or ``"zeroshot"``.
        graph: the knowledge graph (name, path or :class:`KnowledgeGraph`) for retrieval.
        graphs: precomputed per-choice graphs ``{"train": [[Data] * C] * N, ...}`` (skips
            retrieval).
        node_features: the frozen ``(num_nodes, D)`` concept table of ``node_embedding="text"``.
        training: :class:`TrainingConfig` or a dict of overrides.
        seed: the seed (default: the config's first seed).
        out_dir: where runs are written (default ``KGQA_HOME/runs``); the run is
            ``out_dir/<name>/seed-<seed>/``.
        resume: continue from ``checkpoints/last`` of that run.
        overwrite: replace an existing run instead of refusing.
        progress: show progress bars (default: when stderr is a terminal).
        accelerator: an ``accelerate.Accelerator`` (default: :func:`make_accelerator`).
        feature_cache_dir: root of the frozen-state cache (default ``KGQA_HOME/features``).
        overrides: what the caller changed from the config file (``{"training.max_minutes":
            14}``), recorded in ``results.json`` beside the effective config.

    Returns:
        The :class:`RunResult` (also written to ``<run>/results.json``).

    Raises:
        KGQAError: ``[E030]`` for a bad config, ``[E031]`` for an unusable checkpoint, ``[E032]``
            when the loss becomes non-finite, ``[E033]`` for bad batches; data and model errors
            from the stages below.
    """
    wall_start = time.perf_counter()
    git_state()  # the checkout this process started from (commits made while it trains are not its code)
    cfg = resolve_config(config, dataset=dataset, model=model, model_kwargs=model_kwargs,
                         backbone=backbone, regime=regime, graph=graph, training=training, seed=seed)
    if not isinstance(model, (torch.nn.Module, type)):
        check_model_kwargs(cfg, source="pipeline()")
    seed = cfg.seeds[0] if seed is None else int(seed)
    from accelerate.utils import set_seed

    set_seed(seed)
    from kgqa.paths import kgqa_home

    run_dir = Path(out_dir) if out_dir is not None else kgqa_home() / "runs"
    run_dir = run_dir / cfg.name / f"seed-{seed}"
    last = run_dir / "checkpoints" / "last"
    if not resume and not overwrite and ((last / "config.json").is_file() or interrupted_copies(last)):
        raise KGQAError(Errors.E015.format(problem=(
            f"a run already exists at {run_dir}; pass resume=True (--resume) to continue it, "
            "overwrite=True (--overwrite) to replace it, or another out_dir")))
    if overwrite and not resume:  # no stale best checkpoint or results survive a replaced run
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        (run_dir / "results.json").unlink(missing_ok=True)
    splits = load_splits(cfg, dataset)
    checksums: dict[str, Any] = {"datasets": {role: dataset_checksums(s) for role, s in splits.items()}}
    roles = {role: s.split for role, s in splits.items() if role != "train"}
    if cfg.regime == "zeroshot":
        return _zeroshot(cfg, splits, seed=seed, run_dir=run_dir, roles=roles, checksums=checksums,
                         wall_start=wall_start)

    accelerator = accelerator or make_accelerator(cfg.training.mixed_precision)
    overrides = dict(overrides or {})
    timings: dict[str, float] = {}
    # ---- graphs
    split_graphs, derived = None, {}
    needs_graphs = uses_subgraphs(cfg.model.name, model)
    if graphs is not None:
        split_graphs = dict(graphs)
    elif needs_graphs:
        t0 = time.perf_counter()
        with accelerator.main_process_first():
            loaded = load_split_graphs(cfg, splits, graph=graph, progress=progress)
        split_graphs = loaded["graphs"]
        node_features = node_features if node_features is not None else loaded.get("node_features")
        derived = loaded.get("derived", {})
        checksums["graph"] = loaded.get("checksum")
        timings["graphs"] = time.perf_counter() - t0
    # ---- LM inputs: what the regime caches or loads (kgqa.training.regimes)
    from kgqa.training.regimes import get_regime

    t0 = time.perf_counter()
    inputs = get_regime(cfg.regime).prepare(cfg, splits, backbone=backbone, cache_dir=feature_cache_dir,
                                            progress=progress, accelerator=accelerator)
    if inputs.info:
        checksums["features"] = inputs.info
    timings["features"] = time.perf_counter() - t0
    # ---- model, loaders, optimizer (feature caching above used every core; training may not)
    if cfg.graph is not None:
        derived = {"graph": cfg.graph.name, **derived}
    derived = {**inputs.derived, **derived}
    with torch_threads(cfg.training.torch_threads):
        return _train_and_evaluate(
            cfg, seed=seed, model=model, inputs=inputs, node_features=node_features,
            derived=derived, splits=splits, split_graphs=split_graphs, accelerator=accelerator,
            run_dir=run_dir, resume=resume, overwrite=overwrite, progress=progress, roles=roles,
            checksums=checksums, timings=timings, wall_start=wall_start, overrides=overrides)


def _train_and_evaluate(cfg: ExperimentConfig, *, seed, model, inputs, node_features, derived,
                        splits, split_graphs, accelerator, run_dir, resume, overwrite, progress,
                        roles, checksums, timings, wall_start, overrides) -> RunResult:
    malloc_pad = malloc_top_pad(cfg.training.malloc_top_pad_mb,  # None where not glibc
                                all_blocks=cfg.training.malloc_heap_only)
    net = build_model(cfg, model=model, backbone=inputs.backbone, lm_hidden_size=inputs.lm_hidden,
                      node_features=node_features, derived=derived)
    entities = _entity_checksums(net)
    if entities:
        checksums["entities"] = entities
    encode_choices = token_encoder(net, inputs.backbone) if inputs.tokenized else None
    loaders = _make_loaders(cfg, splits, regime_inputs=inputs.collate, encode_choices=encode_choices,
                            graphs=split_graphs, seed=seed, accelerator=accelerator)
    from kgqa.training.loop import build_optimizer, build_scheduler, estimate, plan_steps, train

    t = cfg.training
    optimizer = build_optimizer(net, lr=t.lr, lm_lr=t.lm_lr, weight_decay=t.weight_decay)
    scheduler = build_scheduler(optimizer, t, plan_steps(t, len(loaders["train"])))
    prepared, optimizer = accelerator.prepare(net, optimizer)
    raw = accelerator.unwrap_model(prepared)
    # ---- resume or start
    last_dir, best_dir = run_dir / "checkpoints" / "last", run_dir / "checkpoints" / "best"
    state = None
    earlier_seconds, resumed_at = 0.0, None
    if resume:  # a save killed between its two renames left the previous copy beside the name
        recover_interrupted_save(last_dir)
        recover_interrupted_save(best_dir)
    if resume and (last_dir / "config.json").is_file():
        ckpt = Checkpoint.load(last_dir)
        _check_same_run(ckpt, cfg)
        ckpt.load_weights(raw)
        state = ckpt.load_training(optimizer, scheduler, getattr(accelerator, "scaler", None))
        # the earlier segments' training time counts in this run's wall time (their set-up and
        # evaluation time is not recorded)
        earlier_seconds, resumed_at = state.train_seconds, state.step
    elif resume:
        warn(Warnings.W002.format(problem=f"--resume: no checkpoint at {last_dir}; starting afresh"))
    extra = {"regime": cfg.regime, "backbone": cfg.backbone.name, "seed": seed}
    graph_info = checksums.get("graph")
    if isinstance(graph_info, dict) and graph_info.get("checksum"):
        # lets `kgqa answer --model` refuse a checkpoint trained on another graph (E081)
        extra.update(graph_name=graph_info.get("name"), graph_checksum=graph_info["checksum"],
                     graph_view=graph_info.get("view"))

    def on_checkpoint(kind: str, st: TrainState) -> Path:
        target = last_dir if kind == "last" else best_dir
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            save_checkpoint(target, model=raw, model_name=cfg.model.name,
                            model_config=_model_config(raw), experiment=cfg.to_dict(), state=st,
                            optimizer=optimizer if kind == "last" else None,
                            scheduler=scheduler if kind == "last" else None,
                            scaler=getattr(accelerator, "scaler", None) if kind == "last" else None,
                            extra=extra, weights=inputs.checkpoint_weights)
        return target

    # ---- train
    from kgqa.utils.progress import progress_bar

    t0 = time.perf_counter()
    show = (None if progress is None else progress) if accelerator.is_main_process else False
    tracker = None
    if t.log_with != "none" and accelerator.is_main_process:
        from kgqa.training.tracking import make_tracker

        tracker = make_tracker(t.log_with, run_dir, cfg.to_dict())
    try:
        with progress_bar(disable=None if show is None else not show) as bar:
            state = train(prepared, train_loader=loaders["train"], dev_loader=loaders.get("dev"),
                          optimizer=optimizer, scheduler=scheduler, settings=t,
                          accelerator=accelerator, state=state, on_checkpoint=on_checkpoint,
                          progress=bar, tracker=tracker)
    finally:
        if tracker is not None:
            tracker.finish()
    timings["train"] = time.perf_counter() - t0
    # ---- evaluate the best checkpoint
    t0 = time.perf_counter()
    accelerator.wait_for_everyone()
    if (best_dir / "config.json").is_file():
        Checkpoint.load(best_dir).load_weights(raw)
    metrics = {}
    for role in ("dev", "test"):
        if role in loaders:
            metrics[splits[role].split] = estimate(raw, loaders[role], accelerator).to_dict()
    timings["eval"] = time.perf_counter() - t0
    result = RunResult(
        name=cfg.name, model=cfg.model.name, regime=cfg.regime, backbone=cfg.backbone.name,
        seed=seed, metrics=metrics, roles=roles, config=cfg.to_dict(), versions=package_versions(),
        git=git_state(), checksums=checksums,
        wall_seconds=round(time.perf_counter() - wall_start + earlier_seconds, 2),
        peak_memory_mb=peak_memory_mb(),
        training={"steps": state.step, "resumed_at_step": resumed_at, "epochs_completed": state.epoch,
                  "best_step": state.best_step, "best_dev_accuracy": state.best_dev_accuracy,
                  "stop_reason": state.stop_reason,
                  "train_seconds": round(state.train_seconds, 2), "history": state.history,
                  "steps_per_epoch": len(loaders["train"]),
                  "planned_steps": state.planned_steps, "budget_planned": state.budget_planned,
                  "effective_epochs": round(state.step / max(1, len(loaders["train"])), 3),
                  "train_minutes": round(state.train_seconds / 60, 2),
                  "mixed_precision": str(accelerator.mixed_precision),
                  "torch_threads": torch.get_num_threads(),
                  "malloc_top_pad_mb": malloc_pad,
                  "malloc_heap_only": bool(malloc_pad and cfg.training.malloc_heap_only),
                  "overrides": overrides},
        timings={k: round(v, 2) for k, v in timings.items()},
        parameters={"total": sum(p.numel() for p in raw.parameters()),
                    "trainable": sum(p.numel() for p in raw.parameters() if p.requires_grad)},
        device=_device_name(accelerator), checkpoint=str(best_dir if best_dir.is_dir() else last_dir),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if accelerator.is_main_process:
        result.save_to_directory(run_dir)
    return result


def _check_same_run(ckpt: Checkpoint, cfg: ExperimentConfig) -> None:
    """Refuse to resume a checkpoint of a different experiment (time budget may change).

    The saved config is read through today's schema first
    (:func:`~kgqa.training.results.comparable_config`, as ``is_stale`` reads results.json), so a
    setting added since the checkpoint was written counts at its default: a run interrupted
    before a kgqa upgrade resumes after it."""
    try:
        saved = comparable_config(ckpt.experiment, source=str(ckpt.path))
    except KGQAError:  # not readable today: compare as written (the keys that differ are named)
        saved = without_run_only(ckpt.experiment)
    now = without_run_only(cfg.to_dict())
    if saved != now:
        diff = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
        raise KGQAError(Errors.E031.format(path=ckpt.path, problem=(
            f"it belongs to a different experiment (keys that differ: {', '.join(diff)}); "
            "resume with the same config or start a new run")))


def _device_name(accelerator) -> str:
    device = accelerator.device
    processes = f" x{accelerator.num_processes} processes" if accelerator.num_processes > 1 else ""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}){processes}"
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads){processes}"


def token_encoder(model, backbone=None):
    """The collator's ``encode_choices``: the model's own when it has one (``ernie`` links and
    aligns entities there), else the backbone's; ``None`` in the frozen regime."""
    own = getattr(model, "encode_choices", None)
    if own is not None:
        return own
    return backbone.encode_choices if backbone is not None else None


def _entity_checksums(model) -> dict[str, Any]:
    """The entity table a knowledge-fused model was built with (recorded in results.json)."""
    config = getattr(model, "config", None)
    checksum = getattr(config, "entity_checksum", "")
    if not checksum:
        return {}
    return {"graph": getattr(config, "graph", None), "graph_checksum": getattr(config, "graph_checksum", ""),
            "kge_model": getattr(config, "kge_model", None), "entity_checksum": checksum,
            "num_entities": getattr(config, "num_entities", None)}


def _make_loaders(cfg: ExperimentConfig, splits, *, regime_inputs, encode_choices, graphs, seed,
                  accelerator):
    from kgqa.training.collate import QACollator, SplitLoader

    loaders = {}
    for role, split in splits.items():
        collate = QACollator(
            examples=split.examples, split=split.split, require_labels=True,
            encode_choices=encode_choices, max_length=cfg.backbone.max_length,
            graphs=None if graphs is None else graphs.get(role), **regime_inputs.get(role, {}))
        train = role == "train"
        loaders[role] = SplitLoader(
            collate, len(split), batch_size=cfg.training.batch_size if train else cfg.training.eval_batch_size,
            shuffle=train, seed=seed, num_shards=accelerator.num_processes,
            shard=accelerator.process_index, drop_uneven=train,
            micro_batch_size=cfg.training.micro_batch_size if train else None)
    return loaders


def _zeroshot(cfg: ExperimentConfig, splits, *, seed, run_dir, roles, checksums, wall_start) -> RunResult:
    from kgqa.encoders.sentence import SentenceEncoder
    from kgqa.training.loop import per_question_strings
    from kgqa.training.zeroshot import zeroshot_accuracy, zeroshot_logits

    t0 = time.perf_counter()
    encoder = SentenceEncoder(cfg.backbone.name, max_length=cfg.backbone.max_length)
    metrics = {}
    for role in ("dev", "test"):
        if role in splits:
            logits = zeroshot_logits(splits[role], encoder)
            labels = torch.tensor([ex.label for ex in splits[role]], dtype=torch.long)
            loss = float(torch.nn.functional.cross_entropy(logits, labels))
            predictions = logits.argmax(-1)
            metrics[splits[role].split] = {"accuracy": zeroshot_accuracy(logits, splits[role]),
                                           "loss": loss, "num_questions": len(splits[role]),
                                           **per_question_strings(predictions.tolist(),
                                                                  (predictions == labels).tolist(),
                                                                  len(splits[role]))}
    result = RunResult(
        name=cfg.name, model=ZEROSHOT_MODEL, regime="zeroshot", backbone=cfg.backbone.name,
        seed=seed, metrics=metrics, roles=roles, config=cfg.to_dict(), versions=package_versions(),
        git=git_state(), checksums=checksums, wall_seconds=round(time.perf_counter() - wall_start, 2),
        peak_memory_mb=peak_memory_mb(), training={"steps": 0, "stop_reason": "no training"},
        timings={"eval": round(time.perf_counter() - t0, 2)}, parameters={"total": 0, "trainable": 0},
        device=f"cpu ({os.cpu_count()} cores)", checkpoint=None,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    result.save_to_directory(run_dir)
    return result


def run_experiment(config: str | Path | ExperimentConfig, *, seeds: list[int] | None = None,
                   out_dir: str | Path | None = None, resume: bool = False,
                   progress: bool | None = None, **kwargs) -> list[RunResult]:
    """Run :func:`pipeline` once per seed of the config (or ``seeds``)."""
    cfg = config if isinstance(config, ExperimentConfig) else load_config(config)
    return [pipeline(config=cfg, seed=s, out_dir=out_dir, resume=resume, progress=progress, **kwargs)
            for s in (seeds or cfg.seeds)]


def evaluate_checkpoint(checkpoint: str | Path, *, split: str, dataset=None, graph=None,
                        graphs=None, node_features=None, batch_size: int | None = None,
                        feature_cache_dir: str | Path | None = None,
                        progress: bool | None = None) -> dict[str, Any]:
    """Score a split with a saved model (``kgqa eval``).

    The model is rebuilt from the checkpoint's ``config.json`` (model name, its config, the
    experiment: regime, backbone, dataset, graph), so no YAML file is needed.

    Args:
        checkpoint: a checkpoint directory (``.../checkpoints/best``).
        split: the split to score (``ih_test``, ``dev``, ``test``...).
        dataset: another dataset name or jsonl path than the experiment's.
        graphs: precomputed per-choice graphs of the split (skips retrieval).

    Returns:
        ``{"split", "accuracy", "loss", "num_questions", "predictions": {id: choice index}}``
        (accuracy and loss are ``nan`` for a split without answers).
    """
    from kgqa.data import load_dataset
    from kgqa.training.collate import QACollator, SplitLoader
    from kgqa.training.loop import estimate

    ckpt = Checkpoint.load(checkpoint)
    ckpt.verify(WEIGHTS_FILE)  # before the features are computed, not after
    cfg = parse_config(ckpt.experiment, source=str(ckpt.path / "config.json"))
    ds = cfg.dataset
    data = load_dataset(dataset or ds.name, split, directory=None if dataset else ds.directory,
                        source=ds.source)
    accelerator = make_accelerator(cfg.training.mixed_precision)
    split_graphs = graphs
    if split_graphs is None and uses_subgraphs(ckpt.model_name):
        loaded = load_split_graphs(cfg, {"eval": data}, graph=graph)
        split_graphs = loaded["graphs"]["eval"]
        node_features = node_features if node_features is not None else loaded.get("node_features")
    from kgqa.training.regimes import get_regime

    inputs = get_regime(cfg.regime).prepare(cfg, {"eval": data}, cache_dir=feature_cache_dir,
                                            progress=progress)
    from kgqa.models.registry import get_model_class

    cls = get_model_class(ckpt.model_name)
    try:
        model = cls(cls.config_class(**ckpt.meta["model_config"]), inputs.backbone,
                    node_features=node_features)
    except KGQAError:
        raise
    except (TypeError, ValueError, RuntimeError) as exc:
        raise KGQAError(Errors.E031.format(path=ckpt.path, problem=(
            f"its config.json model_config does not build model '{ckpt.model_name}': "
            f"{load_problem(exc)}"))) from None
    ckpt.load_weights(model)
    model = accelerator.prepare(model)
    encode_choices = token_encoder(accelerator.unwrap_model(model), inputs.backbone) \
        if inputs.tokenized else None
    collate = QACollator(examples=data.examples, split=split, require_labels=data.has_labels,
                         encode_choices=encode_choices, max_length=cfg.backbone.max_length,
                         graphs=split_graphs, **inputs.collate["eval"])
    loader = SplitLoader(collate, len(data), batch_size=batch_size or cfg.training.eval_batch_size)
    result = estimate(accelerator.unwrap_model(model), loader, accelerator)
    return {"split": split, **result.to_dict(),
            "predictions": dict(zip(result.ids, result.predictions))}

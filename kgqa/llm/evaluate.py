"""Evaluate a causal LM on dataset splits: ``kgqa llm eval experiments/llm/NAME.yaml``.

An LLM experiment config (``experiments/llm/*.yaml``; nothing trains, so it is not a training
config of :mod:`kgqa.training.config`)::

    name: csqa_llm_gemma270m_5shot_knowledge
    description: "..."
    dataset: {name: csqa, train_split: ih_train, dev_split: ih_dev, test_split: ih_test}
    baseline: csqa_llm_gemma270m_5shot        # the row RESULTS.md compares it with (paired test)
    graph: {name: default, retrieval: {}}     # only read with knowledge: shared / per_choice
    model:
      name: llm
      kwargs: {model: gemma-3-270m, scoring: mean, calibrate: false, shots: 5, knowledge: shared}

Several configs in one command (``kgqa llm eval A.yaml B.yaml ...``, :func:`evaluate_llm_configs`)
load each causal LM once and share one log-likelihood memo per model and precision, so a config
that asks prompts already scored (the calibrated variant after the plain one: same prompts, only
the neutral-prompt term is new) costs little; results.json says how many questions came from the
memo (``training.memo_questions``).

The run writes ``<out>/<name>/seed-<shot_seed>/results.json``, a
:class:`~kgqa.training.results.RunResult` (model ``llm``, regime ``prompt``, backbone the causal
LM), so ``kgqa results experiments/`` lists it with the trained models. k-shot examples come from
``train_split`` with ``shot_seed``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from kgqa.errors import Errors, KGQAError

REGIME = "prompt"
CONFIG_KEYS = {"name", "description", "dataset", "graph", "model", "seeds", "reported", "baseline"}
DATASET_KEYS = {"name", "train_split", "dev_split", "test_split", "directory", "source"}


def load_llm_config(config: str | Path | dict) -> dict[str, Any]:
    """Read and check an LLM experiment config (a YAML path or a dict).

    Raises:
        KGQAError: ``[E016]`` missing file; ``[E231]`` an unknown key, a model other than
            ``llm``, or a bad :class:`~kgqa.models.llm.CausalLMConfig` setting.
    """
    import yaml

    from kgqa.models.llm import CausalLMConfig

    source = "config"
    if not isinstance(config, dict):
        path = Path(config)
        if not path.is_file():
            raise KGQAError(Errors.E016.format(
                what="LLM experiment config", path=path,
                hint="Pass an LLM experiment .yaml (experiments/llm/)."))
        source = str(path)
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    problems = [f"unknown key '{k}'" for k in config if k not in CONFIG_KEYS]
    problems += [f"unknown key 'dataset.{k}'" for k in (config.get("dataset") or {}) if k not in DATASET_KEYS]
    model = config.get("model") or {}
    if model.get("name", "llm") != "llm":
        problems.append(f"model.name is '{model.get('name')}', expected llm")
    if not config.get("name"):
        problems.append("no name")
    if config.get("baseline") is not None and not isinstance(config["baseline"], str):
        problems.append("baseline must be the name of another experiment")
    if problems:
        raise KGQAError(Errors.E231.format(problem=f"{source}: " + "; ".join(problems)))
    try:
        CausalLMConfig(**(model.get("kwargs") or {}))
    except TypeError as exc:
        raise KGQAError(Errors.E231.format(problem=f"{source} (model.kwargs): {exc}")) from None
    return config


def _splits(config: dict, dataset, limit: int | None) -> dict[str, Any]:
    from dataclasses import replace

    from kgqa.data import load_dataset
    from kgqa.data.jsonl import examples_checksum

    ds = config.get("dataset") or {}
    if dataset is not None:
        splits = dict(dataset)
    else:
        names = {"train": ds.get("train_split"), "dev": ds.get("dev_split"), "test": ds.get("test_split")}
        where = {key: ds[key] for key in ("directory", "source") if ds.get(key)}
        splits = {role: load_dataset(ds.get("name", "csqa"), split, **where)
                  for role, split in names.items() if split}
    if limit is not None:
        splits = {role: (s if role == "train" else
                         replace(s, examples=s.examples[:limit], checksum=examples_checksum(s.examples[:limit])))
                  for role, s in splits.items()}
    return splits


def evaluate_llm(config: str | Path | dict, *, limit: int | None = None, out_dir: str | Path | None = None,
                 dataset: dict | None = None, graph=None, model=None, tokenizer=None,
                 batch_size: int = 8, num_threads: int | None = None, progress: bool = False,
                 memo: dict | None = None, load_seconds: float | None = None):
    """Score the dev and test splits of an LLM experiment config.

    Args:
        config: the config (see the module docstring).
        limit: only the first ``limit`` questions of each evaluated split (a smoke run).
        out_dir: runs folder (default ``KGQA_HOME/runs``).
        dataset: ``{"train": QADataset, "dev": ..., "test": ...}`` instead of the config's.
        graph: the graph (name, path or loaded) instead of the config's.
        model, tokenizer: an already loaded causal LM (tests).
        batch_size: questions per scoring call.
        num_threads: torch threads (``None`` keeps torch's setting).
        progress: print one line per batch.
        memo: a log-likelihood memo shared with earlier runs of the same model and precision
            (:class:`~kgqa.models.llm.CausalLMScorer`'s ``memo``).
        load_seconds: how long loading the given ``model`` took (recorded as ``timings.load``);
            ``None`` with a given model: it was loaded for an earlier run, no load is recorded.

    Returns:
        The :class:`~kgqa.training.results.RunResult` (also written to ``results.json``).
    """
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.llm.answer import LLMAnswerer
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer, select_shots
    from kgqa.retrieval.config import RetrievalConfig
    from kgqa.training.loop import per_question_strings
    from kgqa.training.provenance import dataset_checksums, git_state, package_versions, peak_memory_mb
    from kgqa.training.results import RunResult

    wall_start = time.perf_counter()
    git_state()  # the checkout this process started from
    cfg = load_llm_config(config)
    llm = CausalLMConfig(**((cfg.get("model") or {}).get("kwargs") or {}))
    splits = _splits(cfg, dataset, limit)
    shots = select_shots(splits["train"].examples, llm.shots, seed=llm.shot_seed) if llm.shots else []
    t0 = time.perf_counter()
    scorer = CausalLMScorer(llm, model=model, tokenizer=tokenizer, shots=shots, memo=memo)
    if model is None:  # the scorer loaded it
        load_seconds = time.perf_counter() - t0
    kg = None
    graph_cfg = cfg.get("graph") or {}
    if llm.knowledge != "none":
        kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph or graph_cfg.get("name", "default"))
    answerer = LLMAnswerer(scorer, kg=kg, retrieval=RetrievalConfig.from_dict(graph_cfg.get("retrieval") or {}),
                           num_threads=num_threads, source=str(config) if not isinstance(config, dict) else "config")
    metrics, timings = {}, ({"load": round(load_seconds, 2)} if load_seconds is not None else {})
    for role in ("dev", "test"):
        if role not in splits:
            continue
        split = splits[role]
        t0 = time.perf_counter()
        results = []
        for start in range(0, len(split), batch_size):
            chunk = split.examples[start:start + batch_size]
            results += answerer.answer_many([ex.question for ex in chunk], [list(ex.choices) for ex in chunk],
                                            ids=[ex.id for ex in chunk], labels=[ex.label for ex in chunk],
                                            explain=False, batch_size=batch_size)
            if progress:
                print(f"{split.split}: {len(results)}/{len(split)}", flush=True)
        seconds = time.perf_counter() - t0
        logits = torch.tensor([r.logits for r in results])
        labels = torch.tensor([ex.label for ex in split.examples], dtype=torch.long)
        predictions = logits.argmax(-1)
        correct = (predictions == labels)
        metrics[split.split] = {"accuracy": float(correct.float().mean()),
                                "loss": float(torch.nn.functional.cross_entropy(logits, labels)),
                                "num_questions": len(split),
                                **per_question_strings(predictions.tolist(), correct.tolist(), len(split))}
        timings[f"eval_{split.split}"] = round(seconds, 2)
        timings[f"seconds_per_question_{split.split}"] = round(seconds / max(len(split), 1), 3)
    seed = llm.shot_seed
    run_dir = (Path(out_dir) if out_dir is not None else _runs_home()) / cfg["name"] / f"seed-{seed}"
    result = RunResult(
        name=cfg["name"], model="llm", regime=REGIME, backbone=llm.model, seed=seed, metrics=metrics,
        roles={role: s.split for role, s in splits.items() if role != "train"},
        config={**cfg, **({"limit": limit} if limit is not None else {})}, versions=package_versions(),
        git=git_state(), checksums={"datasets": {role: dataset_checksums(s) for role, s in splits.items()},
                                    **({"graph": {"name": kg.name, "checksum": kg.checksum}} if kg else {})},
        wall_seconds=round(time.perf_counter() - wall_start, 2), peak_memory_mb=peak_memory_mb(),
        training={"steps": 0, "planned_steps": 0, "stop_reason": "no training (prompting)",
                  "shots": [s.id for s in shots], "memo_questions": scorer.memo_questions},
        timings=timings, parameters={"total": sum(p.numel() for p in scorer.lm.parameters()), "trainable": 0},
        device=f"cpu ({os.cpu_count()} cores)", checkpoint=None,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    result.save_to_directory(run_dir)
    return result


def evaluate_llm_configs(configs, **options) -> list:
    """:func:`evaluate_llm` for each config in turn, loading each causal LM once (by ``model``
    and ``gguf_file``) and sharing a log-likelihood memo per model and mixed precision.

    Returns:
        The :class:`~kgqa.training.results.RunResult` of each config, in order.
    """
    from kgqa.models.llm import CausalLMConfig, load_causal_lm
    from kgqa.training.provenance import git_state
    from kgqa.utils.precision import resolve_mixed_precision

    git_state()  # the checkout this process started from, before the first model loads
    loaded: dict[tuple, tuple] = {}
    memos: dict[tuple, dict] = {}
    results = []
    for config in configs:
        cfg = load_llm_config(config)
        llm = CausalLMConfig(**((cfg.get("model") or {}).get("kwargs") or {}))
        key = (llm.model, llm.gguf_file)
        load_seconds = None
        if key not in loaded:
            loaded.clear()  # one model in memory at a time
            t0 = time.perf_counter()
            loaded[key] = load_causal_lm(llm.model, gguf_file=llm.gguf_file)
            load_seconds = time.perf_counter() - t0
        model, tokenizer = loaded[key]
        memo = memos.setdefault((key, resolve_mixed_precision(llm.mixed_precision)), {})
        results.append(evaluate_llm(config, model=model, tokenizer=tokenizer, memo=memo,
                                    load_seconds=load_seconds, **options))
    return results


def _runs_home() -> Path:
    from kgqa.paths import kgqa_home

    return kgqa_home() / "runs"

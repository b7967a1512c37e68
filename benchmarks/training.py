"""Benchmark: what a CommonsenseQA experiment costs on this machine, before running it.

Sections (``--sections``, default all):

* ``precision``: a MiniLM fine-tuning step (16 questions x 5 choices, dynamic padding, AdamW) in
  fp32 and under ``torch.autocast("cpu", bfloat16)`` (what ``mixed_precision: auto`` picks on
  CPUs with AVX512-BF16): ``fp32_examples_per_s``, ``bf16_examples_per_s``, ``bf16_speedup``.
* ``partial``: partial freezing (``regime: partial``): seconds per training step of the top
  ``N`` layers on cached lower states and the minutes of one epoch (8,500 training questions +
  1,221 IHdev questions evaluated) for N = 1, 2, 4, for MiniLM and (if installed) MPNet, plus the
  one-off cost of caching the lower states of all CommonsenseQA: ``partial_epoch_minutes``.
* ``malloc``: glibc's allocator settings (``training.malloc_top_pad_mb``, :mod:`kgqa.utils.memory`):
  glibc's defaults, ``M_TOP_PAD`` alone, and ``M_TOP_PAD`` with blocks up to 32 MiB from the heap
  (what the runner sets): wall, user and system seconds of training steps, bf16 autocast, AdamW, one
  thread, each setting in a fresh process, for two workloads the size of real batches: QA-GNN
  graph layers (the frozen CPU config's 3 layers of width 100 with 2 heads on 32 questions x 5
  choices: 6,400 nodes, 130,000 edges, random) and two MiniLM-sized transformer layers (the
  partial MiniLM config's trained layers on 80 pairs x 64 tokens): ``malloc``.
* ``models``: as below.

The ``models`` section measures, with MiniLM and the shipped experiment configs (``experiments/*.yaml``):

* the frozen-regime state caching rate: (question, choice) pairs per second through MiniLM at
  ``max_length`` 64, and the time to cache all of CommonsenseQA (12,102 questions x 5);
* per model, seconds per training step and per evaluated question, on a sample of in-house
  training questions with real per-choice graphs (``kgqa.retrieval.preprocess``, degree ranker so
  that no graph-wide node-name table is needed), and from them the time of one epoch (8,500
  training questions + the 1,221 IHdev questions evaluated) in the frozen and finetune regimes.

Graph models read node vectors from a random stand-in for the node-name table (the same shape
and cost as the real one, which retrieval computes once per graph).

    python benchmarks/training.py [--sections precision,partial,malloc,models] [--questions 160]
        [--steps 6] [--out benchmarks/results/training.json] [--update]

``--update`` keeps the other sections' keys of an existing ``--out`` file.

Prints one JSON object. Numbers from a busy machine are noisy: ``load_average`` is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TRAIN_QUESTIONS, DEV_QUESTIONS, ALL_QUESTIONS = 8500, 1221, 12102


class RandomNodeTable:
    """Stand-in for retrieval's node-name table: ``get(nodes)`` -> ``(n, 384)`` float32."""

    def __init__(self, dim: int = 384):
        self.dim = dim

    def get(self, nodes):
        rng = np.random.default_rng(int(np.asarray(nodes).sum()) % (2**32))
        return rng.standard_normal((len(nodes), self.dim), dtype=np.float32)


def _subset(ds, n):
    from kgqa.data.jsonl import examples_checksum

    examples = ds.examples[:n]
    return replace(ds, examples=examples, checksum=examples_checksum(examples))


def _time_steps(model, loader, steps: int, lr: float, lm_lr: float) -> float:
    from kgqa.training.loop import build_optimizer

    optimizer = build_optimizer(model, lr=lr, lm_lr=lm_lr, weight_decay=0.01)
    model.train()
    batches = list(loader.batches(0))
    times = []
    for i in range(steps + 1):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        out = model(batch)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i:  # the first step warms up (allocations, lazy modules)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


@torch.no_grad()
def _time_eval(model, loader) -> float:
    model.eval()
    start = time.perf_counter()
    count = 0
    for batch in loader.batches(0):
        model(batch)
        count += batch.batch_size
    return (time.perf_counter() - start) / count


def _finetune_step_rate(backbone, train, *, steps: int, bf16: bool) -> float:
    """Pairs per second of LM-only fine-tuning steps (16 questions x C choices)."""
    from kgqa.models.lm import LMOnly
    from kgqa.training.collate import QACollator, SplitLoader
    from kgqa.training.loop import build_optimizer

    torch.manual_seed(0)
    model = LMOnly(None, backbone)
    optimizer = build_optimizer(model, lr=1e-3, lm_lr=2e-5, weight_decay=0.01)
    loader = SplitLoader(QACollator(train.examples, "train", encode_choices=backbone.encode_choices,
                                    max_length=64), len(train), batch_size=16, shuffle=True)
    batches = list(loader.batches(0))
    return 16 * batches[0].num_choices / _median_step_seconds(model, optimizer, batches, steps, bf16=bf16)


def _median_step_seconds(model, optimizer, batches, steps: int, *, bf16: bool) -> float:
    """Median seconds of a training step (forward under optional bf16 autocast, backward, AdamW)
    over ``steps`` steps after one warm-up step."""
    model.train()
    times = []
    for i in range(steps + 1):
        batch = batches[i % len(batches)]
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def _parse_malloc_setting(setting: str) -> tuple[int, bool]:
    """``"1024"`` -> pad 1024 MiB, blocks up to 32 MiB from the heap (what the runner sets);
    ``"1024:mmap"`` -> the pad alone (blocks above 128 KiB mmap'd); ``"0"`` -> glibc's defaults."""
    pad, _, mode = setting.partition(":")
    return int(pad), mode != "mmap"


def _malloc_workload(workload: str):
    """A training step of ``workload`` (a closure) and what it is, built under seed 0."""
    torch.manual_seed(0)
    if workload == "qagnn":
        from kgqa.nn.qagnn_conv import QAGNNConv

        nodes, edges, relations = 6400, 130_000, 68
        module = torch.nn.ModuleList(QAGNNConv(100, relations, 4, heads=2, attention="source")
                                     for _ in range(3))
        edge_index = torch.randint(0, nodes, (2, edges))
        edge_type = torch.randint(0, relations, (edges,))
        node_type = torch.randint(0, 4, (nodes,))

        def forward():
            x = torch.randn(nodes, 100)
            for conv in module:
                x = conv(x, edge_index, edge_type, node_type)
            return x
        what = ("3 QAGNNConv(100, heads 2, source attention) layers, 6,400 nodes, 130,000 edges "
                "(32 questions x 5 choices of the frozen config)")
    elif workload == "partial":
        from transformers import BertConfig
        from transformers.models.bert.modeling_bert import BertEncoder

        config = BertConfig(hidden_size=384, num_hidden_layers=2, num_attention_heads=12,
                            intermediate_size=1536, attn_implementation="eager")
        module = BertEncoder(config)
        mask = torch.zeros(80, 1, 1, 64)

        def forward():
            return module(torch.randn(80, 64, 384), attention_mask=mask).last_hidden_state
        what = ("2 MiniLM-sized transformer layers (384 wide, 12 heads, FFN 1536) on 80 pairs x 64 "
                "tokens (16 questions x 5 choices of the partial MiniLM config), random weights")
    else:
        raise ValueError(f"unknown malloc workload {workload!r}")
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = forward()
        out.float().square().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step, what


def _malloc_worker(setting: str, workload: str, steps: int) -> dict:
    """One setting of the ``malloc`` section, run in its own process (a fresh heap)."""
    from kgqa.utils.memory import malloc_top_pad

    pad, heap_blocks = _parse_malloc_setting(setting)
    applied = malloc_top_pad(pad, heap_blocks=heap_blocks)
    torch.set_num_threads(1)
    step, what = _malloc_workload(workload)
    times, t0, wall0 = [], os.times(), time.perf_counter()
    for i in range(steps + 1):
        start = time.perf_counter()
        step()
        if i:
            times.append(time.perf_counter() - start)
    t1 = os.times()
    return {"setting": setting, "workload": workload, "what": what, "applied": applied,
            "steps": steps,
            "median_step_seconds": round(float(np.median(times)), 4),
            "wall_seconds": round(time.perf_counter() - wall0, 2),
            "user_seconds": round(t1.user - t0.user, 2),
            "system_seconds": round(t1.system - t0.system, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def malloc_section(steps: int, settings: list[str], workloads: list[str]) -> dict:
    """Each setting in a fresh interpreter, twice, alternating (a busy machine drifts); the
    speed-ups are of each setting against the first (glibc's defaults)."""
    import subprocess

    out: dict = {}
    for workload in workloads:
        runs = []
        for _ in range(2):
            for setting in settings:
                runs.append(json.loads(subprocess.run(
                    [sys.executable, __file__, "--malloc-worker", setting, "--malloc-workload",
                     workload, "--steps", str(steps)],
                    check=True, capture_output=True, text=True).stdout))
        by_setting = {}
        for setting in settings:
            mine = [r for r in runs if r["setting"] == setting]
            by_setting[setting] = {
                "median_step_seconds": round(float(np.median([r["median_step_seconds"]
                                                              for r in mine])), 4),
                "system_seconds": [r["system_seconds"] for r in mine],
                "user_seconds": [r["user_seconds"] for r in mine],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in mine), "applied": mine[0]["applied"]}
        base = by_setting[settings[0]]["median_step_seconds"]
        out[workload] = {"workload": runs[0]["what"] + ", bf16 autocast, AdamW, 1 thread",
                         "by_setting": by_setting, "runs": runs,
                         "speedup": {s: round(base / v["median_step_seconds"], 2)
                                     for s, v in by_setting.items()}}
    return {"malloc": {"settings": {"0": "glibc's defaults", "N:mmap": "M_TOP_PAD N MiB alone",
                                    "N": "M_TOP_PAD N MiB and M_MMAP_THRESHOLD 32 MiB (what the runner sets)"},
                       **out}}


def precision_section(train, steps: int) -> dict:
    from kgqa.backbones import Backbone
    from kgqa.utils.precision import cpu_supports_bf16

    fp32 = _finetune_step_rate(Backbone.from_pretrained("minilm", pooling="mean"), train,
                               steps=steps, bf16=False)
    bf16 = _finetune_step_rate(Backbone.from_pretrained("minilm", pooling="mean"), train,
                               steps=steps, bf16=True)
    return {"fp32_examples_per_s": round(fp32, 1), "bf16_examples_per_s": round(bf16, 1),
            "bf16_speedup": round(bf16 / fp32, 2), "cpu_supports_bf16": cpu_supports_bf16(),
            "step": "MiniLM lm finetune, 16 questions x 5 choices, max_length 64, dynamic padding",
            "examples": "(question, choice) pairs"}


def partial_section(train, dev, backbones: list[str], layers: list[int], steps: int,
                    cache_dir: Path) -> dict:
    """Epoch minutes of the partial regime per backbone and number of trained layers (bf16)."""
    from kgqa.backbones import Backbone
    from kgqa.backbones.names import resolve_backbone_name
    from kgqa.backbones.split import TopLayers
    from kgqa.errors import KGQAError
    from kgqa.models.lm import LMOnly
    from kgqa.training.collate import QACollator, SplitLoader
    from kgqa.training.loop import build_optimizer
    from kgqa.training.lower_states import load_or_compute_lower_states

    out: dict = {}
    for name in backbones:
        try:
            resolve_backbone_name(name)
            backbone = Backbone.from_pretrained(name, freeze="all", pooling="mean")
        except KGQAError as exc:
            out[name] = {"skipped": str(exc).splitlines()[0]}
            continue
        entry: dict = {"num_layers": backbone.num_layers, "hidden_size": backbone.hidden_size}
        for n in layers:
            num_lower = backbone.num_layers - n
            start = time.perf_counter()
            cached = load_or_compute_lower_states(backbone, train, num_lower=num_lower, max_length=64,
                                                  cache_dir=cache_dir, batch_size=32)
            cache_rate = len(train) * 5 / (time.perf_counter() - start)
            dev_cached = load_or_compute_lower_states(backbone, dev, num_lower=num_lower,
                                                      max_length=64, cache_dir=cache_dir)
            torch.manual_seed(0)
            model = LMOnly(None, TopLayers(backbone, num_lower))
            optimizer = build_optimizer(model, lr=1e-3, lm_lr=5e-5, weight_decay=0.01)
            loader = SplitLoader(QACollator(train.examples, "train", lower_states=cached),
                                 len(train), batch_size=16, shuffle=True)
            batches = list(loader.batches(0))
            step = _median_step_seconds(model, optimizer, batches, steps, bf16=True)
            model.eval()
            eval_loader = SplitLoader(QACollator(dev.examples, "dev", lower_states=dev_cached),
                                      len(dev), batch_size=64)
            t0 = time.perf_counter()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                for batch in eval_loader.batches(0):
                    model(batch)
            per_question = (time.perf_counter() - t0) / len(dev)
            epoch = -(-TRAIN_QUESTIONS // 16) * step + DEV_QUESTIONS * per_question
            entry[str(n)] = {"seconds_per_step": round(step, 3), "epoch_minutes": round(epoch / 60, 2),
                             "lower_cache_pairs_per_s": round(cache_rate, 1),
                             "lower_cache_all_csqa_minutes": round(ALL_QUESTIONS * 5 / cache_rate / 60, 1),
                             "trainable_parameters": sum(p.numel() for p in model.parameters()
                                                         if p.requires_grad)}
        out[name] = entry
    return out


def _save(result: dict, previous: dict, sections: set[str], out) -> dict:
    """Print and save ``result``; with a ``previous`` file (``--update``), keep its keys, replace
    those of the sections run now, and file this run's machine, load and memory under
    ``<sections>_machine`` etc., so the other sections keep their own provenance."""
    if not previous:
        return emit(result, out)
    prefix = "_".join(sorted(sections))
    meta = ("machine", "torch_threads", "sample_questions", "load_average", "peak_rss_mb")
    merged = {**previous, **{k: v for k, v in result.items() if k not in meta and k != "benchmark"},
              **{f"{prefix}_{k}": result[k] for k in meta if k in result}}
    return emit(merged, out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=160, help="training questions sampled")
    parser.add_argument("--encode-questions", type=int, default=300)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--models", default="lm,rgcn,qagnn,kagnet")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--sections", default="precision,partial,malloc,models")
    parser.add_argument("--partial-backbones", default="minilm,mpnet")
    parser.add_argument("--partial-layers", default="1,2,4")
    parser.add_argument("--partial-questions", type=int, default=96)
    parser.add_argument("--malloc-settings", default="0,1024:mmap,1024",
                        help="M_TOP_PAD in MiB; ':mmap' leaves big blocks to mmap")
    parser.add_argument("--malloc-workloads", default="qagnn,partial")
    parser.add_argument("--malloc-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--malloc-workload", default="qagnn", help=argparse.SUPPRESS)
    parser.add_argument("--update", action="store_true",
                        help="keep the other keys of an existing --out file")
    args = parser.parse_args()
    if args.malloc_worker is not None:
        print(json.dumps(_malloc_worker(args.malloc_worker, args.malloc_workload, args.steps)))
        return
    sections = set(args.sections.split(","))
    previous: dict = {}
    if args.update and args.out and args.out.is_file():
        previous = json.loads(args.out.read_text())  # the sections run now replace their keys
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("KGQA_PROGRESS", "0")

    from kgqa.backbones import Backbone
    from kgqa.data import load_dataset
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.preprocess import preprocess
    from kgqa.training.collate import QACollator, SplitLoader
    from kgqa.training.config import load_config
    from kgqa.training.features import encode_pairs
    from kgqa.training.graphs import graph_view
    from kgqa.training.runner import build_model

    load_start = os.getloadavg()
    result: dict = {"benchmark": "training", "machine": machine_info(),
                    "torch_threads": torch.get_num_threads(), "sample_questions": args.questions}
    if "precision" in sections:
        sample = _subset(load_dataset("csqa", "ih_train"), 16 * (args.steps + 1))
        result.update(precision_section(sample, args.steps))
    if "partial" in sections:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            train = _subset(load_dataset("csqa", "ih_train"), args.partial_questions)
            dev = _subset(load_dataset("csqa", "ih_dev"), args.partial_questions)
            partial = partial_section(train, dev, args.partial_backbones.split(","),
                                      [int(n) for n in args.partial_layers.split(",")],
                                      args.steps, Path(tmp))
        result["partial"] = partial
        result["partial_epoch_minutes"] = {name: {n: v["epoch_minutes"] for n, v in entry.items()
                                                  if isinstance(v, dict)}
                                           for name, entry in partial.items()}
    if "malloc" in sections:
        result.update(malloc_section(max(args.steps, 10), args.malloc_settings.split(","),
                                     args.malloc_workloads.split(",")))
    if "models" not in sections:
        result["load_average"] = {"start": [round(x, 2) for x in load_start],
                                  "end": [round(x, 2) for x in os.getloadavg()]}
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        _save(result, previous, sections, args.out)
        return
    backbone = Backbone.from_pretrained("minilm", freeze="all")

    # ---- frozen-state caching rate
    dev = _subset(load_dataset("csqa", "ih_dev"), args.encode_questions)
    start = time.perf_counter()
    encode_pairs(backbone, dev, max_length=64, pooling="mean", batch_size=128, progress=False)
    seconds = time.perf_counter() - start
    rate = len(dev) * 5 / seconds
    result["frozen_cache"] = {"pairs": len(dev) * 5, "seconds": round(seconds, 2),
                              "pairs_per_second": round(rate, 1), "max_length": 64,
                              "all_csqa_minutes": round(ALL_QUESTIONS * 5 / rate / 60, 1)}

    # ---- a sample with real graphs
    kg = KnowledgeGraph.load("default")
    train = _subset(load_dataset("csqa", "ih_train"), args.questions)
    start = time.perf_counter()
    cache = preprocess(train, kg, split="ih_train", config={"ranker": "degree"},
                       backend="serial", workers=1)["ih_train"]
    result["retrieval"] = {"questions": len(train), "seconds": round(time.perf_counter() - start, 2),
                           "note": "serial backend, degree ranker, includes linker start-up"}
    states = encode_pairs(backbone, train, max_length=64, pooling="mean", batch_size=128,
                          progress=False)

    models = {}
    for name in args.models.split(","):
        entry = {}
        for regime in ("frozen", "finetune"):
            if regime == "finetune" and name not in ("lm", "qagnn"):
                continue
            cfg = load_config(REPO / "experiments" / f"csqa_{name}_{regime}_minilm.yaml")
            view = graph_view(name)
            graphs = None if name == "lm" else cache.graphs(**view)
            kwargs = {"num_relations": 2 * kg.num_relations + 4}
            torch.manual_seed(0)
            if regime == "frozen":
                model = build_model(cfg, lm_hidden_size=384, node_features=RandomNodeTable(),
                                    derived=kwargs)
                collate = QACollator(train.examples, "ih_train", lm_states=states, graphs=graphs)
            else:
                ft = Backbone.from_pretrained("minilm")
                model = build_model(cfg, backbone=ft, lm_hidden_size=384,
                                    node_features=RandomNodeTable(), derived=kwargs)
                collate = QACollator(train.examples, "ih_train", encode_choices=ft.encode_choices,
                                     max_length=64, graphs=graphs)
            batch_size = cfg.training.batch_size
            loader = SplitLoader(collate, len(train), batch_size=batch_size, shuffle=True)
            step = _time_steps(model, loader, args.steps, cfg.training.lr, cfg.training.lm_lr)
            eval_loader = SplitLoader(collate, len(train), batch_size=min(cfg.training.eval_batch_size, 64))
            per_question = _time_eval(model, eval_loader)
            steps_per_epoch = -(-TRAIN_QUESTIONS // batch_size)
            epoch = steps_per_epoch * step + DEV_QUESTIONS * per_question
            entry[regime] = {"batch_size": batch_size, "seconds_per_step": round(step, 4),
                             "train_questions_per_s": round(batch_size / step, 1),
                             "eval_questions_per_s": round(1 / per_question, 1),
                             "epoch_minutes": round(epoch / 60, 2),
                             "configured_epochs": cfg.training.epochs,
                             "trainable_parameters": sum(p.numel() for p in model.parameters()
                                                         if p.requires_grad)}
        models[name] = entry
    result["models"] = models
    result["load_average"] = {"start": [round(x, 2) for x in load_start],
                              "end": [round(x, 2) for x in os.getloadavg()]}
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    _save(result, previous, sections, args.out)


if __name__ == "__main__":
    main()

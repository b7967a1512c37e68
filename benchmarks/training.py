"""Benchmark: what a CommonsenseQA experiment costs on this machine, before running it.

Measures, with MiniLM and the shipped experiment configs (``experiments/*.yaml``):

* the frozen-regime state caching rate: (question, choice) pairs per second through MiniLM at
  ``max_length`` 64, and the time to cache all of CommonsenseQA (12,102 questions x 5);
* per model, seconds per training step and per evaluated question, on a sample of in-house
  training questions with real per-choice graphs (``kgqa.retrieval.preprocess``, degree ranker so
  that no graph-wide node-name table is needed), and from them the time of one epoch (8,500
  training questions + the 1,221 IHdev questions evaluated) in the frozen and finetune regimes.

Graph models read node vectors from a random stand-in for the node-name table (the same shape
and cost as the real one, which retrieval computes once per graph).

    python benchmarks/training.py [--questions 160] [--steps 6] [--out benchmarks/results/training.json]

Prints one JSON object. Numbers from a busy machine are noisy: ``load_average`` is recorded.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=160, help="training questions sampled")
    parser.add_argument("--encode-questions", type=int, default=300)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--models", default="lm,rgcn,qagnn,kagnet")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
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
    emit(result, args.out)


if __name__ == "__main__":
    main()

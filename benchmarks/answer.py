"""Benchmark: answering + explaining one question with a loaded model, on the CPU.

* **warm** (``warm_answer_explain_s``): the model, graph, linker and retriever are loaded and one
  question has been answered; then each question (the demo pair and CommonsenseQA dev questions,
  each new to the process) is answered *and explained* alone: link -> retrieve -> encode ->
  model -> :class:`~kgqa.explain.types.Explanation`. Median, p90 and max over the questions, and
  the median of every stage.
* **cold** (``cold_start_s``): a fresh Python process, from interpreter start to the first
  answer with its explanation (imports, graph, backbone, linker, retriever, first question), with
  the on-disk caches (unpacked default graph, linker cache) already present.
* rendering the explanation: the HTML page and a static PNG (not part of the 0.5 s target).
* the concept-name table (MiniLM embeddings of the graph's node names, the concept vectors of
  ``node_embedding="text"``): ``warm_answer_explain_s`` reads it as ``kgqa preprocess`` /
  training leave it (computed once per graph, ~15 min on 2 busy cores); the ``lazy_table`` run
  is a fresh machine, where each question's unseen concepts are embedded on first use.

The model is the shipped default model (``kgqa/explain/default_model``) or ``--model``; without
either, a model of the default model's architecture (``kgqa.explain.loading.DEFAULT_MODEL_CONFIG``) with
random weights stands in, which costs the same time (the JSON says which). ``--also kagnet``
adds KagNet (path attention) built the same way.

    python benchmarks/answer.py [--model CKPT] [--questions 20] [--also kagnet]
                                [--out benchmarks/results/answer.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEMO = [("A man dug the ground to plant flowers. What tool did he use?",
         ["shovel", "excavator", "hammer", "saw", "ladder"]),
        ("A man dug the ground to build a house. What tool did he use?",
         ["shovel", "excavator", "hammer", "saw", "ladder"])]

COLD_SCRIPT = r"""
import time, json, sys
t0 = time.perf_counter()
from kgqa.explain.answer import get_answerer
answerer = get_answerer(sys.argv[1] if sys.argv[1] != "-" else None)
t1 = time.perf_counter()
result = answerer.answer("A man dug the ground to plant flowers. What tool did he use?",
                         ["shovel", "excavator", "hammer", "saw", "ladder"])
t2 = time.perf_counter()
print(json.dumps({"load_s": t1 - t0, "first_answer_s": t2 - t1, "stages": result.seconds,
                  "prediction": result.prediction}))
"""


def stand_in_checkpoint(name: str | None, folder: Path) -> Path:
    """A random-weight frozen checkpoint of the default model's architecture (``name=None``) or
    of ``name`` with that config's settings, recorded for the default graph."""
    import torch

    from kgqa.kg.store import KnowledgeGraph
    from kgqa.models import build_model
    from kgqa.training.checkpoint import save_checkpoint
    from kgqa.training.config import load_config

    from kgqa.explain.loading import DEFAULT_MODEL_CONFIG

    experiment = load_config(ROOT / DEFAULT_MODEL_CONFIG, check_model=False).to_dict()  # extends: merged
    experiment["regime"] = "frozen"  # a stand-in head: no trained top layers to stand in for
    name = name or experiment["model"]["name"]
    if name != experiment["model"]["name"]:
        other = load_config(ROOT / "experiments" / f"csqa_{name}_frozen_minilm.yaml", check_model=False).to_dict()
        experiment["model"] = other["model"]
    kg = KnowledgeGraph.load("default")
    torch.manual_seed(0)
    model = build_model(name, experiment["model"]["kwargs"])
    return save_checkpoint(folder / name, model=model, model_name=name, model_config=model.config,
                           experiment=experiment,
                           extra={"regime": "frozen", "backbone": experiment["backbone"]["name"],
                                  "graph_name": kg.name, "graph_checksum": kg.checksum})


def dev_questions(count: int) -> list[tuple[str, list[str]]]:
    try:
        from kgqa.data import load_dataset

        dev = load_dataset("csqa", "dev")
    except Exception:  # no shared data: the demo pair only
        return []
    return [(ex.question, list(ex.choices)) for ex in list(dev)[:count]]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_warm(checkpoint: Path | None, questions, *, lazy_table: bool = False) -> dict:
    """Warm timings; ``lazy_table``: as on a fresh machine, where the concept-name table is not
    computed yet and each new question's unseen concepts are embedded on first use."""
    from kgqa.explain.html import render_html
    from kgqa.explain.loading import load_answerer
    from kgqa.explain.static import render_static

    t0 = time.perf_counter()
    answerer = load_answerer(checkpoint)
    load_s = time.perf_counter() - t0
    table = answerer.node_table
    scratch = tempfile.TemporaryDirectory()
    if table is not None and lazy_table:
        table.path = Path(scratch.name) / "not-computed.npy"  # read nothing: embed on demand
    table_state = None if table is None else ("lazy" if lazy_table else
                                              "complete" if table.complete else "partial (lazy)")
    t0 = time.perf_counter()
    answerer.warm_up()
    warm_up_s = time.perf_counter() - t0
    totals, stages, sizes = [], {}, []
    for question, choices in questions:
        t0 = time.perf_counter()
        result = answerer.answer(question, choices)
        totals.append(time.perf_counter() - t0)
        for key, value in result.seconds.items():
            stages.setdefault(key, []).append(value)
        sizes.append(sum(c.num_subgraph_nodes for c in result.explanation.per_choice))
    repeat = []
    for _ in range(5):
        t0 = time.perf_counter()
        answerer.answer(*questions[0])
        repeat.append(time.perf_counter() - t0)
    demo = answerer.answer_many([q for q, _ in DEMO], [c for _, c in DEMO])
    t0 = time.perf_counter()
    render_html([r.explanation for r in demo])
    html_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        render_static(demo[0].explanation, Path(tmp) / "fig.png")
        png_s = time.perf_counter() - t0
    scratch.cleanup()
    return {
        "model": answerer.model_name, "source": answerer.source, "torch_threads": answerer.num_threads,
        "concept_table": table_state,
        "questions": len(questions), "load_s": round(load_s, 3), "warm_up_s": round(warm_up_s, 3),
        "warm_answer_explain_s": round(statistics.median(totals), 4),
        "warm_p90_s": round(quantile(totals, 0.9), 4), "warm_max_s": round(max(totals), 4),
        "warm_mean_s": round(statistics.mean(totals), 4),
        "repeat_same_question_s": round(statistics.median(repeat), 4),
        "stage_median_s": {k: round(statistics.median(v), 4) for k, v in stages.items()},
        "mean_subgraph_nodes_per_question": round(statistics.mean(sizes), 1),
        "html_render_s": round(html_s, 4), "static_png_s": round(png_s, 3),
        "demo": [{"question": r.question, "prediction": r.prediction,
                  "probabilities": {c.choice: round(c.probability, 4) for c in r.ranked}} for r in demo],
    }


def measure_cold(checkpoint: Path | None) -> dict:
    env = dict(os.environ)
    env.setdefault("KGQA_PROGRESS", "0")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", COLD_SCRIPT, str(checkpoint) if checkpoint else "-"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {"cold_start_s": round(wall, 3), "cold_load_s": round(data["load_s"], 3),
            "cold_first_answer_s": round(data["first_answer_s"], 3),
            "cold_first_answer_stages_s": {k: round(v, 3) for k, v in data["stages"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--questions", type=int, default=20, help="CSQA dev questions (plus the demo pair)")
    parser.add_argument("--also", nargs="*", default=[], help="more architectures, random weights (kagnet, rgcn)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "answer.json")
    args = parser.parse_args()

    from _machine import emit, machine_info, peak_rss_mb

    from kgqa.explain.loading import has_default_model

    questions = DEMO + dev_questions(args.questions)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint, stand_in = args.model, False
        if checkpoint is None and not has_default_model():
            checkpoint, stand_in = stand_in_checkpoint(None, Path(tmp)), True
        cold = measure_cold(checkpoint)
        warm = measure_warm(checkpoint, questions)
        lazy = measure_warm(checkpoint, questions, lazy_table=True)
        others = {name: measure_warm(stand_in_checkpoint(name, Path(tmp)), questions) for name in args.also}
    result = {
        "benchmark": "answer",
        "target": "warm_answer_explain_s < 0.5 on CPU",
        "model_weights": ("random (stand-in of the default model's architecture: no default model shipped yet)"
                          if stand_in else str(args.model or "shipped default model")),
        "warm_answer_explain_s": warm["warm_answer_explain_s"],
        "warm_answer_explain_lazy_table_s": lazy["warm_answer_explain_s"],
        **cold,
        "default": warm,
        "default_lazy_table": lazy,
        **({"also": others} if others else {}),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": machine_info(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()

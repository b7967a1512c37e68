"""Benchmark: are the explanations faithful? Fidelity of the explained edges on CommonsenseQA.

For each question (in-house dev, the first ``--questions``), the default model (or ``--model``)
answers and explains it as ``kgqa explain`` does: every question-to-answer path of every choice
is checked by occlusion (one batched forward) and the paths are ranked by it. Then, for the
predicted choice:

* **top-k explained edges**: its stored edges ranked by the explanation (an edge's score is the
  largest logit drop among the checked paths over it), the first ``k`` (default 5);
* ``fidelity_plus_topk``: the fall of the predicted choice's probability when those ``k`` edges
  (both directions) are removed from its graph, the other choices unchanged;
* ``fidelity_plus_random``: the same for ``k`` edges drawn at random from the same graph's
  stored concept edges (mean over ``--draws`` draws); target: ``topk / random >= 3``;
* ``fidelity_minus_topk``: the fall when *only* the top-k edges are kept (lower = the explained
  edges suffice); ``probability_drop_without_any_graph_edge``: the fall when every stored edge is
  removed, for scale (how much the graph moves this model at all);
* PyG's prediction-change fidelities (``torch_geometric.explain.metric.fidelity``'s model-level
  definitions: the share of questions whose prediction changes without the explanation /
  with only the explanation) and PyG's ``characterization_score`` of the two;
* ``path_is_real_qa_path_share``: the share of shown paths (all choices) that run from a
  question concept to an answer concept of the choice's subgraph over edges of that subgraph;
* ``warm_explain_s``: median time to answer and explain one question with a loaded model (link,
  encode, retrieve, model, explanation with occlusion), and the explanation step alone.

Questions whose predicted choice has at most ``k`` stored edges or no checked path are skipped
(random and explained edges would be the same) and counted. A time budget (``--max-minutes``)
stops early; the JSON then says how many questions were run.

    KGQA_DATA_DIR=... python benchmarks/explain.py [--model CKPT] [--questions 500] [--k 5]
                                                   [--out benchmarks/results/explain.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def explain_one(answerer, question: str, choices: list[str], label: int | None, qid: str):
    """Answer and explain one question as the answerer does; also return what the fidelity
    checks need (the batch, the logits, the occluder) and the time of each part."""
    import torch

    from kgqa.explain.answer import check_question
    from kgqa.explain.attention import record_layer_attention
    from kgqa.explain.extract import explain_batch
    from kgqa.explain.occlusion import Occluder

    t0 = time.perf_counter()
    with torch.inference_mode():
        question, choices, _ = check_question(question, choices)
        batch, links, _ = answerer.prepare_batch([question], [choices], ids=[qid], labels=[label])
        with record_layer_attention(answerer.model) as layers:
            output = answerer.model(batch)
        t1 = time.perf_counter()
        occluder = Occluder(answerer.model, batch)
        explanation = explain_batch(output, batch, answerer.kg, questions=[question], choices=[choices],
                                    model=answerer.model_name, links=links, layers=layers,
                                    occluder=occluder)[0]
    t2 = time.perf_counter()
    logits = output.logits.detach().float().cpu().numpy().reshape(-1).astype(np.float64)
    return explanation, batch, logits, occluder, {"total": t2 - t0, "explain": t2 - t1}


def stored_edges(graph, R: int) -> dict[tuple[int, int, int], list[int]]:
    """A choice graph's stored concept edges ``(u, v, r)`` (local) -> positions of both copies."""
    out: dict[tuple[int, int, int], list[int]] = {}
    ends = zip(graph.edge_index[0].tolist(), graph.edge_index[1].tolist(), graph.edge_type.tolist())
    for k, (u, v, t) in enumerate(ends):
        if t < 2 * R:
            out.setdefault((u, v, t) if t < R else (v, u, t - R), []).append(k)
    return out


def real_path_share(explanation, batch, kg) -> tuple[int, int]:
    """(real, shown): shown paths from a question concept to an answer concept over stored
    edges of the choice's graph, in the direction the path's relations say."""
    real = shown = 0
    R = kg.num_relations
    for c, choice in enumerate(explanation.per_choice):
        if not choice.paths:
            continue
        graph = batch.graphs.get_example(c)
        ids, types = graph.node_ids.tolist(), graph.node_type.tolist()
        local = {node: i for i, node in enumerate(ids) if node >= 0}
        edges = stored_edges(graph, R)
        for path in choice.paths:
            shown += 1
            nodes = [local.get(i) for i in path.node_ids]
            ok = None not in nodes and types[nodes[0]] == 0 and types[nodes[-1]] == 1
            for a, b, relation in zip(nodes, nodes[1:], path.relations):
                if not ok:
                    break
                r = kg.relation_id(relation.lstrip("~"))
                ok = ((b, a, r) if relation.startswith("~") else (a, b, r)) in edges
            real += bool(ok)
    return real, shown


def fidelity(explanation, batch, logits, occluder, kg, *, k: int, draws: int, rng) -> dict | None:
    """The fidelity numbers of one question's predicted choice (``None``: skipped, with why)."""
    from kgqa.explain.occlusion import probability_after

    c = explanation.predicted
    choice = explanation.per_choice[c]
    graph = occluder.graph(c)
    edges = stored_edges(graph, kg.num_relations)
    if len(edges) <= k:
        return {"skipped": f"<= {k} stored edges"}
    local = {node: i for i, node in enumerate(graph.node_ids.tolist()) if node >= 0}
    scored = sorted((e for e in choice.edges if e.occlusion is not None), key=lambda e: -e.occlusion)
    top = [(local[e.src], local[e.dst], kg.relation_id(e.relation)) for e in scored[:k]]
    if not top:
        return {"skipped": "no checked path"}
    keys = list(edges)

    def positions(chosen):
        return np.asarray(sorted(p for key in chosen for p in edges[key]), dtype=np.int64)

    randoms = [[keys[i] for i in rng.choice(len(keys), size=len(top), replace=False)] for _ in range(draws)]
    others = [key for key in keys if key not in set(top)]
    requests = [(c, positions([])), (c, positions(top)), *[(c, positions(r)) for r in randoms],
                (c, positions(others)), (c, positions(keys))]
    new = occluder.edge_logits(requests)
    base = new[0]
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    p = probabilities[c]

    def after(value):  # the predicted choice's probability and whether it stays the prediction
        z = logits.copy()
        z[c] = logits[c] - (base - value)
        return probability_after(logits, c, z[c]), int(np.argmax(z)) == c

    p_top, keeps_top = after(new[1])
    randoms_after = [after(v) for v in new[2:2 + draws]]
    p_only, keeps_only = after(new[-2])
    p_none, _ = after(new[-1])
    return {"plus_topk": p - p_top, "plus_random": float(np.mean([p - q for q, _ in randoms_after])),
            "minus_topk": p - p_only, "plus_all": p - p_none, "changed_topk": not keeps_top,
            "changed_random": float(np.mean([not s for _, s in randoms_after])), "changed_only_topk": not keeps_only,
            "edges": len(edges), "removed": len(top)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: the shipped model)")
    parser.add_argument("--split", default="ih_dev")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--k", type=int, default=5, help="explained edges removed / kept")
    parser.add_argument("--draws", type=int, default=5, help="random edge sets per question")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "explain.json")
    args = parser.parse_args()

    import torch
    from _machine import emit, machine_info, peak_rss_mb
    from torch_geometric.explain.metric import characterization_score

    from kgqa.data import load_dataset
    from kgqa.explain.loading import load_answerer

    t_start = time.perf_counter()
    answerer = load_answerer(args.model)
    answerer.warm_up()
    examples = list(load_dataset("csqa", args.split))[:args.questions]
    rng = np.random.default_rng(args.seed)
    rows, skipped, times, explain_times = [], {}, [], []
    real = shown = correct = answered = 0
    flags = {"attention_uninformative": 0, "occlusion_uninformative": 0, "choices_with_paths": 0}
    checked, found = [], []
    deadline = time.perf_counter() + 60 * args.max_minutes
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as the answerer runs (one question's tensors are small)
    try:
        for example in examples:
            if time.perf_counter() > deadline:
                break
            exp, batch, logits, occluder, seconds = explain_one(
                answerer, example.question, list(example.choices), example.label, example.id)
            times.append(seconds["total"])
            explain_times.append(seconds["explain"])
            answered += 1
            correct += int(example.label is not None and exp.predicted == example.label)
            r, s = real_path_share(exp, batch, answerer.kg)
            real, shown = real + r, shown + s
            for choice in exp.per_choice:
                if choice.paths:
                    flags["choices_with_paths"] += 1
                    flags["attention_uninformative"] += choice.attention_informative is False
                    flags["occlusion_uninformative"] += choice.occlusion_informative is False
                    checked.append(choice.num_checked)
                    found.append(choice.num_paths)
            with torch.inference_mode():
                row = fidelity(exp, batch, logits, occluder, answerer.kg, k=args.k, draws=args.draws, rng=rng)
            if "skipped" in row:
                skipped[row["skipped"]] = skipped.get(row["skipped"], 0) + 1
            else:
                rows.append(row)
    finally:
        torch.set_num_threads(previous)

    def mean(key):
        return float(np.mean([row[key] for row in rows])) if rows else None

    plus_top, plus_random, minus_top = mean("plus_topk"), mean("plus_random"), mean("minus_topk")
    pyg_plus, pyg_minus = mean("changed_topk"), mean("changed_only_topk")
    charact = None
    if pyg_plus and pyg_minus is not None and pyg_minus < 1:
        charact = float(characterization_score(torch.tensor(pyg_plus), torch.tensor(pyg_minus)))
    result = {
        "benchmark": "explain",
        "target": "fidelity_plus_topk / fidelity_plus_random >= 3; path_is_real_qa_path_share = 1.0; "
                  "warm_explain_s < 0.5",
        "model": str(args.model or "shipped default model"),
        "dataset": f"csqa {args.split}", "questions_requested": args.questions,
        "questions_run": answered, "stopped_by_time_budget": answered < len(examples),
        "questions_with_fidelity": len(rows), "questions_skipped": skipped, "k": args.k,
        "random_draws": args.draws, "seed": args.seed,
        "fidelity_plus_topk": plus_top, "fidelity_plus_random": plus_random,
        "fidelity_ratio_topk_over_random": (plus_top / plus_random) if plus_top is not None and plus_random else None,
        "fidelity_minus_topk": minus_top,
        "probability_drop_without_any_graph_edge": mean("plus_all"),
        "pyg_fidelity_plus_topk": pyg_plus, "pyg_fidelity_plus_random": mean("changed_random"),
        "pyg_fidelity_minus_topk": pyg_minus, "pyg_characterization_score": charact,
        "path_is_real_qa_path_share": real / shown if shown else None, "shown_paths": shown,
        "warm_explain_s": round(statistics.median(times), 4) if times else None,
        "warm_explain_p90_s": round(float(np.quantile(times, 0.9)), 4) if times else None,
        "explain_step_s": round(statistics.median(explain_times), 4) if explain_times else None,
        "accuracy_on_run": correct / answered if answered else None,
        "choices_with_paths": flags["choices_with_paths"],
        "attention_uninformative_share": (flags["attention_uninformative"] / flags["choices_with_paths"]
                                          if flags["choices_with_paths"] else None),
        "occlusion_uninformative_share": (flags["occlusion_uninformative"] / flags["choices_with_paths"]
                                          if flags["choices_with_paths"] else None),
        "paths_per_choice_mean": float(np.mean(found)) if found else None,
        "paths_checked_per_choice_mean": float(np.mean(checked)) if checked else None,
        "mean_stored_edges_of_predicted_choice": mean("edges"),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": machine_info(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()

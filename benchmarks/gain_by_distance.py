"""Benchmark: where does a graph model gain over LM-only? Accuracy by the gold answer's graph distance.

CommonsenseQA was written from ConceptNet: each question's concept is linked to its answer, and
to most distractors, by one relation. So a graph model can gain by reading the paths, or by
learning that "a short path to the question concept" marks the answer. This splits the test
questions by the **hop distance** between the gold choice's concepts and the question's (the
shortest path between any linked question concept and any linked answer concept in the default
graph, undirected, up to 3 hops: :meth:`kgqa.retrieval.paths.PathFinder.distances`), and by how
that distance compares with the distractors' (the gold choice strictly closest, tied with a
distractor, or farther than one), and reports per group the accuracy of LM-only and of each
model, averaged over the seeds all rows ran, with the paired bootstrap of
:func:`kgqa.training.results.paired_bootstrap` over the group's questions.

    python benchmarks/gain_by_distance.py --baseline csqa_lm_partial4_minilm \\
        --model csqa_kagnet_shortest_partial4_minilm --model csqa_qagnn_partial4_minilm \\
        [--runs experiments/runs] [--out benchmarks/results/gain_by_distance_partial4_minilm.json]

Every ``<runs>/<name>/seed-*/results.json`` is read and the seeds all the named experiments ran
are compared. The split is the runs' test split (``roles.test`` of their ``results.json``). Prints
one JSON object; the committed ones are ``benchmarks/results/gain_by_distance_*.json``, one per
regime and backbone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import emit, machine_info  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.training.results import RunResult

MAX_HOPS = 3


def load_runs(runs_dir: Path, name: str) -> dict[int, "RunResult"]:
    """``{seed: RunResult}`` of experiment ``name`` (coded ``[E015]`` for a damaged results file)."""
    from kgqa.training.results import RunResult

    runs = {}
    for path in sorted((runs_dir / name).glob("seed-*/results.json")):
        run = RunResult.load(path)
        runs[run.seed] = run
    if not runs:
        raise SystemExit(f"{runs_dir / name}: no seed-*/results.json")
    return runs


def choice_distances(dataset, graph: str = "default"):
    """``(Q, C)`` int32 hop distance of every choice (``-1``: unlinked or beyond ``MAX_HOPS``;
    ``-2`` pads questions with fewer than ``C`` choices)."""
    import numpy as np

    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.linker import load_linker
    from kgqa.retrieval.paths import PathFinder

    kg = KnowledgeGraph.load(graph)
    examples = dataset.examples
    links = load_linker(kg).link_qa_batch([ex.question for ex in examples], [ex.choices for ex in examples])
    sources, targets, owner = [], [], []
    width = max(len(ex.choices) for ex in examples)
    for q, qa in enumerate(links):
        for c, choice in enumerate(qa.choices):
            for s in qa.question.node_ids:
                for t in choice.node_ids:
                    sources.append(s)
                    targets.append(t)
                    owner.append(q * width + c)
    pair = PathFinder(kg, max_hops=MAX_HOPS).distances(sources, targets)
    best = np.full(len(examples) * width, np.iinfo(np.int32).max, dtype=np.int64)
    reached = pair >= 0
    np.minimum.at(best, np.asarray(owner, dtype=np.int64)[reached], pair[reached].astype(np.int64))
    best[best == np.iinfo(np.int32).max] = -1
    best = best.reshape(len(examples), width)
    for q, ex in enumerate(examples):
        best[q, len(ex.choices):] = -2
    return best.astype(np.int32)


def groups(distances, labels) -> dict[str, "object"]:
    """Boolean masks over the questions, by the gold choice's distance and its rank among the choices'."""
    import numpy as np

    far = MAX_HOPS + 1  # "no path within MAX_HOPS" sorts after every distance
    d = np.where(distances == -1, far, np.where(distances == -2, far + 1, distances))
    rows = np.arange(len(labels))
    gold = d[rows, labels]
    others = d.copy()
    others[rows, labels] = far + 1  # the gold choice, like a padding one, is nobody's rival
    nearest_other = others.min(1)
    out = {"all": np.ones(len(labels), dtype=bool)}
    for k in range(MAX_HOPS + 1):
        out[f"gold at distance {k}"] = gold == k
    out[f"gold beyond {MAX_HOPS} hops or unlinked"] = gold == far
    out["gold strictly nearest"] = gold < nearest_other
    out["gold tied with a distractor"] = gold == nearest_other
    out["a distractor nearer than gold"] = gold > nearest_other
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="LM-only experiment name")
    parser.add_argument("--model", action="append", required=True, help="graph-model experiment name (repeatable)")
    parser.add_argument("--runs", type=Path, default=Path("experiments/runs"))
    parser.add_argument("--graph", default="default")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import numpy as np

    from kgqa.data import load_dataset
    from kgqa.training.results import paired_bootstrap

    started = time.time()
    names = [args.baseline, *args.model]
    runs = {name: load_runs(args.runs, name) for name in names}
    seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
    if not seeds:
        raise SystemExit(f"no seed is common to {', '.join(names)}")
    first = runs[args.baseline][seeds[0]]
    dataset_name, split = first.config["dataset"]["name"], first.roles["test"]
    for name in names:
        for seed in seeds:
            run = runs[name][seed]
            if run.roles.get("test") != split or run.config["dataset"]["name"] != dataset_name:
                raise SystemExit(f"{name} seed {seed}: tested on another split than {dataset_name}/{split}")
    dataset = load_dataset(dataset_name, split)
    labels = np.array([ex.label for ex in dataset.examples])
    correct = {name: [runs[name][s].correct("test") for s in seeds] for name in names}
    if {len(c or "") for cs in correct.values() for c in cs} != {len(labels)}:
        raise SystemExit(f"the runs' correct strings do not match the {len(labels)} questions of {split}")
    distances = choice_distances(dataset, args.graph)

    rows = []
    for group, mask in groups(distances, labels).items():
        picked = np.flatnonzero(mask)
        row = {"group": group, "questions": int(len(picked))}
        if len(picked):
            sub = {name: ["".join(c[i] for i in picked) for c in cs] for name, cs in correct.items()}
            acc = {name: float(np.mean([[ch == "1" for ch in c] for c in cs])) for name, cs in sub.items()}
            row[args.baseline] = round(100 * acc[args.baseline], 2)
            for name in args.model:
                test = paired_bootstrap(sub[name], sub[args.baseline])
                row[name] = {"accuracy": round(100 * acc[name], 2), "delta": round(100 * test["delta"], 2),
                             "ci95": [round(100 * test["low"], 2), round(100 * test["high"], 2)],
                             "p": round(test["p"], 4)}
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    result = {"benchmark": "gain_by_distance", "dataset": dataset_name, "split": split, "graph": args.graph,
              "max_hops": MAX_HOPS, "baseline": args.baseline, "models": args.model, "seeds": seeds,
              "groups": rows, "seconds": round(time.time() - started, 1), "machine": machine_info()}
    return emit(result, args.out)


if __name__ == "__main__":
    main()

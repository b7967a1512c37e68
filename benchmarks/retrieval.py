"""Benchmark: retrieval on full CommonsenseQA, and KagNet path finding vs networkx.

Prints one JSON object (saved as ``benchmarks/results/retrieval.json``):

* ``csqa_*``: ``kgqa preprocess`` on train + dev + test (12,102 questions x 5 choices) on the
  default graph, from an empty cache: linking + subgraphs + paths, all workers, wall time; the
  per-stage worker seconds; the statistics of the caches. The one-off per-graph work (embedding
  every node name for relevance ranking) is measured separately on a sample and extrapolated
  (``node_embeddings_all_*``), and so is encoding every choice's question + choice text
  (``relevance_ranking_estimated_s``: every choice is scored, ``score_all_nodes``).
* ``kgqa_ms_per_pair`` / ``networkx_ms_per_pair``: path finding (cutoff 3 hops, 100 paths cap)
  on the same pairs of the ConceptNet-4 English graph, random pairs and CommonsenseQA
  question-concept/answer pairs, one path per relation combination (``relations="all"``, what
  networkx enumerates on the multigraph); ``identical_path_sets``: uncapped node sequences (with
  multiplicity) equal ``networkx.all_simple_paths`` on the undirected multigraph for every
  compared pair; the worst pair of each side.

Run: ``KGQA_HOME=... python benchmarks/retrieval.py [--nx-pairs 40] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from itertools import islice
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import emit, machine_info, peak_rss_mb  # noqa: E402


def bench_csqa(workers: int, ranker: str) -> dict:
    from kgqa.retrieval.config import RetrievalConfig
    from kgqa.retrieval.preprocess import preprocess

    config = RetrievalConfig(ranker=ranker)
    with tempfile.TemporaryDirectory(prefix="kgqa-bench-retrieval-") as tmp:
        start = time.perf_counter()
        caches = preprocess("csqa", "default", "all", config=config, workers=workers, cache_dir=tmp)
        total = time.perf_counter() - start
        stages: dict[str, float] = {}
        questions = choices = 0
        per_split = {}
        size = 0
        for split, cache in caches.items():
            for stage, seconds in cache.manifest["run"]["worker_seconds"].items():
                stages[stage] = stages.get(stage, 0.0) + seconds
            questions += cache.stats["questions"]
            choices += cache.stats["choices"]
            per_split[split] = cache.stats
            size += sum(s["bytes"] for s in cache.manifest["shards"])
    return {"csqa_questions": questions, "csqa_choices": choices, "csqa_total_s": round(total, 1),
            "csqa_ranker": ranker, "csqa_workers": workers,
            "csqa_worker_seconds": {k: round(v, 1) for k, v in stages.items()},
            "csqa_cache_mb": round(size / 2**20, 1), "csqa_stats": per_split}


def bench_node_embeddings(sample: int = 2000) -> dict:
    """The one-off per-graph work of ``node_embeddings='all'``, timed on a sample."""
    from kgqa.encoders.sentence import get_sentence_encoder
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.ranking import node_text

    kg = KnowledgeGraph.load("default")
    rng = random.Random(0)
    names = [node_text(kg.node_names[i]) for i in rng.sample(range(kg.num_nodes), sample)]
    names.sort(key=len)
    encoder = get_sentence_encoder("minilm")
    encoder.encode(names[:64])
    start = time.perf_counter()
    encoder.encode(names, batch_size=256)
    seconds = time.perf_counter() - start
    from kgqa.data import load_dataset

    queries = [f"{ex.question} {c}" for ex in load_dataset("csqa", "dev").examples[:40] for c in ex.choices]
    queries.sort(key=len)
    start = time.perf_counter()
    encoder.encode(queries, batch_size=128)
    query_rate = len(queries) / (time.perf_counter() - start)
    return {"relevance_queries_per_s": round(query_rate, 1),"node_embeddings_all_sample": sample, "node_embeddings_names_per_s": round(sample / seconds, 1),
            "node_embeddings_all_estimated_s": round(kg.num_nodes / (sample / seconds), 1),
            "node_embeddings_graph_nodes": kg.num_nodes}


def csqa_pairs(kg) -> list[tuple[int, int]]:
    from kgqa.data import load_dataset

    pairs = []
    for split in ("train", "dev", "test"):
        for ex in load_dataset("csqa", split):
            s = kg.get_node_id("_".join(str(ex.question_concept).lower().split()))
            if s is None:
                continue
            for choice in ex.choices:
                t = kg.get_node_id("_".join(choice.lower().split()))
                if t is not None:
                    pairs.append((s, t))
    return pairs


def bench_paths(graph: str, nx_pairs: int, cap: int = 100, hops: int = 3, identity_limit: int = 5000) -> dict:
    import networkx as nx

    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.paths import PathFinder

    kg = KnowledgeGraph.load(graph)
    finder = PathFinder(kg, max_hops=hops, max_paths=cap, relations="all")
    uncapped = PathFinder(kg, max_hops=hops, max_paths=None, relations="all", adjacency=finder.adjacency)
    all_csqa = csqa_pairs(kg)
    rng = random.Random(0)
    samples = {"random": [(rng.randrange(kg.num_nodes), rng.randrange(kg.num_nodes)) for _ in range(nx_pairs)],
               "csqa": rng.sample(all_csqa, nx_pairs)}
    # every CommonsenseQA pair at once (what preprocessing does)
    finder.find([p[0] for p in all_csqa[:100]], [p[1] for p in all_csqa[:100]])
    start = time.perf_counter()
    finder.find([p[0] for p in all_csqa], [p[1] for p in all_csqa])
    all_us = (time.perf_counter() - start) / len(all_csqa) * 1e6

    start = time.perf_counter()
    graph_nx = nx.MultiGraph()
    graph_nx.add_nodes_from(range(kg.num_nodes))
    graph_nx.add_edges_from(zip(np.asarray(kg.head).tolist(), np.asarray(kg.tail).tolist()))
    build_s = time.perf_counter() - start

    out: dict = {"paths_graph": kg.name, "paths_graph_nodes": kg.num_nodes, "paths_graph_edges": kg.num_edges,
                 "paths_max_hops": hops, "paths_cap": cap, "networkx_graph_build_s": round(build_s, 1),
                 "kgqa_us_per_pair_all_csqa_pairs": round(all_us, 1), "csqa_pairs_in_graph": len(all_csqa)}
    identical = True
    checked = skipped = 0
    worst_nx = (0.0, None)
    worst_kgqa = (0.0, None)
    totals = {"kgqa": 0.0, "networkx": 0.0, "pairs": 0}
    for kind, pairs in samples.items():
        src, dst = [p[0] for p in pairs], [p[1] for p in pairs]
        repeats = 20
        start = time.perf_counter()
        for _ in range(repeats):
            capped = finder.find(src, dst)
        kgqa_s = (time.perf_counter() - start) / repeats
        nx_s = 0.0
        for k, (s, t) in enumerate(pairs):
            t0 = time.perf_counter()
            found = list(islice(nx.all_simple_paths(graph_nx, s, t, cutoff=hops), cap))
            dt = time.perf_counter() - t0
            nx_s += dt
            name = f"{kg.node_name(s)} -> {kg.node_name(t)}"
            if dt > worst_nx[0]:
                worst_nx = (dt, name)
            t0 = time.perf_counter()
            for _ in range(5):
                finder.find([s], [t])
            dk = (time.perf_counter() - t0) / 5
            if dk > worst_kgqa[0]:
                worst_kgqa = (dk, name)
            ours_capped = [tuple(n) for n, _ in capped.as_tuples(k)]
            if len(ours_capped) != len(found):
                identical = False
            full = uncapped.find([s], [t])
            if len(full) <= identity_limit:
                ours = Counter(tuple(n) for n, _ in full.as_tuples(0))
                theirs = Counter(tuple(p) for p in nx.all_simple_paths(graph_nx, s, t, cutoff=hops))
                identical &= ours == theirs
                identical &= set(ours_capped) <= set(ours)
                checked += 1
            else:
                skipped += 1
        out[f"{kind}_pairs"] = len(pairs)
        out[f"{kind}_kgqa_ms_per_pair"] = round(kgqa_s / len(pairs) * 1e3, 4)
        out[f"{kind}_networkx_ms_per_pair"] = round(nx_s / len(pairs) * 1e3, 1)
        out[f"{kind}_speedup"] = round(nx_s / kgqa_s)
        out[f"{kind}_paths_per_pair"] = round(len(capped) / len(pairs), 1)
        totals["kgqa"] += kgqa_s
        totals["networkx"] += nx_s
        totals["pairs"] += len(pairs)
    out["kgqa_ms_per_pair"] = round(totals["kgqa"] / totals["pairs"] * 1e3, 4)
    out["networkx_ms_per_pair"] = round(totals["networkx"] / totals["pairs"] * 1e3, 1)
    out["speedup"] = round(totals["networkx"] / totals["kgqa"])
    out["identical_path_sets"] = bool(identical)
    out["identity_checked_pairs"] = checked
    out["identity_skipped_pairs_over_limit"] = skipped
    out["worst_pair_networkx"] = {"pair": worst_nx[1], "ms": round(worst_nx[0] * 1e3, 1)}
    out["worst_pair_kgqa"] = {"pair": worst_kgqa[1], "ms": round(worst_kgqa[0] * 1e3, 3)}
    person = kg.get_node_id("person")
    if person is not None:
        out["person_degree"] = int(finder.adjacency.degree[person])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nx-pairs", type=int, default=40, help="pairs of each kind timed with networkx")
    parser.add_argument("--paths-graph", default="conceptnet4_en")
    parser.add_argument("--ranker", default="degree", help="node ranker of the CSQA run (relevance needs the "
                        "one-off node-name table, estimated separately)")
    parser.add_argument("--skip-csqa", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "retrieval.json")
    args = parser.parse_args()

    from kgqa.kg.registry import known_graphs

    if args.paths_graph not in known_graphs():
        from kgqa.kg.recipes import build_recipe

        build_recipe(args.paths_graph)
    import os

    result = {"benchmark": "retrieval", "machine": machine_info(),
              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if not args.skip_csqa:
        result.update(bench_csqa(args.workers, args.ranker))
    result.update(bench_paths(args.paths_graph, args.nx_pairs))
    result.update(bench_node_embeddings())
    if "csqa_stats" in result:
        over_cap = sum(st["choices_over_node_cap"] for st in result["csqa_stats"].values())
        result["csqa_choices_over_node_cap"] = over_cap
        result["relevance_ranking_estimated_s"] = round(result["csqa_choices"] / result["relevance_queries_per_s"], 1)
    result["peak_rss_mb"] = round(peak_rss_mb(children=True), 1)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    emit(result, args.out)


if __name__ == "__main__":
    main()

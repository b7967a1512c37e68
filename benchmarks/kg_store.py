"""Benchmark: the kgqa CSR store vs a networkx MultiDiGraph on the ConceptNet-4 English graph.

Measured side by side in one run (each side in its own fresh process, so peak RSS is its own):
build time of the kgqa graph from the shared TSV; load time and peak RSS of the kgqa store
(memory-mapped) vs networkx loaded from a pickle (as the research code keeps ConceptNet);
random 2-hop neighbourhood queries per second on both (direction ignored, same query nodes,
results checked equal).

    python benchmarks/kg_store.py [--queries 10000] [--out benchmarks/results/kg_store.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402


def part_build(graph_dir: str) -> dict:
    from kgqa.kg.recipes import build_recipe

    start = time.perf_counter()
    kg = build_recipe("conceptnet4_en", out_dir=graph_dir)
    return {"build_s": time.perf_counter() - start, "nodes": kg.num_nodes, "edges": kg.num_edges,
            "csr_array_mb": sum((Path(graph_dir) / f).stat().st_size for f in os.listdir(graph_dir)
                                if f.endswith(".npy")) / 2**20,
            "build_peak_rss_mb": peak_rss_mb()}


def part_pickle(graph_dir: str, pickle_path: str) -> dict:
    from kgqa.kg import KnowledgeGraph

    graph = KnowledgeGraph.load(graph_dir).to_networkx(names=True)
    with open(pickle_path, "wb") as fh:
        pickle.dump(graph, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return {"networkx_pickle_mb": os.path.getsize(pickle_path) / 2**20}


def query_nodes(num_nodes: int, n: int, seed: int = 0):
    import numpy as np

    return np.random.default_rng(seed).integers(0, num_nodes, size=n)


def _warm_kernels() -> None:
    """Load numba and the compiled kernels on a 2-node graph (a fixed runtime cost, not the graph's)."""
    import numpy as np

    from kgqa.kg.kernels import bfs_k_hop, bfs_k_hop_many

    indptr, edges = np.array([0, 1, 1], dtype=np.int64), np.array([0], dtype=np.int32)
    tail, ok = np.array([1], dtype=np.int32), np.ones(1, dtype=np.bool_)
    bfs_k_hop(indptr, tail, indptr, edges, edges, edges, ok, np.zeros(1, dtype=np.int64), 2, True, True,
              np.zeros(2, dtype=np.int32), 1, np.zeros(2, dtype=np.int32))
    bfs_k_hop_many(indptr, tail, indptr, edges, edges, edges, ok, np.zeros(1, dtype=np.int64), 2, True, True,
                   np.zeros(1, dtype=np.int64))


def part_kgqa(graph_dir: str, queries: int) -> dict:
    base = peak_rss_mb()
    import numpy as np

    from kgqa.kg import KnowledgeGraph

    _warm_kernels()
    runtime = peak_rss_mb()

    start = time.perf_counter()
    kg = KnowledgeGraph.load(graph_dir)
    load_s = time.perf_counter() - start
    nodes = query_nodes(kg.num_nodes, queries)
    kg.k_hop([int(nodes[0])], 2)  # warm-up (loads the compiled kernel from numba's cache)
    kg.k_hop_sizes(nodes[:2], 2)
    start = time.perf_counter()
    sizes = [len(kg.k_hop(v, 2)) for v in nodes]
    query_s = time.perf_counter() - start
    start = time.perf_counter()
    batch_sizes = kg.k_hop_sizes(nodes, 2)
    batch_s = time.perf_counter() - start
    assert batch_sizes.tolist() == sizes
    names = kg.node_names
    sample = {names[int(v)]: sorted(names[u] for u in kg.k_hop([int(v)], 2)) for v in nodes[:200]}
    return {"kgqa_load_s": load_s, "kgqa_two_hop_qps": queries / query_s,
            "kgqa_two_hop_batched_qps": queries / batch_s, "kgqa_peak_rss_mb": peak_rss_mb(),
            "kgqa_interpreter_rss_mb": base, "kgqa_runtime_rss_mb": runtime,
            "kgqa_graph_rss_mb": peak_rss_mb() - runtime, "mean_two_hop_size": float(np.mean(sizes)), "sample": sample,
            "num_nodes": kg.num_nodes}


def nx_two_hop(graph, node) -> set:
    succ, pred = graph._succ, graph._pred
    first = set(succ[node]) | set(pred[node])
    reached = {node} | first
    for u in first:
        reached.update(succ[u])
        reached.update(pred[u])
    return reached


def part_networkx(pickle_path: str, queries: int, num_nodes: int) -> dict:
    import networkx  # noqa: F401  (import cost is not load cost)

    base = peak_rss_mb()

    start = time.perf_counter()
    with open(pickle_path, "rb") as fh:
        graph = pickle.load(fh)
    load_s = time.perf_counter() - start
    names = sorted(graph.nodes)  # kgqa ids are sorted names, so the same ids name the same nodes
    nodes = query_nodes(num_nodes, queries)
    start = time.perf_counter()
    for v in nodes:
        nx_two_hop(graph, names[int(v)])
    query_s = time.perf_counter() - start
    sample = {names[int(v)]: sorted(nx_two_hop(graph, names[int(v)])) for v in nodes[:200]}
    return {"networkx_load_s": load_s, "networkx_two_hop_qps": queries / query_s,
            "networkx_peak_rss_mb": peak_rss_mb(), "networkx_runtime_rss_mb": base,
            "networkx_graph_rss_mb": peak_rss_mb() - base, "sample": sample}


def run_part(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--part", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--part", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        kind, *rest = args.part
        fn = {"build": part_build, "pickle": part_pickle, "kgqa": part_kgqa, "networkx": part_networkx}[kind]
        rest = [int(x) if x.isdigit() else x for x in rest]
        print(json.dumps(fn(*rest)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        graph_dir, pickle_path = f"{tmp}/cn4", f"{tmp}/cn4.pickle"
        build = run_part("build", graph_dir)
        pick = run_part("pickle", graph_dir, pickle_path)
        ours = run_part("kgqa", graph_dir, str(args.queries))
        theirs = run_part("networkx", pickle_path, str(args.queries), str(ours["num_nodes"]))
    same = ours.pop("sample") == theirs.pop("sample")
    result = {
        "graph": "conceptnet4_en (merged17)", **build, **pick, **ours, **theirs,
        "two_hop_results_identical": same,
        "queries": args.queries,
        "load_speedup": theirs["networkx_load_s"] / ours["kgqa_load_s"],
        "rss_ratio": ours["kgqa_peak_rss_mb"] / theirs["networkx_peak_rss_mb"],
        "graph_rss_ratio": ours["kgqa_graph_rss_mb"] / theirs["networkx_graph_rss_mb"],
        "notes": ("kgqa_peak_rss_mb includes numba's LLVM runtime (kgqa_runtime_rss_mb, a fixed cost independent "
                  "of graph size); *_graph_rss_mb is the growth from loading and querying the graph. "
                  "kgqa_two_hop_qps calls KnowledgeGraph.k_hop once per query from Python; "
                  "kgqa_two_hop_batched_qps answers all queries in one compiled call over all cores."),
        "two_hop_speedup": ours["kgqa_two_hop_qps"] / theirs["networkx_two_hop_qps"],
        "two_hop_batched_speedup": ours["kgqa_two_hop_batched_qps"] / theirs["networkx_two_hop_qps"],
        "targets": {"kgqa_load_s": "< 0.1", "rss_ratio": "< 0.2", "two_hop_speedup": ">= 20"},
        "command": "python benchmarks/kg_store.py --queries %d" % args.queries,
        "machine": machine_info(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()

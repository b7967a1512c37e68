"""Benchmark: training and inference throughput of each reasoning model vs ``lm`` (finetune, CPU).

Every model runs on the same batches: CommonsenseQA dev questions (5 choices, "question [SEP]
choice" tokenised to at most ``--max-length`` tokens) with the MiniLM backbone (``minilm``,
all-MiniLM-L6-v2) fine-tuned, plus one graph per choice. The graphs are synthetic but sized like
kgqa's real retrieval on the default graph (measured on 150 CSQA dev choices with the linker,
``SubgraphBuilder(max_nodes=200)`` and ``PathFinder(max_hops=3, max_paths=100)``): 26 subgraph
nodes with 232 stored edges, 512 question-answer paths over 8 concept pairs (86% of 3 hops,
14% of 2) running through 78 more nodes; they are assembled by retrieval's own
``build_choice_graph`` (inverse edges, context node; the path view for KagNet), and node
features come from a frozen, memory-mapped ``(247877, 384)`` float16 table as the MiniLM
name embeddings do.

Each model runs in its own process (so ``peak_rss_mb`` is its own), with ``--threads`` torch
threads (default 1: on a machine shared with other jobs, two spinning OpenMP threads per op
make the many small graph ops erratic): ``--warmup`` untimed
training steps, ``--steps`` timed AdamW steps (LM lr 2e-5, rest 1e-3), then ``--steps`` timed
``no_grad`` inference batches; also the same training steps in the ``frozen`` regime (cached LM
states, backbone not run), which isolates the graph part. ``overhead_vs_lm`` is the extra
training time per question relative to ``lm`` in finetune (target <= 0.25).

    python benchmarks/models.py [--batch-size 8] [--steps 5] [--threads 1]
                                [--out benchmarks/results/models.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402

MODELS = ("lm", "kagnet", "rgcn", "qagnn")
NUM_CONCEPTS = 247_877  # nodes of the default graph
NUM_RELATIONS = 30      # relations of the default graph
GRAPH_STATS = {"subgraph_nodes": 26, "subgraph_edges": 232, "path_only_nodes": 78,
               "question_concepts": 4, "answer_concepts": 2, "paths_per_pair": 64,
               "three_hop_fraction": 0.86}


def synthetic_choice_graph(rng, *, paths: bool):
    """One choice graph with the sizes of ``GRAPH_STATS`` (see the module docstring)."""
    import numpy as np

    from kgqa.retrieval.data import build_choice_graph

    s = GRAPH_STATS
    n_sub, n_extra = s["subgraph_nodes"], s["path_only_nodes"]
    n_q, n_a = s["question_concepts"], s["answer_concepts"]
    n = n_sub + n_extra
    node_ids = rng.choice(NUM_CONCEPTS, size=n, replace=False)
    node_type = np.full(n, 2)
    node_type[:n_q], node_type[n_q:n_q + n_a] = 0, 1
    heads = rng.integers(0, n_sub, s["subgraph_edges"])
    tails = (heads + rng.integers(1, n_sub, s["subgraph_edges"])) % n_sub
    edge_index = [heads, tails]
    edge_type = rng.integers(0, NUM_RELATIONS, s["subgraph_edges"])
    pair_paths, pair_rels, lengths = [], [], []
    for q in range(n_q):
        for a in range(n_q, n_q + n_a):
            for _ in range(s["paths_per_pair"]):
                hops = 3 if rng.random() < s["three_hop_fraction"] else 2
                middle = rng.choice(np.arange(n_q + n_a, n), size=hops - 1, replace=False)
                pair_paths.append([q, *middle, a] + [-1] * (3 - hops))
                pair_rels.append(list(rng.integers(0, 2 * NUM_RELATIONS, hops)) + [-1] * (3 - hops))
                lengths.append(hops)
    path_nodes = np.array(pair_paths)
    path_relations = np.array(pair_rels)
    if paths:  # the schema graph also holds every hop of every path (as a stored edge)
        hop_src, hop_dst, hop_rel = [], [], []
        for nodes, rels, length in zip(path_nodes, path_relations, lengths):
            for i in range(length):
                r = int(rels[i])
                u, v = (nodes[i], nodes[i + 1]) if r < NUM_RELATIONS else (nodes[i + 1], nodes[i])
                hop_src.append(u), hop_dst.append(v), hop_rel.append(r % NUM_RELATIONS)
        edge_index = [np.concatenate([heads, hop_src]), np.concatenate([tails, hop_dst])]
        edge_type = np.concatenate([edge_type, hop_rel])
    return build_choice_graph(
        node_ids=node_ids, node_type=node_type, node_score=rng.random(n), num_subgraph_nodes=n_sub,
        edge_index=np.stack(edge_index), edge_type=edge_type, edge_weight=np.ones(len(edge_type)),
        num_relations=NUM_RELATIONS, path_nodes=path_nodes, path_relations=path_relations,
        path_lengths=np.array(lengths), paths=paths, context_node=True)


def random_node_table(path: Path, width: int = 384, chunk: int = 16384):
    """A random ``(NUM_CONCEPTS, width)`` float16 ``.npy`` written to ``path`` (by plain file
    writes, so none of it counts in this process's RSS) and memory-mapped."""
    import numpy as np

    rng = np.random.default_rng(1)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False,
              "shape": (NUM_CONCEPTS, width)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, NUM_CONCEPTS, chunk):
            rows = min(chunk, NUM_CONCEPTS - start)
            fh.write(rng.standard_normal((rows, width), dtype=np.float32).astype(np.float16).tobytes())
    return np.load(path, mmap_mode="r")


def make_batches(backbone, *, batch_size: int, count: int, max_length: int, paths: bool, data_dir: Path):
    import numpy as np
    import torch
    from torch_geometric.data import Batch

    from kgqa.models.base import QABatch

    rows = [json.loads(line) for line in open(data_dir / "csqa" / "dev_rand_split.jsonl")]
    rng = np.random.default_rng(0)
    batches = []
    for b in range(count):
        chunk = rows[b * batch_size:(b + 1) * batch_size]
        questions = [r["question"]["stem"] for r in chunk]
        choices = [[c["text"] for c in r["question"]["choices"]] for r in chunk]
        labels = torch.tensor([ord(r["answerKey"]) - ord("A") for r in chunk])
        enc = backbone.encode_choices(questions, choices, max_length=max_length)
        shape = (len(chunk), 5, -1)
        graphs = Batch.from_data_list([synthetic_choice_graph(rng, paths=paths)
                                       for _ in range(len(chunk) * 5)])
        batches.append(QABatch(
            ids=[r["id"] for r in chunk], num_choices=5, labels=labels,
            input_ids=enc["input_ids"].view(shape), attention_mask=enc["attention_mask"].view(shape),
            token_type_ids=enc["token_type_ids"].view(shape) if "token_type_ids" in enc else None,
            graphs=graphs))
    return batches


def part(name: str, batch_size: int, steps: int, warmup: int, max_length: int, data_dir: str,
         threads: int) -> dict:
    """One model in this process: finetune training, inference, frozen training."""
    import torch

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="kgqa_bench_") as scratch:
        return _measure(name, batch_size, steps, warmup, max_length, Path(data_dir), Path(scratch))


def _measure(name: str, batch_size: int, steps: int, warmup: int, max_length: int,
             data_dir: Path, scratch: Path) -> dict:
    import dataclasses

    import torch

    from kgqa.backbones import Backbone
    from kgqa.models import build_model
    from kgqa.retrieval.data import num_edge_types

    torch.manual_seed(0)
    backbone = Backbone.from_pretrained("minilm")
    config = None if name == "lm" else {"num_relations": num_edge_types(NUM_RELATIONS)}
    table = None
    if name != "lm":  # a memory-mapped float16 .npy, as retrieval's node-name embeddings
        table = random_node_table(scratch / "nodes.npy")
    model = build_model(name, config, backbone=backbone, node_features=table)
    batches = make_batches(backbone, batch_size=batch_size, count=warmup + steps,
                           max_length=max_length, paths=name == "kagnet", data_dir=data_dir)
    groups = model.parameter_groups()
    optimizer = torch.optim.AdamW([{"params": groups["backbone"], "lr": 2e-5},
                                   {"params": groups["head"], "lr": 1e-3}])

    def train_steps(run_batches) -> float:
        model.train()
        start = time.perf_counter()
        for batch in run_batches:
            optimizer.zero_grad(set_to_none=True)
            loss = model(batch).loss
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start

    train_steps(batches[:warmup])
    train_s = train_steps(batches[warmup:])
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches[warmup:]:
            model(batch)
    infer_s = time.perf_counter() - start

    # frozen regime: cached pooled states instead of the backbone (graph part + scorer only)
    with torch.no_grad():
        frozen = []
        for batch in batches:
            states = model.statement_vectors(batch).view(batch.batch_size, batch.num_choices, -1)
            frozen.append(dataclasses.replace(batch, input_ids=None, attention_mask=None,
                                              token_type_ids=None, lm_states=states.clone()))
    frozen_s = train_steps(frozen[warmup:])
    questions = steps * batch_size
    graphs = batches[-1].graphs
    return {
        "model": name,
        "config": model.config_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "head_parameters": sum(p.numel() for p in groups["head"]),
        "train_questions_per_s": questions / train_s,
        "infer_questions_per_s": questions / infer_s,
        "frozen_train_questions_per_s": questions / frozen_s,
        "train_s_per_batch": train_s / steps,
        "infer_s_per_batch": infer_s / steps,
        "frozen_train_s_per_batch": frozen_s / steps,
        "nodes_per_batch": int(graphs.num_nodes),
        "edges_per_batch": int(graphs.edge_index.size(1)),
        "paths_per_batch": int(graphs.path_lengths.numel()) if name == "kagnet" else 0,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8, help="questions per batch (5 choices each)")
    parser.add_argument("--steps", type=int, default=5, help="timed batches per measurement")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: stable numbers on a shared machine)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding csqa/ (default: KGQA_DATA_DIR or the shared data)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data_dir is None:
        from kgqa.paths import data_dir

        args.data_dir = str(data_dir())
    settings = [args.batch_size, args.steps, args.warmup, args.max_length, args.data_dir,
                args.threads]
    if args.part:
        print(json.dumps(part(args.part, *settings)))
        return
    results = {}
    for name in args.models.split(","):
        out = subprocess.run([sys.executable, __file__, "--part", name,
                              "--batch-size", str(args.batch_size), "--steps", str(args.steps),
                              "--warmup", str(args.warmup), "--max-length", str(args.max_length),
                              "--data-dir", args.data_dir, "--threads", str(args.threads)],
                             capture_output=True, text=True, check=True)
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    import torch  # noqa: F401  (loaded so machine_info records the versions the parts used)
    import torch_geometric  # noqa: F401
    import transformers  # noqa: F401

    if "lm" in results:
        lm = results["lm"]
        for res in results.values():
            res["overhead_vs_lm"] = lm["train_questions_per_s"] / res["train_questions_per_s"] - 1
            res["infer_overhead_vs_lm"] = lm["infer_questions_per_s"] / res["infer_questions_per_s"] - 1
    result = {
        "benchmark": "models",
        "regime": "finetune",
        "backbone": "minilm (all-MiniLM-L6-v2)",
        "device": "cpu",
        "torch_threads": args.threads,
        "settings": {"batch_size": args.batch_size, "choices": 5, "steps": args.steps,
                     "warmup": args.warmup, "max_length": args.max_length,
                     "optimizer": "AdamW (lm 2e-5, head 1e-3)"},
        "graph_stats": {**GRAPH_STATS, "num_concepts": NUM_CONCEPTS, "num_relations": NUM_RELATIONS,
                        "source": "synthetic, sized like retrieval on 150 CSQA dev choices"},
        "target": "overhead_vs_lm <= 0.25 for graph models",
        "models": results,
        "machine": machine_info(),
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()

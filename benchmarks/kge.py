"""Benchmark: link prediction of the entity embeddings (PyKEEN TransE, filtered MRR / Hits@10).

Two evaluations:

* ``cn100k``: the CN-100K protocol (Li et al., ACL 2016): TransE trained on the 100k training
  triples (34 relations), ranked on the 1,200 true triples of ``test.txt`` (filtered by train and
  dev positives; test triples with an entity unseen in training are left out and counted), plus
  triple classification accuracy on the labelled test triples (threshold tuned on dev1 + dev2);
* ``default_graph``: the held-out 1% of the default graph's edges, from the manifest of
  ``kgqa graphs embed default`` (trained there if missing), with the epoch time.

Published CN-100K ranking numbers could not be verified from here, so none are quoted:
``published`` is empty on purpose.

    python benchmarks/kge.py [--epochs 30] [--out benchmarks/results/kge.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--skip-default", action="store_true", help="only CN-100K")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "kge.json")
    args = parser.parse_args()

    import pykeen.version

    from kgqa.kge.evaluate import evaluate_cn100k
    from kgqa.kge.train import KGEConfig, train_embeddings
    from kgqa.paths import data_dir

    config = KGEConfig(model="transe", dim=args.dim, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.lr, holdout=0.0)
    start = time.perf_counter()
    cn100k = evaluate_cn100k(data_dir() / "conceptnet" / "cn100k", config)
    cn100k["seconds"] = round(time.perf_counter() - start, 1)
    cn100k["config"] = {"model": "transe", "dim": args.dim, "epochs": args.epochs,
                        "batch_size": args.batch_size, "learning_rate": args.lr}
    cn100k["published"] = {}
    cn100k["published_note"] = ("Li et al. (2016) report triple-classification accuracy and later work "
                                "(e.g. Malaviya et al., AAAI 2020) filtered MRR/Hits on CN-100K; their "
                                "numbers could not be verified from here, so none are quoted.")
    result = {"benchmark": "kge", "pykeen_version": pykeen.version.get_version(), "cn100k": cn100k}
    if not args.skip_default:
        from kgqa.kg.store import KnowledgeGraph

        kg = KnowledgeGraph.load("default")
        emb = train_embeddings(kg, KGEConfig(), progress=False)
        training = emb.manifest["training"]
        result["default_graph"] = {
            "graph": kg.name, "nodes": kg.num_nodes, "edges": kg.num_edges,
            "config": emb.manifest["config"], "metrics": emb.manifest["metrics"],
            "train_seconds": training["seconds"], "seconds_per_epoch": training["seconds_per_epoch"],
            "losses": training["losses"], "path": str(emb.path)}
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["machine"] = machine_info()
    return emit(result, args.out)


if __name__ == "__main__":
    main()

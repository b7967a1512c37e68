"""Short KGE runs on the default graph: one config per call, held-out MRR beside popularity, split
by whether both entities of a test triple are in a training triple (``seen``) or not (``unseen``).

How the defaults of :class:`kgqa.kge.train.KGEConfig` were chosen (``benchmarks/results/kge_sweep.jsonl``
holds every run: overrides, minutes, epochs, validation MRR per evaluation, test metrics). Same
split, validation and test sample as ``kgqa graphs embed default``; nothing is saved.

    OMP_NUM_THREADS=1 python benchmarks/kge_sweep.py '{"loss": "ce", "negative_power": 0.75, "max_minutes": 4}'
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "kge_sweep.jsonl"


def compact(metrics: dict) -> dict:
    """``{"n", "mrr", "h10", "pop_mrr", "pop_h10"}`` of :func:`kgqa.kge.train.evaluate_fit`'s metrics."""
    pop = metrics["popularity"]
    return {"n": metrics["num_triples"], "mrr": metrics["mrr"], "h10": metrics["hits_at_10"],
            "pop_mrr": pop["mrr"], "pop_h10": pop["hits_at_10"]}


def main() -> dict:
    import torch

    from kgqa.kg.store import KnowledgeGraph
    from kgqa.kge.evaluate import KnownTriples
    from kgqa.kge.train import KGEConfig, evaluate_fit, fit, graph_split, node_name_features, sample_rows

    torch.set_num_threads(1)
    overrides = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    kg = KnowledgeGraph.load("default")
    cfg = replace(KGEConfig(), **overrides)
    triples, train_ids, valid_ids, test_ids = graph_split(kg, cfg)
    known = KnownTriples(triples, num_relations=kg.num_relations)
    train = triples[train_ids]
    test = sample_rows(triples[test_ids], cfg.eval_triples, cfg.seed)
    text = node_name_features(kg, cfg.text_init)[0] if cfg.text_init != "none" else None
    start = time.time()
    fitted = fit(train, kg.num_nodes, kg.num_relations, cfg, known=known, text_features=text,
                 validation=sample_rows(triples[valid_ids], cfg.eval_triples, cfg.seed))
    result = {"config": asdict(cfg), "minutes": round((time.time() - start) / 60, 2),
              "epochs": fitted.training["epochs_run"], "best_epoch": fitted.training.get("best_epoch"),
              "validation": fitted.training.get("validation"), "stop": fitted.training.get("stop_reason")}
    metrics = evaluate_fit(fitted, cfg, train, test, known, num_entities=kg.num_nodes, num_relations=kg.num_relations)
    result["all"] = compact(metrics)
    result.update({name: compact(part) for name, part in metrics["by_endpoints"].items()})
    print(json.dumps(result))
    with open(OUT, "a") as fh:
        fh.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main()

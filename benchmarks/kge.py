"""Benchmark: link prediction of the entity embeddings (filtered MRR / Hits@10 beside the popularity baseline).

Three evaluations, each with the relation-popularity baseline of the same triples (candidate tails
of ``(h, r, ?)`` ranked by how often they are a tail of ``r`` in training, heads likewise):

* ``cn100k``: the CN-100K protocol (Li et al., ACL 2016): trained on the 100k training triples
  (34 relations), early stopping on the dev1 + dev2 positives, ranked on the 1,200 true triples
  of ``test.txt`` (filtered by train, dev and test positives; test triples with an entity unseen
  in training are left out and counted), plus triple classification accuracy (threshold tuned on
  dev1 + dev2); with the default config (TransE, name-initialised) and, as ``cn100k_structure_only``,
  with ``text_init="none"`` (free vectors, graph structure only);
* ``default_graph``: the held-out test half of 1% of the default graph's edges, from the manifest
  of ``kgqa graphs embed default --dim 32`` (the default config at the shipped table's width;
  trained here if missing), with the same metrics on the test triples whose entities are both in
  a training triple and on the others (``by_endpoints``); ``--export DIR`` also writes it compact
  (how ``kgqa/kge/default/transe-32`` is made);
* ``shipped``: the manifest of the compact table shipped in ``kgqa/kge/default/``;
* ``cold_eval``: ``kgqa eval`` of the shipped default model on the first ``--eval-questions`` (40)
  CommonsenseQA dev questions in an empty ``KGQA_HOME`` (a fresh process: it unpacks the default
  graph and embeds only the node names its subgraphs need), wall time and names embedded.

Published CN-100K link prediction for structure-only models (DistMult, ComplEx, ConvE) is roughly
9-21% MRR (Malaviya et al., AAAI 2020); the exact figures could not be checked from here, so none
are quoted as numbers.

    python benchmarks/kge.py [--cn100k-minutes 8] [--default-minutes 15] [--parts cn100k,default,cold_eval] [--merge]

Prints one JSON object (and writes ``benchmarks/results/kge.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402

PUBLISHED_NOTE = ("Structure-only DistMult / ComplEx / ConvE on CN-100K: roughly 9-21% MRR as reported by "
                  "Malaviya et al. (AAAI 2020); exact figures not verified from here, so not quoted.")


def _cn100k(config, minutes: float) -> dict:
    from kgqa.kge.evaluate import evaluate_cn100k
    from kgqa.paths import data_dir
    from kgqa.utils.io import sha256_file

    folder = data_dir() / "conceptnet" / "cn100k"
    config = replace(config, holdout=0.0, max_minutes=minutes)
    start = time.perf_counter()
    out = evaluate_cn100k(folder, config, progress=True)
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["config"] = asdict(config)
    out["data_sha256"] = {name: sha256_file(folder / name) for name in ("train.txt", "dev1.txt", "dev2.txt", "test.txt")}
    return out


def _cold_eval(questions: int) -> dict:
    """``kgqa eval`` of the shipped default model on ``questions`` dev questions, empty KGQA_HOME."""
    import os
    import subprocess
    import tempfile

    import numpy as np

    from kgqa.paths import data_dir

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="kgqa-cold-") as tmp:
        jsonl = Path(tmp) / f"dev{questions}.jsonl"
        lines = (data_dir() / "csqa" / "dev_rand_split.jsonl").read_text().splitlines()[:questions]
        jsonl.write_text("\n".join(lines) + "\n")
        home = Path(tmp) / "home"
        command = [sys.executable, "-c", "from kgqa.cli import app; app()", "eval",
                   str(root / "kgqa" / "explain" / "default_model"), "--split", "dev", "--dataset", str(jsonl), "--json"]
        env = dict(os.environ, KGQA_HOME=str(home), PYTHONPATH=os.pathsep.join(
            p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p))
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"kgqa eval failed:\n{done.stderr[-2000:]}")
        summary = json.loads(done.stdout)
        masks = sorted(home.glob("**/text_embeddings/*.mask.npy")) + sorted(home.glob("cache/node_embeddings/*.mask.npy"))
        embedded = sum(int(np.load(m, allow_pickle=False).sum()) for m in masks)
        total = sum(len(np.load(m, mmap_mode="r", allow_pickle=False)) for m in masks)
    return {"command": f"KGQA_HOME=<empty> kgqa eval kgqa/explain/default_model --split dev --dataset dev{questions}.jsonl --json",
            "questions": questions, "wall_seconds": round(wall, 1), "accuracy": summary.get("accuracy"),
            "node_names_embedded": embedded, "node_names_total": total}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cn100k-minutes", type=float, default=8.0, help="training budget of each CN-100K run")
    parser.add_argument("--default-minutes", type=float, default=15.0, help="training budget on the default graph")
    parser.add_argument("--default-dim", type=int, default=32, help="dimension on the default graph (the shipped table's)")
    parser.add_argument("--export", type=Path, default=None, help="write the default-graph table compact here")
    parser.add_argument("--parts", default="cn100k,structure_only,default",
                        help="comma-separated: cn100k, structure_only (CN-100K with text_init='none'), default, "
                             "cold_eval (not in the default list: run it alone, on a quiet machine)")
    parser.add_argument("--eval-questions", type=int, default=40, help="questions of the cold_eval part")
    parser.add_argument("--merge", action="store_true",
                        help="keep the parts not run from the existing --out file (each part records its machine)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "kge.json")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}

    from kgqa.kge.train import KGEConfig

    config = KGEConfig()
    result: dict = {"benchmark": "kge"}
    if args.merge and args.out.exists():
        result = json.loads(args.out.read_text())
    machine = machine_info()
    if "cn100k" in parts:
        cn100k = _cn100k(config, args.cn100k_minutes)
        link = cn100k["link_prediction"]
        result.update(cn100k_test_mrr=link["mrr"], cn100k_test_hits10=link["hits_at_10"],
                      cn100k_popularity_mrr=link["popularity"]["mrr"],
                      cn100k_popularity_hits10=link["popularity"]["hits_at_10"],
                      cn100k_train_minutes=cn100k["training"]["minutes"],
                      cn100k_name_embedding_minutes=round((cn100k["text_features"] or {}).get("seconds", 0) / 60, 2))
        result["cn100k"] = dict(cn100k, machine=machine)
    if "structure_only" in parts:
        plain = _cn100k(replace(config, text_init="none"), args.cn100k_minutes)
        result.update(cn100k_structure_only_test_mrr=plain["link_prediction"]["mrr"],
                      cn100k_structure_only_test_hits10=plain["link_prediction"]["hits_at_10"],
                      cn100k_structure_only_popularity_mrr=plain["link_prediction"]["popularity"]["mrr"],
                      cn100k_structure_only_train_minutes=plain["training"]["minutes"])
        result["cn100k_structure_only"] = dict(plain, machine=machine)
    if "default" in parts:
        from kgqa.kg.store import KnowledgeGraph
        from kgqa.kge.train import train_embeddings

        kg = KnowledgeGraph.load("default")
        emb = train_embeddings(kg, replace(config, dim=args.default_dim, max_minutes=args.default_minutes), progress=True)
        if args.export is not None:
            from kgqa.kge.train import export_compact

            export_compact(kg, emb, args.export)
        m, training = emb.manifest["metrics"], emb.manifest["training"]
        result.update(default_heldout_mrr=m["mrr"], default_heldout_hits10=m["hits_at_10"],
                      default_popularity_mrr=m["popularity"]["mrr"],
                      default_popularity_hits10=m["popularity"]["hits_at_10"],
                      default_mrr_over_popularity=round(m["mrr"] / m["popularity"]["mrr"], 2),
                      default_dim=args.default_dim, default_train_minutes=training["minutes"],
                      default_name_embedding_minutes=round((emb.manifest.get("text_features") or {}).get("seconds", 0) / 60, 2))
        result["default_graph"] = {"graph": kg.name, "checksum": kg.checksum, "nodes": kg.num_nodes,
                                   "edges": kg.num_edges, "path": str(emb.path),
                                   "entity_sha256": emb.checksum, **{k: emb.manifest[k] for k in (
                                       "config", "metrics", "training", "text_features", "versions")},
                                   "machine": machine}
    if "cold_eval" in parts:
        cold = _cold_eval(args.eval_questions)
        result.update(cold_eval_seconds=cold["wall_seconds"], cold_eval=dict(cold, machine=machine))
    shipped = sorted(Path(__file__).resolve().parents[1].glob("kgqa/kge/default/*/manifest.json"))
    if shipped:
        manifest = json.loads(shipped[0].read_text())
        result["shipped"] = {"path": str(shipped[0].parent.relative_to(Path(__file__).resolve().parents[1])),
                             "dim": manifest["dim"], "metrics": manifest.get("metrics"),
                             "files": manifest.get("files"), "quantization": manifest.get("quantization")}
    result["published_note"] = PUBLISHED_NOTE
    result.setdefault("commands", [])
    result["commands"] = [c for c in result["commands"] if c != "python benchmarks/kge.py " + " ".join(sys.argv[1:])]
    result["commands"].append("python benchmarks/kge.py " + " ".join(sys.argv[1:]))
    result["peak_rss_mb"] = max(round(peak_rss_mb(), 1), result.get("peak_rss_mb", 0))
    result["machine"] = machine
    return emit(result, args.out)


if __name__ == "__main__":
    main()

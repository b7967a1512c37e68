"""Benchmark: throughput of the knowledge-fused encoder (ERNIE) vs the plain backbone (MiniLM).

The same texts (the first N CommonsenseQA training questions) are embedded at the sentence level
on the CPU in batches of 32, by

* the plain backbone: all-MiniLM-L6-v2, all 6 layers (``backbone_texts_per_s``);
* the fused encoder: the same backbone split into 4 T-encoder layers + 2 aggregators with the
  default graph's TransE table (``fused_texts_per_s``); entity alignment given.

Both numbers are the encoder forward only (best of ``--repeats``), on identical token inputs;
``overhead = backbone_texts_per_s / fused_texts_per_s - 1`` (target <= 0.30). Linking (spaCy +
matcher) and tokenisation with alignment are measured separately (``linking_texts_per_s``,
``align_texts_per_s``), and ``fused_end_to_end_texts_per_s`` includes them.

    python benchmarks/embed.py [--texts 512] [--model DIR_OR_NAME] [--out benchmarks/results/embed.json]

Needs the default graph's TransE embeddings (`kgqa graphs embed default`). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402


def _forward_seconds(fn, batches) -> float:
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            fn(batch)
    return time.perf_counter() - start


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", default="minilm", help="backbone name or a pretrained ERNIE directory")
    parser.add_argument("--graph", default="default")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "embed.json")
    args = parser.parse_args()

    import warnings

    import torch

    from kgqa.embedding import Encoder

    warnings.simplefilter("ignore")
    with open(_csqa_path(), encoding="utf-8") as fh:
        texts = [json.loads(line)["question"]["stem"] for line in fh][:args.texts]
    encoder = Encoder(args.model, args.graph, batch_size=args.batch_size, max_length=128)
    start = time.perf_counter()
    fused = encoder.fused
    lm = encoder.lm
    linker = encoder.linker
    load_seconds = time.perf_counter() - start

    start = time.perf_counter()
    links = linker.link_batch(texts)
    link_seconds = time.perf_counter() - start
    builder = encoder.input_builder(fused.backbone.tokenizer)
    start = time.perf_counter()
    batches = [builder.encode(texts[i:i + args.batch_size], links=links[i:i + args.batch_size])
               for i in range(0, len(texts), args.batch_size)]
    align_seconds = time.perf_counter() - start

    def run_fused(b):
        return fused(b["input_ids"], b["attention_mask"], b.get("token_type_ids"), b["entity_ids"]).hidden_states

    def run_backbone(b):
        return lm(b["input_ids"], b["attention_mask"], b.get("token_type_ids")).hidden_states

    fused_times, backbone_times = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        backbone_times.append(_forward_seconds(run_backbone, batches))
        fused_times.append(_forward_seconds(run_fused, batches))
    fused_s, backbone_s = min(fused_times), min(backbone_times)
    n = len(texts)
    aligned = sum(int((b["entity_ids"] >= 0).sum()) for b in batches)
    no_entity = sum(int((~(b["entity_ids"] >= 0).any(dim=1)).sum()) for b in batches)
    result = {
        "benchmark": "embed",
        "texts": n, "batch_size": args.batch_size, "model": args.model, "graph": args.graph,
        "backbone_layers": lm.num_layers, "t_encoder_layers": fused.backbone.num_layers,
        "aggregators": len(fused.aggregators), "entity_table": list(fused.entity_table.shape),
        "fused_texts_per_s": round(n / fused_s, 1),
        "backbone_texts_per_s": round(n / backbone_s, 1),
        "overhead": round(backbone_s and fused_s / backbone_s - 1, 3),
        "overhead_target": 0.30,
        "linking_texts_per_s": round(n / link_seconds, 1),
        "align_texts_per_s": round(n / align_seconds, 1),
        "fused_end_to_end_texts_per_s": round(n / (fused_s + link_seconds + align_seconds), 1),
        "aligned_entities_per_text": round(aligned / n, 2),
        "texts_without_entity": no_entity,
        "fused_seconds_runs": [round(t, 2) for t in fused_times],
        "backbone_seconds_runs": [round(t, 2) for t in backbone_times],
        "load_seconds": round(load_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": machine_info(),
    }
    return emit(result, args.out)


def _csqa_path() -> Path:
    from kgqa.paths import data_dir

    return data_dir() / "csqa" / "train_rand_split.jsonl"


if __name__ == "__main__":
    main()

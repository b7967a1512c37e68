"""The numbers of experiments/embed_example.md: KGE neighbours of "dig a hole" and the running
example's question-choice similarities, fused vs LM-only vs graph-only.

    python experiments/embed_example.py [--model DIR]   # DIR: a `kgqa pretrain` output

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

QUESTION = "A man dug the ground to plant flowers. What tool did he use?"
CHOICES = ["shovel", "hammer", "saw", "drill", "ladder"]


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="pretrained ERNIE directory (default KGQA_HOME/pretrained/ernie-csqa-minilm)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from kgqa.embedding import Encoder
    from kgqa.paths import kgqa_home

    model = args.model or str(kgqa_home() / "pretrained" / "ernie-csqa-minilm")
    encoder = Encoder(model, "default")
    untrained = Encoder("minilm", "default")
    texts = [QUESTION, *CHOICES]
    out = {"model": model, "nearest_concepts": {}}
    for query in ("dig a hole", "shovel"):
        out["nearest_concepts"][query] = {"linked": encoder.linker.link(query).nodes,
                                          "neighbours": encoder.nearest_concepts(query, k=10)}
    sims = {}
    for name, enc, kind in (("fused (dEA-pretrained)", encoder, "fused"), ("fused (untrained fusion)", untrained, "fused"),
                            ("lm (MiniLM)", encoder, "lm"), ("graph (TransE)", encoder, "graph")):
        emb = enc.encode(texts, kind=kind)
        v = emb.vectors
        sims[name] = {c: round(float(v[0] @ v[i + 1]), 4) for i, c in enumerate(CHOICES)}
        sims[name]["_entities"] = emb.entities
    out["question_choice_cosine"] = sims
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

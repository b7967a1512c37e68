"""Benchmark: does a trained KagNet read its paths? Its accuracy with the path vectors shuffled.

For a KagNet checkpoint, the split is scored twice with :func:`kgqa.training.runner.evaluate_checkpoint`:
as trained, and with the graph vector :math:`\\mathbf{g}` of every statement (the output of
:class:`kgqa.nn.PathEncoder`) replaced by that of another statement of the same evaluation batch,
drawn by a seeded permutation. The LM part and everything else are untouched, so the fall in
accuracy is what the model takes from *its own* paths rather than from a path vector of the
right scale. A fall near zero means the scorer ignores the paths.

    python benchmarks/path_shuffle.py CKPT [CKPT ...] [--split ih_dev] [--seed 0]
                                      [--out benchmarks/results/path_shuffle.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import emit, machine_info  # noqa: E402


def score(checkpoint: str, split: str, shuffle_seed: int | None) -> float:
    """Accuracy on ``split``; with ``shuffle_seed``, the path vectors permuted within each batch."""
    import torch

    from kgqa.nn import path_encoder
    from kgqa.training.runner import evaluate_checkpoint

    original = path_encoder.PathEncoder.forward
    if shuffle_seed is not None:
        gen = torch.Generator().manual_seed(shuffle_seed)

        def shuffled(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            out.graph_vectors = out.graph_vectors[torch.randperm(out.graph_vectors.shape[0], generator=gen)]
            return out

        path_encoder.PathEncoder.forward = shuffled
    try:
        return float(evaluate_checkpoint(checkpoint, split=split, progress=False)["accuracy"])
    finally:
        path_encoder.PathEncoder.forward = original


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--split", default="ih_dev")
    parser.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch

    from kgqa.training.checkpoint import Checkpoint

    torch.set_num_threads(1)
    started = time.time()
    rows = []
    for ckpt in args.checkpoints:
        model_name = Checkpoint.load(ckpt).model_name  # [E031] for a missing or damaged one
        if model_name != "kagnet":
            raise SystemExit(f"{ckpt}: a {model_name!r} checkpoint, not a KagNet one")
        as_trained, shuffled = score(ckpt, args.split, None), score(ckpt, args.split, args.seed)
        rows.append({"checkpoint": ckpt, "accuracy": round(100 * as_trained, 2),
                     "paths_shuffled": round(100 * shuffled, 2),
                     "fall": round(100 * (as_trained - shuffled), 2)})
        print(rows[-1], file=sys.stderr, flush=True)
    result = {"benchmark": "path_shuffle", "split": args.split, "permutation_seed": args.seed,
              "runs": rows, "seconds": round(time.time() - started, 1), "machine": machine_info()}
    return emit(result, args.out)


if __name__ == "__main__":
    main()

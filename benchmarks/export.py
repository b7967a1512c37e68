"""Benchmark: how faithfully each storage of ``kgqa export`` keeps a trained model.

For one checkpoint (default: the run the shipped default model was exported from), each storage
is exported to a temporary folder and scored on the splits with ``kgqa eval``'s code path
(:func:`kgqa.training.runner.evaluate_checkpoint`):

* ``float32``: the checkpoint as trained (the reference);
* ``float16``: every floating tensor in half precision;
* ``int8``: weight matrices int8 with a float32 scale per row (``--dtype int8 --no-delta``);
* ``int8_delta``: as ``int8``, but the pretrained backbone's matrices stored as int8 differences
  from the packaged weights (``--dtype int8``, the default since this benchmark).

Per storage: file size, accuracy and loss per split, and how many predictions equal the float32
ones. Evaluation runs under the checkpoint's mixed precision (bf16 autocast on CPUs with
AVX512-BF16), whose rounding alone flips near-tied questions, so ``float16`` shows the floor of
what any rounding of the weights changes. The storage of the default model is chosen on the IHdev
agreement (``ih_dev``); IHtest is reported, never used to choose.

    python benchmarks/export.py [--checkpoint DIR] [--splits ih_dev ih_test]
                                [--out benchmarks/results/export.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _machine import machine_info  # noqa: E402

STORAGES = {"float32": None, "float16": ("float16", False), "int8": ("int8", False),
            "int8_delta": ("int8", True)}


def main(argv: list[str] | None = None) -> dict:
    from kgqa.explain.loading import default_model_dir
    from kgqa.training.checkpoint import WEIGHTS_FILE, Checkpoint, export_checkpoint
    from kgqa.training.regimes import pretrained_weights
    from kgqa.training.runner import evaluate_checkpoint
    from kgqa.utils.io import atomic_write_json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a float32 checkpoint (default: the default model's source run)")
    parser.add_argument("--splits", nargs="+", default=["ih_dev", "ih_test"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    source = args.checkpoint or Path(Checkpoint.load(default_model_dir()).meta["export"]["from"])
    ckpt = Checkpoint.load(source)
    base, base_source = pretrained_weights(ckpt.meta) or (None, "")
    result: dict = {"benchmark": "export", "checkpoint": str(source),
                    "experiment": ckpt.experiment.get("name"), "seed": ckpt.meta.get("seed"),
                    "weights_sha256": ckpt.meta.get("files", {}).get(WEIGHTS_FILE, {}).get("sha256"),
                    "base": base_source, "storages": {}}
    reference: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in STORAGES.items():
            folder = Path(source)
            if spec is not None:
                dtype, delta = spec
                folder = export_checkpoint(source, Path(tmp) / name, dtype=dtype, base=base,
                                           base_source=base_source, delta=delta)
            row = {"bytes": (folder / WEIGHTS_FILE).stat().st_size, "splits": {}}
            for split in args.splits:
                start = time.perf_counter()
                scored = evaluate_checkpoint(folder, split=split)
                predictions = scored["predictions"]
                reference.setdefault(split, predictions)
                same = sum(predictions[k] == v for k, v in reference[split].items())
                row["splits"][split] = {"accuracy": round(100 * scored["accuracy"], 2),
                                        "loss": round(scored["loss"], 4),
                                        "same_predictions_as_float32": same,
                                        "questions": scored["num_questions"],
                                        "seconds": round(time.perf_counter() - start, 1)}
            result["storages"][name] = row
            print(name, json.dumps(row), file=sys.stderr, flush=True)
    result["machine"] = machine_info()
    if args.out:
        atomic_write_json(args.out, result)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()

"""Frozen-regime LM states: every (question, choice) pair encoded once and cached on disk.

In the ``frozen`` regime the backbone is not trained, so its pooled state for each
"question [SEP] choice" pair never changes: it is computed once per (backbone, max_length,
pooling, dataset split) and stored as ``(N, C, H)`` float32 in safetensors. Graph models then
train on these states in minutes on a CPU.

The cache key is the sha256 of everything the states depend on: the backbone name and the sha256
of its weights file, ``max_length``, the pooling, and the split's content checksum
(:attr:`QADataset.checksum`, the sha256 of its questions in order — equal for the same questions
whether they came from the jsonl file or the hub). A different backbone, tokenisation or data
gives a different key, so a stale cache is never read. Each entry is a directory, written
atomically, with a ``manifest.json`` (the key's inputs, question ids, shape, time taken)::

    KGQA_HOME/features/<backbone>/<split>-<key[:16]>/{states.safetensors, manifest.json}
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.backbones.backbone import Backbone
    from kgqa.data.records import QADataset

Pooling = Literal["first", "mean"]
FORMAT_VERSION = 1
STATES_FILE = "states.safetensors"
MANIFEST_FILE = "manifest.json"
_FINGERPRINTS: dict[tuple, str] = {}


@dataclass
class FrozenStates:
    """Cached pooled states of one split.

    Attributes:
        states: ``(N, C, H)`` float32, row ``i`` = question ``i`` of the split, column ``c`` = its
            choice ``c``.
        ids: the ``N`` question ids, in order.
        path: the cache entry directory.
        hit: whether the states were read from the cache (``False``: computed now).
        seconds: time to compute (from the manifest on a hit).
        pairs_per_second: encoding rate when computed.
    """

    states: torch.Tensor
    ids: list[str]
    path: Path
    hit: bool
    seconds: float
    pairs_per_second: float


def features_home() -> Path:
    from kgqa.paths import kgqa_home

    return kgqa_home() / "features"


def backbone_fingerprint(name: str) -> str:
    """sha256 of a local backbone's weights file (package or directory), else the hub name."""
    from kgqa.backbones.names import WEIGHT_FILES, resolve_backbone_name

    try:
        resolved = resolve_backbone_name(name)
    except KGQAError:
        return f"name:{name}"
    if resolved.kind == "hub":
        return f"hub:{resolved.path}"
    folder = Path(resolved.path)
    for weights in WEIGHT_FILES:
        file = folder / weights
        if file.is_file():
            stat = file.stat()
            memo = (str(file), stat.st_size, stat.st_mtime_ns)
            if memo not in _FINGERPRINTS:
                from kgqa.utils.io import sha256_file

                _FINGERPRINTS[memo] = sha256_file(file)
            return f"sha256:{_FINGERPRINTS[memo]}"
    return f"dir:{folder}"


def cache_key(*, backbone: str, fingerprint: str, max_length: int, pooling: str,
              dataset_checksum: str) -> str:
    """sha256 over the inputs the states depend on."""
    payload = json.dumps({"format": FORMAT_VERSION, "backbone": backbone, "weights": fingerprint,
                          "max_length": int(max_length), "pooling": pooling,
                          "dataset": dataset_checksum}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text).strip("_")[:60] or "x"


@torch.no_grad()
def encode_pairs(backbone: Backbone, dataset: QADataset, *, max_length: int,
                 pooling: Pooling = "first", batch_size: int = 128,
                 progress: bool | None = None) -> torch.Tensor:
    """Pooled backbone states of every (question, choice) pair of ``dataset``.

    Pairs are encoded in batches of ``batch_size`` questions sorted by length (less padding),
    then put back in dataset order.

    Args:
        backbone: the encoder (put in eval mode; no gradients).
        dataset: the split.
        max_length: longest pair in tokens.
        pooling: ``"first"`` (the first token's last hidden state, as the models' backbone
            pooling) or ``"mean"`` (mean over non-padding tokens, as sentence encoders).
        batch_size: questions per forward pass (``batch_size * C`` sequences).

    Returns:
        ``(N, C, H)`` float32 on the CPU.
    """
    from kgqa.utils.progress import progress_bar

    examples = list(dataset)
    if not examples:
        raise KGQAError(Errors.E033.format(problem=f"split '{dataset.split}' has no questions"))
    num_choices = examples[0].num_choices
    was_training = backbone.training
    backbone.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].question)
                   + max(len(c) for c in examples[i].choices))
    out = torch.empty(len(examples), num_choices, backbone.hidden_size)
    device = backbone.device
    with progress_bar(disable=progress if progress is None else not progress) as bar:
        task = bar.add_task(f"encoding {dataset.split} pairs", total=len(examples) * num_choices)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            enc = backbone.encode_choices([examples[i].question for i in rows],
                                          [list(examples[i].choices) for i in rows],
                                          max_length=max_length)
            enc = {k: v.to(device) for k, v in enc.items()}
            result = backbone(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
            if pooling == "mean":
                mask = enc["attention_mask"].unsqueeze(-1).to(result.hidden_states.dtype)
                pooled = (result.hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1)
            else:
                pooled = result.pooled
            out[rows] = pooled.float().cpu().view(len(rows), num_choices, -1)
            bar.advance(task, len(rows) * num_choices)
    backbone.train(was_training)
    return out


def load_or_compute_states(backbone: str | Backbone, dataset: QADataset, *, max_length: int,
                           pooling: Pooling = "first", batch_size: int = 128,
                           cache_dir: str | Path | None = None, device: str | None = None,
                           progress: bool | None = None) -> FrozenStates:
    """The cached pooled states of ``dataset``, computing and caching them on a miss.

    Args:
        backbone: a backbone name (loaded only on a cache miss) or a loaded :class:`Backbone`.
        dataset: the split (its :attr:`~QADataset.checksum` is part of the key).
        max_length, pooling, batch_size: see :func:`encode_pairs`.
        cache_dir: root of the cache (default ``KGQA_HOME/features``).
        device: where to run the backbone on a miss (default: CUDA if available, else CPU).

    Raises:
        KGQAError: ``[E034]`` for a damaged entry (the ids or shape do not match the split).
    """
    from kgqa.utils.io import atomic_directory, atomic_write_json

    name = backbone if isinstance(backbone, str) else backbone.name
    fingerprint = backbone_fingerprint(name)
    checksum = dataset.checksum or _content_checksum(dataset)
    key = cache_key(backbone=name, fingerprint=fingerprint, max_length=max_length,
                    pooling=pooling, dataset_checksum=checksum)
    root = Path(cache_dir) if cache_dir is not None else features_home()
    entry = root / _slug(name) / f"{_slug(dataset.split)}-{key[:16]}"
    ids = [ex.id for ex in dataset]
    if (entry / MANIFEST_FILE).is_file() and (entry / STATES_FILE).is_file():
        return _read_entry(entry, key, ids)

    loaded = backbone
    if isinstance(backbone, str):
        from kgqa.backbones.backbone import Backbone

        loaded = Backbone.from_pretrained(backbone, freeze="all")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    original_device = loaded.device
    loaded.to(device)
    start = time.perf_counter()
    states = encode_pairs(loaded, dataset, max_length=max_length, pooling=pooling,
                          batch_size=batch_size, progress=progress)
    seconds = time.perf_counter() - start
    loaded.to(original_device)
    pairs = states.shape[0] * states.shape[1]
    manifest = {"format": FORMAT_VERSION, "key": key, "backbone": name, "weights": fingerprint,
                "max_length": max_length, "pooling": pooling, "dataset": dataset.name,
                "split": dataset.split, "dataset_checksum": checksum,
                "sources": list(dataset.sources), "shape": list(states.shape), "ids": ids,
                "seconds": round(seconds, 3), "pairs_per_second": round(pairs / seconds, 2),
                "device": str(device), "torch_threads": torch.get_num_threads()}
    from safetensors.torch import save_file

    with atomic_directory(entry) as tmp:
        save_file({"states": states.contiguous()}, str(tmp / STATES_FILE))
        atomic_write_json(tmp / MANIFEST_FILE, manifest)
    return FrozenStates(states=states, ids=ids, path=entry, hit=False, seconds=seconds,
                        pairs_per_second=pairs / seconds)


def _read_entry(entry: Path, key: str, ids: list[str]) -> FrozenStates:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text())
        states = load_file(str(entry / STATES_FILE))["states"]
    except (json.JSONDecodeError, KeyError, OSError, SafetensorError) as exc:
        raise KGQAError(Errors.E034.format(path=entry, problem=f"unreadable ({exc})")) from None
    if manifest.get("key") != key:
        raise KGQAError(Errors.E034.format(path=entry, problem="its manifest key differs"))
    if manifest.get("ids") != ids or states.shape[0] != len(ids):
        raise KGQAError(Errors.E034.format(path=entry, problem=(
            f"it holds {states.shape[0]} questions that do not match the split's {len(ids)}")))
    return FrozenStates(states=states, ids=ids, path=entry, hit=True,
                        seconds=float(manifest.get("seconds", 0.0)),
                        pairs_per_second=float(manifest.get("pairs_per_second", 0.0)))


def _content_checksum(dataset) -> str:
    from kgqa.data.jsonl import examples_checksum

    return examples_checksum(dataset)

"""Partial-freezing cache: the token states below the trained top layers, computed once.

In the ``partial`` regime only the top ``N`` layers of the backbone train, so the states that
enter layer ``L - N`` for every (question, choice) pair never change. They are computed once per
(backbone, ``L - N``, ``max_length``, dtype, split) and stored ragged (no padding) in a
memory-mapped ``.npy``: ``tokens`` ``(T, H)`` float16 (or float32) with ``offsets`` ``(P + 1,)``,
where pair ``p = i * C + c`` (question ``i``, choice ``c``) owns rows
``offsets[p]:offsets[p + 1]``. Batches gather their rows and pad them
(:meth:`LowerStates.batch`). The key covers everything the states depend on, like the frozen
cache (:mod:`kgqa.training.features`); entries are written atomically with a manifest that
records the sha256 of ``offsets.npy`` and the size of ``tokens.npy`` (checked at every load, a
damaged entry is recomputed with a warning) and the sha256 of ``tokens.npy`` (checked by
``verify=True``: hashing gigabytes at every load would cost more than it protects)::

    KGQA_HOME/features/<backbone>/lower<k>-<split>-<key[:16]>/{tokens.npy, offsets.npy, manifest.json}
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from kgqa.errors import Errors, KGQAError, Warnings, warn

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.backbones.backbone import Backbone
    from kgqa.data.records import QADataset

FORMAT_VERSION = 1
TOKENS_FILE, OFFSETS_FILE, MANIFEST_FILE = "tokens.npy", "offsets.npy", "manifest.json"
DTYPES = {"float16": np.float16, "float32": np.float32}


@dataclass
class LowerStates:
    """The cached lower-layer token states of one split.

    Attributes:
        tokens: ``(T, H)`` memory-mapped token states.
        offsets: ``(N * C + 1,)`` row offsets of each pair.
        num_choices: ``C``.
        ids: question ids, in order.
        path: the cache entry.
        hit: read from the cache (``False``: computed now).
        seconds: time to compute (from the manifest on a hit).
    """

    tokens: np.ndarray
    offsets: np.ndarray
    num_choices: int
    ids: list[str]
    path: Path
    hit: bool
    seconds: float

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded states ``(B, C, L, H)`` float32 and ``attention_mask`` ``(B, C, L)`` of the
        questions at ``indices`` (``L`` = the longest pair among them)."""
        pairs = [i * self.num_choices + c for i in indices for c in range(self.num_choices)]
        starts, ends = self.offsets[pairs], self.offsets[np.asarray(pairs) + 1]
        length = int((ends - starts).max())
        states = torch.zeros(len(pairs), length, self.tokens.shape[1])
        mask = torch.zeros(len(pairs), length, dtype=torch.long)
        for row, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
            states[row, :end - start] = torch.from_numpy(np.array(self.tokens[start:end], dtype=np.float32))
            mask[row, :end - start] = 1
        shape = (len(indices), self.num_choices)
        return states.view(*shape, length, -1), mask.view(*shape, length)


def cache_key(*, backbone: str, fingerprint: str, num_lower: int, max_length: int, dtype: str,
              dataset_checksum: str, autocast: bool = False) -> str:
    payload = json.dumps({"format": FORMAT_VERSION, "backbone": backbone, "weights": fingerprint,
                          "num_lower": int(num_lower), "max_length": int(max_length),
                          "dtype": dtype, "dataset": dataset_checksum, "autocast": bool(autocast)},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@torch.no_grad()
def load_or_compute_lower_states(backbone: Backbone, dataset: QADataset, *, num_lower: int,
                                 max_length: int, dtype: str = "float16", batch_size: int = 64,
                                 cache_dir: str | Path | None = None, verify: bool = False,
                                 autocast: bool | None = None, progress: bool | None = None
                                 ) -> LowerStates:
    """The cached states entering layer ``num_lower`` for every pair of ``dataset``.

    Args:
        backbone: the loaded backbone (its lower layers run on a miss, in eval mode).
        dataset: the split.
        num_lower: layers below the trained ones (``0``: the embeddings' output).
        max_length: longest pair in tokens.
        dtype: ``"float16"`` (half the disk and memory; the default) or ``"float32"`` (exact).
        batch_size: questions per forward pass on a miss.
        cache_dir: root of the cache (default ``KGQA_HOME/features``).
        verify: also check the sha256 of the token states (reads every byte).
        autocast: compute under bf16 autocast (~1.8x faster on CPUs with AVX512-BF16; the
            states are stored in ``dtype`` either way). Default: for ``float16`` on a CPU (or
            GPU) that supports bf16; ``float32`` entries are computed exactly.

    Raises:
        KGQAError: ``[E190]`` for an unknown dtype.
    """
    from kgqa.backbones.split import LowerLayers
    from kgqa.training.features import _content_checksum, _slug, backbone_fingerprint, features_home
    from kgqa.utils.io import atomic_directory, atomic_write_json, sha256_file
    from kgqa.utils.progress import progress_bar

    if dtype not in DTYPES:
        raise KGQAError(Errors.E190.format(problem=f"dtype '{dtype}': use one of {', '.join(DTYPES)}"))
    device = backbone.device
    if autocast is None:
        from kgqa.utils.precision import resolve_mixed_precision

        autocast = dtype == "float16" and resolve_mixed_precision("auto") == "bf16"
    fingerprint = backbone_fingerprint(backbone.name)
    checksum = dataset.checksum or _content_checksum(dataset)
    key = cache_key(backbone=backbone.name, fingerprint=fingerprint, num_lower=num_lower,
                    max_length=max_length, dtype=dtype, dataset_checksum=checksum, autocast=autocast)
    root = Path(cache_dir) if cache_dir is not None else features_home()
    entry = root / _slug(backbone.name) / f"lower{num_lower}-{_slug(dataset.split)}-{key[:16]}"
    examples = list(dataset)
    ids = [ex.id for ex in examples]
    if (entry / MANIFEST_FILE).is_file():
        try:
            return _read_entry(entry, key, ids, verify=verify)
        except _Damaged as exc:
            warn(Warnings.W191.format(path=entry, problem=str(exc)))

    num_choices = examples[0].num_choices
    lower = LowerLayers(backbone, num_lower).eval()
    start = time.perf_counter()
    # tokenise everything first: the lengths give the file's size before any state is computed
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].question)
                   + max(len(c) for c in examples[i].choices))
    lengths = np.zeros(len(examples) * num_choices, dtype=np.int64)
    encodings = []
    for first in range(0, len(order), batch_size):
        rows = order[first:first + batch_size]
        enc = backbone.encode_choices([examples[i].question for i in rows],
                                      [list(examples[i].choices) for i in rows], max_length=max_length)
        pair_rows = np.asarray([i * num_choices + c for i in rows for c in range(num_choices)])
        lengths[pair_rows] = enc["attention_mask"].sum(1).numpy()
        encodings.append((pair_rows, enc))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    with atomic_directory(entry) as tmp, progress_bar(
            disable=progress if progress is None else not progress) as bar:
        task = bar.add_task(f"lower {num_lower} layers, {dataset.split}", total=len(lengths))
        tokens = np.lib.format.open_memmap(tmp / TOKENS_FILE, mode="w+", dtype=DTYPES[dtype],
                                           shape=(int(offsets[-1]), backbone.hidden_size))
        for pair_rows, enc in encodings:
            enc = {k: v.to(device) for k, v in enc.items()}
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                states = lower(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
            states = states.float().cpu().numpy()
            for row, pair in enumerate(pair_rows.tolist()):
                tokens[offsets[pair]:offsets[pair + 1]] = states[row, :lengths[pair]]
            bar.advance(task, len(pair_rows))
        tokens.flush()
        del tokens
        np.save(tmp / OFFSETS_FILE, offsets)
        seconds = time.perf_counter() - start
        atomic_write_json(tmp / MANIFEST_FILE, {
            "format": FORMAT_VERSION, "key": key, "backbone": backbone.name, "weights": fingerprint,
            "num_lower": num_lower, "max_length": max_length, "dtype": dtype, "autocast": autocast,
            "dataset": dataset.name, "split": dataset.split, "dataset_checksum": checksum,
            "num_choices": num_choices, "ids": ids, "num_tokens": int(offsets[-1]),
            "tokens_bytes": (tmp / TOKENS_FILE).stat().st_size,
            "tokens_sha256": sha256_file(tmp / TOKENS_FILE),
            "offsets_sha256": sha256_file(tmp / OFFSETS_FILE), "seconds": round(seconds, 2),
            "pairs_per_second": round(len(lengths) / max(seconds, 1e-9), 1)})
    return _read_entry(entry, key, ids, verify=False, hit=False)


class _Damaged(Exception):
    pass


def _read_entry(entry: Path, key: str, ids: list[str], *, verify: bool, hit: bool = True) -> LowerStates:
    from kgqa.utils.io import sha256_file

    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text())
        if manifest.get("key") != key or manifest.get("ids") != ids:
            raise _Damaged("its manifest does not match the split")
        if manifest.get("offsets_sha256") != sha256_file(entry / OFFSETS_FILE):
            raise _Damaged(f"{OFFSETS_FILE} does not match its recorded sha256")
        if (entry / TOKENS_FILE).stat().st_size != manifest.get("tokens_bytes"):
            raise _Damaged(f"{TOKENS_FILE} does not have its recorded size")
        if verify and manifest.get("tokens_sha256") != sha256_file(entry / TOKENS_FILE):
            raise _Damaged(f"{TOKENS_FILE} does not match its recorded sha256")
        offsets = np.load(entry / OFFSETS_FILE, allow_pickle=False)
        tokens = np.load(entry / TOKENS_FILE, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, AttributeError) as exc:
        raise _Damaged(f"unreadable ({type(exc).__name__}: {exc})") from None
    num_choices = int(manifest["num_choices"])
    if offsets.shape != (len(ids) * num_choices + 1,) or int(offsets[-1]) != tokens.shape[0]:
        raise _Damaged("its offsets do not match its token states")
    return LowerStates(tokens=tokens, offsets=offsets, num_choices=num_choices, ids=ids, path=entry,
                       hit=hit, seconds=float(manifest.get("seconds", 0.0)))

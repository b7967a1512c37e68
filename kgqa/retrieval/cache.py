"""The retrieval cache: one directory per (dataset split, graph, settings), written shard by shard.

Layout of ``KGQA_HOME/cache/retrieval/<dataset>-<split>-<graph>-<key16>/``::

    shard-00000.safetensors   the arrays of questions [0, 500) (kgqa.retrieval.retriever), no pickle
    shard-00000.json          sha256 and size of that file, written after it (the "done" mark)
    ...
    manifest.json             inputs (dataset files' sha256, graph checksum, settings), shards
                              with their sha256, statistics; written last

The key is the sha256 of the dataset's content and files, the graph checksum and the settings'
fingerprint (which includes the path scorer), so any change gives a new directory, the way
PyG's ``Dataset`` compares its ``pre_transform`` repr but as a name, not a warning. Every file
is written atomically; a run that dies keeps its finished shards and the next run computes only
the missing ones. A shard whose bytes do not match its recorded sha256, or that belongs to
another key, is reported (``W061``) and rebuilt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.utils.io import atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.retrieval.data import ChoiceGraph

MANIFEST = "manifest.json"


def cache_root() -> Path:
    """``KGQA_HOME/cache/retrieval``."""
    from kgqa.paths import kgqa_home

    return kgqa_home() / "cache" / "retrieval"


def cache_dir_name(dataset: str, split: str, graph: str, key: str) -> str:
    slug = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", part) for part in (dataset, split, graph))
    return f"{slug}-{key[:16]}"


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def write_shard(directory: Path, index: int, arrays: dict[str, np.ndarray], metadata: dict) -> dict:
    """Write one shard and its ``.json`` mark atomically; returns the mark."""
    from safetensors.numpy import save

    blob = save({k: np.ascontiguousarray(v) for k, v in arrays.items()},
                metadata={"kgqa": json.dumps(metadata, sort_keys=True)})
    path = Path(directory) / shard_name(index)
    atomic_write_bytes(path, blob)
    mark = {"file": path.name, "sha256": sha256_bytes(blob), "bytes": len(blob), **metadata}
    atomic_write_json(path.with_suffix(".json"), mark)
    return mark


def read_shard(path: Path, names: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, metadata)`` of a shard file (only the arrays ``names`` when given)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        metadata = json.loads((fh.metadata() or {}).get("kgqa", "{}"))
        arrays = {key: fh.get_tensor(key) for key in (names if names is not None else fh.keys())}
    return arrays, metadata


def check_shard(directory: Path, index: int, key: str) -> tuple[dict | None, str | None]:
    """``(mark, None)`` when shard ``index`` is complete and intact, else ``(None, problem)``.

    ``problem`` is ``None`` when the shard simply does not exist yet.
    """
    path = Path(directory) / shard_name(index)
    mark_path = path.with_suffix(".json")
    if not path.exists() or not mark_path.exists():
        return None, None
    try:
        mark = json.loads(mark_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return None, f"unreadable mark ({exc})"
    if mark.get("key") != key:
        return None, "it belongs to another cache key"
    if path.stat().st_size != mark.get("bytes") or sha256_file(path) != mark.get("sha256"):
        return None, "its sha256 differs from the recorded one"
    return mark, None


@dataclass
class CacheShard:
    """One loaded shard: its question range and arrays."""

    start: int
    stop: int
    arrays: dict[str, np.ndarray]


class RetrievalCache:
    """A finished retrieval cache directory (see the module docstring).

    Example::

        >>> cache = RetrievalCache(path)
        >>> graphs = cache.graphs(paths=True)      # graphs[i] = the C ChoiceGraphs of question i
        >>> from torch_geometric.loader import DataLoader
        >>> loader = DataLoader([g for q in graphs for g in q], batch_size=50)
    """

    def __init__(self, path: str | Path, *, verify: bool = False):
        self.path = Path(path)
        try:
            self.manifest = json.loads((self.path / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise KGQAError(Errors.E061.format(path=self.path, problem=f"no readable manifest.json ({exc})")) from exc
        self._shards: dict[int, CacheShard] = {}
        if verify:
            self.verify()

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def stats(self) -> dict:
        return self.manifest.get("stats", {})

    @property
    def question_ids(self) -> list[str]:
        return [qid for shard in self.manifest["shards"] for qid in shard["question_ids"]]

    @property
    def num_relations(self) -> int:
        return int(self.manifest["graph"]["num_relations"])

    def __len__(self) -> int:
        return int(self.manifest["num_questions"])

    def verify(self) -> None:
        """Check every shard's sha256 against the manifest (``E061`` on a mismatch)."""
        for i, shard in enumerate(self.manifest["shards"]):
            path = self.path / shard["file"]
            if not path.exists() or sha256_file(path) != shard["sha256"]:
                raise KGQAError(Errors.E061.format(path=self.path, problem=f"{shard['file']} is missing or damaged"))

    def shard(self, index: int) -> CacheShard:
        """Shard ``index`` (read on first use, then kept)."""
        if index not in self._shards:
            entry = self.manifest["shards"][index]
            arrays, _ = read_shard(self.path / entry["file"])
            self._shards[index] = CacheShard(entry["start"], entry["stop"], arrays)
        return self._shards[index]

    def _locate(self, question: int) -> tuple[int, int]:
        if not 0 <= question < len(self):
            raise IndexError(f"question {question} out of range for {len(self)} questions")
        size = int(self.manifest["shard_size"])
        shard = question // size
        return shard, question - shard * size

    def question_graphs(self, question: int, *, paths: bool = True, add_inverse: bool = True,
                        context_node: bool = True) -> list["ChoiceGraph"]:
        """The ``C`` :class:`~kgqa.retrieval.data.ChoiceGraph` s of question ``question``."""
        from kgqa.retrieval.retriever import choice_graphs

        shard_index, local = self._locate(question)
        arrays = self.shard(shard_index).arrays
        lo, hi = int(arrays["choice_ptr"][local]), int(arrays["choice_ptr"][local + 1])
        return choice_graphs(arrays, self.num_relations, paths=paths, add_inverse=add_inverse,
                             context_node=context_node, choices=range(lo, hi))

    def graphs(self, *, paths: bool = True, add_inverse: bool = True, context_node: bool = True) -> "SplitGraphs":
        """A sequence over questions: ``graphs[i]`` is the list of question ``i``'s choice graphs."""
        return SplitGraphs(self, paths=paths, add_inverse=add_inverse, context_node=context_node)

    def arrays(self, names: Sequence[str] | None = None) -> dict[str, list[np.ndarray]]:
        """Per-shard arrays (``{name: [shard 0's array, ...]}``), e.g. for statistics."""
        out: dict[str, list[np.ndarray]] = {}
        for i in range(len(self.manifest["shards"])):
            arrays = self.shard(i).arrays
            for name in names or arrays:
                out.setdefault(name, []).append(arrays[name])
        return out

    def __repr__(self) -> str:
        return f"RetrievalCache({self.path.name!r}, questions={len(self)})"


class SplitGraphs:
    """Lazy per-question view of a cache: ``len()`` questions, ``[i]`` -> list of choice graphs."""

    def __init__(self, cache: RetrievalCache, **options):
        self.cache = cache
        self.options = options

    def __len__(self) -> int:
        return len(self.cache)

    def __getitem__(self, index: int) -> list["ChoiceGraph"]:
        if index < 0:
            index += len(self)
        return self.cache.question_graphs(index, **self.options)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def warn_rebuild(path: Path, problem: str) -> None:
    warn(Warnings.W061.format(path=path, problem=problem))

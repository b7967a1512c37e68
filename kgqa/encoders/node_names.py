"""Sentence embeddings of a graph's node names, in one shared on-disk cache per graph and encoder.

Used by retrieval's relevance ranker (:mod:`kgqa.retrieval.ranking`), as the graph models'
``node_embedding="text"`` features, and to initialise KGE entity vectors (:mod:`kgqa.kge`).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph


def node_text(name: str) -> str:
    """The text a concept name is embedded as: ``ice_cream`` -> ``ice cream``."""
    return name.replace("_", " ")


class NodeEmbeddingTable:
    """Node-name embeddings of one graph and encoder: a shared on-disk cache, filled lazily.

    One content-addressed pair of files per (encoder, graph checksum), next to the graph
    (``<graph dir>/text_embeddings/``, or ``KGQA_HOME/cache/node_embeddings/`` when the graph
    directory is read-only)::

        <encoder>-<checksum16>.npy        (N, D) float16 unit rows, memory-mapped
        <encoder>-<checksum16>.mask.npy   (N,) bool, which rows are computed
        <encoder>-<checksum16>.lock       serialises writers (every process, every job)

    Both ``.npy`` files are created whole (sparse, all zero) by an atomic rename; computed rows
    are then written in place under the lock, flushed, and only then marked in the mask, so a
    reader never trusts a row that is not complete. Every job (retrieval workers, training,
    ``kgqa eval``, :func:`kgqa.answer`) shares the same files: a node's name is encoded once per
    graph and encoder, whichever job needs it first.

    :meth:`get` encodes the missing rows of the nodes asked for (lazy: a 40-question job embeds
    only its own nodes); :meth:`compute_all` fills every row in committed chunks (resumable
    after a kill) with a progress bar and ETA, the one-off work before big runs.

    Args:
        kg: the graph.
        encoder: a sentence encoder name (``"minilm"``) or an object with ``encode(texts)`` and
            ``model_name``.
        batch_size: texts per encoder call.
    """

    def __init__(self, kg: "KnowledgeGraph", encoder="minilm", *, batch_size: int = 256):
        self.kg = kg
        self._encoder = encoder
        self.encoder_name = encoder if isinstance(encoder, str) else getattr(encoder, "model_name", type(encoder).__name__)
        self.batch_size = batch_size
        self.path = self._location()
        self._table: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self.computed = 0  # rows this object encoded (for reports)

    def _location(self) -> Path:
        from kgqa.paths import kgqa_home

        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.encoder_name)
        name = f"{slug}-{self.kg.checksum[:16]}.npy"
        folder = Path(self.kg.path) / "text_embeddings"
        try:
            folder.mkdir(exist_ok=True)
            probe = folder / f".write-test-{os.getpid()}"
            probe.touch()
            probe.unlink()
            return folder / name
        except OSError:
            fallback = kgqa_home() / "cache" / "node_embeddings"
            fallback.mkdir(parents=True, exist_ok=True)
            return fallback / name

    @property
    def mask_path(self) -> Path:
        return self.path.with_suffix(".mask.npy")

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    @property
    def encoder(self):
        if isinstance(self._encoder, str):
            from kgqa.encoders.sentence import get_sentence_encoder

            self._encoder = get_sentence_encoder(self._encoder)
        return self._encoder

    # ------------------------------------------------------------------ the shared files
    def _open(self) -> bool:
        """Map the files read-only if they exist and fit the graph; True when mapped."""
        if self._table is not None:
            return True
        if not (self.path.exists() and self.mask_path.exists()):
            return False
        try:
            table = np.load(self.path, mmap_mode="r", allow_pickle=False)
            mask = np.load(self.mask_path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return False
        if table.ndim != 2 or table.shape[0] != self.kg.num_nodes or mask.shape != (self.kg.num_nodes,) \
                or table.dtype != np.float16 or mask.dtype != np.bool_:
            return False
        self._table, self._mask = table, mask
        return True

    def computed_mask(self) -> np.ndarray:
        """``(N,)`` bool: rows already in the shared cache (a fresh read of the mask)."""
        if self._open():
            return np.array(self._mask)
        return np.zeros(self.kg.num_nodes, dtype=bool)

    @property
    def complete(self) -> bool:
        return bool(self.computed_mask().all())

    def _create(self, dim: int) -> None:
        """Create both files whole and empty (atomic renames; caller holds the lock)."""
        from kgqa.utils.io import atomic_file

        for path, dtype, shape in ((self.path, np.float16, (self.kg.num_nodes, dim)),
                                   (self.mask_path, np.bool_, (self.kg.num_nodes,))):
            with atomic_file(path) as tmp:
                np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=shape).flush()

    def _commit(self, nodes: np.ndarray, vectors: np.ndarray) -> None:
        """Write rows, flush them, then mark them computed; all under the writers' lock."""
        from filelock import FileLock

        with FileLock(str(self.lock_path)):
            self._table = self._mask = None
            if not self._open() or self._table.shape[1] != vectors.shape[1]:
                if self.path.exists():
                    from kgqa.errors import Warnings, warn

                    warn(Warnings.W220.format(path=self.path))
                self._create(vectors.shape[1])
                self._open()
            table = np.load(self.path, mmap_mode="r+", allow_pickle=False)
            table[nodes] = vectors.astype(np.float16)
            table.flush()
            del table
            mask = np.load(self.mask_path, mmap_mode="r+", allow_pickle=False)
            mask[nodes] = True
            mask.flush()
            del mask

    # ------------------------------------------------------------------ encoding
    def _encode(self, nodes: np.ndarray) -> None:
        names = self.kg.node_names
        texts = [node_text(names[int(v)]) for v in nodes]
        # sorted by length so batches pad little
        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = np.asarray(self.encoder.encode([texts[i] for i in order], batch_size=self.batch_size))
        self._commit(nodes[order], vectors)
        self.computed += len(nodes)

    def ensure(self, nodes) -> int:
        """Encode the rows of ``nodes`` not in the cache yet; returns how many were encoded."""
        nodes = np.asarray(nodes, dtype=np.int64).reshape(-1)
        if len(nodes) == 0:
            return 0
        if self._open():
            nodes = nodes[~self._mask[nodes]]
        missing = np.unique(nodes)
        if len(missing):
            self._encode(missing)
        return len(missing)

    def get(self, nodes) -> np.ndarray:
        """``(len(nodes), D)`` float32 embeddings, encoding the missing rows first."""
        nodes = np.asarray(nodes, dtype=np.int64).reshape(-1)
        self.ensure(nodes)
        if not self._open():  # nothing asked for yet
            return np.zeros((len(nodes), 0), dtype=np.float32)
        return np.asarray(self._table[nodes], dtype=np.float32)

    def compute_all(self, *, progress: bool = False, chunk: int = 4096) -> "NodeEmbeddingTable":
        """Encode every node not encoded yet (in committed chunks: a killed run resumes)."""
        missing = np.flatnonzero(~self.computed_mask())
        if len(missing) == 0:
            return self
        from kgqa.utils.progress import progress_bar

        with progress_bar(disable=None if progress else True) as bar:
            task = bar.add_task(f"embedding {self.kg.name} node names", total=len(missing))
            for i in range(0, len(missing), chunk):
                part = missing[i:i + chunk]
                part = part[~self.computed_mask()[part]]  # another job may have done some
                if len(part):
                    self._encode(part)
                bar.update(task, advance=len(missing[i:i + chunk]))
        return self


@dataclass
class NamedNodes:
    """A list of node names standing in for a graph (what :class:`NodeEmbeddingTable` reads).

    For name sets that are not a stored graph, e.g. CN-100K's phrases in the KGE benchmark; the
    checksum is the sha256 of the names, so the cache is content-addressed all the same.

    Args:
        name: a label for progress bars.
        node_names: the names, node id = position.
        path: the folder the cache goes in (a ``text_embeddings`` folder is made inside).
    """

    name: str
    node_names: list[str]
    path: Path
    checksum: str = field(init=False)

    def __post_init__(self):
        self.path = Path(self.path)
        self.checksum = hashlib.sha256("\n".join(self.node_names).encode()).hexdigest()

    @property
    def num_nodes(self) -> int:
        return len(self.node_names)

"""Entity embeddings saved next to their graph, with a manifest that ties them to it.

A trained embedding is a directory ``<graph.path>/embeddings/<model>-<dim>-<config hash>/``::

    entity_embeddings.npy     (N, D) float32, row i = node id i of the graph's store
    relation_embeddings.npy   (R, D) float32, row r = stored relation id r
    manifest.json             graph name + checksum, training config, metrics, versions, sha256s

Complex-valued models (RotatE) store the real view: ``D = 2 * dim``, each complex number as
``(real, imaginary)`` neighbours, and ``"complex": true`` in the manifest.

Embeddings are useful only for the graph they were trained on (node ids are positions in *that*
graph's node list), so :func:`load_embeddings` refuses a directory whose recorded graph checksum
differs from the graph's (``[E050]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph

FORMAT_VERSION = 1
ENTITY_FILE = "entity_embeddings.npy"
RELATION_FILE = "relation_embeddings.npy"
MANIFEST_FILE = "manifest.json"
#: Kind of :func:`kgqa.utils.io.atomic_directory` artefact: what a save may replace.
ARTEFACT_KIND = "entity embeddings"


def _is_embeddings_dir(path: Path) -> bool:
    """An embedding directory (also one saved before artefact markers)."""
    return (path / MANIFEST_FILE).is_file() and (path / ENTITY_FILE).is_file()


@dataclass
class EntityEmbeddings:
    """Knowledge-graph embeddings of one graph's nodes and relations.

    Attributes:
        entity: (N, D) float32, row ``i`` embeds node id ``i``.
        relation: (R, D) float32, row ``r`` embeds stored relation ``r`` (inverse relations
            ``r + R`` have no row of their own; score them as the reversed triple).
        model: the KGE model name (``"transe"``, ``"distmult"``, ``"rotate"``).
        graph_name: name of the graph they were trained for.
        graph_checksum: that graph's checksum.
        manifest: the full manifest (config, metrics, versions).
        path: the directory they were loaded from (``None`` when built in memory).
    """

    entity: np.ndarray
    relation: np.ndarray
    model: str
    graph_name: str
    graph_checksum: str
    manifest: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def num_entities(self) -> int:
        return int(self.entity.shape[0])

    @property
    def dim(self) -> int:
        """Width of a stored row (``2 * dim`` for complex models)."""
        return int(self.entity.shape[1])

    @property
    def is_complex(self) -> bool:
        return bool(self.manifest.get("complex", False))

    @property
    def checksum(self) -> str:
        """sha256 of the entity table (the "entity vocabulary checksum" models record)."""
        digest = self.manifest.get("files", {}).get(ENTITY_FILE)
        if digest:
            return digest
        from kgqa.utils.io import sha256_bytes

        return sha256_bytes(np.ascontiguousarray(self.entity, dtype=np.float32).tobytes())

    @classmethod
    def from_arrays(cls, kg: "KnowledgeGraph", entity: np.ndarray, relation: np.ndarray | None = None,
                    *, model: str = "transe") -> "EntityEmbeddings":
        """Wrap arrays made elsewhere (tests, imported vectors) for ``kg``.

        Raises:
            KGQAError: the entity table does not have one row per node.
        """
        entity = np.asarray(entity, dtype=np.float32)
        if entity.ndim != 2 or entity.shape[0] != kg.num_nodes:
            raise KGQAError(Errors.E052.format(path="(in memory)", problem=(
                f"entity table has shape {entity.shape}, graph '{kg.name}' has {kg.num_nodes} nodes")))
        if relation is None:
            relation = np.zeros((kg.num_relations, entity.shape[1]), dtype=np.float32)
        manifest = {"format_version": FORMAT_VERSION, "model": model, "dim": int(entity.shape[1]),
                    "graph": {"name": kg.name, "checksum": kg.checksum, "num_nodes": kg.num_nodes,
                              "num_relations": kg.num_relations}}
        return cls(entity, np.asarray(relation, dtype=np.float32), model, kg.name, kg.checksum, manifest)

    def check_graph(self, kg: "KnowledgeGraph") -> None:
        """Raise ``[E050]`` unless these embeddings were trained for ``kg``."""
        if self.graph_checksum != kg.checksum:
            raise KGQAError(Errors.E050.format(
                path=self.path or "(in memory)", trained_for=self.graph_name,
                expected=self.graph_checksum[:16], graph=kg.name, found=kg.checksum[:16]))

    def vectors(self, node_ids) -> np.ndarray:
        """Rows of the given node ids, ``(len(node_ids), D)``.

        Raises:
            KGQAError: an id outside ``[0, N)`` (``[E054]``).
        """
        ids = np.asarray(node_ids, dtype=np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= self.num_entities)]
        if len(bad):
            raise KGQAError(Errors.E054.format(entity_id=int(bad[0]), num_entities=self.num_entities,
                                               last=self.num_entities - 1))
        return np.asarray(self.entity[ids])

    def save(self, directory: str | Path) -> Path:
        """Write the directory atomically (manifest last); returns it."""
        from kgqa.utils.io import atomic_directory, sha256_file

        directory = Path(directory)
        with atomic_directory(directory, kind=ARTEFACT_KIND, recognise=_is_embeddings_dir) as tmp:
            np.save(tmp / ENTITY_FILE, np.ascontiguousarray(self.entity, dtype=np.float32), allow_pickle=False)
            np.save(tmp / RELATION_FILE, np.ascontiguousarray(self.relation, dtype=np.float32), allow_pickle=False)
            manifest = dict(self.manifest)
            manifest["files"] = {name: sha256_file(tmp / name) for name in (ENTITY_FILE, RELATION_FILE)}
            (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        self.manifest = manifest
        self.path = directory
        return directory


def embeddings_root(kg: "KnowledgeGraph") -> Path:
    """``<graph.path>/embeddings``: where a graph's trained embeddings live."""
    return Path(kg.path) / "embeddings"


def read_embeddings(directory: str | Path, *, mmap: bool = True, verify: bool = False) -> EntityEmbeddings:
    """Read one embedding directory (no graph check; see :func:`load_embeddings`).

    Raises:
        KGQAError: a missing or unreadable file, a format version this kgqa does not read, or
            (with ``verify=True``) a file whose sha256 differs from the manifest (``[E052]``).
    """
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text())
        entity = np.load(directory / ENTITY_FILE, mmap_mode="r" if mmap else None, allow_pickle=False)
        relation = np.load(directory / RELATION_FILE, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise KGQAError(Errors.E052.format(path=directory, problem=str(exc).splitlines()[0])) from exc
    if manifest.get("format_version") != FORMAT_VERSION:
        raise KGQAError(Errors.E052.format(path=directory, problem=(
            f"format version {manifest.get('format_version')}, this kgqa reads {FORMAT_VERSION}")))
    graph = manifest.get("graph", {})
    if entity.ndim != 2 or entity.shape[0] != graph.get("num_nodes"):
        raise KGQAError(Errors.E052.format(path=directory, problem=(
            f"{ENTITY_FILE} has shape {entity.shape}, the manifest says {graph.get('num_nodes')} nodes")))
    if verify:
        from kgqa.utils.io import sha256_file

        for name, digest in manifest.get("files", {}).items():
            if sha256_file(directory / name) != digest:
                raise KGQAError(Errors.E052.format(path=directory, problem=f"{name} differs from its sha256"))
    return EntityEmbeddings(entity=entity, relation=relation, model=manifest["model"],
                            graph_name=graph.get("name", "?"), graph_checksum=graph.get("checksum", ""),
                            manifest=manifest, path=directory)


def find_embeddings(kg: "KnowledgeGraph", model: str = "transe", dim: int | None = None) -> list[Path]:
    """Embedding directories of ``kg`` for ``model`` (and ``dim``), newest first."""
    root = embeddings_root(kg)
    if not root.is_dir():
        return []
    prefix = f"{model.lower()}-{dim}-" if dim is not None else f"{model.lower()}-"
    found = [p for p in root.iterdir()
             if p.is_dir() and p.name.startswith(prefix) and (p / MANIFEST_FILE).exists()]
    return sorted(found, key=lambda p: (p / MANIFEST_FILE).stat().st_mtime, reverse=True)


def load_embeddings(graph: "KnowledgeGraph | str | Path" = "default", model: str = "transe", *,
                    dim: int | None = None, path: str | Path | None = None) -> EntityEmbeddings:
    """Load trained embeddings for a graph and check they belong to it.

    Args:
        graph: the graph (loaded, or its name/directory).
        model: ``"transe"``, ``"distmult"`` or ``"rotate"``; ignored when ``path`` is given.
        dim: embedding dimension; ``None`` takes the newest of any dimension.
        path: an embedding directory to load instead of searching ``<graph.path>/embeddings``.

    Raises:
        KGQAError: none trained yet (``[E051]``), trained for another graph (``[E050]``), or a
            damaged directory (``[E052]``).
    """
    from kgqa.kg.store import KnowledgeGraph

    kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph)
    if path is None:
        found = find_embeddings(kg, model, dim)
        if not found:
            raise KGQAError(Errors.E051.format(model=model, dim=dim if dim is not None else 100,
                                               graph=kg.name, path=embeddings_root(kg)))
        path = found[0]
    embeddings = read_embeddings(path)
    embeddings.check_graph(kg)
    return embeddings

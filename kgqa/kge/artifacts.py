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

kgqa also ships one compact table for the default graph (``kgqa/kge/default/``): TransE rows
stored as int8 with one float16 scale per row (``x ~ scale * q``, ``q in [-127, 127]``) in a
compressed ``.npz`` read with ``allow_pickle=False``, its sha256 checked against the manifest on
every load (``[E220]``), and the manifest of the training run (config, seed, minutes, metrics
beside the relation-popularity baseline, graph checksum). :func:`find_embeddings` lists it after
the tables trained in ``KGQA_HOME`` when its graph checksum is the graph's, so
``kgqa.embed(kind="graph")``, ERNIE's fusion and KagNet's ``path_scorer: auto`` work on a fresh
install; a table trained with ``kgqa graphs embed default`` takes precedence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.utils.quantize import dequantize_rows, quantize_rows

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph

FORMAT_VERSION = 1
ENTITY_FILE = "entity_embeddings.npy"
RELATION_FILE = "relation_embeddings.npy"
MANIFEST_FILE = "manifest.json"
#: The compact tables shipped with kgqa (one directory per table, see the module docstring).
SHIPPED_DIR = Path(__file__).resolve().parent / "default"
QUANTIZED_FILE = "embeddings_int8.npz"
#: Kind of :func:`kgqa.utils.io.atomic_directory` artefact: what a save may replace.
ARTEFACT_KIND = "entity embeddings"


def _is_embeddings_dir(path: Path) -> bool:
    """An embedding directory, trained or compact (also one saved before artefact markers)."""
    return (path / MANIFEST_FILE).is_file() and ((path / ENTITY_FILE).is_file() or (path / QUANTIZED_FILE).is_file())


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


def save_quantized(embeddings: EntityEmbeddings, directory: str | Path, manifest: dict) -> Path:
    """Write a compact table directory (int8 rows + float16 scales, float32 relations; atomic).

    ``manifest`` is the training manifest; the quantisation and the file's sha256 are added.
    """
    import io

    from kgqa.utils.io import atomic_directory, sha256_file

    rows, scale = quantize_rows(embeddings.entity)
    error = np.abs(dequantize_rows(rows, scale) - np.asarray(embeddings.entity, dtype=np.float32)).max()
    directory = Path(directory)
    with atomic_directory(directory, kind=ARTEFACT_KIND, recognise=_is_embeddings_dir) as tmp:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, entity_int8=rows, entity_scale=scale,
                            relation=np.asarray(embeddings.relation, dtype=np.float32))
        (tmp / QUANTIZED_FILE).write_bytes(buffer.getvalue())
        out = dict(manifest)
        out["quantization"] = {"entity": "int8, symmetric, one float16 scale per row", "relation": "float32",
                               "max_abs_error": float(error)}
        out["files"] = {QUANTIZED_FILE: sha256_file(tmp / QUANTIZED_FILE)}
        (tmp / MANIFEST_FILE).write_text(json.dumps(out, indent=2) + "\n")
    return directory


def _read_quantized(directory: Path, manifest: dict) -> EntityEmbeddings:
    """A compact table, its sha256 checked first (``[E220]`` when it differs or cannot be read)."""
    from kgqa.utils.io import sha256_file

    graph = manifest.get("graph", {})

    def damaged(problem: str) -> KGQAError:
        return KGQAError(Errors.E220.format(path=directory, problem=problem, graph=graph.get("name", "default")))

    path = directory / QUANTIZED_FILE
    expected = manifest.get("files", {}).get(QUANTIZED_FILE)
    try:
        found = sha256_file(path)
    except OSError as exc:
        raise damaged(str(exc)) from exc
    if found != expected:
        raise damaged(f"{QUANTIZED_FILE} has sha256 {found[:16]}..., the manifest says {str(expected)[:16]}...")
    try:
        with np.load(path, allow_pickle=False) as npz:
            entity = dequantize_rows(npz["entity_int8"], npz["entity_scale"])
            relation = np.asarray(npz["relation"], dtype=np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise damaged(str(exc).splitlines()[0]) from exc
    if entity.ndim != 2 or entity.shape[0] != graph.get("num_nodes"):
        raise damaged(f"the table has shape {entity.shape}, the manifest says {graph.get('num_nodes')} nodes")
    return EntityEmbeddings(entity=entity, relation=relation, model=manifest["model"],
                            graph_name=graph.get("name", "?"), graph_checksum=graph.get("checksum", ""),
                            manifest=manifest, path=directory)


def shipped_embeddings(kg: "KnowledgeGraph", model: str = "transe", dim: int | None = None) -> list[Path]:
    """The shipped table directories that fit ``kg`` (same graph checksum), ``model`` and ``dim``."""
    if not SHIPPED_DIR.is_dir():
        return []
    out = []
    for manifest_path in sorted(SHIPPED_DIR.glob(f"*/{MANIFEST_FILE}")):
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            continue
        if manifest.get("graph", {}).get("checksum") == kg.checksum and manifest.get("model") == model.lower() \
                and (dim is None or manifest.get("dim") == dim):
            out.append(manifest_path.parent)
    return out


def read_embeddings(directory: str | Path, *, mmap: bool = True, verify: bool = False) -> EntityEmbeddings:
    """Read one embedding directory, trained or shipped (no graph check; see :func:`load_embeddings`).

    Raises:
        KGQAError: a missing or unreadable file, a format version this kgqa does not read, or
            (with ``verify=True``) a file whose sha256 differs from the manifest (``[E052]``); a
            shipped table whose sha256 differs (always checked, ``[E220]``).
    """
    directory = Path(directory)
    if (directory / QUANTIZED_FILE).exists():
        try:
            manifest = json.loads((directory / MANIFEST_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise KGQAError(Errors.E220.format(path=directory, problem=str(exc).splitlines()[0],
                                               graph="default")) from exc
        return _read_quantized(directory, manifest)
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


def find_embeddings(kg: "KnowledgeGraph", model: str = "transe", dim: int | None = None, *,
                    shipped: bool = True) -> list[Path]:
    """Embedding directories of ``kg`` for ``model`` (and ``dim``): the trained ones newest first,
    then (``shipped=True``) the table shipped with kgqa when it was trained on this graph."""
    root = embeddings_root(kg)
    found: list[Path] = []
    if root.is_dir():
        prefix = f"{model.lower()}-{dim}-" if dim is not None else f"{model.lower()}-"
        found = [p for p in root.iterdir()
                 if p.is_dir() and p.name.startswith(prefix) and (p / MANIFEST_FILE).exists()]
        found.sort(key=lambda p: (p / MANIFEST_FILE).stat().st_mtime, reverse=True)
    return found + (shipped_embeddings(kg, model, dim) if shipped else [])


def load_embeddings(graph: "KnowledgeGraph | str | Path" = "default", model: str = "transe", *,
                    dim: int | None = None, path: str | Path | None = None) -> EntityEmbeddings:
    """Load trained embeddings for a graph and check they belong to it.

    Args:
        graph: the graph (loaded, or its name/directory).
        model: ``"transe"``, ``"distmult"`` or ``"rotate"``; ignored when ``path`` is given.
        dim: embedding dimension; ``None`` takes the newest of any dimension.
        path: an embedding directory to load instead of searching ``<graph.path>/embeddings``
            (and, after those, the table shipped for this graph: :func:`find_embeddings`).

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

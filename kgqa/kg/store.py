"""The knowledge-graph store: integer ids, CSR adjacency in numpy arrays, memory-mapped on load.

A graph is a directory::

    manifest.json     format version, counts, relations, weight range, sources (sha256), build
                      config, every file's sha256, checksum
    .kgqa-artefact    marks the folder as a graph kgqa wrote (a rebuild may replace it)
    nodes.txt         one node name per line; line i is node id i (names sorted, so ids are stable)
    node_labels.json  optional {node id: label} (Wikidata items: QID -> English label)
    head.npy          (E,) int32   edges sorted by (head, relation, tail)
    relation.npy      (E,) int32
    tail.npy          (E,) int32
    weight.npy        (E,) float32
    out_indptr.npy    (N+1,) int64 edges of node v are out_indptr[v]:out_indptr[v+1]
    in_indptr.npy     (N+1,) int64 incoming CSR over ``in_edges``
    in_edges.npy      (E,) int32   edge ids sorted by (tail, relation, head)

Inverse relations are explicit: relation ``r`` followed backwards (tail -> head) has id
``r + R`` and name ``~Name``, so a node's neighbourhood in both directions is a list of
``(neighbour, relation id in [0, 2R), weight)``, the form RGCN/QA-GNN message passing uses.

Every load checks the manifest and the arrays' ranges first (:mod:`kgqa.kg.integrity`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    import networkx
    import torch

FORMAT_VERSION = 1
ARRAYS = ("head", "relation", "tail", "weight", "out_indptr", "in_indptr", "in_edges")
ARRAY_DTYPES = {
    "head": np.int32, "relation": np.int32, "tail": np.int32, "weight": np.float32,
    "out_indptr": np.int64, "in_indptr": np.int64, "in_edges": np.int32,
}
INVERSE_PREFIX = "~"


@dataclass(frozen=True)
class Neighbors:
    """Neighbours of one node.

    Attributes:
        nodes: (K,) int32 neighbour ids.
        relations: (K,) int32 relation ids; incoming edges use the inverse id ``r + R``.
        weights: (K,) float32 edge weights.
        edge_ids: (K,) int32 ids of the stored (forward) edges.
    """

    nodes: np.ndarray
    relations: np.ndarray
    weights: np.ndarray
    edge_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.nodes)


@dataclass(frozen=True)
class EdgeSet:
    """A set of stored edges: (M,) arrays ``head``, ``relation``, ``tail``, ``weight``, ``edge_ids``."""

    head: np.ndarray
    relation: np.ndarray
    tail: np.ndarray
    weight: np.ndarray
    edge_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.head)


def csr_gather(indptr: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions ``indptr[v]:indptr[v+1]`` for every ``v`` in ``nodes``, concatenated."""
    nodes = np.asarray(nodes, dtype=np.int64)
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


class KnowledgeGraph:
    """A read-only knowledge graph in CSR form.

    Load one with :meth:`load` (``"default"``, a built graph's name in ``KGQA_HOME`` or a
    directory path); build one with :class:`kgqa.kg.builder.GraphBuilder`.

    Example::

        >>> kg = KnowledgeGraph.load("default")
        >>> nb = kg.neighbors("shovel", relations=["UsedFor"], direction="out")
        >>> [kg.node_name(v) for v in nb.nodes][:3]
    """

    def __init__(self, path: Path, manifest: dict, arrays: dict[str, np.ndarray]):
        self.path = Path(path)
        self.manifest = manifest
        self.head = arrays["head"]
        self.relation = arrays["relation"]
        self.tail = arrays["tail"]
        self.weight = arrays["weight"]
        self.out_indptr = arrays["out_indptr"]
        self.in_indptr = arrays["in_indptr"]
        self.in_edges = arrays["in_edges"]
        self.relations: list[str] = list(manifest["relations"])
        self._relation_ids = {name: i for i, name in enumerate(self.relations)}

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, name_or_path: str | Path = "default", *, mmap: bool = True,
             verify: bool = False) -> "KnowledgeGraph":
        """Load a graph by name or path, checking it first (:mod:`kgqa.kg.integrity`).

        Every load checks the manifest's keys, the arrays' shapes and dtypes, every id's range,
        the CSR offsets and the weights (vectorised, 2-3 ms on the default graph), so a damaged
        file is an error, never a crash or a number computed from it.

        Args:
            name_or_path: ``"default"`` (shipped with kgqa), a graph name under
                ``KGQA_HOME/graphs``, or a graph directory.
            mmap: memory-map the arrays (fast, shared between processes) instead of reading.
            verify: also recompute every file's sha256 and the graph checksum against the
                manifest (finds any change; about 20 ms on the default graph).

        Raises:
            KGQAError: unknown name (``[E002]``), wrong format version (``[E004]``), or a
                damaged graph (``[E101]``: the file, the problem and how to rebuild it).
        """
        from kgqa.kg.integrity import check_arrays, check_manifest, damaged
        from kgqa.kg.registry import resolve_graph_dir

        path = resolve_graph_dir(name_or_path)
        manifest_path = path / "manifest.json"
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise damaged(path, {}, f"unreadable manifest.json ({exc})") from exc
        version = manifest.get("format_version") if isinstance(manifest, dict) else None
        if version != FORMAT_VERSION:
            raise KGQAError(Errors.E004.format(found=version, path=path, expected=FORMAT_VERSION))
        check_manifest(path, manifest)
        arrays = {}
        for key in ARRAYS:
            file = path / f"{key}.npy"
            try:
                arrays[key] = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise damaged(path, manifest, f"cannot read {file.name} ({exc})") from exc
        n, e = manifest["num_nodes"], manifest["num_edges"]
        for key, arr in arrays.items():
            shape = (n + 1,) if key.endswith("indptr") else (e,)
            if arr.shape != shape or arr.dtype != ARRAY_DTYPES[key]:
                raise damaged(path, manifest, f"{key}.npy has shape {arr.shape} {arr.dtype}, manifest says "
                                              f"{shape} {np.dtype(ARRAY_DTYPES[key])}")
        check_arrays(path, manifest, arrays)
        kg = cls(path, manifest, arrays)
        if verify:
            kg.verify()
        return kg

    def verify(self) -> None:
        """Recompute the sha256 of every file the manifest lists, and the graph checksum.

        Raises:
            KGQAError: ``[E101]`` naming the first file that differs.
        """
        from kgqa.kg.integrity import verify_files

        verify_files(self.path, self.manifest)

    # ------------------------------------------------------------------ sizes & names
    @property
    def name(self) -> str:
        return self.manifest.get("name", self.path.name)

    @property
    def checksum(self) -> str:
        """Content checksum of the graph (nodes, relations, arrays); caches key on it."""
        return self.manifest["checksum"]

    @property
    def num_nodes(self) -> int:
        return int(self.manifest["num_nodes"])

    @property
    def num_edges(self) -> int:
        return int(self.manifest["num_edges"])

    @property
    def num_relations(self) -> int:
        return len(self.relations)

    @cached_property
    def node_names(self) -> list[str]:
        """All node names; ``node_names[i]`` is node ``i`` (read on first use)."""
        names = (self.path / "nodes.txt").read_text(encoding="utf-8").split("\n")
        if names and names[-1] == "":
            names.pop()
        if len(names) != self.num_nodes:
            from kgqa.kg.integrity import damaged

            raise damaged(self.path, self.manifest, f"nodes.txt has {len(names)} names, manifest says {self.num_nodes}")
        return names

    @cached_property
    def _node_ids(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.node_names)}

    @cached_property
    def node_labels(self) -> dict[int, str]:
        """Human-readable labels where the source has them (Wikidata QID -> English label)."""
        file = self.path / "node_labels.json"
        if not file.exists():
            return {}
        return {int(k): v for k, v in json.loads(file.read_text(encoding="utf-8")).items()}

    def node_id(self, name: str) -> int:
        """Id of a node name; raises ``KGQAError`` when the graph does not have it."""
        try:
            return self._node_ids[name]
        except KeyError:
            raise KGQAError(Errors.E005.format(name=name, graph=self.name)) from None

    def get_node_id(self, name: str, default: int | None = None) -> int | None:
        return self._node_ids.get(name, default)

    def has_node(self, name: str) -> bool:
        return name in self._node_ids

    def node_name(self, node: int) -> str:
        if not 0 <= int(node) < self.num_nodes:
            raise KGQAError(Errors.E007.format(node_id=node, graph=self.name, num_nodes=self.num_nodes))
        return self.node_names[int(node)]

    def node_label(self, node: int) -> str:
        """The label for display: the source label when there is one, else the name."""
        return self.node_labels.get(int(node)) or self.node_name(node)

    def _as_id(self, node: int | str) -> int:
        if isinstance(node, str):
            return self.node_id(node)
        node = int(node)
        if not 0 <= node < self.num_nodes:
            raise KGQAError(Errors.E007.format(node_id=node, graph=self.name, num_nodes=self.num_nodes))
        return node

    def relation_id(self, name: str) -> int:
        """Id of a relation name; ``~Name`` gives the inverse id ``r + R``."""
        if name.startswith(INVERSE_PREFIX):
            return self.relation_id(name[len(INVERSE_PREFIX):]) + self.num_relations
        try:
            return self._relation_ids[name]
        except KeyError:
            raise KGQAError(Errors.E006.format(name=name, known=", ".join(self.relations))) from None

    def relation_name(self, relation: int) -> str:
        """Name of a relation id in ``[0, 2R)``; inverse ids give ``~Name``."""
        relation = int(relation)
        r = self.num_relations
        if 0 <= relation < r:
            return self.relations[relation]
        if r <= relation < 2 * r:
            return INVERSE_PREFIX + self.relations[relation - r]
        raise KGQAError(Errors.E006.format(name=relation, known=f"ids 0..{2 * r - 1}"))

    @cached_property
    def degree(self) -> np.ndarray:
        """(N,) int64 total degree (in + out) of every node."""
        return np.diff(self.out_indptr) + np.diff(self.in_indptr)

    # ------------------------------------------------------------------ queries
    def _relation_filter(self, relations) -> np.ndarray | None:
        if relations is None:
            return None
        ids = [self.relation_id(r) if isinstance(r, str) else int(r) for r in relations]
        return np.asarray(sorted(set(ids)), dtype=np.int32)

    def neighbors(self, node: int | str, *, relations=None, direction: str = "both") -> Neighbors:
        """Neighbours of ``node``.

        Args:
            node: node id or name.
            relations: optional relation names or ids to keep. Forward ids (``< R``) match
                outgoing edges; inverse ids/names (``~UsedFor``) match incoming edges; a
                forward name with ``direction="both"`` matches both directions.
            direction: ``"out"``, ``"in"`` or ``"both"``.
        """
        if direction not in ("out", "in", "both"):
            raise KGQAError(Errors.E013.format(kind="direction", name=direction, known="out, in, both"))
        v = self._as_id(node)
        r = self.num_relations
        parts = []
        if direction in ("out", "both"):
            eids = np.arange(self.out_indptr[v], self.out_indptr[v + 1], dtype=np.int64)
            parts.append((self.tail[eids], self.relation[eids], eids))
        if direction in ("in", "both"):
            eids = np.asarray(self.in_edges[self.in_indptr[v]:self.in_indptr[v + 1]], dtype=np.int64)
            parts.append((self.head[eids], self.relation[eids] + r, eids))
        nodes = np.concatenate([p[0] for p in parts]).astype(np.int32)
        rels = np.concatenate([p[1] for p in parts]).astype(np.int32)
        eids = np.concatenate([p[2] for p in parts]).astype(np.int32)
        wanted = self._relation_filter(relations)
        if wanted is not None:
            if direction == "both":
                wanted = np.union1d(wanted, np.where(wanted < r, wanted + r, wanted))
            keep = np.isin(rels, wanted)
            nodes, rels, eids = nodes[keep], rels[keep], eids[keep]
        return Neighbors(nodes=nodes, relations=rels, weights=np.asarray(self.weight[eids]), edge_ids=eids)

    def edges_among(self, nodes, *, relations=None) -> EdgeSet:
        """All stored edges whose head and tail are both in ``nodes`` (ids), sorted by edge id."""
        nodes = np.unique(np.asarray(nodes, dtype=np.int64))
        if len(nodes) == 0:
            empty_i = np.zeros(0, dtype=np.int32)
            return EdgeSet(empty_i, empty_i, empty_i, np.zeros(0, dtype=np.float32), empty_i)
        eids = csr_gather(self.out_indptr, nodes)
        eids = eids[np.isin(self.tail[eids], nodes)]
        wanted = self._relation_filter(relations)
        if wanted is not None:
            eids = eids[np.isin(self.relation[eids], wanted)]
        return EdgeSet(head=np.asarray(self.head[eids]), relation=np.asarray(self.relation[eids]),
                       tail=np.asarray(self.tail[eids]), weight=np.asarray(self.weight[eids]),
                       edge_ids=eids.astype(np.int32))

    def _bfs_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-graph visit stamps and result buffer for the BFS kernel (allocated once)."""
        if getattr(self, "_stamp", None) is None:
            self._stamp = np.zeros(self.num_nodes, dtype=np.int32)
            self._result = np.empty(self.num_nodes, dtype=np.int32)
            self._mark = 0
        return self._stamp, self._result

    def _next_marks(self, count: int) -> int:
        """Reserve ``count`` fresh stamp marks; resets the stamps before they would overflow."""
        stamp, _ = self._bfs_state()
        if self._mark + count >= np.iinfo(np.int32).max:
            stamp[:] = 0
            self._mark = 0
        first = self._mark + 1
        self._mark += count
        return first

    def _kernel_args(self, direction: str, relations) -> tuple:
        if direction not in ("out", "in", "both"):
            raise KGQAError(Errors.E013.format(kind="direction", name=direction, known="out, in, both"))
        if relations is None:
            if getattr(self, "_all_args", None) is None:
                self._all_args = (self.out_indptr, self.tail, self.in_indptr, self.in_edges, self.head,
                                  self.relation, np.ones(self.num_relations, dtype=np.bool_))
            return self._all_args
        rel_ok = np.zeros(self.num_relations, dtype=np.bool_)
        wanted = self._relation_filter(relations)
        rel_ok[wanted[wanted < self.num_relations]] = True
        return (self.out_indptr, self.tail, self.in_indptr, self.in_edges, self.head, self.relation, rel_ok)

    def k_hop(self, nodes, k: int = 2, *, direction: str = "both", relations=None) -> np.ndarray:
        """Sorted ids of all nodes within ``k`` hops of ``nodes`` (the seeds included).

        Args:
            nodes: seed node ids or names.
            k: number of hops (0 returns the seeds).
            direction: follow ``"out"``, ``"in"`` or ``"both"`` edge directions.
            relations: optional forward relation names/ids to follow.

        Runs a compiled BFS (:func:`kgqa.kg.kernels.bfs_k_hop`) whose cost is the number of
        edges touched, not the graph size. Not thread-safe on one ``KnowledgeGraph`` object.
        """
        from kgqa.kg.kernels import bfs_k_hop

        if isinstance(nodes, (int, np.integer)) or (isinstance(nodes, np.ndarray) and nodes.dtype.kind in "iu"):
            seeds = np.atleast_1d(np.asarray(nodes, dtype=np.int64))
            if len(seeds) and (seeds.min() < 0 or seeds.max() >= self.num_nodes):
                raise KGQAError(Errors.E007.format(node_id=int(seeds.max()), graph=self.name, num_nodes=self.num_nodes))
        else:
            seeds = np.asarray([self._as_id(v) for v in np.atleast_1d(nodes)], dtype=np.int64)
        args = self._kernel_args(direction, relations)
        stamp, result = self._bfs_state()
        mark = self._next_marks(1)
        n = bfs_k_hop(*args, seeds, int(k), direction != "in", direction != "out", stamp, mark, result)
        return np.sort(result[:n])

    def k_hop_sizes(self, seeds, k: int = 2, *, direction: str = "both", relations=None) -> np.ndarray:
        """(S,) int64 sizes of the ``k``-hop neighbourhoods of each seed, in one compiled call
        spread over numba's threads (each thread allocates its own (N,) visit marks)."""
        from kgqa.kg.kernels import bfs_k_hop_many

        seeds = np.asarray(seeds, dtype=np.int64)
        args = self._kernel_args(direction, relations)
        sizes = np.zeros(len(seeds), dtype=np.int64)
        bfs_k_hop_many(*args, seeds, int(k), direction != "in", direction != "out", sizes)
        return sizes

    # ------------------------------------------------------------------ exports
    def to_networkx(self, *, names: bool = True) -> "networkx.MultiDiGraph":
        """A ``networkx.MultiDiGraph`` with the same edges (attributes ``relation``, ``weight``).

        Nodes are names (``names=True``) or ids; meant for inspection of small graphs, not speed.
        """
        import networkx as nx

        graph = nx.MultiDiGraph()
        label = self.node_names if names else range(self.num_nodes)
        graph.add_nodes_from(label)
        rels = self.relations
        graph.add_edges_from(
            (label[h], label[t], {"relation": rels[r], "weight": float(w)})
            for h, r, t, w in zip(self.head.tolist(), self.relation.tolist(), self.tail.tolist(), self.weight.tolist()))
        return graph

    def to_pyg(self, *, add_inverse: bool = False) -> tuple["torch.Tensor", "torch.Tensor"]:
        """``(edge_index (2, E), edge_type (E,))`` long tensors for PyG.

        With ``add_inverse=True`` every edge also appears reversed with type ``r + R``
        (``E`` becomes ``2E``), as RGCN-style encoders over ConceptNet use.
        """
        import torch

        head = torch.from_numpy(np.asarray(self.head, dtype=np.int64))
        tail = torch.from_numpy(np.asarray(self.tail, dtype=np.int64))
        rel = torch.from_numpy(np.asarray(self.relation, dtype=np.int64))
        if add_inverse:
            return (torch.stack([torch.cat([head, tail]), torch.cat([tail, head])]),
                    torch.cat([rel, rel + self.num_relations]))
        return torch.stack([head, tail]), rel

    def info(self) -> dict:
        """Summary for ``kgqa graphs info``: counts, relation histogram, sources."""
        counts = np.bincount(np.asarray(self.relation), minlength=self.num_relations)
        return {
            "name": self.name,
            "path": str(self.path),
            "num_nodes": self.num_nodes,
            "num_edges": self.num_edges,
            "num_relations": self.num_relations,
            "checksum": self.checksum,
            "relations": {name: int(c) for name, c in zip(self.relations, counts)},
            "sources": self.manifest.get("sources", []),
        }

    def __repr__(self) -> str:
        return (f"KnowledgeGraph(name={self.name!r}, nodes={self.num_nodes:,}, "
                f"edges={self.num_edges:,}, relations={self.num_relations})")

"""The undirected view of a graph, sorted by neighbour: what path search and subgraphs scan.

Every stored edge ``h -r-> t`` appears twice: in ``h``'s list as ``(t, r)`` and in ``t``'s list as
``(h, r + R)`` (the inverse relation). Each node's list is sorted by ``(neighbour, relation)``, so
"the edges between ``u`` and ``v``" is one contiguous run found by binary search, and the common
neighbours of two nodes come from merging two sorted lists.

Shapes:
    - **indptr**: ``(N + 1,)`` int64; node ``v``'s entries are ``indptr[v]:indptr[v + 1]``.
    - **nodes**: ``(2E,)`` int32 neighbour ids.
    - **relations**: ``(2E,)`` int32 relation ids in ``[0, 2R)``.
    - **edge_ids**: ``(2E,)`` int32 id of the stored edge behind each entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph


@dataclass(frozen=True)
class UndirectedAdjacency:
    """Sorted undirected adjacency with inverse relations (see the module docstring)."""

    indptr: np.ndarray
    nodes: np.ndarray
    relations: np.ndarray
    edge_ids: np.ndarray
    num_relations: int

    @property
    def num_nodes(self) -> int:
        return len(self.indptr) - 1

    @property
    def degree(self) -> np.ndarray:
        """``(N,)`` int64 undirected degree (in + out, parallel edges counted)."""
        return np.diff(self.indptr)

    @classmethod
    def from_graph(cls, kg: "KnowledgeGraph") -> "UndirectedAdjacency":
        """Build it from the store's arrays (one lexsort over ``2E`` entries)."""
        head = np.asarray(kg.head, dtype=np.int32)
        tail = np.asarray(kg.tail, dtype=np.int32)
        rel = np.asarray(kg.relation, dtype=np.int32)
        r = kg.num_relations
        src = np.concatenate([head, tail])
        dst = np.concatenate([tail, head])
        rels = np.concatenate([rel, rel + r])
        eids = np.concatenate([np.arange(len(head), dtype=np.int32)] * 2)
        order = np.lexsort((rels, dst, src))
        indptr = np.zeros(kg.num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=kg.num_nodes), out=indptr[1:])
        return cls(indptr=indptr, nodes=np.ascontiguousarray(dst[order]),
                   relations=np.ascontiguousarray(rels[order]), edge_ids=np.ascontiguousarray(eids[order]),
                   num_relations=r)


_CACHE: dict[tuple[str, int], UndirectedAdjacency] = {}


def adjacency_of(kg: "KnowledgeGraph") -> UndirectedAdjacency:
    """The adjacency of ``kg``, built once per graph and process (keyed by checksum)."""
    key = (kg.checksum, kg.num_nodes)
    adj = _CACHE.get(key)
    if adj is None:
        adj = _CACHE[key] = UndirectedAdjacency.from_graph(kg)
    return adj

"""KagNet paths: every simple path between a question concept and an answer concept.

KagNet (Lin et al., "KagNet: Knowledge-Aware Graph Networks for Commonsense Reasoning",
EMNLP 2019) encodes the relational paths of at most ``K`` hops from each question concept to
each answer concept. ConceptNet is searched as an undirected multigraph with inverse relations:
a hop may follow a stored edge ``u -r-> v`` forwards (relation id ``r``) or a stored edge
``v -r-> u`` backwards (relation id ``r + R``).

**What a path is.** A path is a sequence of distinct nodes :math:`v_0 = s, v_1, \\dots, v_L = t`
together with one relation per hop, :math:`(v_0, r_1, v_1, \\dots, r_L, v_L)`, where hop
:math:`i` is a stored edge between :math:`v_{i-1}` and :math:`v_i` (in either direction).
Between two nodes there may be several stored edges (``shovel -UsedFor-> dig`` and
``dig -~HasPrerequisite-> shovel``...), so each distinct (node sequence, relation sequence) is
one path. Projected to node sequences, the paths are exactly
``networkx.all_simple_paths(M, s, t, cutoff=max_hops)`` on the undirected multigraph ``M`` with
one edge per stored edge (networkx repeats a node sequence once per parallel-edge combination,
as we do), and the (node, relation) sequences are in one-to-one correspondence with
``networkx.all_simple_edge_paths(M, s, t, cutoff=max_hops)``. The tests check both.

**A pair whose two ends are the same concept** (``s == t``) has exactly one path: the
zero-length path ``[s]`` with no relation (networkx's answer too); cycles back to ``s`` are not
simple paths.

**Order and cap.** Paths are found by iterative deepening (all paths of length 1, then 2, ...)
so a per-pair cap of ``max_paths`` keeps the shortest ones; within one length the order is the
depth-first order of the CSR arrays (out-edges before in-edges). The search runs from the end
whose 2-hop neighbourhood is smaller, pruned by breadth-first distances from the other end, and
the paths are reversed when needed, so the uncapped set does not depend on that choice (the
order within one length, and so which paths of the longest kept length a cap keeps, does).

The kernel is compiled with numba and writes into preallocated arrays:

Shapes:
    - **nodes**: ``(P, max_hops + 1)`` int32 node ids, ``-1`` after the path's end.
    - **relations**: ``(P, max_hops)`` int32 relation ids in ``[0, 2R)``, ``-1`` padded.
    - **lengths**: ``(P,)`` int32 number of hops (0 for ``s == t``).
    - **pair_ptr**: ``(K + 1,)`` int64; the paths of pair ``k`` are rows
      ``pair_ptr[k]:pair_ptr[k + 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph

UNREACHED = 127


@dataclass(frozen=True)
class PathSet:
    """Paths of a batch of (source, target) pairs, concatenated.

    Attributes:
        nodes: ``(P, max_hops + 1)`` int32 node ids, ``-1`` padded.
        relations: ``(P, max_hops)`` int32 relation ids (``r + R`` = edge followed backwards),
            ``-1`` padded.
        lengths: ``(P,)`` int32 hops per path.
        pair_ptr: ``(K + 1,)`` int64 offsets: pair ``k`` owns rows ``pair_ptr[k]:pair_ptr[k+1]``.
        sources: ``(K,)`` int32 source (question concept) ids.
        targets: ``(K,)`` int32 target (answer concept) ids.
    """

    nodes: np.ndarray
    relations: np.ndarray
    lengths: np.ndarray
    pair_ptr: np.ndarray
    sources: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_pairs(self) -> int:
        return len(self.sources)

    @property
    def paths_per_pair(self) -> np.ndarray:
        """``(K,)`` number of paths of every pair."""
        return np.diff(self.pair_ptr)

    def pair(self, k: int) -> "PathSet":
        """The paths of pair ``k`` alone."""
        lo, hi = int(self.pair_ptr[k]), int(self.pair_ptr[k + 1])
        return PathSet(self.nodes[lo:hi], self.relations[lo:hi], self.lengths[lo:hi],
                       np.array([0, hi - lo], dtype=np.int64), self.sources[k:k + 1], self.targets[k:k + 1])

    def select(self, keep: np.ndarray) -> "PathSet":
        """Keep the rows where the boolean mask ``keep`` (P,) is true (offsets recomputed)."""
        keep = np.asarray(keep, dtype=bool)
        counts = np.add.reduceat(keep.astype(np.int64), self.pair_ptr[:-1]) if len(keep) else None
        if counts is None:
            ptr = self.pair_ptr.copy()
        else:
            # reduceat gives a wrong value for empty segments: fix them
            counts = np.where(np.diff(self.pair_ptr) == 0, 0, counts)
            ptr = np.zeros(len(self.pair_ptr), dtype=np.int64)
            np.cumsum(counts, out=ptr[1:])
        return PathSet(self.nodes[keep], self.relations[keep], self.lengths[keep], ptr,
                       self.sources, self.targets)

    def as_tuples(self, k: int | None = None) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """``[(node ids, relation ids), ...]`` of pair ``k`` (or of all rows): for tests and display."""
        lo, hi = (0, len(self)) if k is None else (int(self.pair_ptr[k]), int(self.pair_ptr[k + 1]))
        out = []
        for i in range(lo, hi):
            n = int(self.lengths[i])
            out.append((tuple(int(v) for v in self.nodes[i, :n + 1]), tuple(int(r) for r in self.relations[i, :n])))
        return out


# ---------------------------------------------------------------------- kernels
@njit(cache=True)
def neighbourhood_volume(out_indptr, in_indptr, head, tail):  # pragma: no cover - compiled
    """``(N,)`` int64 sum of the degrees of every node's neighbours (the cost of a 2-hop search)."""
    n = len(out_indptr) - 1
    degree = np.empty(n, dtype=np.int64)
    for v in range(n):
        degree[v] = (out_indptr[v + 1] - out_indptr[v]) + (in_indptr[v + 1] - in_indptr[v])
    vol = np.zeros(n, dtype=np.int64)
    for e in range(len(head)):
        vol[head[e]] += degree[tail[e]]
        vol[tail[e]] += degree[head[e]]
    return vol


@njit(cache=True)
def _neighbour(v, pos, out_indptr, tail, relation, in_indptr, in_edges, head, num_relations):  # pragma: no cover
    """The ``pos``-th neighbour of ``v`` in the undirected view: ``(node, relation id)``."""
    n_out = out_indptr[v + 1] - out_indptr[v]
    if pos < n_out:
        e = out_indptr[v] + pos
        return tail[e], relation[e]
    e = in_edges[in_indptr[v] + pos - n_out]
    return head[e], relation[e] + num_relations


@njit(cache=True)
def _bfs_distances(root, depth, out_indptr, tail, in_indptr, in_edges, head, dist, visited):  # pragma: no cover
    """Write hop distances ``<= depth`` from ``root`` into ``dist``; returns how many were set."""
    dist[root] = 0
    visited[0] = root
    n_visited = 1
    lo = 0
    for d in range(depth):
        hi = n_visited
        for i in range(lo, hi):
            v = visited[i]
            for e in range(out_indptr[v], out_indptr[v + 1]):
                w = tail[e]
                if dist[w] == UNREACHED:
                    dist[w] = d + 1
                    visited[n_visited] = w
                    n_visited += 1
            for j in range(in_indptr[v], in_indptr[v + 1]):
                w = head[in_edges[j]]
                if dist[w] == UNREACHED:
                    dist[w] = d + 1
                    visited[n_visited] = w
                    n_visited += 1
        lo = hi
    return n_visited


@njit(cache=True)
def _grow(nodes, rels, lengths, needed):  # pragma: no cover
    cap = len(lengths)
    if needed <= cap:
        return nodes, rels, lengths
    new_cap = max(needed, 2 * cap)
    n2 = np.full((new_cap, nodes.shape[1]), -1, dtype=np.int32)
    r2 = np.full((new_cap, rels.shape[1]), -1, dtype=np.int32)
    l2 = np.zeros(new_cap, dtype=np.int32)
    n2[:cap] = nodes
    r2[:cap] = rels
    l2[:cap] = lengths
    return n2, r2, l2


@njit(cache=True)
def find_paths_kernel(out_indptr, tail, relation, in_indptr, in_edges, head, num_relations, volume,
                      sources, targets, max_hops, max_paths, initial_capacity):  # pragma: no cover
    """All simple paths (shortest first, ``max_paths`` per pair, ``<= 0`` = no cap) of every pair.

    Returns ``(nodes, relations, lengths, pair_ptr)`` trimmed to the paths found.
    """
    n = len(out_indptr) - 1
    width = max_hops + 1
    cap0 = max(initial_capacity, 16)
    nodes = np.full((cap0, width), -1, dtype=np.int32)
    rels = np.full((cap0, max(max_hops, 1)), -1, dtype=np.int32)
    lengths = np.zeros(cap0, dtype=np.int32)
    pair_ptr = np.zeros(len(sources) + 1, dtype=np.int64)
    dist = np.full(n, UNREACHED, dtype=np.int8)
    on_path = np.zeros(n, dtype=np.bool_)
    visited = np.empty(n, dtype=np.int64)
    stack_node = np.empty(width, dtype=np.int64)
    stack_pos = np.empty(width, dtype=np.int64)
    stack_end = np.empty(width, dtype=np.int64)
    stack_rel = np.empty(width, dtype=np.int64)
    count = 0
    for k in range(len(sources)):
        s0 = sources[k]
        t0 = targets[k]
        if s0 == t0:
            nodes, rels, lengths = _grow(nodes, rels, lengths, count + 1)
            nodes[count, 0] = s0
            for j in range(1, width):
                nodes[count, j] = -1
            for j in range(rels.shape[1]):
                rels[count, j] = -1
            lengths[count] = 0
            count += 1
            pair_ptr[k + 1] = count
            continue
        if max_hops < 1:
            pair_ptr[k + 1] = count
            continue
        # search from the end whose neighbourhood is cheaper to expand; BFS from the other end
        reverse = volume[s0] > volume[t0]
        s = s0
        t = t0
        if reverse:
            s = t0
            t = s0
        n_visited = _bfs_distances(t, max_hops - 1, out_indptr, tail, in_indptr, in_edges, head, dist, visited)
        pair_start = count
        on_path[s] = True
        stack_node[0] = s
        for limit in range(1, max_hops + 1):
            if max_paths > 0 and count - pair_start >= max_paths:
                break
            depth = 0
            stack_pos[0] = 0
            stack_end[0] = (out_indptr[s + 1] - out_indptr[s]) + (in_indptr[s + 1] - in_indptr[s])
            full = False
            while depth >= 0 and not full:
                v = stack_node[depth]
                if stack_pos[depth] >= stack_end[depth]:
                    if depth > 0:
                        on_path[v] = False
                    depth -= 1
                    continue
                w, r = _neighbour(v, stack_pos[depth], out_indptr, tail, relation, in_indptr, in_edges,
                                  head, num_relations)
                stack_pos[depth] += 1
                hops = depth + 1
                if w == t:
                    if hops == limit:
                        stack_rel[depth] = r
                        nodes, rels, lengths = _grow(nodes, rels, lengths, count + 1)
                        for j in range(width):
                            nodes[count, j] = -1
                        for j in range(rels.shape[1]):
                            rels[count, j] = -1
                        lengths[count] = hops
                        if not reverse:
                            for j in range(hops):
                                nodes[count, j] = stack_node[j]
                                rels[count, j] = stack_rel[j]
                            nodes[count, hops] = t
                        else:
                            # the path t -> s read backwards: nodes reversed, relations inverted
                            nodes[count, 0] = t
                            for j in range(hops):
                                nodes[count, hops - j] = stack_node[j]
                                rj = stack_rel[j]
                                rels[count, hops - 1 - j] = rj + num_relations if rj < num_relations else rj - num_relations
                        count += 1
                        if max_paths > 0 and count - pair_start >= max_paths:
                            full = True
                    continue
                if hops >= limit or on_path[w] or dist[w] > limit - hops:
                    continue
                on_path[w] = True
                stack_rel[depth] = r
                depth += 1
                stack_node[depth] = w
                stack_pos[depth] = 0
                stack_end[depth] = (out_indptr[w + 1] - out_indptr[w]) + (in_indptr[w + 1] - in_indptr[w])
            # unwind whatever is left on the stack when the cap stopped the search
            while depth > 0:
                on_path[stack_node[depth]] = False
                depth -= 1
        on_path[s] = False
        for i in range(n_visited):
            dist[visited[i]] = UNREACHED
        pair_ptr[k + 1] = count
    return nodes[:count].copy(), rels[:count].copy(), lengths[:count].copy(), pair_ptr


# ---------------------------------------------------------------------- python API
class PathFinder:
    """Finds KagNet paths on a :class:`~kgqa.kg.store.KnowledgeGraph` (CSR, both directions).

    Args:
        kg: the graph (memory-mapped arrays are used as they are, nothing is copied).
        max_hops: longest path, in hops (KagNet: 3, up to 4).
        max_paths: paths kept per pair, shortest first (``None`` or ``0``: all).

    Example::

        >>> finder = PathFinder(kg, max_hops=3, max_paths=100)
        >>> paths = finder.find([kg.node_id("shovel")], [kg.node_id("garden")])
        >>> paths.as_tuples(0)
    """

    def __init__(self, kg: "KnowledgeGraph", *, max_hops: int = 3, max_paths: int | None = 100):
        if max_hops < 0 or max_hops > 100:
            raise ValueError(f"max_hops must be in [0, 100], got {max_hops}")
        self.kg = kg
        self.max_hops = int(max_hops)
        self.max_paths = int(max_paths or 0)
        self._arrays = tuple(np.asarray(a) for a in (kg.out_indptr, kg.tail, kg.relation, kg.in_indptr,
                                                      kg.in_edges, kg.head))
        self._volume: np.ndarray | None = None

    @property
    def volume(self) -> np.ndarray:
        """``(N,)`` 2-hop neighbourhood volume per node (computed once per finder, O(E))."""
        if self._volume is None:
            out_indptr, tail, _, in_indptr, _, head = self._arrays
            self._volume = neighbourhood_volume(out_indptr, in_indptr, head, tail)
        return self._volume

    def find(self, sources, targets) -> PathSet:
        """Paths of the pairs ``(sources[k], targets[k])``.

        Args:
            sources: ``(K,)`` node ids (question concepts).
            targets: ``(K,)`` node ids (answer concepts).
        """
        src = np.ascontiguousarray(sources, dtype=np.int32).reshape(-1)
        dst = np.ascontiguousarray(targets, dtype=np.int32).reshape(-1)
        if len(src) != len(dst):
            raise ValueError(f"sources and targets differ in length: {len(src)} != {len(dst)}")
        n = self.kg.num_nodes
        if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            raise ValueError(f"node ids must be in [0, {n})")
        out_indptr, tail, relation, in_indptr, in_edges, head = self._arrays
        guess = len(src) * (self.max_paths if self.max_paths else 64)
        nodes, rels, lengths, ptr = find_paths_kernel(
            out_indptr, tail, relation, in_indptr, in_edges, head, self.kg.num_relations, self.volume,
            src, dst, self.max_hops, self.max_paths, min(guess, 1 << 20))
        if self.max_hops == 0:
            rels = np.zeros((len(lengths), 0), dtype=np.int32)
        return PathSet(nodes, rels, lengths, ptr, src, dst)

    def find_product(self, question_concepts, answer_concepts) -> PathSet:
        """Paths of every (question concept, answer concept) pair, question-major order."""
        q = np.asarray(question_concepts, dtype=np.int32).reshape(-1)
        a = np.asarray(answer_concepts, dtype=np.int32).reshape(-1)
        return self.find(np.repeat(q, len(a)), np.tile(a, len(q)))


def find_paths(kg: "KnowledgeGraph", sources, targets, *, max_hops: int = 3,
               max_paths: int | None = 100) -> PathSet:
    """Functional form of :meth:`PathFinder.find` (builds a finder each call)."""
    return PathFinder(kg, max_hops=max_hops, max_paths=max_paths).find(sources, targets)

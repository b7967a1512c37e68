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
``dig -~HasPrerequisite-> shovel``...). With ``relations="first"`` (the default, as KagNet,
whose path finder searches the simple graph and whose model reads one relation per hop) each
node sequence is one path and each hop carries the lowest relation id among its parallel edges
(forward relations before inverses); the paths are then exactly
``networkx.all_simple_paths(G, s, t, cutoff=max_hops)`` on the simple undirected graph ``G``.
With ``relations="all"`` every (node sequence, relation sequence) is its own path, in
one-to-one correspondence with ``networkx.all_simple_edge_paths(M, s, t, cutoff=max_hops)`` on
the multigraph ``M`` with one edge per stored edge, so parallel edges multiply the paths (and
fill a cap with variants of the same node path). The tests check both.

**A pair whose two ends are the same concept** (``s == t``) has exactly one path: the
zero-length path ``[s]`` with no relation (networkx's answer too); cycles back to ``s`` are not
simple paths.

**Order and cap.** Paths are found by iterative deepening (all paths of length 1, then 2, ...)
so a per-pair cap of ``max_paths`` keeps the shortest ones. The search walks from the end with
fewer neighbours over the sorted undirected adjacency
(:class:`~kgqa.retrieval.adjacency.UndirectedAdjacency`) and closes the last two hops by
intersecting two sorted neighbour lists; paths found from the target are reversed (nodes in
reverse order, relations inverted), so the uncapped set does not depend on that choice. When the
cap falls inside a length, the paths of that length are not kept in walk order (which would
favour low neighbour ids): up to ``work_factor`` times the room left are enumerated and the
room is filled with those whose seeded hash of the node sequence (with ``"all"``, and the
relations) is smallest: a uniform sample, the same in every process and, as node sequences,
for the reversed pair. Within one length the kept paths stay in walk order
(by neighbour id along the walk).

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

from kgqa.retrieval.adjacency import UndirectedAdjacency, adjacency_of

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph



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
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
        ptr = kept_before[self.pair_ptr]
        return PathSet(self.nodes[keep], self.relations[keep], self.lengths[keep], ptr,
                       self.sources, self.targets)

    def shortest_mask(self) -> np.ndarray:
        """``(P,)`` bool: the rows whose length is the shortest of their pair (for :meth:`select`)."""
        pair_of_row = np.repeat(np.arange(self.num_pairs), self.paths_per_pair)
        shortest = np.full(self.num_pairs, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(shortest, pair_of_row, self.lengths.astype(np.int64))
        return self.lengths == shortest[pair_of_row]

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
def _lower_bound(arr, lo, hi, value):  # pragma: no cover - compiled
    """First position in ``arr[lo:hi]`` (sorted) whose value is ``>= value``."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if arr[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _gallop(arr, lo, hi, value):  # pragma: no cover
    """Like :func:`_lower_bound`, but cheap when the answer is near ``lo`` (exponential search)."""
    step = 1
    while lo + step < hi and arr[lo + step] < value:
        lo += step
        step <<= 1
    return _lower_bound(arr, lo, min(lo + step + 1, hi), value)


@njit(cache=True)
def _run_end(arr, pos, hi):  # pragma: no cover
    """End of the run of equal values starting at ``pos``."""
    v = arr[pos]
    pos += 1
    while pos < hi and arr[pos] == v:
        pos += 1
    return pos


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
def _written_relation(r, last_hop, reverse, num_relations):  # pragma: no cover
    """The relation id a hop is written with, from the adjacency entry's relation ``r``."""
    if last_hop:  # stored in the target's list: t -> b, we walk b -> t
        r = r + num_relations if r < num_relations else r - num_relations
    if reverse:  # the path is written from the other end
        r = r + num_relations if r < num_relations else r - num_relations
    return r


@njit(cache=True)
def _emit(nodes, rels, lengths, count, limit, path_node, hop_lo, hop_hi, cur, adj_rel, num_relations,
          reverse, all_relations, level_start, level_limit):  # pragma: no cover
    """Write the node path ``path_node[:limit + 1]`` with its relations.

    Hop ``h`` may use any entry ``hop_lo[h]:hop_hi[h]`` of the adjacency (parallel edges); the
    last hop's entries belong to the target's list and are inverted. ``all_relations``: one
    path per relation combination; else one path whose every hop has the lowest relation id
    (as written, so the choice does not depend on the end the search starts from). Returns
    ``(arrays..., count, full)``; ``full`` once this length has ``level_limit`` paths.
    """
    for h in range(limit):
        cur[h] = hop_lo[h]
        if not all_relations:
            best = _written_relation(adj_rel[hop_lo[h]], h == limit - 1, reverse, num_relations)
            for e in range(hop_lo[h] + 1, hop_hi[h]):
                r = _written_relation(adj_rel[e], h == limit - 1, reverse, num_relations)
                if r < best:
                    best = r
                    cur[h] = e
    while True:
        nodes, rels, lengths = _grow(nodes, rels, lengths, count + 1)
        for j in range(nodes.shape[1]):
            nodes[count, j] = -1
        for j in range(rels.shape[1]):
            rels[count, j] = -1
        lengths[count] = limit
        for h in range(limit):
            r = _written_relation(adj_rel[cur[h]], h == limit - 1, reverse, num_relations)
            rels[count, limit - 1 - h if reverse else h] = r
        for j in range(limit + 1):
            if not reverse:
                nodes[count, j] = path_node[j]
            else:
                nodes[count, limit - j] = path_node[j]
        count += 1
        if level_limit > 0 and count - level_start >= level_limit:
            return nodes, rels, lengths, count, True
        if not all_relations:
            return nodes, rels, lengths, count, False
        # odometer over the relation choices, last hop fastest
        h = limit - 1
        while h >= 0:
            cur[h] += 1
            if cur[h] < hop_hi[h]:
                break
            cur[h] = hop_lo[h]
            h -= 1
        if h < 0:
            return nodes, rels, lengths, count, False


@njit(cache=True)
def _path_key(nodes, rels, row, length, num_relations, with_relations, seed):  # pragma: no cover
    """A seeded 64-bit hash (splitmix64) of a written path's nodes (and relations), read from its
    end with the smaller node id (relations inverted when read backwards), so a path and its
    reverse get one key."""
    backwards = nodes[row, 0] > nodes[row, length]
    h = np.uint64(seed) ^ np.uint64(0x9E3779B97F4A7C15)
    for j in range(2 * length + 1):
        k = 2 * length - j if backwards else j
        if k % 2 == 0:
            v = nodes[row, k // 2]
        elif not with_relations:
            continue
        else:
            v = rels[row, k // 2]
            if backwards:
                v = v + num_relations if v < num_relations else v - num_relations
        h = h ^ np.uint64(v + 1)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h = h ^ (h >> np.uint64(31))
    return h


@njit(cache=True)
def _keep_sample(nodes, rels, lengths, level_start, count, room, num_relations, with_relations,
                 seed):  # pragma: no cover
    """Keep ``room`` of the rows ``[level_start, count)``: those with the smallest seeded hash (a
    uniform sample that is the same in every process), in their found order. Returns the count."""
    m = count - level_start
    keys = np.empty(m, dtype=np.uint64)
    for i in range(m):
        keys[i] = _path_key(nodes, rels, level_start + i, lengths[level_start + i], num_relations,
                            with_relations, seed)
    chosen = np.sort(np.argsort(keys, kind="mergesort")[:room])
    for i in range(room):
        src = level_start + chosen[i]
        dst = level_start + i
        if src != dst:
            nodes[dst] = nodes[src]
            rels[dst] = rels[src]
            lengths[dst] = lengths[src]
    return level_start + room


@njit(cache=True)
def find_paths_kernel(indptr, adj_node, adj_rel, num_relations, sources, targets, max_hops, max_paths,
                      initial_capacity, all_relations, seed, work_factor):  # pragma: no cover
    """All simple paths (shortest first, ``max_paths`` per pair, ``<= 0`` = no cap) of every pair.

    Paths of exactly ``limit`` hops, for ``limit = 1, 2, ...``: a depth-first walk from the
    source enumerates the first ``limit - 2`` hops, and the last two hops are closed by merging
    the sorted neighbour lists of the walk's end ``x`` and of the target (binary search when one
    list is much shorter, so a hub such as ``person`` costs ``O(small * log(large))``). When the
    cap falls inside a length, at most ``work_factor`` times the room left is enumerated and
    the room is filled by :func:`_keep_sample`.

    Returns ``(nodes, relations, lengths, pair_ptr)`` trimmed to the paths found.
    """
    n = len(indptr) - 1
    width = max_hops + 1
    nodes = np.full((max(initial_capacity, 16), width), -1, dtype=np.int32)
    rels = np.full((max(initial_capacity, 16), max(max_hops, 1)), -1, dtype=np.int32)
    lengths = np.zeros(max(initial_capacity, 16), dtype=np.int32)
    pair_ptr = np.zeros(len(sources) + 1, dtype=np.int64)
    on_path = np.zeros(n, dtype=np.bool_)
    path_node = np.empty(width + 1, dtype=np.int64)
    hop_lo = np.empty(width, dtype=np.int64)
    hop_hi = np.empty(width, dtype=np.int64)
    pos = np.empty(width, dtype=np.int64)
    cur = np.empty(width, dtype=np.int64)
    count = 0
    for k in range(len(sources)):
        s0 = sources[k]
        t0 = targets[k]
        pair_start = count
        if s0 == t0:  # the zero-length path [s]
            nodes, rels, lengths = _grow(nodes, rels, lengths, count + 1)
            for j in range(width):
                nodes[count, j] = -1
            for j in range(rels.shape[1]):
                rels[count, j] = -1
            nodes[count, 0] = s0
            lengths[count] = 0
            count += 1
            pair_ptr[k + 1] = count
            continue
        # walk from the end with fewer neighbours; paths are reversed back when writing
        reverse = (indptr[s0 + 1] - indptr[s0]) > (indptr[t0 + 1] - indptr[t0])
        s = t0 if reverse else s0
        t = s0 if reverse else t0
        ta = indptr[t]
        tb = indptr[t + 1]
        done = False
        path_node[0] = s
        on_path[s] = True
        for limit in range(1, max_hops + 1):
            if done:
                break
            level_start = count
            room = max_paths - (level_start - pair_start)
            level_limit = work_factor * room if max_paths > 0 else 0
            full = False
            if limit == 1:
                lo = _lower_bound(adj_node, indptr[s], indptr[s + 1], t)
                if lo < indptr[s + 1] and adj_node[lo] == t:
                    hi = _run_end(adj_node, lo, indptr[s + 1])
                    # a direct edge: written from s's list, so no inversion on the last hop
                    best = -1
                    for e in range(lo, hi):
                        r = _written_relation(adj_rel[e], False, reverse, num_relations)
                        if not all_relations:
                            if best < 0 or r < best:
                                best = r
                            if e < hi - 1:
                                continue
                            r = best
                        nodes, rels, lengths = _grow(nodes, rels, lengths, count + 1)
                        for j in range(width):
                            nodes[count, j] = -1
                        for j in range(rels.shape[1]):
                            rels[count, j] = -1
                        lengths[count] = 1
                        nodes[count, 0] = s0
                        nodes[count, 1] = t0
                        rels[count, 0] = r
                        count += 1
                        if level_limit > 0 and count - level_start >= level_limit:
                            break
            else:
                prefix = limit - 2  # hops walked before the two closing hops
                depth = 0
                pos[0] = indptr[s]
                while depth >= 0 and not full:
                    if depth == prefix:
                        # close the path: x -> b -> t for every common neighbour b of x and t
                        x = path_node[depth]
                        xa = indptr[x]
                        xb = indptr[x + 1]
                        if (xb - xa) <= (tb - ta):
                            i = xa
                            j0 = ta  # the targets' list is searched left to right: gallop from here
                            while i < xb and not full and j0 < tb:
                                b = adj_node[i]
                                i_end = _run_end(adj_node, i, xb)
                                j = _gallop(adj_node, j0, tb, b)
                                j0 = j
                                if b != t and not on_path[b]:
                                    if j < tb and adj_node[j] == b:
                                        path_node[depth + 1] = b
                                        path_node[depth + 2] = t
                                        hop_lo[depth] = i
                                        hop_hi[depth] = i_end
                                        hop_lo[depth + 1] = j
                                        hop_hi[depth + 1] = _run_end(adj_node, j, tb)
                                        nodes, rels, lengths, count, full = _emit(
                                            nodes, rels, lengths, count, limit, path_node, hop_lo, hop_hi, cur, adj_rel,
                                            num_relations, reverse, all_relations, level_start, level_limit)
                                i = i_end
                        else:
                            j = ta
                            i0 = xa
                            while j < tb and not full and i0 < xb:
                                b = adj_node[j]
                                j_end = _run_end(adj_node, j, tb)
                                i = _gallop(adj_node, i0, xb, b)
                                i0 = i
                                if b != t and not on_path[b]:
                                    if i < xb and adj_node[i] == b:
                                        path_node[depth + 1] = b
                                        path_node[depth + 2] = t
                                        hop_lo[depth] = i
                                        hop_hi[depth] = _run_end(adj_node, i, xb)
                                        hop_lo[depth + 1] = j
                                        hop_hi[depth + 1] = j_end
                                        nodes, rels, lengths, count, full = _emit(
                                            nodes, rels, lengths, count, limit, path_node, hop_lo, hop_hi, cur, adj_rel,
                                            num_relations, reverse, all_relations, level_start, level_limit)
                                j = j_end
                        if depth > 0:
                            on_path[x] = False
                        depth -= 1
                        continue
                    v = path_node[depth]
                    if pos[depth] >= indptr[v + 1]:
                        if depth > 0:
                            on_path[v] = False
                        depth -= 1
                        continue
                    i = pos[depth]
                    w = adj_node[i]
                    i_end = _run_end(adj_node, i, indptr[v + 1])
                    pos[depth] = i_end
                    if w == t or on_path[w]:
                        continue
                    hop_lo[depth] = i
                    hop_hi[depth] = i_end
                    depth += 1
                    path_node[depth] = w
                    on_path[w] = True
                    pos[depth] = indptr[w]
                while depth > 0:  # unwind what the cap left on the stack
                    on_path[path_node[depth]] = False
                    depth -= 1
            if max_paths > 0 and count - pair_start >= max_paths:
                if count - level_start > room:  # the cap falls inside this length: a fair sample
                    count = _keep_sample(nodes, rels, lengths, level_start, count, room, num_relations,
                                         all_relations, seed)
                done = True
        on_path[s] = False
        pair_ptr[k + 1] = count
    return nodes[:count].copy(), rels[:count].copy(), lengths[:count].copy(), pair_ptr


@njit(cache=True)
def hop_edges_kernel(out_indptr, relation, tail, nodes, rels, lengths, num_relations):  # pragma: no cover
    """``(P, K)`` id of the stored edge behind every hop (``-1`` after the end).

    Hop ``u -r-> v`` is the stored edge ``(u, r, v)`` for ``r < R`` and ``(v, r - R, u)``
    otherwise; a head's edges are sorted by ``(relation, tail)``, so it is found by binary search.
    """
    out = np.full(rels.shape, -1, dtype=np.int64)
    for p in range(len(lengths)):
        for j in range(lengths[p]):
            r = rels[p, j]
            if r < num_relations:
                h = nodes[p, j]
                t = nodes[p, j + 1]
            else:
                h = nodes[p, j + 1]
                t = nodes[p, j]
                r -= num_relations
            lo = out_indptr[h]
            hi = out_indptr[h + 1]
            while lo < hi:
                mid = (lo + hi) >> 1
                if relation[mid] < r or (relation[mid] == r and tail[mid] < t):
                    lo = mid + 1
                else:
                    hi = mid
            if lo < out_indptr[h + 1] and relation[lo] == r and tail[lo] == t:
                out[p, j] = lo
    return out


# ---------------------------------------------------------------------- python API
class PathFinder:
    """Finds KagNet paths on a :class:`~kgqa.kg.store.KnowledgeGraph`, both edge directions.

    Args:
        kg: the graph.
        max_hops: longest path, in hops (KagNet: 3, up to 4).
        max_paths: paths kept per pair, shortest first (``None`` or ``0``: all).
        relations: ``"first"`` (one path per node sequence, lowest relation id per hop) or
            ``"all"`` (one path per relation combination); see the module docstring.
        seed: seed of the sample that fills the cap inside a length.
        work_factor: at most this many times the room left is enumerated at the length where
            the cap falls (bounds the work on hub pairs; beyond it the sample is of the first
            ones found).
        adjacency: the graph's sorted undirected adjacency (built once per process if omitted).

    Example::

        >>> finder = PathFinder(kg, max_hops=3, max_paths=100)
        >>> paths = finder.find([kg.node_id("shovel")], [kg.node_id("flower")])
        >>> [(kg.node_name(v) for v in nodes) for nodes, _ in paths.as_tuples(0)]
    """

    def __init__(self, kg: "KnowledgeGraph", *, max_hops: int = 3, max_paths: int | None = 100,
                 relations: str = "first", seed: int = 0, work_factor: int = 16,
                 adjacency: UndirectedAdjacency | None = None):
        if not 0 <= max_hops <= 32:
            raise ValueError(f"max_hops must be in [0, 32], got {max_hops}")
        if relations not in ("first", "all"):
            raise ValueError(f"relations must be 'first' or 'all', got {relations!r}")
        if work_factor < 1:
            raise ValueError(f"work_factor must be >= 1, got {work_factor}")
        self.kg = kg
        self.max_hops = int(max_hops)
        self.max_paths = int(max_paths or 0)
        self.relations = relations
        self.seed = int(seed)
        self.work_factor = int(work_factor)
        self.adjacency = adjacency if adjacency is not None else adjacency_of(kg)

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
        adj = self.adjacency
        guess = len(src) * (self.max_paths if self.max_paths else 64)
        nodes, rels, lengths, ptr = find_paths_kernel(
            adj.indptr, adj.nodes, adj.relations, adj.num_relations, src, dst, self.max_hops,
            self.max_paths, min(guess, 1 << 20), self.relations == "all", self.seed, self.work_factor)
        if self.max_hops == 0:
            rels = np.zeros((len(lengths), 0), dtype=np.int32)
        return PathSet(nodes, rels, lengths, ptr, src, dst)

    def distances(self, sources, targets) -> np.ndarray:
        """``(K,)`` int32 hop distance of each pair ``(sources[k], targets[k])`` in the undirected
        graph: 0 for ``s == t``, ``-1`` when no path of at most ``max_hops`` hops joins them.

        The same shortest-first search as :meth:`find` with a cap of one path per pair, so it
        stops at the first length that has a path (``max_paths`` and ``relations`` do not matter).
        """
        src = np.ascontiguousarray(sources, dtype=np.int32).reshape(-1)
        dst = np.ascontiguousarray(targets, dtype=np.int32).reshape(-1)
        first = PathFinder(self.kg, max_hops=self.max_hops, max_paths=1, adjacency=self.adjacency).find(src, dst)
        out = np.full(first.num_pairs, -1, dtype=np.int32)
        found = first.paths_per_pair > 0
        out[found] = first.lengths[first.pair_ptr[:-1][found]]
        return out

    def hop_edges(self, paths: PathSet) -> np.ndarray:
        """``(P, max_hops)`` int64 id of the stored edge behind each hop of ``paths`` (``-1`` padded)."""
        kg = self.kg
        return hop_edges_kernel(np.asarray(kg.out_indptr), np.asarray(kg.relation), np.asarray(kg.tail),
                                np.ascontiguousarray(paths.nodes), np.ascontiguousarray(paths.relations),
                                np.ascontiguousarray(paths.lengths), kg.num_relations)

    def find_product(self, question_concepts, answer_concepts) -> PathSet:
        """Paths of every (question concept, answer concept) pair, question-major order."""
        q = np.asarray(question_concepts, dtype=np.int32).reshape(-1)
        a = np.asarray(answer_concepts, dtype=np.int32).reshape(-1)
        return self.find(np.repeat(q, len(a)), np.tile(a, len(q)))


def find_paths(kg: "KnowledgeGraph", sources, targets, *, max_hops: int = 3,
               max_paths: int | None = 100, relations: str = "first") -> PathSet:
    """Functional form of :meth:`PathFinder.find`."""
    return PathFinder(kg, max_hops=max_hops, max_paths=max_paths, relations=relations).find(sources, targets)

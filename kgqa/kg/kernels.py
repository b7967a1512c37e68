"""Compiled graph kernels over the store's CSR arrays (numba, cached on disk).

Visited marks use a *stamp* array: ``stamp[v] == mark`` means "seen in the current query", and
each query takes a new ``mark``, so no O(N) clearing is needed between queries. That is what
makes a 2-hop query cost O(edges touched) instead of O(nodes in the graph).
"""

from __future__ import annotations

import numpy as np
from numba import get_num_threads, njit, prange


@njit(cache=True, nogil=True)
def bfs_k_hop(out_indptr, tail, in_indptr, in_edges, head, relation, rel_ok,
              seeds, k, use_out, use_in, stamp, mark, result):
    """Breadth-first search to depth ``k``; writes reached node ids into ``result``.

    Args:
        out_indptr, tail, in_indptr, in_edges, head, relation: the store's CSR arrays.
        rel_ok: (R,) bool, relations that may be followed.
        seeds: (S,) int64 start nodes.
        k: number of hops.
        use_out, use_in: follow edges forwards / backwards.
        stamp: (N,) int32 visit marks, updated in place; mark: this query's mark.
        result: (N,) int32 output buffer.

    Returns:
        The number of reached nodes (seeds first, then in BFS order).
    """
    n_res = 0
    for s in seeds:
        if stamp[s] != mark:
            stamp[s] = mark
            result[n_res] = s
            n_res += 1
    lo, hi = 0, n_res
    for _ in range(k):
        for i in range(lo, hi):
            v = result[i]
            if use_out:
                for e in range(out_indptr[v], out_indptr[v + 1]):
                    u = tail[e]
                    if stamp[u] != mark and rel_ok[relation[e]]:
                        stamp[u] = mark
                        result[n_res] = u
                        n_res += 1
            if use_in:
                for j in range(in_indptr[v], in_indptr[v + 1]):
                    e = in_edges[j]
                    u = head[e]
                    if stamp[u] != mark and rel_ok[relation[e]]:
                        stamp[u] = mark
                        result[n_res] = u
                        n_res += 1
        lo, hi = hi, n_res
        if lo == hi:
            break
    return n_res


@njit(cache=True, nogil=True, parallel=True)
def bfs_k_hop_many(out_indptr, tail, in_indptr, in_edges, head, relation, rel_ok,
                   seeds, k, use_out, use_in, sizes):
    """Independent single-seed k-hop queries, split over threads; ``sizes[i]`` gets query i's count.

    Each thread owns its own stamp array and result buffer ((threads, N) int32 each).
    """
    n = len(out_indptr) - 1
    threads = get_num_threads()
    stamps = np.zeros((threads, n), dtype=np.int32)
    results = np.empty((threads, n), dtype=np.int32)
    chunk = (len(seeds) + threads - 1) // threads
    for t in prange(threads):
        one = np.empty(1, dtype=np.int64)
        for i in range(t * chunk, min(len(seeds), (t + 1) * chunk)):
            one[0] = seeds[i]
            sizes[i] = bfs_k_hop(out_indptr, tail, in_indptr, in_edges, head, relation, rel_ok,
                                 one, k, use_out, use_in, stamps[t], i + 1, results[t])
    return sizes

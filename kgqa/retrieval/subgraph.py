"""Per-choice subgraphs: question and answer concepts plus the nodes that connect them.

A (question, choice) pair is grounded to the concepts ``Q`` linked in the question and ``A``
linked in the choice. Two ways to add the nodes between them (``RetrievalConfig.subgraph``):

* ``bridging`` (kgqa's default): the nodes that lie between a question and an answer concept,

  .. math::
      V = Q \\cup A \\cup \\{v \\notin Q \\cup A : d(Q, v) + d(v, A) \\le k\\}

  where :math:`d(S, v)` is the hop distance from the set ``S`` in the undirected graph; with
  ``k = 2`` these are the nodes adjacent to both a question and an answer concept (the middle
  nodes of 2-hop question-answer paths; ``concepts_to_adj_matrices_2hop_qa_pair`` in QA-GNN's
  code, which QA-GNN itself does not use).
* ``qagnn`` (QA-GNN, Yasunaga et al., NAACL 2021, ``concepts_to_adj_matrices_2hop_all_pair`` of
  its code): the common neighbours of *any* two distinct concepts of :math:`C = Q \\cup A`,
  question-question and answer-answer pairs included,

  .. math::
      V = C \\cup \\{v \\notin C : |N(v) \\cap C| \\ge 2\\}.

  This is a superset of ``bridging`` with ``k = 2``, and larger (QA-GNN then keeps the 200 most
  relevant nodes, its context node included).

When :math:`|V|` exceeds ``max_nodes`` the other nodes are ranked
(:mod:`kgqa.retrieval.ranking`) and the best kept; question and answer concepts are always kept.
With ``score_all_nodes`` (the default) the ranker scores every node of every subgraph, so
``node_score`` (QA-GNN's relevance feature) is never missing. The edges are every stored edge
among the kept nodes (:meth:`KnowledgeGraph.edges_among`), forward direction only: inverse
edges and the optional context node are added when the subgraph becomes a PyG ``Data``
(:mod:`kgqa.retrieval.data`).

Node order in a subgraph: question concepts, answer concepts (each in the order given), then
the other nodes by decreasing score (ties by node id; by node id when unranked). A concept
linked in both the question and the choice is an answer concept (QA-GNN removes it from the
question concepts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from numba import njit

from kgqa.retrieval.adjacency import UndirectedAdjacency, adjacency_of

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.ranking import NodeRanker

QUESTION_CONCEPT, ANSWER_CONCEPT, OTHER_NODE, CONTEXT_NODE = 0, 1, 2, 3


@dataclass(frozen=True)
class Subgraph:
    """The evidence graph of one (question, choice) pair, with local edge indices.

    Attributes:
        node_ids: ``(N,)`` int32 graph node ids (question concepts, answer concepts, others).
        node_type: ``(N,)`` int8: 0 question concept, 1 answer concept, 2 other.
        node_score: ``(N,)`` float32 ranker score of each node (NaN where the ranker did not run,
            which only happens with ``score_all_nodes=False`` under the cap).
        edge_index: ``(2, M)`` int32 local ``(head, tail)`` of every stored edge among the nodes.
        edge_type: ``(M,)`` int32 forward relation ids in ``[0, R)``.
        edge_weight: ``(M,)`` float32 edge weights.
        num_candidates: nodes before the ``max_nodes`` cap.
    """

    node_ids: np.ndarray
    node_type: np.ndarray
    node_score: np.ndarray
    edge_index: np.ndarray
    edge_type: np.ndarray
    edge_weight: np.ndarray
    num_candidates: int

    @property
    def num_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]


@njit(cache=True)
def push(arr, count, value):  # pragma: no cover - compiled
    """Write ``value`` at ``arr[count]``, doubling ``arr`` when full; returns ``(arr, count + 1)``."""
    if count >= len(arr):
        bigger = np.empty(2 * len(arr), dtype=arr.dtype)
        bigger[:count] = arr[:count]
        arr = bigger
    arr[count] = value
    return arr, count + 1


@njit(cache=True)
def bridging_kernel(indptr, adj_node, q_ptr, q_ids, a_ptr, a_ids, hops):  # pragma: no cover - compiled
    """Bridging nodes of a batch of choices.

    Choice ``c`` has question concepts ``q_ids[q_ptr[c]:q_ptr[c+1]]`` and answer concepts
    ``a_ids[a_ptr[c]:a_ptr[c+1]]``. Returns ``(ptr, nodes)``: the sorted ids of the nodes ``v``
    outside ``Q`` and ``A`` with ``d(Q, v) + d(v, A) <= hops``.
    """
    n = len(indptr) - 1
    num_choices = len(q_ptr) - 1
    far = 127
    dq = np.full(n, far, dtype=np.int8)
    da = np.full(n, far, dtype=np.int8)
    seen_q = np.empty(n, dtype=np.int64)
    seen_a = np.empty(n, dtype=np.int64)
    out_ptr = np.zeros(num_choices + 1, dtype=np.int64)
    out = np.empty(1024, dtype=np.int32)
    count = 0
    depth = hops - 1  # each side searches up to k - 1 hops; a bridging node is at >= 1 from both
    for c in range(num_choices):
        nq = 0
        na = 0
        if q_ptr[c + 1] > q_ptr[c] and a_ptr[c + 1] > a_ptr[c] and hops >= 2:
            for side in range(2):
                dist = dq if side == 0 else da
                seen = seen_q if side == 0 else seen_a
                ids = q_ids if side == 0 else a_ids
                lo = q_ptr[c] if side == 0 else a_ptr[c]
                hi = q_ptr[c + 1] if side == 0 else a_ptr[c + 1]
                m = 0
                for i in range(lo, hi):
                    v = ids[i]
                    if dist[v] == far:
                        dist[v] = 0
                        seen[m] = v
                        m += 1
                start = 0
                for d in range(depth):
                    end = m
                    for i in range(start, end):
                        v = seen[i]
                        for e in range(indptr[v], indptr[v + 1]):
                            w = adj_node[e]
                            if dist[w] == far:
                                dist[w] = d + 1
                                seen[m] = w
                                m += 1
                    start = end
                if side == 0:
                    nq = m
                else:
                    na = m
            # scan the smaller visited set, keep nodes close enough to both sides
            first = count
            small = seen_q if nq <= na else seen_a
            n_small = min(nq, na)
            for i in range(n_small):
                v = small[i]
                if dq[v] > 0 and da[v] > 0 and dq[v] + da[v] <= hops:
                    out, count = push(out, count, v)
            out[first:count] = np.sort(out[first:count])
            for i in range(nq):
                dq[seen_q[i]] = far
            for i in range(na):
                da[seen_a[i]] = far
        out_ptr[c + 1] = count
    return out_ptr, out[:count].copy()


@njit(cache=True)
def common_neighbour_kernel(indptr, adj_node, c_ptr, c_ids):  # pragma: no cover - compiled
    """QA-GNN's extra nodes of a batch of choices.

    Choice ``c`` has the distinct concepts ``c_ids[c_ptr[c]:c_ptr[c+1]]`` (question and answer
    concepts together). Returns ``(ptr, nodes)``: the sorted ids of the nodes outside the
    concepts that are adjacent to at least two of them (parallel edges to one concept count once).
    """
    n = len(indptr) - 1
    num_choices = len(c_ptr) - 1
    count = np.zeros(n, dtype=np.int32)
    is_concept = np.zeros(n, dtype=np.bool_)
    touched = np.empty(1024, dtype=np.int64)
    out_ptr = np.zeros(num_choices + 1, dtype=np.int64)
    out = np.empty(1024, dtype=np.int32)
    total = 0
    for c in range(num_choices):
        lo = c_ptr[c]
        hi = c_ptr[c + 1]
        for i in range(lo, hi):
            is_concept[c_ids[i]] = True
        m = 0
        if hi - lo >= 2:
            for i in range(lo, hi):
                u = c_ids[i]
                e = indptr[u]
                end = indptr[u + 1]
                while e < end:
                    v = adj_node[e]
                    e += 1
                    while e < end and adj_node[e] == v:  # one count per distinct neighbour
                        e += 1
                    if v == u:
                        continue
                    if count[v] == 0:
                        touched, m = push(touched, m, v)
                    count[v] += 1
        first = total
        for i in range(m):
            v = touched[i]
            if count[v] >= 2 and not is_concept[v]:
                out, total = push(out, total, v)
            count[v] = 0
        out[first:total] = np.sort(out[first:total])
        for i in range(lo, hi):
            is_concept[c_ids[i]] = False
        out_ptr[c + 1] = total
    return out_ptr, out[:total].copy()


@njit(cache=True)
def _append_edge(heads, tails, eids, count, head, tail, eid):  # pragma: no cover - compiled
    if count >= len(heads):
        heads2 = np.empty(2 * len(heads), dtype=np.int32)
        tails2 = np.empty(2 * len(heads), dtype=np.int32)
        eids2 = np.empty(2 * len(heads), dtype=np.int32)
        heads2[:count] = heads[:count]
        tails2[:count] = tails[:count]
        eids2[:count] = eids[:count]
        heads, tails, eids = heads2, tails2, eids2
    heads[count] = head
    tails[count] = tail
    eids[count] = eid
    return heads, tails, eids, count + 1


@njit(cache=True)
def edges_among_kernel(indptr, adj_node, adj_rel, adj_eid, num_relations, node_ptr, node_ids, num_nodes):  # pragma: no cover
    """Stored edges among the nodes of each group (a group = one subgraph).

    Group ``c``'s nodes are ``node_ids[node_ptr[c]:node_ptr[c+1]]`` (distinct). Returns
    ``(edge_ptr, local_head, local_tail, edge_ids)`` with every stored edge whose two ends are in
    the group once, sorted by edge id (the order of :meth:`KnowledgeGraph.edges_among`). Each
    node's sorted neighbour list is scanned, or searched (galloping) for every group member when
    the node is a hub, so a hub costs ``O(group size * log degree)``.
    """
    local = np.full(num_nodes, -1, dtype=np.int64)
    num_groups = len(node_ptr) - 1
    edge_ptr = np.zeros(num_groups + 1, dtype=np.int64)
    heads = np.empty(4096, dtype=np.int32)
    tails = np.empty(4096, dtype=np.int32)
    eids = np.empty(4096, dtype=np.int32)
    count = 0
    for c in range(num_groups):
        lo = node_ptr[c]
        hi = node_ptr[c + 1]
        size = hi - lo
        for i in range(lo, hi):
            local[node_ids[i]] = i - lo
        sorted_members = np.sort(node_ids[lo:hi])
        first = count
        for i in range(lo, hi):
            u = node_ids[i]
            a = indptr[u]
            b = indptr[u + 1]
            if b - a <= 2 * size:
                # scan u's list, look each neighbour up in the group
                for e in range(a, b):
                    v = adj_node[e]
                    if adj_rel[e] < num_relations and local[v] >= 0:
                        heads, tails, eids, count = _append_edge(heads, tails, eids, count, i - lo, local[v],
                                                                 adj_eid[e])
            else:
                # a hub: search u's sorted list for each group member instead
                pos = a
                for j in range(size):
                    v = sorted_members[j]
                    step = 1
                    while pos + step < b and adj_node[pos + step] < v:
                        pos += step
                        step <<= 1
                    l = pos
                    h = min(pos + step + 1, b)
                    while l < h:
                        mid = (l + h) >> 1
                        if adj_node[mid] < v:
                            l = mid + 1
                        else:
                            h = mid
                    pos = l
                    e = l
                    while e < b and adj_node[e] == v:
                        if adj_rel[e] < num_relations:
                            heads, tails, eids, count = _append_edge(heads, tails, eids, count, i - lo,
                                                                     local[v], adj_eid[e])
                        e += 1
        order = np.argsort(eids[first:count], kind="mergesort")
        heads[first:count] = heads[first:count][order]
        tails[first:count] = tails[first:count][order]
        eids[first:count] = eids[first:count][order]
        for i in range(lo, hi):
            local[node_ids[i]] = -1
        edge_ptr[c + 1] = count
    return edge_ptr, heads[:count].copy(), tails[:count].copy(), eids[:count].copy()


def _ptr(groups: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
    ptr = np.zeros(len(groups) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    flat = np.fromiter((int(v) for g in groups for v in g), dtype=np.int32, count=int(ptr[-1]))
    return ptr, flat


def split_concepts(question_concepts, answer_concepts) -> tuple[np.ndarray, np.ndarray]:
    """Distinct question and answer concepts in first-seen order, a shared concept counted as an answer."""
    answers = np.asarray(list(dict.fromkeys(int(v) for v in answer_concepts)), dtype=np.int32)
    answer_set = set(answers.tolist())
    questions = np.asarray([v for v in dict.fromkeys(int(v) for v in question_concepts) if v not in answer_set],
                           dtype=np.int32)
    return questions, answers


def edges_among_groups(kg: "KnowledgeGraph", node_lists: Sequence[np.ndarray],
                       adjacency: UndirectedAdjacency | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``[(edge_index (2, M) local, edge_type (M,), edge_weight (M,)), ...]`` per node list.

    The same edges as :meth:`KnowledgeGraph.edges_among` on each list (sorted by edge id), with
    local indices into the list, computed for all lists in one compiled pass.
    """
    adj = adjacency if adjacency is not None else adjacency_of(kg)
    node_ptr, node_ids = _ptr(node_lists)
    edge_ptr, heads, tails, eids = edges_among_kernel(adj.indptr, adj.nodes, adj.relations, adj.edge_ids,
                                                      adj.num_relations, node_ptr, node_ids, kg.num_nodes)
    relation = np.asarray(kg.relation)[eids].astype(np.int32)
    weight = np.asarray(kg.weight)[eids].astype(np.float32)
    out = []
    for c in range(len(node_lists)):
        lo, hi = edge_ptr[c], edge_ptr[c + 1]
        out.append((np.stack([heads[lo:hi], tails[lo:hi]]), relation[lo:hi], weight[lo:hi]))
    return out


@dataclass(frozen=True)
class NodeSelection:
    """The nodes of one choice's subgraph before its edges are gathered.

    Attributes:
        node_ids: ``(N,)`` int32 question concepts, answer concepts, kept bridging nodes.
        node_type: ``(N,)`` int8.
        node_score: ``(N,)`` float32 (NaN where the ranker did not run).
        num_candidates: nodes before the cap.
        ranked: whether the ranker scored this choice's nodes.
    """

    node_ids: np.ndarray
    node_type: np.ndarray
    node_score: np.ndarray
    num_candidates: int
    ranked: bool


class SubgraphBuilder:
    """Builds :class:`Subgraph` s from question and answer concept ids.

    Args:
        kg: the graph.
        mode: ``"bridging"`` or ``"qagnn"`` (see the module docstring).
        hops: ``k`` of ``bridging`` (2 = nodes adjacent to a question and an answer concept).
        max_nodes: most nodes per subgraph (question and answer concepts are always kept, even
            when they alone exceed it).
        ranker: ranks the other nodes; ``None`` ranks by degree.
        score_all_nodes: run the ranker on every choice, so ``node_score`` is always filled;
            ``False`` runs it only where the cap forces a choice.
        adjacency: the sorted undirected adjacency (built once per process if omitted).
    """

    def __init__(self, kg: "KnowledgeGraph", *, mode: str = "bridging", hops: int = 2, max_nodes: int = 200,
                 ranker: "NodeRanker | None" = None, score_all_nodes: bool = True,
                 adjacency: UndirectedAdjacency | None = None):
        if mode not in ("bridging", "qagnn"):
            raise ValueError(f"mode must be 'bridging' or 'qagnn', got {mode!r}")
        if hops < 0 or hops > 6:
            raise ValueError(f"hops must be in [0, 6], got {hops}")
        if max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
        from kgqa.retrieval.ranking import DegreeRanker

        self.kg = kg
        self.mode = mode
        self.hops = int(hops)
        self.max_nodes = int(max_nodes)
        self.score_all_nodes = bool(score_all_nodes)
        self.adjacency = adjacency if adjacency is not None else adjacency_of(kg)
        self.ranker = ranker if ranker is not None else DegreeRanker(kg)

    def bridging(self, question_concepts: Sequence[Sequence[int]],
                 answer_concepts: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Sorted bridging node ids of each choice (``Q``/``A`` given per choice, as lists of ids)."""
        q_ptr, q_ids = _ptr(question_concepts)
        a_ptr, a_ids = _ptr(answer_concepts)
        ptr, nodes = bridging_kernel(self.adjacency.indptr, self.adjacency.nodes, q_ptr, q_ids, a_ptr, a_ids,
                                     self.hops)
        return [nodes[ptr[i]:ptr[i + 1]] for i in range(len(ptr) - 1)]

    def common_neighbours(self, question_concepts: Sequence[Sequence[int]],
                          answer_concepts: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Sorted ids of QA-GNN's extra nodes of each choice: outside ``Q`` and ``A``, adjacent
        to two distinct concepts of ``Q`` and ``A`` together (``Q``/``A`` as distinct ids)."""
        c_ptr, c_ids = _ptr([list(q) + list(a) for q, a in zip(question_concepts, answer_concepts)])
        ptr, nodes = common_neighbour_kernel(self.adjacency.indptr, self.adjacency.nodes, c_ptr, c_ids)
        return [nodes[ptr[i]:ptr[i + 1]] for i in range(len(ptr) - 1)]

    def select(self, question_concepts: Sequence[Sequence[int]], answer_concepts: Sequence[Sequence[int]],
               queries: Sequence[str] | None = None) -> list[NodeSelection]:
        """The nodes of every choice's subgraph (see :meth:`build_many` for the arguments)."""
        if len(question_concepts) != len(answer_concepts):
            raise ValueError("question_concepts and answer_concepts need one entry per choice")
        if queries is not None and len(queries) != len(answer_concepts):
            raise ValueError("queries needs one text per choice")
        split = [split_concepts(q, a) for q, a in zip(question_concepts, answer_concepts)]
        extra = self.common_neighbours if self.mode == "qagnn" else self.bridging
        bridges = extra([q for q, _ in split], [a for _, a in split])
        node_lists = [np.concatenate([q, a, b]).astype(np.int32) for (q, a), b in zip(split, bridges)]
        need = [i for i, nodes in enumerate(node_lists)
                if len(nodes) and (self.score_all_nodes or len(nodes) > self.max_nodes)]
        scores = [None] * len(node_lists)
        if need:
            got = self.ranker.score_many([node_lists[i] for i in need],
                                         None if queries is None else [queries[i] for i in need])
            for i, score in zip(need, got):
                scores[i] = np.asarray(score, dtype=np.float32)
        out = []
        for (q, a), bridge, nodes, score in zip(split, bridges, node_lists, scores):
            fixed = len(q) + len(a)
            keep_bridge = max(self.max_nodes - fixed, 0)
            ranked = score is not None
            if not ranked:
                score = np.full(len(nodes), np.nan, dtype=np.float32)
            bridge_score = score[fixed:]
            if len(bridge) > keep_bridge:
                order = np.lexsort((bridge, -bridge_score))[:keep_bridge]
            else:
                order = np.arange(len(bridge)) if not ranked else np.lexsort((bridge, -bridge_score))
            kept = np.concatenate([nodes[:fixed], bridge[order]]).astype(np.int32)
            node_score = np.concatenate([score[:fixed], bridge_score[order]]).astype(np.float32)
            node_type = np.full(len(kept), OTHER_NODE, dtype=np.int8)
            node_type[:len(q)] = QUESTION_CONCEPT
            node_type[len(q):fixed] = ANSWER_CONCEPT
            out.append(NodeSelection(kept, node_type, node_score, len(nodes), ranked))
        return out

    def build_many(self, question_concepts: Sequence[Sequence[int]], answer_concepts: Sequence[Sequence[int]],
                   queries: Sequence[str] | None = None) -> list[Subgraph]:
        """One subgraph per choice.

        Args:
            question_concepts: per choice, the question concept ids.
            answer_concepts: per choice, the answer concept ids.
            queries: per choice, the text the ranker scores nodes against (question + choice);
                needed by the relevance ranker only.
        """
        selections = self.select(question_concepts, answer_concepts, queries)
        edges = edges_among_groups(self.kg, [s.node_ids for s in selections], self.adjacency)
        return [Subgraph(node_ids=s.node_ids, node_type=s.node_type, node_score=s.node_score,
                         edge_index=e[0], edge_type=e[1], edge_weight=e[2], num_candidates=s.num_candidates)
                for s, e in zip(selections, edges)]

    def build(self, question_concepts, answer_concepts, query: str | None = None) -> Subgraph:
        """The subgraph of one choice."""
        return self.build_many([question_concepts], [answer_concepts], None if query is None else [query])[0]

"""Subgraph + paths of many (question, choice) pairs at once, as flat arrays with offsets.

:class:`Retriever` is what one preprocessing worker runs on one shard: it takes linked concept
ids per choice, builds the subgraphs (:mod:`~kgqa.retrieval.subgraph`), finds and prunes the
KagNet paths (:mod:`~kgqa.retrieval.paths`, :mod:`~kgqa.retrieval.pruning`) and returns the
arrays the cache stores. :func:`choice_graphs` turns them into PyG data.

The arrays (``C`` choices, ``K`` concept pairs, ``P`` paths, ``H`` = ``max_hops``):

==================== =============== ==========================================================
key                  shape / dtype   meaning
==================== =============== ==========================================================
node_ptr             (C+1,) int64    choice ``c`` owns nodes ``node_ptr[c]:node_ptr[c+1]``
node_ids             (N,) int32      graph ids: subgraph nodes first, then path-only nodes
node_type            (N,) int8       0 question concept, 1 answer concept, 2 other
node_score           (N,) float32    ranker score of every node, path-only nodes included
                                     (NaN where the ranker did not run: score_all_nodes=False)
num_subgraph_nodes   (C,) int32      leading nodes of each choice that form the subgraph
num_subgraph_edges   (C,) int32      leading edges of each choice among subgraph nodes
num_candidates       (C,) int32      subgraph nodes before the ``max_nodes`` cap
ranked               (C,) uint8      whether the ranker ran for the choice
edge_ptr             (C+1,) int64    choice ``c`` owns edges ``edge_ptr[c]:edge_ptr[c+1]``
edge_index           (2, M) int32    local (head, tail): stored edges among the subgraph nodes,
                                     then the path hops with an end outside the subgraph
edge_type            (M,) int16/32   stored relation id ``[0, R)``
edge_weight          (M,) float32    edge weight
answer_concept_ptr   (C+1,) int64    linked answer concepts of each choice ...
answer_concept_ids   (A,) int32      ... as linked (before any de-duplication)
pair_ptr             (C+1,) int64    choice ``c`` owns pairs ``pair_ptr[c]:pair_ptr[c+1]``
pair_nodes           (2, K) int32    (question concept, answer concept) graph ids of each pair
pair_found           (K,) int32      paths found for the pair before pruning (after the cap)
path_ptr             (K+1,) int64    pair ``k`` owns paths ``path_ptr[k]:path_ptr[k+1]``
path_nodes           (P, H+1) int16  local node indices into the choice's nodes, ``-1`` padded
                                     (int32 when a choice has more than 32,766 nodes)
path_relations       (P, H) int16/32 relation ids in ``[0, 2R)``, ``-1`` padded
path_lengths         (P,) int8       hops
path_score           (P,) float32    pruning score (only when paths were pruned)
==================== =============== ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from kgqa.errors import Errors, KGQAError
from kgqa.retrieval.adjacency import adjacency_of
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.paths import PathFinder
from kgqa.retrieval.pruning import ScorerInfo, load_path_scorer, prune_paths
from kgqa.retrieval.subgraph import SubgraphBuilder, _ptr, edges_among_groups, push, split_concepts

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.data import ChoiceGraph
    from kgqa.retrieval.pruning import PathScorer
    from kgqa.retrieval.ranking import NodeRanker

CHOICE_KEYS = ("node_ptr", "edge_ptr", "pair_ptr", "answer_concept_ptr")


@njit(cache=True)
def assemble_kernel(sub_ptr, sub_ids, choice_path_ptr, path_nodes, hop_eids, head, tail, num_nodes,
                    num_edges):  # pragma: no cover - compiled
    """Per choice: node list (subgraph, then path-only nodes by id), local path nodes, and the
    distinct path-hop edges with an end outside the subgraph (by edge id, local ends)."""
    num_choices = len(sub_ptr) - 1
    local = np.full(num_nodes, -1, dtype=np.int64)
    seen = np.zeros(num_edges, dtype=np.bool_)
    node_ptr = np.zeros(num_choices + 1, dtype=np.int64)
    extra_ptr = np.zeros(num_choices + 1, dtype=np.int64)
    nodes_out = np.empty(len(sub_ids) + 16, dtype=np.int32)
    path_local = np.full(path_nodes.shape, -1, dtype=np.int32)
    eids_out = np.empty(1024, dtype=np.int64)
    n_nodes = 0
    n_eids = 0
    for c in range(num_choices):
        n_sub = sub_ptr[c + 1] - sub_ptr[c]
        size = n_sub
        extra = np.empty(0, dtype=np.int64)
        p0 = choice_path_ptr[c]
        p1 = choice_path_ptr[c + 1]
        for i in range(n_sub):
            local[sub_ids[sub_ptr[c] + i]] = i
        if p1 > p0:
            buf = np.empty((p1 - p0) * path_nodes.shape[1], dtype=np.int64)
            m = 0
            for p in range(p0, p1):
                for j in range(path_nodes.shape[1]):
                    v = path_nodes[p, j]
                    if v >= 0 and local[v] == -1:
                        local[v] = -2  # met; numbered below, in id order
                        buf[m] = v
                        m += 1
            extra = np.sort(buf[:m])
            for i in range(m):
                local[extra[i]] = n_sub + i
            size = n_sub + m
        if n_nodes + size > len(nodes_out):
            bigger = np.empty(max(2 * len(nodes_out), n_nodes + size), dtype=np.int32)
            bigger[:n_nodes] = nodes_out[:n_nodes]
            nodes_out = bigger
        for i in range(n_sub):
            nodes_out[n_nodes + i] = sub_ids[sub_ptr[c] + i]
        for i in range(len(extra)):
            nodes_out[n_nodes + n_sub + i] = extra[i]
        n_nodes += size
        node_ptr[c + 1] = n_nodes
        first = n_eids
        for p in range(p0, p1):
            for j in range(path_nodes.shape[1]):
                v = path_nodes[p, j]
                if v >= 0:
                    path_local[p, j] = local[v]
            for j in range(hop_eids.shape[1]):
                e = hop_eids[p, j]
                if e >= 0 and not seen[e]:
                    seen[e] = True
                    if local[head[e]] >= n_sub or local[tail[e]] >= n_sub:
                        eids_out, n_eids = push(eids_out, n_eids, e)
        for p in range(p0, p1):
            for j in range(hop_eids.shape[1]):
                e = hop_eids[p, j]
                if e >= 0:
                    seen[e] = False
        eids_out[first:n_eids] = np.sort(eids_out[first:n_eids])
        extra_ptr[c + 1] = n_eids
        for i in range(n_sub):
            local[sub_ids[sub_ptr[c] + i]] = -1
        for i in range(len(extra)):
            local[extra[i]] = -1
    eids = eids_out[:n_eids].copy()
    extra_head = np.empty(n_eids, dtype=np.int32)
    extra_tail = np.empty(n_eids, dtype=np.int32)
    # local ends need the choice's numbering again
    for c in range(num_choices):
        lo = node_ptr[c]
        hi = node_ptr[c + 1]
        for i in range(lo, hi):
            local[nodes_out[i]] = i - lo
        for k in range(extra_ptr[c], extra_ptr[c + 1]):
            extra_head[k] = local[head[eids[k]]]
            extra_tail[k] = local[tail[eids[k]]]
        for i in range(lo, hi):
            local[nodes_out[i]] = -1
    return node_ptr, nodes_out[:n_nodes].copy(), path_local, extra_ptr, eids, extra_head, extra_tail


def _small_int(max_value: int) -> type:
    return np.int16 if max_value < np.iinfo(np.int16).max else np.int32


class Retriever:
    """Subgraphs and paths of batches of choices (see the module docstring for the output).

    Args:
        kg: the graph.
        config: retrieval settings.
        ranker: node ranker (default: the one ``config.ranker`` names).
        scorer: path scorer; the default resolves ``config.path_scorer`` (``"auto"`` finds the
            graph's TransE embedding, or keeps all paths when there is none).
    """

    _UNSET = object()

    def __init__(self, kg: "KnowledgeGraph", config: RetrievalConfig | None = None, *,
                 ranker: "NodeRanker | None" = None, scorer: "PathScorer | None | object" = _UNSET):
        from kgqa.retrieval.ranking import make_ranker

        self.kg = kg
        self.config = config or RetrievalConfig()
        cfg = self.config
        adjacency = adjacency_of(kg)
        self.ranker = ranker if ranker is not None else make_ranker(
            cfg.ranker, kg, seed=cfg.ranker_seed, encoder=cfg.encoder, node_embeddings=cfg.node_embeddings,
            relevance_lm=cfg.relevance_lm)
        self.builder = SubgraphBuilder(kg, mode=cfg.subgraph, hops=cfg.subgraph_hops, max_nodes=cfg.max_nodes,
                                       ranker=self.ranker, score_all_nodes=cfg.score_all_nodes, adjacency=adjacency)
        self.finder = PathFinder(kg, max_hops=cfg.max_hops, max_paths=cfg.max_paths,
                                 relations=cfg.path_relations, adjacency=adjacency)
        if scorer is Retriever._UNSET:
            self.scorer, self.scorer_info = load_path_scorer(kg, cfg.path_scorer)
        else:
            self.scorer = scorer
            self.scorer_info = (ScorerInfo(True, type(scorer).__name__) if scorer is not None
                                else ScorerInfo(False, "none", reason="no scorer given"))
        if self.scorer is not None and cfg.path_aggregate != getattr(self.scorer, "aggregate", "mean"):
            if not hasattr(self.scorer, "with_aggregate"):
                raise KGQAError(Errors.E060.format(problem=(
                    f"path_aggregate={cfg.path_aggregate!r} needs a path scorer with with_aggregate() "
                    f"(the TransE one); {type(self.scorer).__name__} has none")))
            self.scorer = self.scorer.with_aggregate(cfg.path_aggregate)

    def retrieve(self, question_concepts: Sequence[Sequence[int]], answer_concepts: Sequence[Sequence[int]],
                 queries: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Arrays of every choice.

        Args:
            question_concepts: per choice, the concept ids linked in the question.
            answer_concepts: per choice, the concept ids linked in the choice.
            queries: per choice, "question choice" text for the relevance ranker.
        """
        cfg = self.config
        selections = self.builder.select(question_concepts, answer_concepts, queries)
        # concept pairs: the subgraph's question concepts x answer concepts
        src, dst, pair_counts = [], [], []
        for sel in selections:
            q = sel.node_ids[sel.node_type == 0]
            a = sel.node_ids[sel.node_type == 1]
            src.append(np.repeat(q, len(a)))
            dst.append(np.tile(a, len(q)))
            pair_counts.append(len(q) * len(a))
        src = np.concatenate(src).astype(np.int32) if src else np.zeros(0, np.int32)
        dst = np.concatenate(dst).astype(np.int32) if dst else np.zeros(0, np.int32)
        found = self.finder.find(src, dst)
        kept, scores = prune_paths(found, self.scorer, cfg.prune_threshold)
        if cfg.keep_paths == "shortest":
            keep = kept.shortest_mask()
            kept, scores = kept.select(keep), scores[keep]
        pair_ptr = np.zeros(len(selections) + 1, dtype=np.int64)
        np.cumsum(pair_counts, out=pair_ptr[1:])

        # each choice's nodes: the subgraph, then the nodes found only on its paths; its edges:
        # those among the subgraph nodes, then the path hops that leave the subgraph
        sub_edges = edges_among_groups(self.kg, [s.node_ids for s in selections], self.adjacency)
        hop_eids = self.finder.hop_edges(kept)
        sub_ptr, sub_ids = _ptr([s.node_ids for s in selections])
        choice_path_ptr = kept.pair_ptr[pair_ptr]
        node_ptr, node_ids, path_local, extra_ptr, extra_eids, extra_head, extra_tail = assemble_kernel(
            sub_ptr, sub_ids, choice_path_ptr, np.ascontiguousarray(kept.nodes), hop_eids,
            np.asarray(self.kg.head), np.asarray(self.kg.tail), self.kg.num_nodes, self.kg.num_edges)
        rels, weights = np.asarray(self.kg.relation), np.asarray(self.kg.weight)
        node_lists = [node_ids[node_ptr[c]:node_ptr[c + 1]] for c in range(len(selections))]
        local_paths = [path_local]
        edges = []
        for c, (edge_index, edge_type, edge_weight) in enumerate(sub_edges):
            lo, hi = extra_ptr[c], extra_ptr[c + 1]
            if hi == lo:
                edges.append(sub_edges[c])
                continue
            eids = extra_eids[lo:hi]
            edges.append((np.concatenate([edge_index, np.stack([extra_head[lo:hi], extra_tail[lo:hi]])], axis=1),
                          np.concatenate([edge_type, rels[eids].astype(np.int32)]),
                          np.concatenate([edge_weight, weights[eids].astype(np.float32)])))

        num_sub = np.array([len(s.node_ids) for s in selections], dtype=np.int32)
        num_sub_edges = np.array([e[0].shape[1] for e in sub_edges], dtype=np.int32)
        node_type = np.concatenate([np.concatenate([s.node_type, np.full(len(n) - len(s.node_ids), 2, np.int8)])
                                    for s, n in zip(selections, node_lists)]) if selections else np.zeros(0, np.int8)
        path_scores = self._path_node_scores(selections, node_lists, queries)
        node_score = np.concatenate([np.concatenate([s.node_score, extra]) for s, extra in zip(selections, path_scores)]
                                    ) if selections else np.zeros(0, np.float32)
        edge_ptr = np.zeros(len(selections) + 1, dtype=np.int64)
        np.cumsum([e[0].shape[1] for e in edges], out=edge_ptr[1:])
        edge_index = (np.concatenate([e[0] for e in edges], axis=1) if edges else np.zeros((2, 0))).astype(np.int32)
        edge_type = (np.concatenate([e[1] for e in edges]) if edges else np.zeros(0)).astype(
            _small_int(self.kg.num_relations))
        edge_weight = (np.concatenate([e[2] for e in edges]) if edges else np.zeros(0)).astype(np.float32)
        a_ptr, a_ids = _ptr([list(a) for a in answer_concepts])
        width = cfg.max_hops + 1
        path_nodes = np.concatenate(local_paths) if local_paths else np.zeros((0, width), dtype=np.int32)
        path_nodes = path_nodes.astype(_small_int(max((len(n) for n in node_lists), default=0)))
        return {
            "node_ptr": node_ptr, "node_ids": node_ids, "node_type": node_type.astype(np.int8),
            "node_score": node_score.astype(np.float32), "num_subgraph_nodes": num_sub,
            "num_subgraph_edges": num_sub_edges,
            "num_candidates": np.array([s.num_candidates for s in selections], dtype=np.int32),
            "ranked": np.array([s.ranked for s in selections], dtype=np.uint8),
            "edge_ptr": edge_ptr, "edge_index": edge_index.reshape(2, -1), "edge_type": edge_type,
            "edge_weight": edge_weight,
            "answer_concept_ptr": a_ptr, "answer_concept_ids": a_ids,
            "pair_ptr": pair_ptr, "pair_nodes": np.stack([src, dst]).astype(np.int32),
            "pair_found": found.paths_per_pair.astype(np.int32), "path_ptr": kept.pair_ptr.astype(np.int64),
            "path_nodes": path_nodes.reshape(-1, width),
            "path_relations": kept.relations.astype(_small_int(2 * self.kg.num_relations)).reshape(len(kept),
                                                                                               cfg.max_hops),
            "path_lengths": kept.lengths.astype(np.int8),
            **({"path_score": scores.astype(np.float32)} if self.scorer is not None else {}),
        }

    def _path_node_scores(self, selections, node_lists, queries) -> list[np.ndarray]:
        """Scores of the nodes found only on each choice's paths (KagNet's view): the same
        ranker as the subgraph nodes with ``score_all_nodes``, else NaN."""
        extra = [nodes[len(sel.node_ids):] for sel, nodes in zip(selections, node_lists)]
        out = [np.full(len(nodes), np.nan, dtype=np.float32) for nodes in extra]
        need = [c for c, nodes in enumerate(extra) if len(nodes)]
        if self.config.score_all_nodes and need:
            got = self.ranker.score_many([extra[c] for c in need],
                                         None if queries is None else [queries[c] for c in need])
            for c, score in zip(need, got):
                out[c] = np.asarray(score, dtype=np.float32)
        return out

    @property
    def adjacency(self):
        return self.finder.adjacency


def retrieve_links(retriever: Retriever, questions: Sequence[str], choices: Sequence[Sequence[str]],
                   links: Sequence) -> dict[str, np.ndarray]:
    """:meth:`Retriever.retrieve` from :class:`~kgqa.linking.types.QALinks` (one per question).

    Adds ``choice_ptr`` ``(Q+1,)`` (question ``i`` owns choices ``choice_ptr[i]:choice_ptr[i+1]``)
    and the question-level ``question_concept_ptr`` / ``question_concept_ids``.
    """
    q_lists, a_lists, queries, counts = [], [], [], []
    for question, options, qa in zip(questions, choices, links):
        counts.append(len(options))
        for i, option in enumerate(options):
            q_lists.append(qa.question.node_ids)
            a_lists.append(qa.choices[i].node_ids)
            queries.append(f"{question} {option}")
    arrays = retriever.retrieve(q_lists, a_lists, queries)
    choice_ptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=choice_ptr[1:])
    arrays["choice_ptr"] = choice_ptr
    arrays["question_concept_ptr"], arrays["question_concept_ids"] = _ptr([qa.question.node_ids for qa in links])
    return arrays


def choice_arrays(arrays: dict[str, np.ndarray], c: int) -> dict[str, np.ndarray]:
    """The slices of choice ``c`` (local path node indices stay local)."""
    n0, n1 = arrays["node_ptr"][c], arrays["node_ptr"][c + 1]
    e0, e1 = arrays["edge_ptr"][c], arrays["edge_ptr"][c + 1]
    k0, k1 = arrays["pair_ptr"][c], arrays["pair_ptr"][c + 1]
    p0, p1 = arrays["path_ptr"][k0], arrays["path_ptr"][k1]
    return {"node_ids": arrays["node_ids"][n0:n1], "node_type": arrays["node_type"][n0:n1],
            "node_score": arrays["node_score"][n0:n1], "num_subgraph_nodes": int(arrays["num_subgraph_nodes"][c]),
            "edge_index": arrays["edge_index"][:, e0:e1], "edge_type": arrays["edge_type"][e0:e1],
            "edge_weight": arrays["edge_weight"][e0:e1], "path_nodes": arrays["path_nodes"][p0:p1],
            "path_relations": arrays["path_relations"][p0:p1], "path_lengths": arrays["path_lengths"][p0:p1],
            "pair_nodes": arrays["pair_nodes"][:, k0:k1],
            "path_ptr": arrays["path_ptr"][k0:k1 + 1] - p0}


def choice_graphs(arrays: dict[str, np.ndarray], num_relations: int, *, paths: bool = True,
                  add_inverse: bool = True, context_node: bool = True,
                  choices: Sequence[int] | None = None) -> list["ChoiceGraph"]:
    """PyG graphs of the choices (all, or the indices ``choices``); see :mod:`kgqa.retrieval.data`."""
    from kgqa.retrieval.data import build_choice_graph

    out = []
    indices = range(len(arrays["node_ptr"]) - 1) if choices is None else choices
    for c in indices:
        a = choice_arrays(arrays, c)
        out.append(build_choice_graph(
            node_ids=a["node_ids"], node_type=a["node_type"], node_score=a["node_score"],
            num_subgraph_nodes=a["num_subgraph_nodes"], edge_index=a["edge_index"], edge_type=a["edge_type"],
            edge_weight=a["edge_weight"], num_relations=num_relations, path_nodes=a["path_nodes"],
            path_relations=a["path_relations"], path_lengths=a["path_lengths"], paths=paths,
            add_inverse=add_inverse, context_node=context_node))
    return out


__all__ = ["Retriever", "retrieve_links", "choice_arrays", "choice_graphs", "split_concepts", "CHOICE_KEYS"]

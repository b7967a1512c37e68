"""From a model's output and the batch it read to :class:`~kgqa.explain.types.Explanation` objects.

An explanation shows the **question-to-answer paths** of each choice's graph and says, for each,
how much the model used it:

- **occlusion** (the faithfulness check, when an :class:`~kgqa.explain.occlusion.Occluder` is
  given): the path's edges, both directions, are removed from the choice's graph and the model
  runs again; the fall of the choice's logit is the path's effect. All checked paths of all
  choices go through the model in one batched forward. Paths are ranked by it.
- **attention**, shown beside it, relative to uniform (1 = what uniform attention gives, so a
  node's degree does not decide it; :mod:`kgqa.explain.attention`):

================ ================================== =========================================
model            attention read                     path attention
================ ================================== =========================================
``qagnn``        every layer's edge attention       product over hops of each hop's weight in
                 (recorded while it ran), pooling   the direction messages flow, at the layer
                 attention over nodes               where the hop is taken for the path to
                                                    reach the answer at the last layer
``kagnet``       ``path_attention`` (P,)            :math:`\\alpha_p \\beta_{ij}` times the
                                                    pair's path count and the pair count;
                                                    every path it read is a candidate
``rgcn``         pooling attention over nodes       none: occlusion only
``ernie``        none                               no paths: occlusion unlinks each linked
                                                    entity (its fusion) in turn
``lm``           none                               the linked concepts, without scores
================ ================================== =========================================

A choice whose paths' attention is all within 10% of uniform is flagged
(``attention_informative=False``) rather than ranked by it; one where no single path moves the
logit by 0.001 is flagged too (``occlusion_informative=False``).

The batch's graphs are retrieval's per-choice graphs (:class:`~kgqa.retrieval.data.ChoiceGraph`):
edge types ``r`` in ``[0, R)`` are stored edges, ``r + R`` their inverses (shown once, in the
graph's direction), types from ``2R`` on and the context node (type 3) belong to QA-GNN's joint
graph and are not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kgqa.explain.types import (ChoiceExplanation, ExplainedEdge, ExplainedNode, ExplainedPath,
                                Explanation)
from kgqa.kg.relations import is_negated

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.explain.attention import LayerAttention
    from kgqa.explain.occlusion import Occluder
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.types import QALinks
    from kgqa.models.base import QABatch, QAModelOutput

KIND_NAMES = {0: "question", 1: "answer", 2: "intermediate"}
CONTEXT_TYPE = 3
#: Attention within this factor of uniform, along every path of a choice, singles out no path.
UNIFORM_BAND = 1.1
#: A logit change below this is no change.
MIN_LOGIT_CHANGE = 1e-3

NO_LINK_MESSAGE = ("no concept of the question or this choice is in the graph: no graph evidence, "
                   "the score comes from the language model alone")
NO_ANSWER_CONCEPT_MESSAGE = ("'{choice}' links to no concept of the graph: no path can reach it, so "
                             "there is no graph evidence for this choice")
NO_ATTENTION_MESSAGES = {
    "lm": ("model 'lm' reads the text only: it uses no graph and gives no attention. The linked "
           "concepts and the graph's edges among them are shown for reference, without scores."),
    "ernie": ("model 'ernie' fuses the linked concepts' entity embeddings into its tokens and "
              "gives no attention over the graph: the concepts it fused and the graph's edges "
              "among them are shown; a concept's effect is the fall of the choice's logit when "
              "its fusion is removed."),
}
GRAPH_NO_ATTENTION = ("model '{model}' gives no attention: node sizes show retrieval's relevance "
                      "scores, not what the model used.")
UNIFORM_NOTE = ("the model's attention along every path is within 10% of uniform: it singles out "
                "no path")
NO_EFFECT_NOTE = ("removing any one path changes this choice's logit by less than 0.001: the model "
                  "does not rely on a single path here")


def attention_kind(output: "QAModelOutput") -> str:
    """``path``, ``node+edge``, ``node`` or ``none``: what ``output`` carries."""
    if output.path_attention is not None:
        return "path"
    if output.node_attention is not None:
        return "node+edge" if output.edge_attention is not None else "node"
    return "none"


def _numpy(tensor) -> np.ndarray | None:
    if tensor is None:
        return None
    return tensor.detach().float().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max()
    e = np.exp(z)
    return e / e.sum()


@dataclass
class PathCandidate:
    """A question-to-answer path of one choice graph, before it becomes an
    :class:`~kgqa.explain.types.ExplainedPath`.

    Attributes:
        nodes: local node indices, question concept first.
        relations: edge type of each hop in the direction walked (``r``: the stored direction,
            ``r + R``: backwards).
        keys: the stored edges ``(u, v, r)`` it runs over (local indices).
        attention: attention along it relative to uniform (``None``: the model gives none).
        occlusion, probability_drop: the choice's logit / probability fall without its edges.
        order: position in the order found (shortest paths first).
    """

    nodes: list[int]
    relations: list[int]
    keys: list[tuple[int, int, int]]
    attention: float | None = None
    occlusion: float | None = None
    probability_drop: float | None = None
    order: int = 0
    hops: int = field(init=False)

    def __post_init__(self):
        self.hops = len(self.relations)


def explain_batch(output: "QAModelOutput", batch: "QABatch", kg: "KnowledgeGraph", *,
                  questions: Sequence[str], choices: Sequence[Sequence[str]], model: str,
                  links: Sequence["QALinks"] | None = None,
                  layers: Sequence["LayerAttention"] | None = None,
                  occluder: "Occluder | None" = None, top_paths: int = 5, max_nodes: int = 20,
                  max_edges: int = 40, max_hops: int = 2, max_checked: int = 32,
                  check_budget: int = 30_000) -> list[Explanation]:
    """One :class:`Explanation` per question of ``batch``.

    Args:
        output: the model's output on ``batch`` (``logits`` ``(B, C)``, optional attention).
        batch: the batch (its ``graphs``: ``B * C`` per-choice graphs, question-major).
        kg: the graph the node ids and relation ids refer to.
        questions: the ``B`` question texts.
        choices: the ``B`` lists of ``C`` choice texts.
        model: the model's registry name.
        links: the linking of each question (names the linked concepts; without it they are
            read from the node types of the graphs).
        layers: the attention of every layer on this forward pass
            (:func:`~kgqa.explain.attention.record_layer_attention`); without it paths get no
            attention score (QA-GNN's output holds the last layer only).
        occluder: runs the model again with evidence removed; without it nothing is checked by
            occlusion and paths are ranked by attention.
        top_paths: paths kept per choice.
        max_nodes: subgraph nodes shown per choice (linked concepts and the nodes of the shown
            paths always shown).
        max_edges: edges shown per choice (those of the shown paths first).
        max_hops: longest subgraph path (models that read no paths).
        max_checked: most paths per choice checked by occlusion (shortest first, then by
            attention); the others keep their attention only.
        check_budget: edges in all occlusion copies of one question, shared equally by its
            choices: a choice of ``E`` edges gets ``check_budget / (C * E)`` copies (at most
            ``max_checked``, at least ``top_paths``, so every shown path is checked), which
            bounds the time of a question with large subgraphs (the copies' forward pass costs
            per edge).

    Returns:
        ``B`` explanations, in batch order.
    """
    B, C = batch.batch_size, batch.num_choices
    logits = _numpy(output.logits).reshape(B, C).astype(np.float64)
    kind = attention_kind(output)
    graphs = batch.graphs
    view = _GraphView(graphs, output, kg, layers) if graphs is not None else None
    entity_ids = batch.extras.get("entity_ids") if batch.extras else None
    candidates: dict[int, list[PathCandidate]] = {}
    if view is not None:
        candidates = {g: view.candidates(g, max_hops=max_hops) for g in range(B * C)}
        if occluder is not None:
            E = np.diff(view.edge_ptr)
            limits = {g: max(top_paths, min(max_checked, int(check_budget // (C * max(int(E[g]), 1)))))
                      for g in candidates}
            _occlude_paths(view, candidates, occluder, logits, limits)
    entity_effects: dict[int, dict[int, float]] = {}
    if view is None and occluder is not None and entity_ids is not None:
        entity_effects = _occlude_entities(occluder, entity_ids, B, C)
    out = []
    for b in range(B):
        probabilities = _softmax(logits[b])
        qa = links[b] if links is not None else None
        per_choice = []
        for c, choice in enumerate(choices[b]):
            g = b * C + c
            if view is not None:
                explained = view.choice(g, candidates[g], checked=occluder is not None,
                                        top_paths=top_paths, max_nodes=max_nodes, max_edges=max_edges)
            else:
                ids = None
                if qa is None and entity_ids is not None:
                    row = _numpy(entity_ids.view(B, C, -1)[b, c])
                    ids = sorted({int(i) for i in row if i >= 0})
                explained = _linked_only(kg, qa, c, ids, max_edges=max_edges,
                                         effects=entity_effects.get(g))
            explained.index, explained.choice = c, choice
            explained.probability = float(probabilities[c])
            explained.logit = float(logits[b, c])
            if qa is not None:
                explained.question_concepts = [kg.node_name(i) for i in qa.question_ids(exclude_answer=c)]
                explained.answer_concepts = list(qa.choices[c].nodes)
            if not explained.nodes and explained.message is None:
                explained.message = NO_LINK_MESSAGE
            elif explained.message is None and not explained.answer_concepts and (qa is not None or view):
                explained.message = NO_ANSWER_CONCEPT_MESSAGE.format(choice=choice)
            per_choice.append(explained)
        question_concepts = list(qa.question.nodes) if qa is not None else sorted(
            {n for ce in per_choice for n in ce.question_concepts})
        message = None
        if not any(ce.nodes for ce in per_choice):
            message = ("nothing in the question or the choices links to the graph: no graph "
                       "evidence; the answer comes from the language model alone")
        elif view is None:
            message = NO_ATTENTION_MESSAGES.get(model, GRAPH_NO_ATTENTION.format(model=model))
        elif kind == "none":
            message = GRAPH_NO_ATTENTION.format(model=model)
        out.append(Explanation(
            question=questions[b], choices=list(choices[b]),
            probabilities=[float(p) for p in probabilities], model=model,
            per_choice=per_choice, attention=kind, question_concepts=question_concepts,
            graph=kg.name, message=message, id=batch.ids[b] if batch.ids else None,
            label=int(batch.labels[b]) if batch.labels is not None else None))
    return out


# ---------------------------------------------------------------------- occlusion
def checked_paths(paths: Sequence[PathCandidate], limit: int) -> list[PathCandidate]:
    """The paths occlusion checks: those with edges, shortest first, then by attention."""
    order = sorted((p for p in paths if p.keys),
                   key=lambda p: (p.hops, -(p.attention if p.attention is not None else 0.0), p.order))
    return order[:limit]


def _occlude_paths(view: "_GraphView", candidates: dict[int, list[PathCandidate]],
                   occluder: "Occluder", logits: np.ndarray, limits: dict[int, int]) -> None:
    """Every checked path of every choice in one batched forward (plus one unchanged copy per
    choice, the baseline); fills ``occlusion`` and ``probability_drop`` in place."""
    from kgqa.explain.occlusion import probability_after

    C = logits.shape[1]
    requests: list[tuple[int, np.ndarray]] = []
    owners: list[tuple[int, PathCandidate | None]] = []
    empty = np.zeros(0, dtype=np.int64)
    for g, paths in candidates.items():
        picked = checked_paths(paths, limits[g])
        if not picked:
            continue
        requests.append((g, empty))
        owners.append((g, None))
        for path in picked:
            requests.append((g, view.removal_positions(g, path.keys)))
            owners.append((g, path))
    if not requests:
        return
    new = occluder.edge_logits(requests)
    base = {g: new[i] for i, (g, path) in enumerate(owners) if path is None}
    for i, (g, path) in enumerate(owners):
        if path is None:
            continue
        b, c = divmod(g, C)
        path.occlusion = float(base[g] - new[i])
        before = float(_softmax(logits[b])[c])
        path.probability_drop = before - probability_after(logits[b], c, logits[b, c] - path.occlusion)


def _occlude_entities(occluder: "Occluder", entity_ids, B: int, C: int) -> dict[int, dict[int, float]]:
    """ERNIE: the fall of each choice's logit when one linked entity's fusion is removed."""
    ids = _numpy(entity_ids).reshape(B, C, -1).astype(np.int64)
    requests, owners = [], []
    for g in range(B * C):
        linked = sorted({int(i) for i in ids[g // C, g % C] if i >= 0})
        if not linked:
            continue
        requests.append((g, []))
        owners.append((g, None))
        for entity in linked:
            requests.append((g, [entity]))
            owners.append((g, entity))
    if not requests:
        return {}
    new = occluder.entity_logits(requests)
    base = {g: new[i] for i, (g, e) in enumerate(owners) if e is None}
    effects: dict[int, dict[int, float]] = {}
    for i, (g, entity) in enumerate(owners):
        if entity is not None:
            effects.setdefault(g, {})[entity] = float(base[g] - new[i])
    return effects


# ---------------------------------------------------------------------- models without graphs
def _linked_only(kg: "KnowledgeGraph", qa: "QALinks | None", c: int, entity_ids, *,
                 max_edges: int, effects: dict[int, float] | None = None) -> ChoiceExplanation:
    """The linked concepts of choice ``c`` and the stored edges among them, without attention;
    ``effects`` (ERNIE) gives each entity's occlusion."""
    kinds: dict[int, str] = {}
    if qa is not None:
        for i in qa.question_ids(exclude_answer=c):
            kinds.setdefault(int(i), "question")
        for i in qa.choices[c].node_ids:
            kinds[int(i)] = "answer"
    for i in entity_ids or ():
        kinds.setdefault(int(i), "question")
    for i in effects or ():
        kinds.setdefault(int(i), "question")
    effects = effects or {}
    top = max([abs(v) for v in effects.values()] or [0.0])
    nodes = [ExplainedNode(id=i, name=kg.node_name(i), kind=k, occlusion=effects.get(i),
                           score=abs(effects.get(i, 0.0)) / top if top > 0 else 0.0)
             for i, k in kinds.items()]
    edges = []
    if kinds:
        found = kg.edges_among(list(kinds))
        order = np.argsort(-np.asarray(found.weight), kind="stable")[:max_edges]
        edges = []
        for e in order:
            relation = kg.relation_name(int(found.relation[e]))
            edges.append(ExplainedEdge(src=int(found.head[e]), dst=int(found.tail[e]), relation=relation,
                                       weight=float(found.weight[e]), negated=is_negated(relation)))
    out = ChoiceExplanation(index=c, choice="", probability=0.0, nodes=nodes, edges=edges,
                            num_subgraph_nodes=len(nodes), num_subgraph_edges=len(edges))
    if effects:
        out.ranking = "occlusion"
        out.occlusion_informative = top >= MIN_LOGIT_CHANGE
        strongest = max(effects, key=lambda i: effects[i])
        out.path_note = (f"removing the fusion of '{kg.node_name(strongest)}' changes this choice's "
                         f"logit the most ({-effects[strongest]:+.3f})")
        if not out.occlusion_informative:
            out.path_note = ("removing any one linked concept's fusion changes this choice's logit "
                             "by less than 0.001")
    return out


# ---------------------------------------------------------------------- graph models
@dataclass
class _Local:
    """One choice graph's nodes and edges in local indices."""

    n0: int
    ids: np.ndarray
    types: np.ndarray
    concept: np.ndarray
    relevance: np.ndarray
    e0: int
    #: stored concept edges (u, v, r) -> [attention, weight]
    edges: dict
    #: stored edge (u, v, r) -> local edge positions of its copies (both directions)
    positions: dict
    #: walked hop (x, y, edge type) -> batch edge position
    flow: dict


class _GraphView:
    """The batch's graphs and the model's attention as numpy arrays, sliced per choice graph."""

    def __init__(self, graphs, output: "QAModelOutput", kg: "KnowledgeGraph",
                 layers: Sequence["LayerAttention"] | None = None):
        self.kg = kg
        self.R = kg.num_relations
        num_nodes = int(graphs.num_nodes or 0)
        ptr = getattr(graphs, "ptr", None)
        batch_vector = _numpy(graphs.batch).astype(np.int64)
        num_graphs = int(graphs.num_graphs)
        if ptr is None:
            counts = np.bincount(batch_vector, minlength=num_graphs)
            ptr = np.concatenate([[0], np.cumsum(counts)])
        self.ptr = _numpy(ptr).astype(np.int64)
        self.node_ids = _numpy(graphs.node_ids).astype(np.int64)
        node_type = getattr(graphs, "node_type", None)
        self.node_type = (_numpy(node_type).astype(np.int64) if node_type is not None
                          else np.full(num_nodes, 2, dtype=np.int64))
        score = getattr(graphs, "node_score", None)
        self.relevance = _numpy(score) if score is not None else np.full(num_nodes, np.nan)
        self.edge_index = _numpy(graphs.edge_index).astype(np.int64).reshape(2, -1)
        edge_type = getattr(graphs, "edge_type", None)
        self.edge_type = (_numpy(edge_type).astype(np.int64) if edge_type is not None
                          else np.zeros(self.edge_index.shape[1], dtype=np.int64))
        weight = getattr(graphs, "edge_weight", None)
        self.edge_weight = (_numpy(weight) if weight is not None
                            else np.ones(self.edge_index.shape[1], dtype=np.float32))
        edge_graph = batch_vector[self.edge_index[0]] if self.edge_index.size else np.zeros(0, np.int64)
        self.edge_ptr = np.concatenate([[0], np.cumsum(np.bincount(edge_graph, minlength=num_graphs))])
        self.node_attention = _numpy(output.node_attention)
        self.layer_relative = self._layers(layers)
        edge_attention = _numpy(output.edge_attention)
        if self.layer_relative is not None:
            edge_attention = self.layer_relative[-1]
        elif edge_attention is not None:  # the output's raw last layer, mean over heads
            rows = edge_attention.shape[0] if edge_attention.ndim else 0
            edge_attention = (edge_attention.reshape(rows, -1).mean(axis=1) if edge_attention.size
                              else np.zeros(rows))
            edge_attention = edge_attention[:self.edge_index.shape[1]]
        self.edge_attention = edge_attention
        self.path_attention = _numpy(output.path_attention)
        self.has_paths = self.path_attention is not None and getattr(graphs, "path_nodes", None) is not None
        if self.has_paths:
            self.path_nodes = _numpy(graphs.path_nodes).astype(np.int64)
            self.path_relations = _numpy(graphs.path_relations).astype(np.int64)
            self.path_lengths = _numpy(graphs.path_lengths).astype(np.int64).reshape(-1)
            path_graph = getattr(graphs, "path_graph", None)
            if path_graph is None:
                start = np.clip(self.path_nodes[:, 0], 0, max(num_nodes - 1, 0))
                path_graph = batch_vector[start] if num_nodes else np.zeros(len(self.path_lengths))
            self.path_graph = _numpy(path_graph).astype(np.int64).reshape(-1)
        self._locals: dict[int, _Local] = {}

    def _layers(self, layers) -> np.ndarray | None:
        """``(L, E)`` relative attention of every layer on the batch's own edges, when every
        recorded layer attended over them first (as QA-GNN's layers do); else ``None``."""
        if not layers:
            return None
        E = self.edge_index.shape[1]
        rows = []
        for layer in layers:
            ei = np.asarray(layer.edge_index)
            if ei.shape[1] < E or not np.array_equal(ei[:, :E], self.edge_index):
                return None
            rows.append(np.asarray(layer.relative[:E], dtype=np.float64))
        return np.stack(rows) if rows else None

    # ------------------------------------------------------------------ one graph
    def local(self, g: int) -> _Local:
        if g in self._locals:
            return self._locals[g]
        R = self.R
        n0, n1 = int(self.ptr[g]), int(self.ptr[g + 1])
        e0, e1 = int(self.edge_ptr[g]), int(self.edge_ptr[g + 1])
        ids = self.node_ids[n0:n1]
        types = self.node_type[n0:n1]
        concept = (types != CONTEXT_TYPE) & (ids >= 0)
        relevance = self.relevance[n0:n1] if len(self.relevance) >= n1 else np.full(n1 - n0, np.nan)
        local = self.edge_index[:, e0:e1] - n0
        etype = self.edge_type[e0:e1]
        eweight = self.edge_weight[e0:e1]
        eatt = self.edge_attention[e0:e1] if self.edge_attention is not None else None
        edges: dict[tuple[int, int, int], list] = {}
        positions: dict[tuple[int, int, int], list[int]] = {}
        flow: dict[tuple[int, int, int], int] = {}
        for k in range(local.shape[1]):
            t = int(etype[k])
            u, v = int(local[0, k]), int(local[1, k])
            flow.setdefault((u, v, t), e0 + k)
            if t >= 2 * R or not (concept[u] and concept[v]):
                continue  # context-node edges (QA-GNN's joint graph)
            key = (u, v, t) if t < R else (v, u, t - R)
            positions.setdefault(key, []).append(k)
            att = float(eatt[k]) if eatt is not None else None
            entry = edges.get(key)
            if entry is None:
                edges[key] = [att, float(eweight[k])]
            elif att is not None:
                entry[0] = att if entry[0] is None else max(entry[0], att)
        out = _Local(n0=n0, ids=ids, types=types, concept=concept, relevance=relevance, e0=e0,
                     edges=edges, positions=positions, flow=flow)
        self._locals[g] = out
        return out

    def removal_positions(self, g: int, keys: Sequence[tuple[int, int, int]]) -> np.ndarray:
        """Local edge positions of the stored edges ``keys`` of graph ``g``, both directions."""
        where = self.local(g).positions
        return np.asarray(sorted({k for key in keys for k in where.get(key, ())}), dtype=np.int64)

    def stored_key(self, x: int, y: int, t: int) -> tuple[int, int, int]:
        """The stored edge ``(u, v, r)`` behind the hop ``x -> y`` of edge type ``t``."""
        return (x, y, t) if t < self.R else (y, x, t - self.R)

    def candidates(self, g: int, *, max_hops: int) -> list[PathCandidate]:
        """The question-to-answer paths of graph ``g`` with their attention relative to uniform."""
        if self.has_paths:
            return self._model_candidates(g)
        loc = self.local(g)
        paths = _subgraph_paths(loc, self.R, max_hops)
        if self.layer_relative is not None:
            L = self.layer_relative.shape[0]
            for path in paths:
                if path.hops > L:
                    continue
                score = 1.0
                for j, (x, y, t) in enumerate(zip(path.nodes, path.nodes[1:], path.relations)):
                    position = loc.flow.get((x, y, t))
                    score *= float(self.layer_relative[L - path.hops + j, position]) if position is not None else 0.0
                path.attention = score
        return paths

    def _model_candidates(self, g: int) -> list[PathCandidate]:
        """KagNet: the paths it read for graph ``g``, attention relative to uniform."""
        loc = self.local(g)
        rows = np.flatnonzero((self.path_graph == g) & (self.path_lengths >= 0))
        pairs = [(int(self.path_nodes[p, 0]), int(self.path_nodes[p, self.path_lengths[p]])) for p in rows]
        size = {pair: pairs.count(pair) for pair in set(pairs)}
        out = []
        for order, (p, pair) in enumerate(zip(rows, pairs)):
            length = int(self.path_lengths[p])
            nodes = [int(i) - loc.n0 for i in self.path_nodes[p, :length + 1]]
            relations = [int(r) for r in self.path_relations[p, :length]]
            keys = [self.stored_key(x, y, t) for x, y, t in zip(nodes, nodes[1:], relations)]
            attention = float(self.path_attention[p]) * size[pair] * len(size)
            out.append(PathCandidate(nodes=nodes, relations=relations, keys=keys, attention=attention,
                                     order=order))
        return out

    # ------------------------------------------------------------------ one choice
    def choice(self, g: int, paths: list[PathCandidate], *, checked: bool, top_paths: int,
               max_nodes: int, max_edges: int) -> ChoiceExplanation:
        kg = self.kg
        loc = self.local(g)
        ids, types, concept = loc.ids, loc.types, loc.concept
        n = len(ids)
        edges = {key: list(value) for key, value in loc.edges.items()}

        # node scores: KagNet's path weights, else the pooling attention, else relevance
        node_att = None
        if self.has_paths:
            node_att = self._kagnet_scores(g, loc, edges)
        elif self.node_attention is not None:
            node_att = self.node_attention[loc.n0:loc.n0 + n].astype(np.float64)
        score = node_att if node_att is not None else np.nan_to_num(loc.relevance.astype(np.float64), nan=0.0)

        ranked, ranking, flags = rank_paths(paths, checked=checked)
        shown, texts = [], set()
        for path in ranked:
            explained = self._explained(loc, path)
            if explained.text in texts:
                continue
            texts.add(explained.text)
            shown.append((path, explained))
            if len(shown) >= top_paths:
                break

        # which nodes to show: linked concepts, nodes on the shown paths, then the best scored
        chosen: list[int] = [i for i in range(n) if concept[i] and types[i] in (0, 1)]
        seen = set(chosen)
        for path, _ in shown:
            for i in path.nodes:
                if i not in seen:
                    chosen.append(i)
                    seen.add(i)
        for i in np.argsort(-score, kind="stable"):
            if len(chosen) >= max(max_nodes, len(seen)):
                break
            i = int(i)
            if concept[i] and i not in seen:
                chosen.append(i)
                seen.add(i)
        top = float(score[chosen].max()) if chosen and len(score) else 0.0
        nodes = []
        for i in chosen:
            rel = float(loc.relevance[i]) if np.isfinite(loc.relevance[i]) else None
            nodes.append(ExplainedNode(
                id=int(ids[i]), name=kg.node_name(int(ids[i])),
                kind=KIND_NAMES.get(int(types[i]), "intermediate"),
                score=float(score[i] / top) if top > 0 else 0.0,
                attention=float(node_att[i]) if node_att is not None else None, relevance=rel))

        # edges among them: those of the shown paths first (highlighted), then the most attended
        rank_of: dict[tuple[int, int, int], int] = {}
        for r, (path, _) in enumerate(shown):
            for key in path.keys:
                rank_of.setdefault(key, r)
        effect: dict[tuple[int, int, int], float] = {}
        for path in paths:
            if path.occlusion is not None:
                for key in path.keys:
                    effect[key] = max(effect.get(key, -np.inf), path.occlusion)
        among = [(key, val) for key, val in edges.items() if key[0] in seen and key[1] in seen]
        among.sort(key=lambda kv: (rank_of.get(kv[0], len(shown)),
                                   -(kv[1][0] if kv[1][0] is not None else 0.0), -kv[1][1]))
        shown_edges = []
        for (u, v, t), (att, weight) in among[:max(max_edges, len(rank_of))]:
            relation = kg.relation_name(t)
            shown_edges.append(ExplainedEdge(
                src=int(ids[u]), dst=int(ids[v]), relation=relation, attention=att, weight=weight,
                occlusion=effect.get((u, v, t)), path_rank=rank_of.get((u, v, t)),
                negated=is_negated(relation)))
        linked = {k: list(dict.fromkeys(kg.node_name(int(ids[i])) for i in range(n)
                                        if concept[i] and types[i] == t)) for k, t in (("q", 0), ("a", 1))}
        notes = [note for flag, note in ((flags[0], UNIFORM_NOTE), (flags[1], NO_EFFECT_NOTE))
                 if flag is False]
        if notes and ranking == "occlusion" and flags[0] is False:
            notes[0] += "; paths are ranked by occlusion"
        elif notes and ranking == "none" and paths:
            notes.append("paths are listed shortest first, not ranked")
        return ChoiceExplanation(
            index=0, choice="", probability=0.0, nodes=nodes, edges=shown_edges,
            paths=[explained for _, explained in shown],
            num_subgraph_nodes=int(concept.sum()), num_subgraph_edges=len(edges),
            num_paths=len(paths), num_checked=sum(p.occlusion is not None for p in paths),
            ranking=ranking, attention_informative=flags[0], occlusion_informative=flags[1],
            path_note="; ".join(notes) or None,
            question_concepts=linked["q"], answer_concepts=linked["a"])

    def _explained(self, loc: _Local, path: PathCandidate) -> ExplainedPath:
        kg, R = self.kg, self.R
        names = [kg.node_name(int(loc.ids[i])) for i in path.nodes]
        relations = [kg.relation_name(t) if t < R else "~" + kg.relation_name(t - R) for t in path.relations]
        weight = path.occlusion if path.occlusion is not None else (
            path.attention if path.attention is not None else 0.0)
        return ExplainedPath(nodes=names, relations=relations, weight=float(weight),
                             source="model" if self.has_paths else "subgraph",
                             occlusion=path.occlusion, probability_drop=path.probability_drop,
                             attention=path.attention, node_ids=[int(loc.ids[i]) for i in path.nodes])

    def _kagnet_scores(self, g: int, loc: _Local, edges: dict) -> np.ndarray:
        """KagNet: a node's score is the summed weight of the paths through it, an edge's
        attention the summed weight of the paths using it (0 for edges on no path)."""
        rows = np.flatnonzero((self.path_graph == g) & (self.path_lengths >= 0))
        weights = self.path_attention[rows].astype(np.float64)
        n = len(loc.ids)
        node_att = np.zeros(n)
        steps = self.path_nodes[rows] - loc.n0
        lengths = self.path_lengths[rows]
        on_path = np.arange(steps.shape[1])[None, :] <= lengths[:, None]  # paths are simple
        np.add.at(node_att, steps[on_path], np.broadcast_to(weights[:, None], steps.shape)[on_path])
        relations = self.path_relations[rows]
        for entry in edges.values():
            entry[0] = 0.0
        for j in range(steps.shape[1] - 1):
            live = np.flatnonzero(j < lengths)
            for u, v, t, w in zip(steps[live, j].tolist(), steps[live, j + 1].tolist(),
                                  relations[live, j].tolist(), weights[live].tolist()):
                entry = edges.get(self.stored_key(u, v, t))
                if entry is not None:
                    entry[0] += w
        return node_att


def rank_paths(paths: Sequence[PathCandidate], *, checked: bool
               ) -> tuple[list[PathCandidate], str, tuple[bool | None, bool | None]]:
    """Order a choice's paths and say whether attention and occlusion single any out.

    Ranked by occlusion when it was run (attention breaks ties); else by attention when it is
    informative; else shortest first in the order found (uniform attention ranks nothing, so
    no path comes first because its nodes have few edges).

    Returns:
        ``(paths, ranking, (attention_informative, occlusion_informative))`` with ``ranking``
        ``"occlusion"``, ``"attention"`` or ``"none"``.
    """
    attentions = [p.attention for p in paths if p.attention is not None]
    attention_informative = None
    if attentions:
        attention_informative = any(a > UNIFORM_BAND or a < 1 / UNIFORM_BAND for a in attentions)
    effects = [p.occlusion for p in paths if p.occlusion is not None]
    occlusion_informative = None
    if checked and effects:
        occlusion_informative = max(abs(e) for e in effects) >= MIN_LOGIT_CHANGE
    if checked and effects:
        ranking = "occlusion"
        key = (lambda p: (p.occlusion is None, -(p.occlusion or 0.0),
                          -(p.attention if p.attention is not None else 0.0), p.hops, p.order))
    elif attention_informative:
        ranking = "attention"
        key = (lambda p: (p.attention is None, -(p.attention or 0.0), p.hops, p.order))
    else:
        ranking = "none"
        key = (lambda p: (p.hops, p.order))
    return sorted(paths, key=key), ranking, (attention_informative, occlusion_informative)


def _subgraph_paths(loc: _Local, R: int, max_hops: int) -> list[PathCandidate]:
    """Simple paths of 1..``max_hops`` hops from a question concept to an answer concept over the
    stored edges of one choice graph (either direction), not passing through another question
    concept; shortest first."""
    adjacency: dict[int, list[tuple[int, int, tuple[int, int, int]]]] = {}
    for key in loc.edges:
        u, v, t = key
        adjacency.setdefault(u, []).append((v, t, key))
        adjacency.setdefault(v, []).append((u, t + R, key))
    types, concept = loc.types, loc.concept
    starts = [i for i in range(len(types)) if concept[i] and types[i] == 0]
    goals = {i for i in range(len(types)) if concept[i] and types[i] == 1}
    # hops from each node to the nearest answer concept: walks only go where a goal is near
    to_goal = {i: 0 for i in goals}
    frontier = list(goals)
    for d in range(1, max_hops + 1):
        frontier = [m for f in frontier for m, _, _ in adjacency.get(f, ()) if m not in to_goal]
        for m in frontier:
            to_goal.setdefault(m, d)
    found: list[PathCandidate] = []

    def walk(nodes: list[int], relations: list[int], keys: list):
        for nxt, t, key in adjacency.get(nodes[-1], ()):
            if nxt in nodes:
                continue
            if nxt in goals:
                found.append(PathCandidate(nodes=nodes + [nxt], relations=relations + [t], keys=keys + [key]))
            elif types[nxt] != 0 and len(nodes) + to_goal.get(nxt, max_hops + 1) <= max_hops:
                walk(nodes + [nxt], relations + [t], keys + [key])

    for s in starts:
        walk([s], [], [])
    found.sort(key=lambda p: p.hops)
    for order, path in enumerate(found):
        path.order = order
    return found

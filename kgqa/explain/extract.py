"""From a model's output and the batch it read to :class:`~kgqa.explain.types.Explanation` objects.

What each model exposes (:class:`~kgqa.models.base.QAModelOutput`) and what is read from it:

================ ========================== =================================================
model            attention                  explanation
================ ========================== =================================================
``kagnet``       ``path_attention`` (P,)    the top paths by weight; a node's score is the
                                            summed weight of the paths through it, an edge's
                                            the summed weight of the paths using it
``qagnn``        ``node_attention`` (N,),   node scores from the pooling attention, edge
                 ``edge_attention`` (E, K)  scores from the last layer (mean over heads);
                                            paths of 1-2 hops from question to answer
                                            concepts are *derived*, weighted by the mean
                                            attention of their hops
``rgcn``         ``node_attention`` (N,)    as ``qagnn`` without edge scores (``None`` with
                                            mean pooling: relevance scores are shown)
``lm``, ``ernie`` none                      the linked concepts and the stored edges among
                                            them, with a message saying the model gives no
                                            attention over the graph
================ ========================== =================================================

The batch's graphs are retrieval's per-choice graphs (:class:`~kgqa.retrieval.data.ChoiceGraph`):
edge types ``r`` in ``[0, R)`` are stored edges, ``r + R`` their inverses (shown once, in the
graph's direction), types from ``2R`` on and the context node (type 3) belong to QA-GNN's joint
graph and are not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kgqa.explain.types import (ChoiceExplanation, ExplainedEdge, ExplainedNode, ExplainedPath,
                                Explanation, path_text)

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.types import QALinks
    from kgqa.models.base import QABatch, QAModelOutput

KIND_NAMES = {0: "question", 1: "answer", 2: "intermediate"}
CONTEXT_TYPE = 3

NO_LINK_MESSAGE = ("no concept of the question or this choice is in the graph: no graph evidence, "
                   "the score comes from the language model alone")
NO_ANSWER_CONCEPT_MESSAGE = ("'{choice}' links to no concept of the graph: no path can reach it, so "
                             "there is no graph evidence for this choice")
NO_ATTENTION_MESSAGES = {
    "lm": ("model 'lm' reads the text only: it uses no graph and gives no attention. The linked "
           "concepts and the graph's edges among them are shown for reference, without scores."),
    "ernie": ("model 'ernie' fuses the linked concepts' entity embeddings into its tokens and "
              "gives no attention over the graph: the concepts it fused and the graph's edges "
              "among them are shown without scores."),
}
GRAPH_NO_ATTENTION = ("model '{model}' gives no attention: node sizes show retrieval's relevance "
                      "scores, not what the model used.")


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


def explain_batch(output: "QAModelOutput", batch: "QABatch", kg: "KnowledgeGraph", *,
                  questions: Sequence[str], choices: Sequence[Sequence[str]], model: str,
                  links: Sequence["QALinks"] | None = None, top_paths: int = 5,
                  max_nodes: int = 20, max_edges: int = 40, max_hops: int = 2) -> list[Explanation]:
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
        top_paths: paths kept per choice.
        max_nodes: subgraph nodes shown per choice (linked concepts always shown).
        max_edges: edges shown per choice (the most attended, then the heaviest).
        max_hops: longest derived path for models without path attention.

    Returns:
        ``B`` explanations, in batch order.
    """
    logits = _numpy(output.logits).reshape(batch.batch_size, batch.num_choices)
    kind = attention_kind(output)
    graphs = batch.graphs
    view = _GraphView(graphs, output, kg) if graphs is not None else None
    entity_ids = batch.extras.get("entity_ids") if batch.extras else None
    out = []
    for b in range(batch.batch_size):
        probabilities = _softmax(logits[b].astype(np.float64))
        qa = links[b] if links is not None else None
        per_choice = []
        for c, choice in enumerate(choices[b]):
            g = b * batch.num_choices + c
            if view is not None:
                explained = view.choice(g, top_paths=top_paths, max_nodes=max_nodes,
                                        max_edges=max_edges, max_hops=max_hops)
            else:
                ids = None
                if qa is None and entity_ids is not None:
                    row = _numpy(entity_ids.view(batch.batch_size, batch.num_choices, -1)[b, c])
                    ids = sorted({int(i) for i in row if i >= 0})
                explained = _linked_only(kg, qa, c, ids, max_edges=max_edges)
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


# ---------------------------------------------------------------------- models without graphs
def _linked_only(kg: "KnowledgeGraph", qa: "QALinks | None", c: int, entity_ids, *,
                 max_edges: int) -> ChoiceExplanation:
    """The linked concepts of choice ``c`` and the stored edges among them, without scores."""
    kinds: dict[int, str] = {}
    if qa is not None:
        for i in qa.question_ids(exclude_answer=c):
            kinds.setdefault(int(i), "question")
        for i in qa.choices[c].node_ids:
            kinds[int(i)] = "answer"
    for i in entity_ids or ():
        kinds.setdefault(int(i), "question")
    nodes = [ExplainedNode(id=i, name=kg.node_name(i), kind=k) for i, k in kinds.items()]
    edges = []
    if kinds:
        found = kg.edges_among(list(kinds))
        order = np.argsort(-np.asarray(found.weight), kind="stable")[:max_edges]
        edges = [ExplainedEdge(src=int(found.head[e]), dst=int(found.tail[e]),
                               relation=kg.relation_name(int(found.relation[e])),
                               weight=float(found.weight[e])) for e in order]
    return ChoiceExplanation(index=c, choice="", probability=0.0, nodes=nodes, edges=edges,
                             num_subgraph_nodes=len(nodes), num_subgraph_edges=len(edges))


# ---------------------------------------------------------------------- graph models
class _GraphView:
    """The batch's graphs and the model's attention as numpy arrays, sliced per choice graph."""

    def __init__(self, graphs, output: "QAModelOutput", kg: "KnowledgeGraph"):
        self.kg = kg
        self.R = kg.num_relations
        num_nodes = int(graphs.num_nodes or 0)
        ptr = getattr(graphs, "ptr", None)
        if ptr is None:
            counts = np.bincount(_numpy(graphs.batch).astype(np.int64), minlength=graphs.num_graphs)
            ptr = np.concatenate([[0], np.cumsum(counts)])
        self.ptr = _numpy(ptr).astype(np.int64)
        self.node_ids = _numpy(graphs.node_ids).astype(np.int64)
        node_type = getattr(graphs, "node_type", None)
        self.node_type = (_numpy(node_type).astype(np.int64) if node_type is not None
                          else np.full(num_nodes, 2, dtype=np.int64))
        score = getattr(graphs, "node_score", None)
        self.relevance = _numpy(score) if score is not None else np.full(num_nodes, np.nan)
        batch_vector = _numpy(graphs.batch).astype(np.int64)
        self.edge_index = _numpy(graphs.edge_index).astype(np.int64).reshape(2, -1)
        edge_type = getattr(graphs, "edge_type", None)
        self.edge_type = (_numpy(edge_type).astype(np.int64) if edge_type is not None
                          else np.zeros(self.edge_index.shape[1], dtype=np.int64))
        weight = getattr(graphs, "edge_weight", None)
        self.edge_weight = (_numpy(weight) if weight is not None
                            else np.ones(self.edge_index.shape[1], dtype=np.float32))
        self.edge_graph = batch_vector[self.edge_index[0]] if self.edge_index.size else \
            np.zeros(0, dtype=np.int64)
        self.node_attention = _numpy(output.node_attention)
        edge_attention = _numpy(output.edge_attention)
        if edge_attention is not None:
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

    # ------------------------------------------------------------------ one choice
    def choice(self, g: int, *, top_paths: int, max_nodes: int, max_edges: int,
               max_hops: int) -> ChoiceExplanation:
        kg, R = self.kg, self.R
        n0, n1 = int(self.ptr[g]), int(self.ptr[g + 1])
        ids = self.node_ids[n0:n1]
        types = self.node_type[n0:n1]
        concept = (types != CONTEXT_TYPE) & (ids >= 0)
        relevance = self.relevance[n0:n1] if len(self.relevance) >= n1 else np.full(n1 - n0, np.nan)

        # the choice's stored edges, local indices, each once in the graph's direction
        mask = self.edge_graph == g
        local = self.edge_index[:, mask] - n0
        etype = self.edge_type[mask]
        eweight = self.edge_weight[mask]
        eatt = self.edge_attention[mask] if self.edge_attention is not None else None
        edges: dict[tuple[int, int, int], list] = {}
        for k in range(local.shape[1]):
            t = int(etype[k])
            u, v = int(local[0, k]), int(local[1, k])
            if t >= 2 * R or not (concept[u] and concept[v]):
                continue  # context-node edges (QA-GNN's joint graph)
            key = (u, v, t) if t < R else (v, u, t - R)
            att = float(eatt[k]) if eatt is not None else None
            entry = edges.get(key)
            if entry is None:
                edges[key] = [att, float(eweight[k])]
            elif att is not None:
                entry[0] = att if entry[0] is None else max(entry[0], att)

        # paths and node scores
        paths: list[ExplainedPath] = []
        node_att = None
        num_paths = 0
        if self.has_paths:
            node_att, paths, num_paths = self._model_paths(g, n0, n1, ids, edges, top_paths)
        elif self.node_attention is not None:
            node_att = self.node_attention[n0:n1].astype(np.float64)
        if node_att is None:
            score = np.nan_to_num(relevance.astype(np.float64), nan=0.0)
        else:
            score = node_att
        if not self.has_paths:
            paths, num_paths = self._derived_paths(ids, types, concept, edges, score, top_paths, max_hops)

        # which nodes to show: linked concepts, nodes on the top paths, then the best scored
        chosen: list[int] = [i for i in range(n1 - n0) if concept[i] and types[i] in (0, 1)]
        seen = set(chosen)
        name_to_local = {}
        for i in range(n1 - n0):
            if concept[i]:
                name_to_local.setdefault(kg.node_name(int(ids[i])), i)
        for path in paths:
            for name in path.nodes:
                i = name_to_local.get(name)
                if i is not None and i not in seen:
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
            rel = float(relevance[i]) if np.isfinite(relevance[i]) else None
            nodes.append(ExplainedNode(
                id=int(ids[i]), name=kg.node_name(int(ids[i])),
                kind=KIND_NAMES.get(int(types[i]), "intermediate"),
                score=float(score[i] / top) if top > 0 else 0.0,
                attention=float(node_att[i]) if node_att is not None else None, relevance=rel))
        shown = [(key, val) for key, val in edges.items() if key[0] in seen and key[1] in seen]
        shown.sort(key=lambda kv: (-(kv[1][0] if kv[1][0] is not None else 0.0), -kv[1][1]))
        shown_edges = [ExplainedEdge(src=int(ids[u]), dst=int(ids[v]), relation=kg.relation_name(t),
                                     attention=val[0], weight=val[1])
                       for (u, v, t), val in shown[:max_edges]]
        linked = {k: list(dict.fromkeys(kg.node_name(int(ids[i])) for i in range(n1 - n0)
                                        if concept[i] and types[i] == t)) for k, t in (("q", 0), ("a", 1))}
        return ChoiceExplanation(
            index=0, choice="", probability=0.0, nodes=nodes, edges=shown_edges, paths=paths,
            num_subgraph_nodes=int(concept.sum()), num_subgraph_edges=len(edges),
            num_paths=num_paths, question_concepts=linked["q"], answer_concepts=linked["a"])

    def _model_paths(self, g, n0, n1, ids, edges, top_paths):
        """KagNet: the choice's paths by attention; node/edge scores summed over paths."""
        kg, R = self.kg, self.R
        rows = np.flatnonzero((self.path_graph == g) & (self.path_lengths >= 0))
        weights = self.path_attention[rows].astype(np.float64)
        node_att = np.zeros(n1 - n0)
        steps = self.path_nodes[rows] - n0
        lengths = self.path_lengths[rows]
        on_path = np.arange(steps.shape[1])[None, :] <= lengths[:, None]  # paths are simple
        np.add.at(node_att, steps[on_path], np.broadcast_to(weights[:, None], steps.shape)[on_path])
        relations = self.path_relations[rows]
        for j in range(steps.shape[1] - 1):
            live = np.flatnonzero(j < lengths)
            for u, v, t, w in zip(steps[live, j].tolist(), steps[live, j + 1].tolist(),
                                  relations[live, j].tolist(), weights[live].tolist()):
                entry = edges.get((u, v, t) if t < R else (v, u, t - R))
                if entry is not None:
                    entry[0] = (entry[0] or 0.0) + w
        for entry in edges.values():  # edges on no path get 0, not "no attention"
            if entry[0] is None:
                entry[0] = 0.0
        order = rows[np.argsort(-weights, kind="stable")]
        paths, texts = [], set()
        for p in order:
            length = int(self.path_lengths[p])
            names = [kg.node_name(int(ids[i - n0])) for i in self.path_nodes[p, :length + 1]]
            relations = [kg.relation_name(int(r)) for r in self.path_relations[p, :length]]
            text = path_text(names, relations)
            if text in texts:
                continue
            texts.add(text)
            paths.append(ExplainedPath(nodes=names, relations=relations,
                                       weight=float(self.path_attention[p]), text=text))
            if len(paths) >= top_paths:
                break
        return node_att, paths, int(len(rows))

    def _derived_paths(self, ids, types, concept, edges, score, top_paths, max_hops):
        """Paths of 1..``max_hops`` hops from question to answer concepts over the subgraph's
        edges, weighted by the mean attention of their hops (edge attention where the model gives
        it, else the score of the hop's target node)."""
        kg = self.kg
        adjacency: dict[int, list[tuple[int, str, float | None]]] = {}
        for (u, v, t), (att, _) in edges.items():
            name = kg.relation_name(t)
            adjacency.setdefault(u, []).append((v, name, att))
            adjacency.setdefault(v, []).append((u, "~" + name, att))
        starts = [i for i in range(len(ids)) if concept[i] and types[i] == 0]
        goals = {i for i in range(len(ids)) if concept[i] and types[i] == 1}
        found: list[tuple[float, list[int], list[str]]] = []
        # hops from each node to the nearest answer concept: walks only go where a goal is near
        to_goal = {i: 0 for i in goals}
        frontier = list(goals)
        for d in range(1, max_hops + 1):
            frontier = [n for f in frontier for n, _, _ in adjacency.get(f, ()) if n not in to_goal]
            for n in frontier:
                to_goal.setdefault(n, d)

        def hop_score(target: int, att: float | None) -> float:
            return float(att) if att is not None else float(score[target])

        def walk(path: list[int], rels: list[str], hop_scores: list[float]):
            here = path[-1]
            for nxt, rel, att in adjacency.get(here, ()):
                if nxt in path:
                    continue
                scores = hop_scores + [hop_score(nxt, att)]
                if nxt in goals:
                    found.append((float(np.mean(scores)), path + [nxt], rels + [rel]))
                elif types[nxt] != 0 and len(path) + to_goal.get(nxt, max_hops + 1) <= max_hops:
                    walk(path + [nxt], rels + [rel], scores)

        for s in starts:
            walk([s], [], [])
        found.sort(key=lambda f: -f[0])
        paths, texts = [], set()
        for weight, nodes, rels in found:
            names = [kg.node_name(int(ids[i])) for i in nodes]
            text = path_text(names, rels)
            if text in texts:
                continue
            texts.add(text)
            paths.append(ExplainedPath(nodes=names, relations=rels, weight=weight, text=text,
                                       source="derived"))
            if len(paths) >= top_paths:
                break
        return paths, len(found)

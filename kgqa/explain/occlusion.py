"""Occlusion: what a choice's logit becomes when part of its evidence is taken away.

The faithfulness check of every explanation: remove a path's edges (or unlink an entity) from
one choice's input, run the model again, and see how far the choice's logit falls. Many such
copies go through the model in one batched forward (:meth:`Occluder.edge_logits`).

Each copy holds one (question, choice) pair: its LM input (``lm_states``, token ids, sentence
vectors, as the batch has them; for a graph model, the pair's pooled LM vector, computed once,
since removing edges leaves the text as it was: :meth:`Occluder.statements`) and its graph with
the edges removed. That suffices because
every kgqa model scores each (question, choice) pair on its own; the choices only meet in the
softmax, so the new probability of a choice follows from its new logit and the others' old
ones (:func:`probability_after`).

Edges are removed from the graph itself, both stored directions together (an edge ``u -r-> v``
and its inverse copy ``v -(r+R)-> u``), with every ``edge_*`` attribute; KagNet's paths that run
over a removed edge go with it (:func:`copies_without_edges`, tested equal to copies made with
PyG's :meth:`torch_geometric.explain.Explanation.get_complement_subgraph`). PyG's
``Explainer.get_masked_prediction`` is not used: it multiplies messages by the mask inside
``propagate``, which keeps a masked edge in the attention softmax's denominator, and QA-GNN's
per-source attention does not call ``propagate`` at all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

#: QABatch fields holding one row per (question, choice) pair: ``(B, C, ...)``.
PAIR_FIELDS = ("input_ids", "attention_mask", "token_type_ids", "lm_states", "choice_vectors",
               "lower_states")
#: The LM's inputs among them, which a pooled pair vector (``lm_states``) replaces.
LM_INPUT_FIELDS = ("input_ids", "attention_mask", "token_type_ids", "lower_states")
#: QABatch fields holding one row per question: ``(B, ...)``.
QUESTION_FIELDS = ("question_vectors",)
#: KagNet's path fields of a :class:`~kgqa.retrieval.data.ChoiceGraph`.
PATH_FIELDS = ("path_nodes", "path_relations", "path_lengths", "path_graph")


def copies_without_edges(graphs: Sequence, removals: Sequence[Sequence[np.ndarray]]):
    """One PyG ``Batch`` of copies of choice graphs, each without some of its edges.

    ``graphs[i]`` is copied ``len(removals[i])`` times; copy ``k`` lacks the edges at positions
    ``removals[i][k]`` of ``graphs[i].edge_index``'s columns, with every ``edge_*`` attribute,
    and (KagNet) the paths with a hop over a removed edge. Built with tensor operations, it
    equals ``Batch.from_data_list`` of the copies, each made with PyG's
    ``Explanation.get_complement_subgraph`` under a hard edge mask (tested), at a fraction of
    the cost: the explanation of one question checks a few hundred copies.

    Args:
        graphs: :class:`~kgqa.retrieval.data.ChoiceGraph` objects (local node and edge
            positions), e.g. from ``Batch.get_example``.
        removals: per graph, one array of removed edge positions per copy.
    """
    from torch_geometric.data import Batch

    fields: dict[str, list] = {}
    batch_vector, ptr, num_nodes, num_graphs = [], [0], 0, 0
    for graph, removed_sets in zip(graphs, removals):
        K = len(removed_sets)
        if K == 0:
            continue
        N, E = int(graph.num_nodes), graph.edge_index.size(1)
        keep = torch.ones(K, E, dtype=torch.bool)
        for k, removed in enumerate(removed_sets):
            if len(removed):
                keep[k, torch.as_tensor(np.asarray(removed, dtype=np.int64))] = False
        node_offset = num_nodes + N * torch.arange(K)
        for key in graph.keys():
            value = graph[key]
            if not torch.is_tensor(value) or key in PATH_FIELDS:
                continue
            if key == "edge_index":
                out = (value.unsqueeze(1) + node_offset.view(1, K, 1))[:, keep]
            elif key.startswith("edge_") and value.size(0) == E:
                out = value.unsqueeze(0).expand(K, *value.shape)[keep]
            elif value.dim() and value.size(0) == N:
                out = value.repeat(K, *([1] * (value.dim() - 1)))
            else:
                continue
            fields.setdefault(key, []).append(out)
        if getattr(graph, "path_nodes", None) is not None:
            _copy_paths(graph, keep, node_offset, num_graphs, fields)
        batch_vector.append(num_graphs + torch.arange(K).repeat_interleave(N))
        ptr.extend((num_nodes + N * torch.arange(1, K + 1)).tolist())
        num_nodes += N * K
        num_graphs += K
    out = Batch(**{key: torch.cat(parts, dim=-1 if key == "edge_index" else 0) for key, parts in fields.items()})
    out.batch = torch.cat(batch_vector) if batch_vector else torch.zeros(0, dtype=torch.long)
    out.ptr = torch.tensor(ptr, dtype=torch.long)
    out.num_nodes = num_nodes
    return out


def _copy_paths(graph, keep: torch.Tensor, node_offset: torch.Tensor, first_graph: int,
                fields: dict[str, list]) -> None:
    """KagNet's path fields of ``K`` copies: a path survives in a copy when all its hops' edges do."""
    K, E = keep.shape
    nodes, relations = graph.path_nodes.long(), graph.path_relations.long()
    lengths = graph.path_lengths.long().view(-1)
    position = {(u, v, t): k for k, (u, v, t) in enumerate(zip(
        graph.edge_index[0].tolist(), graph.edge_index[1].tolist(), graph.edge_type.tolist()))}
    hops = relations.size(1) if relations.dim() == 2 else 0
    hop_edge = torch.full((lengths.numel(), max(hops, 1)), E, dtype=torch.long)  # E: no edge
    node_rows, relation_rows = nodes.tolist(), relations.tolist()
    for p, length in enumerate(lengths.tolist()):
        for j in range(max(length, 0)):
            hop_edge[p, j] = position.get((node_rows[p][j], node_rows[p][j + 1], relation_rows[p][j]), E)
    alive = torch.cat([keep, torch.ones(K, 1, dtype=torch.bool)], dim=1)[:, hop_edge].all(dim=-1)  # (K, P)
    copy = torch.arange(K).view(K, 1).expand_as(alive)[alive]
    rows = torch.arange(lengths.numel()).view(1, -1).expand_as(alive)[alive]
    fields.setdefault("path_nodes", []).append(nodes[rows] + node_offset[copy].view(-1, 1))
    fields.setdefault("path_relations", []).append(relations[rows])
    fields.setdefault("path_lengths", []).append(lengths[rows])
    fields.setdefault("path_graph", []).append(first_graph + copy)


def probability_after(logits: np.ndarray, choice: int, new_logit: float) -> float:
    """The softmax probability of ``choice`` once its logit is ``new_logit`` (the others kept)."""
    z = np.asarray(logits, dtype=np.float64).copy()
    z[choice] = new_logit
    z -= z.max()
    e = np.exp(z)
    return float(e[choice] / e.sum())


class Occluder:
    """Runs ``model`` on copies of ``batch``'s choices with evidence removed.

    Args:
        model: the kgqa model that produced the explanation (in eval mode).
        batch: the :class:`~kgqa.models.base.QABatch` it read (graphs from
            ``Batch.from_data_list``, question-major: graph ``b * C + c``).
        chunk: copies per forward pass (memory bound, not a cap on the copies).
    """

    def __init__(self, model: torch.nn.Module, batch, *, chunk: int = 512):
        self.model = model
        self.batch = batch
        self.chunk = int(chunk)
        self._graphs: dict[int, object] = {}
        self._statements = None  # the LM's pooled pair vectors, (B, C, H), once computed
        self.forwards = 0  # forward passes run (for tests and benchmarks)
        self.copies = 0  # graph copies (or pairs) run
        self.copied_edges = 0  # edges in those copies

    def graph(self, g: int):
        """Choice graph ``g`` on its own (local node and edge positions)."""
        if g not in self._graphs:
            self._graphs[g] = self.batch.graphs.get_example(g)
        return self._graphs[g]

    # ------------------------------------------------------------------ copies
    def statements(self):
        """The pooled LM vector of every pair of the batch, ``(B, C, H)``, computed once, or
        ``None`` where the copies must run the LM themselves.

        A graph model (:class:`~kgqa.models.common.GraphQAModel`: QA-GNN, RGCN, KagNet) reads
        the LM's tokens only through :meth:`~kgqa.models.common.QAModel.statement_vectors`, and
        taking edges out of a choice's graph leaves its text unchanged. So each copy carries
        the pair's pooled vector as ``lm_states`` (the frozen regime's input) instead of its
        tokens or cached lower-layer states: the top layers run once per pair, not once per copy
        (tested equal to running them per copy).
        """
        from kgqa.models.common import GraphQAModel

        batch = self.batch
        if not isinstance(self.model, GraphQAModel) or (
                batch.input_ids is None and batch.lower_states is None):
            return None
        if self._statements is None:
            with torch.inference_mode():
                flat = self.model.statement_vectors(batch)
            self._statements = flat.float().reshape(batch.batch_size, batch.num_choices, -1)
        return self._statements

    def _pair_batch(self, pairs: Sequence[int], entity_ids=None, *, statements=None):
        """A ``QABatch`` of one choice per question, without graphs: ``pairs`` are graph indices
        ``b * C + c``; with ``statements`` (:meth:`statements`) the LM input of each pair is its
        pooled vector."""
        from kgqa.models.base import QABatch

        batch, C = self.batch, self.batch.num_choices
        index = torch.as_tensor(list(pairs), dtype=torch.long)
        qs, cs = index // C, index % C
        sources = {name: getattr(batch, name) for name in PAIR_FIELDS}
        if statements is not None:  # the pooled vector stands in for every LM input
            sources.update(dict.fromkeys(LM_INPUT_FIELDS), lm_states=statements)
        values = {}
        for name, t in sources.items():
            if t is not None:
                values[name] = t[qs.to(t.device), cs.to(t.device)].unsqueeze(1)
        for name in QUESTION_FIELDS:
            t = getattr(batch, name)
            if t is not None:
                values[name] = t[qs.to(t.device)]
        extras = {}
        for key, t in (batch.extras or {}).items():
            if torch.is_tensor(t) and t.dim() >= 2 and tuple(t.shape[:2]) == (batch.batch_size, C):
                extras[key] = t[qs.to(t.device), cs.to(t.device)].unsqueeze(1)
            else:
                extras[key] = t
        if entity_ids is not None:
            extras["entity_ids"] = entity_ids.unsqueeze(1)
        return QABatch(ids=[f"occluded-{i}" for i in range(len(index))], num_choices=1, extras=extras,
                       **values)

    def _run(self, make, count: int) -> np.ndarray:
        logits = []
        with torch.inference_mode():
            for start in range(0, count, self.chunk):
                stop = min(count, start + self.chunk)
                output = self.model(make(start, stop))
                self.forwards += 1
                logits.append(output.logits.detach().float().cpu().reshape(-1).numpy())
        return np.concatenate(logits).astype(np.float64) if logits else np.zeros(0)

    def edge_logits(self, requests: Sequence[tuple[int, np.ndarray]]) -> np.ndarray:
        """The logit of each request's choice with the request's edges removed.

        Args:
            requests: ``(g, removed)`` pairs: graph index ``b * C + c`` in the batch and the
                positions of the edges to remove among that graph's own edges (include both
                directions of a stored edge; an empty array gives the unchanged logit).

        Returns:
            ``(len(requests),)`` logits, in request order.
        """
        requests = list(requests)
        statements = self.statements() if requests else None

        def make(start, stop):
            part = requests[start:stop]
            runs: list[tuple[int, list]] = []  # consecutive requests of one graph share its copies
            for g, removed in part:
                if runs and runs[-1][0] == g:
                    runs[-1][1].append(removed)
                else:
                    runs.append((g, [removed]))
            out = self._pair_batch([g for g, _ in part], statements=statements)
            out.graphs = copies_without_edges([self.graph(g) for g, _ in runs],
                                              [r for _, r in runs]).to(self.batch.graphs.batch.device)
            self.copies += len(part)
            self.copied_edges += out.graphs.edge_index.size(1)
            return out

        return self._run(make, len(requests))

    def entity_logits(self, requests: Sequence[tuple[int, Sequence[int]]]) -> np.ndarray:
        """The logit of each request's choice with the given entities unlinked (ERNIE).

        Args:
            requests: ``(g, entities)``: graph index ``b * C + c`` and the entity (node) ids
                whose token alignments become ``-1`` (no entity: the token keeps its text path
                only) in that pair's ``extras["entity_ids"]``.
        """
        requests = list(requests)
        ids = self.batch.extras["entity_ids"]
        C = self.batch.num_choices

        def make(start, stop):
            part = requests[start:stop]
            rows = []
            for g, entities in part:
                row = ids[g // C, g % C].clone()
                if len(entities):
                    drop = torch.isin(row, torch.as_tensor(list(entities), dtype=row.dtype, device=row.device))
                    row[drop] = -1
                rows.append(row)
            return self._pair_batch([g for g, _ in part], entity_ids=torch.stack(rows))

        return self._run(make, len(requests))

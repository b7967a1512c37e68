"""One PyG ``Data`` per (question, choice): the subgraph, its paths, ready for PyG's loaders.

A choice's node list holds the QA-GNN subgraph first (question concepts, answer concepts,
bridging nodes; :mod:`kgqa.retrieval.subgraph`) and then the nodes that only occur on its
KagNet paths (:mod:`kgqa.retrieval.paths`), so path steps can index node vectors. Two views:

* ``paths=False`` (QA-GNN, RGCN, MHGRN): only the subgraph nodes and the edges among them;
  no path fields.
* ``paths=True`` (KagNet): every node, the subgraph's edges plus every hop of the paths (the
  union of the paths is KagNet's schema graph) and the path tensors; ``in_subgraph`` marks
  the subgraph part.

Edge types: stored relations ``r`` in ``[0, R)``; with ``add_inverse`` each edge also appears
reversed with type ``r + R``; with ``context_node`` (QA-GNN's LM context node, node 0, type 3)
edges context -> question concept (type ``2R``) and context -> answer concept (``2R + 1``), and
with ``add_inverse`` their reverses (``2R + 2``, ``2R + 3``): :func:`num_edge_types` ``= 2R + 4``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from kgqa.retrieval.subgraph import ANSWER_CONCEPT, CONTEXT_NODE, QUESTION_CONCEPT

NUM_CONTEXT_EDGE_TYPES = 4


def num_edge_types(num_relations: int) -> int:
    """Edge types a :class:`ChoiceGraph` can carry for a graph of ``R`` relations: ``2R + 4``."""
    return 2 * num_relations + NUM_CONTEXT_EDGE_TYPES


class ChoiceGraph(Data):
    r"""The graph evidence of one answer choice (a PyG ``Data``).

    Fields (``N`` nodes, ``E`` edges, ``P`` paths, ``K`` = ``max_hops``):

    - **node_ids** ``(N,)`` long: graph node ids; ``-1`` for the context node.
    - **node_type** ``(N,)`` long: 0 question concept, 1 answer concept, 2 other, 3 context.
    - **node_score** ``(N,)`` float: the ranker's relevance score (0 where no ranking ran).
    - **in_subgraph** ``(N,)`` bool: the node belongs to the QA-GNN subgraph (not only to paths).
    - **edge_index** ``(2, E)`` long, **edge_type** ``(E,)`` long, **edge_weight** ``(E,)`` float.
    - **path_nodes** ``(P, K+1)`` long: local node indices of each path, question concept
      first; positions after ``path_lengths`` repeat the last node so that they stay valid
      indices after batching. Incremented by ``num_nodes`` when batched (``__inc__``).
    - **path_relations** ``(P, K)`` long: relation of each hop (``r + R`` = edge followed
      backwards), ``-1`` after the end.
    - **path_lengths** ``(P,)`` long: hops (0 when the question concept is the answer concept).
    - **path_graph** ``(P,)`` long: 0 here; after batching, the index of the graph each path
      belongs to (incremented by 1 per graph).

    Example::

        >>> from torch_geometric.loader import DataLoader
        >>> batch = next(iter(DataLoader(graphs, batch_size=5)))
        >>> batch.path_nodes.max() < batch.num_nodes
    """

    def __inc__(self, key, value, *args, **kwargs):
        if key == "path_nodes":
            return self.num_nodes
        if key == "path_graph":
            return 1
        return super().__inc__(key, value, *args, **kwargs)

    def __cat_dim__(self, key, value, *args, **kwargs):
        if key in ("path_nodes", "path_relations", "path_lengths", "path_graph"):
            return 0
        return super().__cat_dim__(key, value, *args, **kwargs)


def build_choice_graph(*, node_ids, node_type, node_score, num_subgraph_nodes: int, edge_index, edge_type,
                       edge_weight, num_relations: int, path_nodes=None, path_relations=None,
                       path_lengths=None, paths: bool = True, add_inverse: bool = True,
                       context_node: bool = True) -> ChoiceGraph:
    """Assemble a :class:`ChoiceGraph` from one choice's arrays (see the module docstring).

    Args:
        node_ids, node_type, node_score: ``(N,)`` the choice's nodes, subgraph nodes first.
        num_subgraph_nodes: how many leading nodes form the QA-GNN subgraph.
        edge_index, edge_type, edge_weight: stored (forward) edges, local: those among the
            subgraph nodes, then path hops with an end outside the subgraph.
        num_relations: ``R`` of the graph.
        path_nodes: ``(P, K+1)`` local node indices, ``-1`` padded; ``path_relations`` ``(P, K)``;
            ``path_lengths`` ``(P,)``.
        paths: the KagNet view (all nodes + paths) or the subgraph view.
        add_inverse: add reversed edges with type ``r + R``.
        context_node: prepend QA-GNN's context node.
    """
    r = int(num_relations)
    node_ids = np.asarray(node_ids, dtype=np.int64)
    node_type = np.asarray(node_type, dtype=np.int64)
    node_score = np.asarray(node_score, dtype=np.float32)
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    edge_type = np.asarray(edge_type, dtype=np.int64)
    edge_weight = np.asarray(edge_weight, dtype=np.float32)
    n_sub = int(num_subgraph_nodes)
    if not paths:
        node_ids, node_type, node_score = node_ids[:n_sub], node_type[:n_sub], node_score[:n_sub]
        keep = (edge_index < n_sub).all(axis=0)
        edge_index, edge_type, edge_weight = edge_index[:, keep], edge_type[keep], edge_weight[keep]
    in_subgraph = np.arange(len(node_ids)) < n_sub
    if add_inverse:
        edge_index = np.concatenate([edge_index, edge_index[::-1]], axis=1)
        edge_type = np.concatenate([edge_type, edge_type + r])
        edge_weight = np.concatenate([edge_weight, edge_weight])
    shift = 1 if context_node else 0
    if context_node:
        concepts = np.flatnonzero((node_type == QUESTION_CONCEPT) | (node_type == ANSWER_CONCEPT))
        ctx_type = np.where(node_type[concepts] == QUESTION_CONCEPT, 2 * r, 2 * r + 1)
        ctx_edges = np.stack([np.zeros(len(concepts), dtype=np.int64), concepts + 1])
        edge_index = edge_index + 1
        if add_inverse:
            ctx_edges = np.concatenate([ctx_edges, ctx_edges[::-1]], axis=1)
            ctx_type = np.concatenate([ctx_type, ctx_type + 2])
        edge_index = np.concatenate([edge_index, ctx_edges], axis=1)
        edge_type = np.concatenate([edge_type, ctx_type])
        edge_weight = np.concatenate([edge_weight, np.ones(len(ctx_type), dtype=np.float32)])
        node_ids = np.concatenate([[-1], node_ids])
        node_type = np.concatenate([[CONTEXT_NODE], node_type])
        node_score = np.concatenate([np.zeros(1, dtype=np.float32), node_score])
        in_subgraph = np.concatenate([[True], in_subgraph])
    data = ChoiceGraph(
        node_ids=torch.from_numpy(node_ids), node_type=torch.from_numpy(node_type),
        node_score=torch.from_numpy(node_score), in_subgraph=torch.from_numpy(in_subgraph),
        edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)), edge_type=torch.from_numpy(edge_type),
        edge_weight=torch.from_numpy(edge_weight), num_nodes=len(node_ids))
    if paths:
        lengths = np.asarray(path_lengths if path_lengths is not None else np.zeros(0), dtype=np.int64)
        width = np.asarray(path_nodes).shape[1] if path_nodes is not None else 1
        nodes = np.asarray(path_nodes if path_nodes is not None else np.zeros((0, width)), dtype=np.int64)
        rels = np.asarray(path_relations if path_relations is not None else np.zeros((0, max(width - 1, 0))),
                          dtype=np.int64).reshape(len(lengths), max(width - 1, 0))
        if len(lengths):
            last = nodes[np.arange(len(lengths)), lengths]
            nodes = np.where(np.arange(width)[None, :] <= lengths[:, None], nodes, last[:, None]) + shift
        data.path_nodes = torch.from_numpy(nodes.reshape(-1, width))
        data.path_relations = torch.from_numpy(np.ascontiguousarray(rels))
        data.path_lengths = torch.from_numpy(lengths)
        data.path_graph = torch.zeros(len(lengths), dtype=torch.long)
    return data

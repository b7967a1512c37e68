"""The models on graphs built by retrieval's own ``build_choice_graph`` (context node, inverse
edges, paths padded by repeating the last node, ``path_graph``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from kgqa.models.qagnn import join_context_nodes
from kgqa.retrieval.data import build_choice_graph, num_edge_types
from tests.models.model_fixtures import build, frozen_batch

R = 3  # relations of the toy graph


def _choice(seed: int, *, paths: bool, context_node: bool, empty: bool = False):
    if empty:
        return build_choice_graph(node_ids=[], node_type=[], node_score=[], num_subgraph_nodes=0,
                                  edge_index=np.zeros((2, 0)), edge_type=[], edge_weight=[],
                                  num_relations=R, path_nodes=np.zeros((0, 3)),
                                  path_relations=np.zeros((0, 2)), path_lengths=[], paths=paths,
                                  context_node=context_node)
    rng = np.random.default_rng(seed)
    # nodes: 0 question, 1 answer, 2 bridging (subgraph), 3 only on a path
    return build_choice_graph(
        node_ids=rng.choice(20, size=4, replace=False), node_type=[0, 1, 2, 2],
        node_score=rng.random(4), num_subgraph_nodes=3,
        edge_index=[[0, 2, 0, 3], [2, 1, 3, 1]], edge_type=rng.integers(0, R, 4),
        edge_weight=np.ones(4), num_relations=R,
        path_nodes=[[0, 2, 1], [0, 3, 1], [1, -1, -1]], path_relations=[[0, 4], [1, 2], [-1, -1]],
        path_lengths=[2, 2, 0], paths=paths, context_node=context_node)


def _batch(*, paths: bool, context_node: bool, empty=()):
    graphs = [_choice(i, paths=paths, context_node=context_node, empty=i in empty) for i in range(6)]
    return Batch.from_data_list(graphs)


@pytest.mark.parametrize("name", ["kagnet", "rgcn", "qagnn"])
@pytest.mark.parametrize("context_node", [True, False])
def test_models_read_retrievals_graphs(name, context_node):
    torch.manual_seed(0)
    model = build(name, num_relations=num_edge_types(R)).eval()
    graphs = _batch(paths=name == "kagnet", context_node=context_node, empty=(4,))
    out = model(frozen_batch(graphs))
    assert out.logits.shape == (2, 3) and torch.isfinite(out.logits).all()
    if name == "kagnet":
        sums = torch.zeros(6).index_add_(0, graphs.path_graph, out.path_attention)
        torch.testing.assert_close(sums, torch.tensor([1.0, 1, 1, 1, 0, 1]))
    if name == "qagnn":
        assert out.edge_attention.shape[0] == graphs.edge_index.size(1)


def test_qagnn_uses_retrievals_node_0_as_context():
    torch.manual_seed(0)
    model = build("qagnn", num_relations=num_edge_types(R))
    graphs = _batch(paths=False, context_node=True)
    joined = join_context_nodes(model.graph_inputs(frozen_batch(graphs)), model.config.num_relations)
    assert joined.context_index.tolist() == graphs.ptr[:-1].tolist()
    assert joined.batch.numel() == graphs.num_nodes  # nothing added

"""The explanations the models return (path, node and edge attention) and QA-GNN's context node."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from kgqa.errors import KGQAError
from kgqa.models.common import GraphInputs
from kgqa.models.qagnn import join_context_nodes
from tests.models.model_fixtures import (NUM_RELATIONS, ChoiceGraph, build, choice_graph,
                                         empty_graph, frozen_batch, make_graphs)


def _per_graph_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    return torch.zeros(size, dtype=values.dtype).index_add_(0, index, values)


def test_kagnet_path_attention_is_aligned_with_the_batch_paths():
    torch.manual_seed(0)
    model = build("kagnet").eval()
    graphs = make_graphs(empty=(4,))
    out = model(frozen_batch(graphs))
    num_paths = graphs.path_lengths.numel()
    assert out.path_attention.shape == (num_paths,)
    # graph of every path from its first node; weights sum to 1 per graph that has paths
    path_graph = graphs.batch[graphs.path_nodes[:, 0]]
    sums = _per_graph_sum(out.path_attention, path_graph, 6)
    has_paths = torch.bincount(path_graph, minlength=6) > 0
    assert has_paths.tolist() == [True, True, True, True, False, True]
    torch.testing.assert_close(sums[has_paths], torch.ones(5))


def test_kagnet_choice_without_paths_uses_the_no_path_vector():
    torch.manual_seed(0)
    model = build("kagnet").eval()
    graphs = Batch.from_data_list([choice_graph(3, 0), choice_graph(1, 1), empty_graph(),
                                   choice_graph(4, 3), choice_graph(2, 4), choice_graph(3, 5)])
    out = model(frozen_batch(graphs))
    # a 1-node graph (question concept only) has no path, nor has the empty one
    expected = model.paths.no_path.detach()
    torch.testing.assert_close(out.graph_vectors[0, 1], expected)
    torch.testing.assert_close(out.graph_vectors[0, 2], expected)
    assert not torch.allclose(out.graph_vectors[0, 0], expected)


def test_kagnet_ignores_padding_path_rows():
    torch.manual_seed(0)
    model = build("kagnet").eval()
    graphs = make_graphs()
    base = model(frozen_batch(graphs))
    padded = make_graphs()
    padded.path_nodes = torch.cat([padded.path_nodes, torch.full((1, 3), -1)])
    padded.path_relations = torch.cat([padded.path_relations, torch.full((1, 2), -1)])
    padded.path_lengths = torch.cat([padded.path_lengths, torch.tensor([-1])])
    out = model(frozen_batch(padded))
    torch.testing.assert_close(out.logits, base.logits)
    assert out.path_attention[-1].item() == 0.0


def test_qagnn_node_and_edge_attention():
    torch.manual_seed(0)
    model = build("qagnn").eval()
    graphs = make_graphs(empty=(2,))
    out = model(frozen_batch(graphs))
    assert out.edge_attention.shape == (graphs.edge_index.size(1), 2)
    assert out.node_attention.shape == (graphs.num_nodes,)
    sums = _per_graph_sum(out.node_attention, graphs.batch, 6)
    torch.testing.assert_close(sums, torch.tensor([1.0, 1.0, 0.0, 1.0, 1.0, 1.0]))
    assert ((out.edge_attention > 0) & (out.edge_attention <= 1)).all()


def test_rgcn_attention_and_mean_pooling():
    torch.manual_seed(0)
    graphs = make_graphs()
    out = build("rgcn").eval()(frozen_batch(graphs))
    torch.testing.assert_close(_per_graph_sum(out.node_attention, graphs.batch, 6), torch.ones(6))
    mean = build("rgcn", pooling="mean").eval()(frozen_batch(graphs))
    assert mean.node_attention is None and mean.logits.shape == (2, 3)


def _inputs(graphs: Batch) -> GraphInputs:
    return GraphInputs(num_graphs=graphs.num_graphs, num_nodes=graphs.num_nodes, batch=graphs.batch,
                       node_ids=torch.zeros_like(graphs.node_type), node_type=graphs.node_type,
                       node_score=graphs.node_score, edge_index=graphs.edge_index,
                       edge_type=graphs.edge_type, data=graphs)


def test_join_context_nodes_adds_one_hub_per_graph_without_one():
    # graph 0: q(0) -> a(1) -> other(2); graph 1: empty; graph 2: retrieval's context node 3
    # first, then q(4)
    g0 = ChoiceGraph(node_type=torch.tensor([0, 1, 2]), node_score=torch.zeros(3),
                     edge_index=torch.tensor([[0, 1], [1, 2]]), edge_type=torch.tensor([0, 1]),
                     num_nodes=3)
    g1 = ChoiceGraph(node_type=torch.zeros(0, dtype=torch.long), node_score=torch.zeros(0),
                     edge_index=torch.zeros(2, 0, dtype=torch.long),
                     edge_type=torch.zeros(0, dtype=torch.long), num_nodes=0)
    g2 = ChoiceGraph(node_type=torch.tensor([3, 0]), node_score=torch.zeros(2),
                     edge_index=torch.tensor([[0], [1]]), edge_type=torch.tensor([5]), num_nodes=2)
    graphs = Batch.from_data_list([g0, g1, g2])
    joined = join_context_nodes(_inputs(graphs), NUM_RELATIONS)
    # new hubs: node 5 for graph 0, node 6 for graph 1; graph 2 keeps node 3
    assert joined.context_index.tolist() == [5, 6, 3]
    assert joined.batch.tolist() == [0, 0, 0, 2, 2, 0, 1]
    assert joined.node_type.tolist() == [0, 1, 2, 3, 0, 3, 3]
    assert joined.is_context.tolist() == [False, False, False, True, False, True, True]
    assert joined.edge_index.tolist() == [[0, 1, 3, 5, 5, 0, 1], [1, 2, 4, 0, 1, 5, 5]]
    # context edges take the last four edge types, as retrieval's own context edges
    r = NUM_RELATIONS
    assert joined.edge_type.tolist() == [0, 1, 5, r - 4, r - 3, r - 2, r - 1]


def test_qagnn_uses_retrievals_context_node():
    torch.manual_seed(0)
    model = build("qagnn").eval()
    with_hub = []
    for i, n in enumerate((3, 4, 5, 4, 3, 2)):
        g = choice_graph(n, seed=i)
        g.node_type[-1] = 3  # retrieval's context node (its node id is never looked up)
        g.node_ids[-1] = 10_000
        with_hub.append(g)
    out = model(frozen_batch(Batch.from_data_list(with_hub)))
    assert torch.isfinite(out.logits).all()
    graphs = Batch.from_data_list(with_hub)
    hub = graphs.node_type == 3
    assert out.node_attention[hub].tolist() == [0.0] * 6


def test_kagnet_reads_the_same_paths_in_training_and_evaluation():
    """By default every path gets weight in a training forward, exactly the ones evaluation
    weighs; sampling (train_paths_per_pair) is an opt-in that leaves some out in training only."""
    torch.manual_seed(0)
    model = build("kagnet", dropout=0.0, lm_dropout=0.0)
    graphs = make_graphs(empty=(4,))
    batch = frozen_batch(graphs)
    train = model.train()(batch)
    evaluation = model.eval()(batch)
    used = graphs.path_lengths >= 0
    assert (train.path_attention[used] > 0).all()
    assert torch.equal(train.path_attention > 0, evaluation.path_attention > 0)
    # without dropout the two modes compute the same function
    torch.testing.assert_close(train.logits, evaluation.logits)
    torch.manual_seed(0)
    sampled = build("kagnet", dropout=0.0, lm_dropout=0.0, train_paths_per_pair=1)
    assert (sampled.train()(batch).path_attention[used] == 0).any()
    assert (sampled.eval()(batch).path_attention[used] > 0).all()


def test_qagnn_source_attention_is_an_option():
    torch.manual_seed(0)
    target = build("qagnn").eval()
    torch.manual_seed(0)
    source = build("qagnn", attention="source").eval()
    source.load_state_dict(target.state_dict())  # the same weights, only the normalisation differs
    batch = frozen_batch(make_graphs(empty=(2,)))
    a, b = target(batch), source(batch)
    assert torch.isfinite(b.logits).all() and not torch.allclose(a.logits, b.logits)
    assert (b.edge_attention > 0).all() and (b.edge_attention > 1).any()  # rescaled by out-degree
    with pytest.raises(KGQAError, match="attention='both'"):
        build("qagnn", attention="both")


def test_qagnn_loads_checkpoints_with_four_unused_context_rows():
    """Checkpoints saved when the model's own context edges took ids past num_relations have
    4 more rows per layer ([relations, 4 unused, 4 context, self-loop]); they load to the same
    function."""
    torch.manual_seed(0)
    model = build("qagnn").eval()
    base = NUM_RELATIONS - 4
    old = {}
    for key, value in model.state_dict().items():
        if key.endswith("relation_embedding.weight"):
            assert value.shape[0] == NUM_RELATIONS + 1
            value = torch.cat([value[:base], torch.randn(4, value.shape[1]), value[base:]])
        old[key] = value
    torch.manual_seed(1)
    fresh = build("qagnn").eval()
    fresh.load_state_dict(old)
    batch = frozen_batch(make_graphs())
    torch.testing.assert_close(fresh(batch).logits, model(batch).logits)

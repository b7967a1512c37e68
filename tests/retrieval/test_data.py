import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.data import ChoiceGraph, num_edge_types
from kgqa.retrieval.retriever import Retriever, choice_graphs
from tests.retrieval.helpers import IDS, R, REL

dig, flower, garden, plant, shovel, tool, hammer = (IDS[n] for n in ("dig", "flower", "garden", "plant", "shovel",
                                                                    "tool", "hammer"))
AT, HAS_A, REL_TO, USED_FOR, IS_A = (REL[n] for n in ("AtLocation", "HasA", "RelatedTo", "UsedFor", "IsA"))


def retrieve(kg, questions, answers, **settings):
    config = RetrievalConfig(ranker="degree", max_paths=0, path_scorer="none", **settings)
    return Retriever(kg, config).retrieve(questions, answers)


def test_arrays_by_hand(garden_graph):
    arrays = retrieve(garden_graph, [[shovel]], [[flower]])
    # subgraph [shovel, flower, garden], then the nodes met only on paths: dig, plant (by id)
    assert arrays["node_ids"].tolist() == [shovel, flower, garden, dig, plant]
    assert arrays["node_type"].tolist() == [0, 1, 2, 2, 2]
    assert arrays["num_subgraph_nodes"].tolist() == [3] and arrays["num_subgraph_edges"].tolist() == [3]
    # subgraph edges, then the path hops that leave the subgraph (edge-id order):
    # dig -AtLocation-> garden, plant -AtLocation-> garden, plant -RelatedTo-> flower, shovel -UsedFor-> dig
    assert arrays["edge_index"].tolist() == [[1, 2, 0, 3, 4, 4, 0], [2, 1, 2, 2, 2, 1, 3]]
    assert arrays["edge_type"].tolist() == [AT, HAS_A, AT, AT, AT, REL_TO, USED_FOR]
    assert arrays["edge_weight"].tolist() == [3, 1, 1, 1, 2, 1, 2]
    assert arrays["pair_nodes"].tolist() == [[shovel], [flower]]
    assert arrays["path_ptr"].tolist() == [0, 3] and arrays["pair_found"].tolist() == [3]
    # paths in local indices: shovel 0, flower 1, garden 2, dig 3, plant 4; one per node sequence
    assert arrays["path_nodes"].tolist() == [[0, 2, 1, -1], [0, 3, 2, 1], [0, 2, 4, 1]]
    assert arrays["path_relations"].tolist() == [[AT, HAS_A, -1], [USED_FOR, AT, HAS_A], [AT, AT + R, REL_TO]]
    assert "path_score" not in arrays  # not pruned
    # every node has a score, the path-only ones too (degree ranker: log(1 + degree))
    degrees = [3, 3, 5, 3, 2]
    assert garden_graph.degree[[shovel, flower, garden, dig, plant]].tolist() == degrees
    assert arrays["node_score"].tolist() == pytest.approx(np.log1p(degrees).tolist())
    assert arrays["ranked"].tolist() == [1]


def test_score_all_nodes_off_leaves_nan_under_the_cap(garden_graph):
    arrays = retrieve(garden_graph, [[shovel]], [[flower]], score_all_nodes=False)
    assert np.isnan(arrays["node_score"]).all() and arrays["ranked"].tolist() == [0]


def test_choice_graph_kagnet_view_with_context_and_inverse(garden_graph):
    arrays = retrieve(garden_graph, [[shovel]], [[flower]])
    (g,) = choice_graphs(arrays, R)
    assert isinstance(g, ChoiceGraph) and g.num_nodes == 6
    assert g.node_ids.tolist() == [-1, shovel, flower, garden, dig, plant]
    assert g.node_type.tolist() == [3, 0, 1, 2, 2, 2]
    assert g.in_subgraph.tolist() == [True, True, True, True, False, False]
    forward = [[2, 3, 1, 4, 5, 5, 1], [3, 2, 3, 3, 3, 2, 4]]
    assert g.edge_index.tolist() == [forward[0] + forward[1] + [0, 0, 1, 2], forward[1] + forward[0] + [1, 2, 0, 0]]
    types = [AT, HAS_A, AT, AT, AT, REL_TO, USED_FOR]
    assert g.edge_type.tolist() == types + [t + R for t in types] + [2 * R, 2 * R + 1, 2 * R + 2, 2 * R + 3]
    assert int(g.edge_type.max()) < num_edge_types(R) == 2 * R + 4
    # path steps index the graph's nodes; after the end they repeat the answer concept
    assert g.path_nodes.tolist() == [[1, 3, 2, 2], [1, 4, 3, 2], [1, 3, 5, 2]]
    assert g.path_lengths.tolist() == [2, 3, 3]
    assert g.path_relations[0].tolist() == [AT, HAS_A, -1]
    assert g.path_graph.tolist() == [0] * 3
    assert torch.isfinite(g.node_score).all() and g.node_score[0] == 0  # the context node: 0


def test_choice_graph_subgraph_view(garden_graph):
    arrays = retrieve(garden_graph, [[shovel]], [[flower]])
    (g,) = choice_graphs(arrays, R, paths=False, add_inverse=False, context_node=False)
    assert g.node_ids.tolist() == [shovel, flower, garden]
    assert g.edge_index.tolist() == [[1, 2, 0], [2, 1, 2]]
    assert not hasattr(g, "path_nodes") or g.path_nodes is None


def test_empty_choice_is_context_only(garden_graph):
    arrays = retrieve(garden_graph, [[]], [[]])
    (g,) = choice_graphs(arrays, R)
    assert g.num_nodes == 1 and g.node_type.tolist() == [3] and g.edge_index.shape == (2, 0)
    assert g.path_nodes.shape == (0, 4) and g.path_relations.shape == (0, 3)
    (bare,) = choice_graphs(arrays, R, context_node=False)
    assert bare.num_nodes == 0


def test_pyg_batching_increments_path_nodes(garden_graph):
    arrays = retrieve(garden_graph, [[shovel], [hammer], []], [[flower], [tool], []])
    graphs = choice_graphs(arrays, R)
    sizes = [g.num_nodes for g in graphs]
    batch = next(iter(DataLoader(graphs, batch_size=3)))
    assert batch.num_graphs == 3 and batch.num_nodes == sum(sizes)
    first, second = graphs[0], graphs[1]
    p0 = first.path_nodes.shape[0]
    assert torch.equal(batch.path_nodes[:p0], first.path_nodes)
    assert torch.equal(batch.path_nodes[p0:], second.path_nodes + sizes[0])
    assert batch.path_graph.tolist() == [0] * p0 + [1] * second.path_nodes.shape[0]
    # every path step is a node of its own graph
    owner = batch.batch[batch.path_nodes]
    assert (owner == batch.path_graph[:, None]).all()
    assert torch.equal(batch.node_ids[batch.path_nodes[:, 0]], torch.tensor([shovel] * p0 + [hammer]))
    assert batch.edge_index.max() < batch.num_nodes
    # hammer -> tool: the direct IsA edge, and hammer -IsA-> tool <-IsA- shovel -> ... is longer than 1
    assert second.path_lengths.tolist()[0] == 1 and second.path_relations[0, 0].item() == IS_A

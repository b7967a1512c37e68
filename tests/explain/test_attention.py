"""Attention relative to uniform, recorded per layer, and the uninformative flag.

The fixture graph makes the trap of raw attention visible: the question concept ``dig`` and the
answer ``shovel`` are hubs, the three bridges between them leaves. Under *uniform* attention a
raw weight is 1 / in-degree, so a bridge's hops look 4x heavier than the direct
``shovel --UsedFor--> dig`` edge; the explanation must flag the attention as uninformative
instead of ranking the leaves first.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from kgqa.explain.attention import record_layer_attention, relative_to_uniform
from kgqa.explain.extract import explain_batch
from kgqa.explain.occlusion import Occluder
from kgqa.models.base import QABatch
from kgqa.retrieval.data import build_choice_graph, num_edge_types
from tests.conftest import build_graph

QUESTION = "What do you dig with?"
HUB_TRIPLES = ([("shovel", "UsedFor", "dig", 1.0)]
               + [(b, "RelatedTo", end, 1.0) for b in ("bridge_a", "bridge_b", "bridge_c") for end in ("dig", "shovel")]
               + [("shovel", "IsA", f"tool_{k}", 1.0) for k in range(6)]
               + [("dig", "HasSubevent", f"event_{k}", 1.0) for k in range(4)])


def test_relative_to_uniform_under_each_normalisation():
    # edges into node 2: from 0, 1 and itself; into node 0: from 2
    ei = np.array([[0, 1, 2, 2], [2, 2, 2, 0]])
    relative, kind = relative_to_uniform(ei, np.array([0.5, 0.25, 0.25, 1.0]))  # softmax per target
    assert kind == "target" and relative == pytest.approx([1.5, 0.75, 0.75, 1.0])
    # per source, rescaled by out-degree (QA-GNN's released code): node 2 sends to 2 and 0
    relative, kind = relative_to_uniform(ei, np.array([1.0, 1.0, 1.5, 0.5]))
    assert kind == "source" and relative == pytest.approx([1.0, 1.0, 1.5, 0.5])
    # a plain softmax per source, two heads: the mean over heads
    relative, kind = relative_to_uniform(ei, np.array([[1.0, 1.0], [1.0, 1.0], [0.75, 0.5], [0.25, 0.5]]))
    assert kind == "source" and relative == pytest.approx([1.0, 1.0, 1.25, 0.75])
    # uniform weights are 1 whatever the degree
    uniform = np.array([1 / 3, 1 / 3, 1 / 3, 1.0])
    assert relative_to_uniform(ei, uniform)[0] == pytest.approx([1.0] * 4)


@pytest.fixture(scope="module")
def hub_kg(tmp_path_factory):
    return build_graph(tmp_path_factory.mktemp("hub_graph") / "hub", HUB_TRIPLES, name="hub")


def hub_batch(kg) -> QABatch:
    names = ["dig", "shovel", "bridge_a", "bridge_b", "bridge_c"] + [f"tool_{k}" for k in range(6)] + \
            [f"event_{k}" for k in range(4)]
    ids = [kg.node_id(n) for n in names]
    local = {node: i for i, node in enumerate(ids)}
    found = kg.edges_among(ids)
    graph = build_choice_graph(
        node_ids=ids, node_type=[0, 1] + [2] * (len(ids) - 2), node_score=[0.0] * len(ids),
        num_subgraph_nodes=len(ids), edge_index=[[local[int(h)] for h in found.head], [local[int(t)] for t in found.tail]],
        edge_type=[int(r) for r in found.relation], edge_weight=[1.0] * len(found.head),
        num_relations=kg.num_relations, paths=False, context_node=False)
    return QABatch(ids=["q"], num_choices=1, lm_states=torch.randn(1, 1, 32, generator=torch.Generator().manual_seed(0)),
                   graphs=Batch.from_data_list([graph]))


def uniform_qagnn(kg):
    """A tiny QA-GNN whose every attention layer is uniform (zero queries: all scores 0)."""
    from kgqa.models import build_model

    torch.manual_seed(0)
    model = build_model("qagnn", {"lm_hidden_size": 32, "num_relations": num_edge_types(kg.num_relations),
                                  "node_embedding": "learned", "num_nodes": kg.num_nodes, "hidden_size": 16,
                                  "num_layers": 2, "heads": 2, "scorer_hidden": 16}).eval()
    with torch.no_grad():
        for conv in model.convs:
            conv.query.weight.zero_()
            conv.query.bias.zero_()
    return model


def test_layers_are_recorded_in_order_over_the_batch_edges(hub_kg):
    model, batch = uniform_qagnn(hub_kg), hub_batch(hub_kg)
    with torch.inference_mode(), record_layer_attention(model) as layers:
        model(batch)
    E = batch.graphs.edge_index.size(1)
    assert len(layers) == 2
    for layer in layers:
        assert np.array_equal(layer.edge_index[:, :E], batch.graphs.edge_index.numpy())
        assert layer.normalisation == "target" and layer.relative == pytest.approx(1.0)
    with torch.inference_mode():  # the hooks are gone after the block
        with record_layer_attention(torch.nn.Linear(2, 2)) as none:
            pass
    assert none == []


def test_uniform_attention_is_flagged_not_ranked_by_degree(hub_kg):
    model, batch = uniform_qagnn(hub_kg), hub_batch(hub_kg)
    with torch.inference_mode(), record_layer_attention(model) as layers:
        output = model(batch)
    g = batch.graphs
    E = g.edge_index.size(1)
    # the trap: the raw last-layer weights (max of both directions, mean over hops) rank a bridge first
    raw = layers[-1].alpha.mean(axis=1)[:E]
    ends = {(int(u), int(v)): raw[k] for k, (u, v) in enumerate(g.edge_index.t().tolist())}

    def old_score(nodes):
        return np.mean([max(ends[(a, b)], ends[(b, a)]) for a, b in zip(nodes, nodes[1:])])

    assert old_score([0, 2, 1]) > 3 * old_score([0, 1])  # dig - bridge_a - shovel over dig - shovel

    exp = explain_batch(output, batch, hub_kg, questions=[QUESTION], choices=[["shovel"]], model="qagnn",
                        layers=layers)[0]
    shovel = exp.per_choice[0]
    assert shovel.num_paths == 4 and [p.attention for p in shovel.paths] == pytest.approx([1.0] * 4)
    assert shovel.attention_informative is False and shovel.ranking == "none"
    assert shovel.paths[0].text == "dig <-UsedFor-- shovel"  # shortest first, not the leaves
    assert shovel.path_note == ("the model's attention along every path is within 10% of uniform: it "
                                "singles out no path; paths are listed shortest first, not ranked")
    # with occlusion the paths are ranked by what removing them does, the attention still flagged
    with torch.inference_mode():
        exp = explain_batch(output, batch, hub_kg, questions=[QUESTION], choices=[["shovel"]], model="qagnn",
                            layers=layers, occluder=Occluder(model, batch))[0]
    shovel = exp.per_choice[0]
    assert shovel.ranking == "occlusion" and shovel.attention_informative is False
    assert shovel.path_note.startswith("the model's attention along every path is within 10% of uniform")
    assert "it singles out no path; paths are ranked by occlusion" in shovel.path_note
    drops = [p.occlusion for p in shovel.paths]
    assert drops == sorted(drops, reverse=True) and all(d is not None for d in drops)

"""From hand-set attention on retrieval-format graphs of the toy graph to explanations, exactly.

Toy graph ids: dig 0, flower 1, garden 2, hammer 4, shovel 7, tool 8; relations AtLocation 0,
HasA 1, IsA 3, UsedFor 5 (R = 6, inverse ids r + 6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from kgqa.explain.attention import LayerAttention
from kgqa.explain.extract import explain_batch
from kgqa.models.base import QABatch, QAModelOutput
from kgqa.retrieval.data import build_choice_graph

R = 6
QUESTION = "A man dug the ground to plant flowers. What tool did he use?"


def shovel_graph(paths: bool):
    # nodes: dig (q), flower (q), shovel (a), garden; stored edges shovel-UsedFor->dig,
    # flower-AtLocation->garden, garden-HasA->flower, shovel-AtLocation->garden
    return build_choice_graph(
        node_ids=[0, 1, 7, 2], node_type=[0, 0, 1, 2], node_score=[0.1, 0.2, 0.9, 0.5],
        num_subgraph_nodes=4, edge_index=[[2, 1, 3, 2], [0, 3, 1, 3]], edge_type=[5, 0, 1, 0],
        edge_weight=[2.0, 3.0, 1.0, 1.0], num_relations=R,
        path_nodes=[[0, 2, -1], [1, 3, 2], [1, 3, 2]], path_relations=[[11, -1], [0, 6], [7, 6]],
        path_lengths=[1, 2, 2], paths=paths)


def hammer_graph(paths: bool):
    return build_choice_graph(
        node_ids=[0, 4, 8], node_type=[0, 1, 2], node_score=[0.1, 0.8, 0.3], num_subgraph_nodes=3,
        edge_index=[[1], [2]], edge_type=[3], edge_weight=[1.0], num_relations=R,
        path_nodes=torch.zeros(0, 3, dtype=torch.long), path_relations=torch.zeros(0, 2, dtype=torch.long),
        path_lengths=torch.zeros(0, dtype=torch.long), paths=paths)


def make_batch(paths: bool) -> QABatch:
    graphs = Batch.from_data_list([shovel_graph(paths), hammer_graph(paths)])
    return QABatch(ids=["q1"], num_choices=2, labels=torch.tensor([0]), graphs=graphs)


def explain(output, batch, kg, model, **kwargs):
    return explain_batch(output, batch, kg, questions=[QUESTION], choices=[["shovel", "hammer"]],
                         model=model, **kwargs)[0]


def edge_position(graphs, u: int, v: int, t: int) -> int:
    """The batch position of the edge u -> v of type t (batch node indices)."""
    ei, et = graphs.edge_index, graphs.edge_type
    hits = ((ei[0] == u) & (ei[1] == v) & (et == t)).nonzero().view(-1)
    assert hits.numel() == 1
    return int(hits[0])


def test_kagnet_path_attention_is_relative_to_uniform(toy_kg):
    batch = make_batch(paths=True)
    output = QAModelOutput(logits=torch.tensor([[2.0, 0.0]]), path_attention=torch.tensor([0.6, 0.3, 0.1]))
    exp = explain(output, batch, toy_kg, "kagnet")
    assert exp.attention == "path" and exp.predicted == 0 and exp.label == 0 and exp.message is None
    assert exp.probabilities == pytest.approx([1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))])
    shovel, hammer = exp.per_choice
    # pairs (dig, shovel): 1 path, (flower, shovel): 2 paths; uniform alpha * beta = 1/2 and 1/4
    assert [(p.text, p.attention, p.weight) for p in shovel.paths] == [
        ("dig <-UsedFor-- shovel", pytest.approx(1.2), pytest.approx(1.2)),
        ("flower --AtLocation--> garden <-AtLocation-- shovel", pytest.approx(1.2), pytest.approx(1.2)),
        ("flower <-HasA-- garden <-AtLocation-- shovel", pytest.approx(0.4), pytest.approx(0.4))]
    assert shovel.ranking == "attention" and shovel.attention_informative is True
    assert shovel.occlusion_informative is None and shovel.num_checked == 0
    assert shovel.paths[0].relations == ["~UsedFor"] and shovel.paths[0].source == "model"
    assert shovel.paths[0].sentence == "shovel is used to dig" and shovel.paths[0].node_ids == [0, 7]
    # a node's attention = summed weight of the paths through it; the context node is not shown
    nodes = {n.name: (n.kind, n.attention, n.score) for n in shovel.nodes}
    assert nodes == {"dig": ("question", pytest.approx(0.6), pytest.approx(0.6)),
                     "flower": ("question", pytest.approx(0.4), pytest.approx(0.4)),
                     "shovel": ("answer", pytest.approx(1.0), pytest.approx(1.0)),
                     "garden": ("intermediate", pytest.approx(0.4), pytest.approx(0.4))}
    # each stored edge once, in the graph's direction, with the summed weight of its paths;
    # the shown paths' edges first, each with the rank of the first shown path using it
    edges = [(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst), e.attention, e.weight, e.path_rank)
             for e in shovel.edges]
    assert edges == [("shovel", "UsedFor", "dig", pytest.approx(0.6), 2.0, 0),
                     ("shovel", "AtLocation", "garden", pytest.approx(0.4), 1.0, 1),
                     ("flower", "AtLocation", "garden", pytest.approx(0.3), 3.0, 1),
                     ("garden", "HasA", "flower", pytest.approx(0.1), 1.0, 2)]
    assert (shovel.num_subgraph_nodes, shovel.num_subgraph_edges, shovel.num_paths) == (4, 4, 3)
    # without the linking, the linked concepts are read off the node types
    assert (shovel.question_concepts, shovel.answer_concepts) == (["dig", "flower"], ["shovel"])
    assert exp.question_concepts == ["dig", "flower"]
    assert hammer.paths == [] and hammer.num_paths == 0 and hammer.ranking == "none"
    assert [(e.relation, e.attention, e.path_rank) for e in hammer.edges] == [("IsA", 0.0, None)]
    assert exp.counts(0) == {"nodes": 4, "edges": 4} and exp.counts(1) == {"nodes": 3, "edges": 1}


def test_qagnn_path_attention_flows_to_the_answer_at_the_last_layer(toy_kg):
    """A path of n hops takes hop j at layer L - n + j, each in the direction messages flow."""
    batch = make_batch(paths=False)
    g = batch.graphs
    E = g.edge_index.size(1)
    # batch nodes: [ctx, dig, flower, shovel, garden] + [ctx, dig, hammer, tool]
    dig, flower, shovel, garden = 1, 2, 3, 4
    relative = np.ones((2, E))
    relative[1, edge_position(g, dig, shovel, 5 + R)] = 3.0     # dig -> shovel, last layer
    relative[0, edge_position(g, dig, shovel, 5 + R)] = 100.0   # ... the first layer: not read
    relative[1, edge_position(g, shovel, dig, 5)] = 50.0        # the other direction: not read
    relative[0, edge_position(g, flower, garden, 0)] = 2.0      # flower -AtLocation-> garden, layer 0
    relative[0, edge_position(g, flower, garden, 1 + R)] = 4.0  # flower <-HasA- garden, layer 0
    relative[1, edge_position(g, garden, shovel, 0 + R)] = 0.5  # garden <-AtLocation- shovel, layer 1
    layers = [LayerAttention(edge_index=g.edge_index.numpy(), alpha=np.ones((E, 1)), relative=relative[k],
                             normalisation="target") for k in range(2)]
    node_attention = torch.tensor([0.0, 0.1, 0.2, 0.4, 0.3, 0.0, 0.2, 0.5, 0.3])
    output = QAModelOutput(logits=torch.tensor([[0.5, 0.5]]), node_attention=node_attention,
                           edge_attention=torch.zeros(E, 2))
    exp = explain(output, batch, toy_kg, "qagnn", layers=layers)
    assert exp.attention == "node+edge"
    shovel, hammer = exp.per_choice
    assert shovel.ranking == "attention" and shovel.attention_informative is True
    assert [(p.text, p.attention, p.source) for p in shovel.paths] == [
        ("dig <-UsedFor-- shovel", pytest.approx(3.0), "subgraph"),
        ("flower <-HasA-- garden <-AtLocation-- shovel", pytest.approx(2.0), "subgraph"),
        ("flower --AtLocation--> garden <-AtLocation-- shovel", pytest.approx(1.0), "subgraph")]
    assert {n.name: round(n.score, 6) for n in shovel.nodes} == {"dig": 0.25, "flower": 0.5, "shovel": 1.0,
                                                                   "garden": 0.75}
    assert {n.name: n.relevance for n in shovel.nodes} == pytest.approx(
        {"dig": 0.1, "flower": 0.2, "shovel": 0.9, "garden": 0.5})
    # an edge's attention: the last layer's, relative to uniform, the larger direction
    edges = {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)): e.attention for e in shovel.edges}
    assert edges == pytest.approx({("shovel", "UsedFor", "dig"): 50.0, ("flower", "AtLocation", "garden"): 1.0,
                                   ("garden", "HasA", "flower"): 1.0, ("shovel", "AtLocation", "garden"): 1.0})
    assert hammer.paths == [] and hammer.num_paths == 0  # dig and hammer are not connected in the subgraph


def test_without_layers_or_occlusion_paths_are_listed_not_ranked(toy_kg):
    batch = make_batch(paths=False)
    exp = explain(QAModelOutput(logits=torch.tensor([[0.0, 1.0]])), batch, toy_kg, "rgcn")
    assert exp.attention == "none" and exp.predicted == 1
    assert "gives no attention" in exp.message and "relevance" in exp.message
    shovel = exp.per_choice[0]
    assert {n.name: n.attention for n in shovel.nodes} == dict.fromkeys(["dig", "flower", "shovel", "garden"])
    assert {n.name: round(n.score, 6) for n in shovel.nodes} == {"dig": round(0.1 / 0.9, 6), "flower": round(0.2 / 0.9, 6),
                                                                   "shovel": 1.0, "garden": round(0.5 / 0.9, 6)}
    assert shovel.ranking == "none" and shovel.attention_informative is None
    assert [p.text for p in shovel.paths][0] == "dig <-UsedFor-- shovel"  # shortest first
    assert all(p.attention is None and p.occlusion is None and p.weight == 0.0 for p in shovel.paths)


def test_max_nodes_keeps_linked_concepts_and_path_nodes(toy_kg):
    batch = make_batch(paths=True)
    output = QAModelOutput(logits=torch.tensor([[2.0, 0.0]]), path_attention=torch.tensor([0.6, 0.3, 0.1]))
    exp = explain_batch(output, batch, toy_kg, questions=[QUESTION], choices=[["shovel", "hammer"]],
                        model="kagnet", max_nodes=1, top_paths=1)[0]
    shovel = exp.per_choice[0]
    assert [n.name for n in shovel.nodes] == ["dig", "flower", "shovel"]  # linked first, garden cut
    assert [e.relation for e in shovel.edges] == ["UsedFor"] and len(shovel.paths) == 1


def test_models_without_graphs_show_linked_concepts(toy_kg):
    from kgqa.linking.types import LinkResult, Mention, QALinks

    def result(text, names):
        return LinkResult(text=text, mentions=tuple(Mention(0, 1, n, toy_kg.node_id(n), n, "lemma")
                                                    for n in names))

    links = [QALinks(question=result(QUESTION, ["dig", "flower"]),
                     choices=(result("shovel", ["shovel"]), result("ladder", [])))]
    batch = QABatch(ids=["q"], num_choices=2)
    exp = explain_batch(QAModelOutput(logits=torch.tensor([[1.0, 0.0]])), batch, toy_kg,
                        questions=[QUESTION], choices=[["shovel", "ladder"]], model="lm", links=links)[0]
    assert "reads the text only" in exp.message and exp.attention == "none"
    shovel, ladder = exp.per_choice
    assert [(n.name, n.kind, n.score, n.occlusion) for n in shovel.nodes] == [
        ("dig", "question", 0.0, None), ("flower", "question", 0.0, None), ("shovel", "answer", 0.0, None)]
    assert {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)) for e in shovel.edges} == {
        ("shovel", "UsedFor", "dig")}
    assert shovel.question_concepts == ["dig", "flower"] and shovel.answer_concepts == ["shovel"]
    assert ladder.answer_concepts == [] and "links to no concept" in ladder.message

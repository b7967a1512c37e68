"""From hand-set attention on retrieval-format graphs of the toy graph to explanations, exactly.

Toy graph ids: dig 0, flower 1, garden 2, hammer 4, shovel 7, tool 8; relations AtLocation 0,
HasA 1, IsA 3, UsedFor 5 (R = 6, inverse ids r + 6).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch

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


def explain(output, batch, kg, model):
    return explain_batch(output, batch, kg, questions=[QUESTION], choices=[["shovel", "hammer"]],
                         model=model)[0]


def test_path_attention(toy_kg):
    batch = make_batch(paths=True)
    output = QAModelOutput(logits=torch.tensor([[2.0, 0.0]]), path_attention=torch.tensor([0.6, 0.3, 0.1]))
    exp = explain(output, batch, toy_kg, "kagnet")
    assert exp.attention == "path" and exp.predicted == 0 and exp.label == 0 and exp.message is None
    assert exp.probabilities == pytest.approx([1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))])
    shovel, hammer = exp.per_choice
    assert [(p.text, p.weight) for p in shovel.paths] == [
        ("dig <-UsedFor-- shovel", pytest.approx(0.6)),
        ("flower --AtLocation--> garden <-AtLocation-- shovel", pytest.approx(0.3)),
        ("flower <-HasA-- garden <-AtLocation-- shovel", pytest.approx(0.1))]
    assert shovel.paths[0].relations == ["~UsedFor"] and shovel.paths[0].source == "model"
    # a node's attention = summed weight of the paths through it; the context node is not shown
    nodes = {n.name: (n.kind, n.attention, n.score) for n in shovel.nodes}
    assert nodes == {"dig": ("question", pytest.approx(0.6), pytest.approx(0.6)),
                     "flower": ("question", pytest.approx(0.4), pytest.approx(0.4)),
                     "shovel": ("answer", pytest.approx(1.0), pytest.approx(1.0)),
                     "garden": ("intermediate", pytest.approx(0.4), pytest.approx(0.4))}
    # each stored edge once, in the graph's direction, with the summed weight of its paths
    edges = {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)): (e.attention, e.weight)
             for e in shovel.edges}
    assert edges == {("shovel", "UsedFor", "dig"): (pytest.approx(0.6), 2.0),
                     ("shovel", "AtLocation", "garden"): (pytest.approx(0.4), 1.0),
                     ("flower", "AtLocation", "garden"): (pytest.approx(0.3), 3.0),
                     ("garden", "HasA", "flower"): (pytest.approx(0.1), 1.0)}
    assert [e.relation for e in shovel.edges][:2] == ["UsedFor", "AtLocation"]  # most attended first
    assert (shovel.num_subgraph_nodes, shovel.num_subgraph_edges, shovel.num_paths) == (4, 4, 3)
    # without the linking, the linked concepts are read off the node types
    assert (shovel.question_concepts, shovel.answer_concepts) == (["dig", "flower"], ["shovel"])
    assert exp.question_concepts == ["dig", "flower"]
    assert hammer.paths == [] and hammer.num_paths == 0
    assert [(e.relation, e.attention) for e in hammer.edges] == [("IsA", 0.0)]
    assert exp.counts(0) == {"nodes": 4, "edges": 4} and exp.counts(1) == {"nodes": 3, "edges": 1}


def test_node_and_edge_attention_give_derived_paths(toy_kg):
    batch = make_batch(paths=False)
    g = batch.graphs
    # node attention per batch node: [ctx, dig, flower, shovel, garden] + [ctx, dig, hammer, tool]
    node_attention = torch.tensor([0.0, 0.1, 0.2, 0.4, 0.3, 0.0, 0.2, 0.5, 0.3])
    # edges of graph 0: 4 forward, their 4 inverses, then context edges; graph 1 the same
    forward, inverse = [0.5, 0.2, 0.1, 0.3], [0.4, 0.1, 0.3, 0.2]
    per_edge = torch.zeros(g.edge_index.size(1))
    per_edge[:8] = torch.tensor(forward + inverse)
    start = int((g.batch[g.edge_index[0]] == 0).sum())
    per_edge[start:start + 2] = torch.tensor([0.7, 0.2])  # hammer-IsA->tool and its inverse
    output = QAModelOutput(logits=torch.tensor([[0.5, 0.5]]), node_attention=node_attention,
                           edge_attention=per_edge[:, None].repeat(1, 2))
    exp = explain(output, batch, toy_kg, "qagnn")
    assert exp.attention == "node+edge"
    shovel, hammer = exp.per_choice
    assert [(p.text, p.weight, p.source) for p in shovel.paths] == [
        ("dig <-UsedFor-- shovel", pytest.approx(0.5), "derived"),
        ("flower <-HasA-- garden <-AtLocation-- shovel", pytest.approx(0.3), "derived"),
        ("flower --AtLocation--> garden <-AtLocation-- shovel", pytest.approx(0.25), "derived")]
    assert {n.name: round(n.score, 6) for n in shovel.nodes} == {"dig": 0.25, "flower": 0.5, "shovel": 1.0,
                                                                   "garden": 0.75}
    assert {n.name: n.relevance for n in shovel.nodes} == pytest.approx(
        {"dig": 0.1, "flower": 0.2, "shovel": 0.9, "garden": 0.5})
    edges = {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)): e.attention for e in shovel.edges}
    assert edges == pytest.approx({("shovel", "UsedFor", "dig"): 0.5, ("flower", "AtLocation", "garden"): 0.2,
                                   ("garden", "HasA", "flower"): 0.3, ("shovel", "AtLocation", "garden"): 0.3})
    assert [(e.relation, e.attention) for e in hammer.edges] == [("IsA", pytest.approx(0.7))]
    assert hammer.paths == []  # dig and hammer are not connected in the subgraph


def test_no_attention_falls_back_to_relevance(toy_kg):
    batch = make_batch(paths=False)
    exp = explain(QAModelOutput(logits=torch.tensor([[0.0, 1.0]])), batch, toy_kg, "rgcn")
    assert exp.attention == "none" and exp.predicted == 1
    assert "gives no attention" in exp.message and "relevance" in exp.message
    shovel = exp.per_choice[0]
    assert {n.name: n.attention for n in shovel.nodes} == dict.fromkeys(["dig", "flower", "shovel", "garden"])
    assert {n.name: round(n.score, 6) for n in shovel.nodes} == {"dig": round(0.1 / 0.9, 6), "flower": round(0.2 / 0.9, 6),
                                                                   "shovel": 1.0, "garden": round(0.5 / 0.9, 6)}
    # derived paths are weighted by the relevance of their hops' targets
    assert shovel.paths[0].text == "dig <-UsedFor-- shovel" and shovel.paths[0].weight == pytest.approx(0.9)


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
    assert [(n.name, n.kind, n.score) for n in shovel.nodes] == [
        ("dig", "question", 0.0), ("flower", "question", 0.0), ("shovel", "answer", 0.0)]
    assert {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)) for e in shovel.edges} == {
        ("shovel", "UsedFor", "dig")}
    assert shovel.question_concepts == ["dig", "flower"] and shovel.answer_concepts == ["shovel"]
    assert ladder.answer_concepts == [] and "links to no concept" in ladder.message

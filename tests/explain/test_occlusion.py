"""Occlusion: removing a path's edges changes the logit by a known amount, in one forward.

The stub models score a choice by numbers read straight off its input (the summed weight of its
graph's edges, its path count, its linked entities), so every drop is known in advance. The
batched copies are checked field by field against copies made one at a time with PyG's
``Explanation.get_complement_subgraph``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.explain import Explanation as PyGExplanation

from kgqa.explain.extract import explain_batch
from kgqa.explain.occlusion import Occluder, copies_without_edges, probability_after
from kgqa.models.base import QABatch, QAModelOutput
from tests.explain.test_extract import QUESTION, R, hammer_graph, make_batch, shovel_graph


class EdgeSum(torch.nn.Module):
    """logit = summed weight of the graph's concept edges (both directions) + 100 x its paths."""

    def forward(self, batch: QABatch) -> QAModelOutput:
        g = batch.graphs
        keep = g.edge_type < 2 * R
        owner = g.batch[g.edge_index[0]]
        score = torch.zeros(g.num_graphs).index_add_(0, owner[keep], g.edge_weight[keep])
        attention = None
        if getattr(g, "path_graph", None) is not None:
            score += 100.0 * torch.bincount(g.path_graph, minlength=g.num_graphs).float()
            attention = torch.full((g.path_graph.numel(),), 0.25)
        return QAModelOutput(logits=score.view(batch.batch_size, batch.num_choices), path_attention=attention)


def explain_with(model, batch, kg, **kwargs):
    occluder = Occluder(model, batch)
    exp = explain_batch(model(batch), batch, kg, questions=[QUESTION], choices=[["shovel", "hammer"]],
                        model="stub", occluder=occluder, **kwargs)[0]
    return exp, occluder


def test_removing_a_path_drops_the_logit_by_its_edges(toy_kg):
    model = EdgeSum()
    batch = make_batch(paths=False)
    exp, occluder = explain_with(model, batch, toy_kg)
    assert occluder.forwards == 1  # every checked path of every choice in one batched forward
    shovel, hammer = exp.per_choice
    assert shovel.logit == 14.0 and hammer.logit == 2.0  # 2 x (2 + 3 + 1 + 1) and 2 x 1
    assert shovel.ranking == "occlusion" and shovel.occlusion_informative is True
    assert shovel.num_checked == shovel.num_paths == 3
    assert [(p.text, p.occlusion) for p in shovel.paths] == [
        ("flower --AtLocation--> garden <-AtLocation-- shovel", 8.0),  # 2 x (3 + 1)
        ("dig <-UsedFor-- shovel", 4.0),                                # 2 x 2; one hop: before ...
        ("flower <-HasA-- garden <-AtLocation-- shovel", 4.0)]          # ... this tie of two hops
    p_before = 1 / (1 + math.exp(2.0 - 14.0))
    assert shovel.paths[0].probability_drop == pytest.approx(p_before - 1 / (1 + math.exp(2.0 - 6.0)))
    assert shovel.paths[0].weight == 8.0
    # an edge's occlusion: the largest drop of a checked path over it
    effect = {(toy_kg.node_name(e.src), e.relation, toy_kg.node_name(e.dst)): e.occlusion for e in shovel.edges}
    assert effect == {("shovel", "UsedFor", "dig"): 4.0, ("flower", "AtLocation", "garden"): 8.0,
                      ("shovel", "AtLocation", "garden"): 8.0, ("garden", "HasA", "flower"): 4.0}
    assert hammer.paths == [] and hammer.num_checked == 0 and hammer.occlusion_informative is None


def test_kagnet_paths_over_a_removed_edge_go_with_it(toy_kg):
    exp, occluder = explain_with(EdgeSum(), make_batch(paths=True), toy_kg)
    shovel = exp.per_choice[0]
    assert shovel.logit == 14.0 + 300.0 and occluder.forwards == 1
    # removing shovel -AtLocation-> garden breaks both flower paths
    assert [(p.text, p.occlusion) for p in shovel.paths] == [
        ("flower --AtLocation--> garden <-AtLocation-- shovel", 208.0),
        ("flower <-HasA-- garden <-AtLocation-- shovel", 204.0),
        ("dig <-UsedFor-- shovel", 104.0)]


def test_no_effect_is_flagged(toy_kg):
    class Constant(torch.nn.Module):
        def forward(self, batch):
            return QAModelOutput(logits=torch.zeros(batch.batch_size, batch.num_choices))

    exp, _ = explain_with(Constant(), make_batch(paths=False), toy_kg)
    shovel = exp.per_choice[0]
    assert shovel.occlusion_informative is False and shovel.ranking == "occlusion"
    assert "less than 0.001" in shovel.path_note
    assert [p.text for p in shovel.paths][0] == "dig <-UsedFor-- shovel"  # all 0: shortest first


def reference_copy(graph, removed):
    """One copy without the edges ``removed``, through PyG's explanation masks."""
    mask = torch.zeros(graph.edge_index.size(1))
    mask[torch.as_tensor(removed, dtype=torch.long)] = 1.0
    edge_keys = ["edge_type", "edge_weight"]
    kept = PyGExplanation(edge_index=graph.edge_index, edge_mask=mask, num_nodes=graph.num_nodes,
                          **{k: graph[k] for k in edge_keys}).get_complement_subgraph()
    out = graph.clone()
    out.edge_index = kept.edge_index
    for k in edge_keys:
        out[k] = kept[k]
    if getattr(graph, "path_nodes", None) is not None:
        gone = {(int(graph.edge_index[0, e]), int(graph.edge_index[1, e]), int(graph.edge_type[e]))
                for e in removed}
        alive = [all((int(graph.path_nodes[p, j]), int(graph.path_nodes[p, j + 1]),
                      int(graph.path_relations[p, j])) not in gone for j in range(int(graph.path_lengths[p])))
                 for p in range(graph.path_lengths.numel())]
        rows = torch.tensor(alive, dtype=torch.bool)
        for key in ("path_nodes", "path_relations", "path_lengths", "path_graph"):
            out[key] = graph[key][rows]
    return out


@pytest.mark.parametrize("paths", [False, True])
def test_batched_copies_equal_pyg_explanation_copies(paths):
    graphs = [shovel_graph(paths), hammer_graph(paths)]
    rng = np.random.default_rng(0)
    removals = [[np.array([], dtype=np.int64)] + [np.sort(rng.choice(g.edge_index.size(1), size=k, replace=False))
                                                  for k in (1, 2, 4)] for g in graphs]
    fast = copies_without_edges(graphs, removals)
    slow = Batch.from_data_list([reference_copy(g, r) for g, rs in zip(graphs, removals) for r in rs])
    assert fast.num_graphs == slow.num_graphs == 8 and fast.num_nodes == slow.num_nodes
    keys = ["edge_index", "edge_type", "edge_weight", "node_ids", "node_type", "node_score", "in_subgraph",
            "batch", "ptr"] + (["path_nodes", "path_relations", "path_lengths", "path_graph"] if paths else [])
    for key in keys:
        assert torch.equal(fast[key], slow[key]), key


def test_probability_after():
    logits = np.array([2.0, 0.0, 1.0])
    assert probability_after(logits, 0, 2.0) == pytest.approx(math.exp(2) / (math.exp(2) + 1 + math.e))
    assert probability_after(logits, 0, -50.0) == pytest.approx(0.0, abs=1e-20)


def test_real_model_occlusion_equals_running_it_on_the_edited_graph(toy_kg):
    """A tiny random QA-GNN: each path's drop equals the model's logit on that choice's graph
    without the path's edges, run on its own."""
    from kgqa.explain.attention import record_layer_attention
    from kgqa.models import build_model
    from tests.explain.conftest import model_config

    torch.manual_seed(0)
    model = build_model("qagnn", model_config("qagnn", toy_kg)).eval()
    batch = make_batch(paths=False)
    batch.lm_states = torch.randn(1, 2, 32)
    with torch.inference_mode():
        with record_layer_attention(model) as layers:
            output = model(batch)
        exp, occluder = explain_with(model, batch, toy_kg, layers=layers)
    assert len(layers) == 2 and occluder.forwards == 1
    shovel = exp.per_choice[0]
    assert shovel.ranking == "occlusion" and shovel.num_checked == 3
    graph = batch.graphs.get_example(0)
    ends = list(zip(graph.edge_index[0].tolist(), graph.edge_index[1].tolist(), graph.edge_type.tolist()))
    local = {toy_kg.node_id(n): i for i, n in enumerate(["<ctx>", "dig", "flower", "shovel", "garden"]) if i}
    for path in shovel.paths:
        stored = set()
        for a, b, relation in zip(path.node_ids, path.node_ids[1:], path.relations):
            r = toy_kg.relation_id(relation.lstrip("~"))
            stored.add((local[b], local[a], r) if relation.startswith("~") else (local[a], local[b], r))
        removed = [k for k, (u, v, t) in enumerate(ends) if (u, v, t) in stored or (v, u, t - R) in stored]
        single = QABatch(ids=["x"], num_choices=1, lm_states=batch.lm_states[:, :1],
                         graphs=Batch.from_data_list([reference_copy(graph, removed)]))
        with torch.inference_mode():
            new = float(model(single).logits[0, 0])
        assert path.occlusion == pytest.approx(float(output.logits[0, 0]) - new, abs=1e-5)


def test_ernie_entity_occlusion(toy_kg):
    class EntitySum(torch.nn.Module):
        """logit = sum over aligned tokens of (entity id + 1)."""

        def forward(self, batch):
            ids = batch.extras["entity_ids"]
            return QAModelOutput(logits=torch.where(ids >= 0, ids + 1, 0).sum(-1).float())

    dig, flower, shovel = (toy_kg.node_id(n) for n in ("dig", "flower", "shovel"))
    entity_ids = torch.tensor([[[dig, dig, -1, flower, shovel], [dig, -1, -1, -1, -1]]])
    batch = QABatch(ids=["q"], num_choices=2, extras={"entity_ids": entity_ids})
    occluder = Occluder(EntitySum(), batch)
    exp = explain_batch(EntitySum()(batch), batch, toy_kg, questions=[QUESTION], choices=[["shovel", "hammer"]],
                        model="ernie", occluder=occluder)[0]
    assert occluder.forwards == 1
    first = exp.per_choice[0]
    assert {n.name: n.occlusion for n in first.nodes} == {"dig": 2.0 * (dig + 1), "flower": float(flower + 1),
                                                           "shovel": float(shovel + 1)}
    assert first.ranking == "occlusion" and "changes this choice's logit the most" in first.path_note
    assert {n.name: n.occlusion for n in exp.per_choice[1].nodes} == {"dig": float(dig + 1)}


def test_the_budget_bounds_the_copies_but_every_shown_path_is_checked(toy_kg):
    exp, occluder = explain_with(EdgeSum(), make_batch(paths=False), toy_kg, check_budget=1, top_paths=2)
    shovel = exp.per_choice[0]
    assert shovel.num_paths == 3 and shovel.num_checked == 2 and occluder.copies == 3  # + one baseline
    # the shortest paths first are checked (the HasA path is not), then ranked by their drop
    assert [(p.text, p.occlusion) for p in shovel.paths] == [
        ("flower --AtLocation--> garden <-AtLocation-- shovel", 8.0), ("dig <-UsedFor-- shovel", 4.0)]
    assert all(p.occlusion is not None for p in shovel.paths)


@pytest.mark.parametrize("name", ["qagnn", "rgcn", "kagnet"])
def test_copies_reuse_the_pairs_lm_vectors_and_score_as_running_the_lm(toy_kg, tiny_bert, name):
    """With the LM in the model (token inputs), every copy carries its pair's pooled vector
    instead of its tokens: the LM runs once per batch, and each copy's logit equals running the
    whole model, LM included, on that copy."""
    from kgqa.backbones import Backbone
    from kgqa.models import build_model
    from tests.explain.conftest import model_config

    torch.manual_seed(0)
    backbone = Backbone.from_pretrained(str(tiny_bert)).eval()
    model = build_model(name, model_config(name, toy_kg), backbone=backbone).eval()
    batch = make_batch(paths=name == "kagnet")
    enc = backbone.encode_choices([QUESTION], [["shovel", "hammer"]], max_length=32)
    batch.input_ids = enc["input_ids"].view(1, 2, -1)
    batch.attention_mask = enc["attention_mask"].view(1, 2, -1)
    batch.token_type_ids = enc["token_type_ids"].view(1, 2, -1)
    edges = [batch.graphs.get_example(g).edge_index.size(1) for g in (0, 1)]
    requests = [(g, np.array([k, (k + 1) % edges[g]])) for g in (0, 1) for k in range(edges[g])]
    requests += [(0, np.array([], dtype=np.int64))]  # nothing removed: the model's own logit

    calls = []
    hook = backbone.register_forward_hook(lambda *args: calls.append(1))
    shortcut = Occluder(model, batch)
    fast = shortcut.edge_logits(requests)
    assert len(calls) == 1 and shortcut.statements() is not None  # the LM ran once, for 2 pairs

    class PerCopy(Occluder):  # the reference: each copy runs the LM on its own tokens
        def statements(self):
            return None

    calls.clear()
    slow = PerCopy(model, batch).edge_logits(requests)
    hook.remove()
    assert len(calls) == 1 and len(requests) > 10  # one forward, every copy's tokens through it
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)
    with torch.inference_mode():
        own = float(model(batch).logits[0, 0])
    assert fast[-1] == pytest.approx(own, abs=1e-5)
    assert len(set(np.round(fast, 4))) > 2  # the copies differ: the graph part is not constant

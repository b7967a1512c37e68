"""Every model: both regimes, shapes, loss only with labels, overfitting, empty graphs, seeds."""

from __future__ import annotations

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.models import QAModelOutput, build_model, get_model_class
from tests.models.model_fixtures import (GRAPH_MODELS, MODEL_NAMES, build, finetune_batch,
                                         frozen_batch, make_graphs, model_config)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_frozen_regime_shapes_and_loss_only_with_labels(name):
    torch.manual_seed(0)
    model = build(name).eval()
    out = model(frozen_batch(labels=False))
    assert isinstance(out, QAModelOutput)
    assert out.logits.shape == (2, 3) and out.loss is None
    assert torch.isfinite(out.logits).all()
    with_labels = model(frozen_batch())
    assert with_labels.loss.shape == () and torch.isfinite(with_labels.loss)
    torch.testing.assert_close(with_labels.loss,
                               torch.nn.functional.cross_entropy(with_labels.logits, torch.tensor([0, 2])))
    if name != "lm":
        assert out.graph_vectors.shape[:2] == (2, 3)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_finetune_regime_runs_the_backbone_and_backpropagates_into_it(name, tiny_backbone):
    torch.manual_seed(0)
    model = build(name, backbone=tiny_backbone)
    assert model.config.lm_hidden_size == 32
    out = model(finetune_batch(tiny_backbone))
    assert out.logits.shape == (2, 3)
    out.loss.backward()
    groups = model.parameter_groups()
    assert groups["backbone"] and groups["head"]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["backbone"])


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_overfits_a_tiny_fixed_batch(name):
    torch.manual_seed(0)
    model = build(name)
    batch = frozen_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.eval()
    with torch.no_grad():
        before = model(batch).loss.item()
    model.train()
    for _ in range(20):
        optimizer.zero_grad()
        model(batch).loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert out.loss.item() < 0.5 * before
    assert out.logits.argmax(-1).tolist() == [0, 2]


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_empty_graphs_give_finite_logits(name):
    torch.manual_seed(0)
    model = build(name)
    model.train()  # dropout on: still finite
    all_empty = model(frozen_batch(make_graphs(empty=tuple(range(6)))))
    some_empty = model(frozen_batch(make_graphs(empty=(1, 4))))
    for out in (all_empty, some_empty):
        assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    all_empty.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_empty_graph_falls_back_to_the_lm_part(name):
    """With every subgraph empty, a choice's logit depends only on its own LM state."""
    torch.manual_seed(0)
    model = build(name).eval()
    batch = frozen_batch(make_graphs(empty=tuple(range(6))))
    base = model(batch).logits
    batch.lm_states = batch.lm_states.clone()
    batch.lm_states[1, 2] += 1.0
    changed = model(batch).logits
    assert not torch.allclose(changed[1, 2], base[1, 2])
    changed[1, 2] = base[1, 2]
    torch.testing.assert_close(changed, base)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_same_model_and_logits(name):
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build(name).eval()
        outs.append(model(frozen_batch()).logits)
    assert torch.equal(outs[0], outs[1])


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_graph_changes_the_logits(name):
    torch.manual_seed(0)
    model = build(name).eval()
    with_graph = model(frozen_batch()).logits
    without = model(frozen_batch(make_graphs(empty=tuple(range(6))))).logits
    assert not torch.allclose(with_graph, without)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_round_trip_rebuilds_the_same_model(name):
    torch.manual_seed(0)
    model = build(name)
    rebuilt = get_model_class(name)(model.config_dict())
    if name != "lm":
        rebuilt.set_node_features(model.concepts.table)
    rebuilt.load_state_dict(model.state_dict())
    model.eval(), rebuilt.eval()
    batch = frozen_batch()
    assert torch.equal(model(batch).logits, rebuilt(batch).logits)
    assert model.config_class.__name__.endswith("Config")


def test_bad_inputs_are_clear_errors():
    torch.manual_seed(0)
    model = build("qagnn")
    batch = frozen_batch()
    batch.graphs = None
    with pytest.raises(KGQAError, match=r"\[E040\].*no graphs"):
        model(batch)
    with pytest.raises(KGQAError, match="expected one graph per choice"):
        model(frozen_batch(make_graphs(sizes=(3, 3, 3))))
    batch = frozen_batch()
    batch.lm_states, batch.input_ids = None, torch.zeros(2, 3, 4, dtype=torch.long)
    with pytest.raises(KGQAError, match="needs a backbone"):
        model(batch)
    batch = frozen_batch()
    batch.lm_states = torch.zeros(2, 3, 31)
    with pytest.raises(KGQAError, match=r"expected \(2, 3, 32\)"):
        model(batch)
    batch = frozen_batch()
    batch.labels = torch.tensor([0, 3])
    with pytest.raises(KGQAError, match="labels"):
        model(batch)
    graphs = make_graphs()
    graphs.edge_type[0] = 99
    with pytest.raises(KGQAError, match="edge_type 99 outside"):
        model(frozen_batch(graphs))
    with pytest.raises(KGQAError, match="unknown config key"):
        get_model_class("rgcn")({"hidden_sise": 3})
    with pytest.raises(KGQAError, match="no node-feature table"):
        get_model_class("rgcn")({"lm_hidden_size": 32, "num_relations": 6, "node_feature_dim": 16})(
            frozen_batch())


@pytest.mark.parametrize("mode", ["learned", "none"])
def test_other_node_embeddings(mode):
    torch.manual_seed(0)
    model = build_model("qagnn", model_config("qagnn", node_embedding=mode, num_buckets=8))
    out = model(frozen_batch())
    assert out.logits.shape == (2, 3) and torch.isfinite(out.loss)


@pytest.mark.parametrize("name", ["rgcn", "qagnn"])
def test_nan_relevance_scores_are_neutral(name):
    torch.manual_seed(0)
    model = build(name).eval()
    graphs = make_graphs()
    graphs.node_score[::2] = float("nan")
    out = model(frozen_batch(graphs))
    assert torch.isfinite(out.logits).all()


def test_lm_without_pair_state_is_the_prior_alone():
    """``pair_state: false``: no scorer on the pair state; the logits are the zero-shot prior's,
    whatever the pair states are, and the prior is the only trained part."""
    import dataclasses

    torch.manual_seed(0)
    model = build("lm", prior="cosine", prior_interaction="linear", prior_features="infersent",
                  pair_state=False).eval()
    assert model.scorer is None
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"prior"}
    q = torch.nn.functional.normalize(torch.randn(2, 32), dim=-1)
    a = torch.nn.functional.normalize(torch.randn(2, 3, 32), dim=-1)
    batch = dataclasses.replace(frozen_batch(), question_vectors=q, choice_vectors=a)
    logits = model(batch).logits
    torch.testing.assert_close(logits, 20.0 * (q.unsqueeze(1) * a).sum(-1), atol=1e-5, rtol=1e-5)
    other = dataclasses.replace(batch, lm_states=torch.randn(2, 3, 32))
    torch.testing.assert_close(model(other).logits, logits)
    with pytest.raises(KGQAError, match=r"\[E040\].*pair_state"):
        build("lm", pair_state=False)  # no prior: nothing would score
    with pytest.raises(KGQAError, match=r"\[E040\].*prior_features"):
        build("lm", prior="cosine", prior_features="concat")

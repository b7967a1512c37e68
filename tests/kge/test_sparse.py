"""kgqa's sparse KGE loop: row-wise updates, and it learns what the popularity baseline cannot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.kge.evaluate import KnownTriples, popularity_baseline, rank_tables
from kgqa.kge.sparse import RowAdam, train_sparse


def test_row_adam_touches_only_the_given_rows():
    table = torch.ones(5, 3)
    opt = RowAdam(table, lr=0.1)
    opt.step(torch.tensor([1, 3]), torch.ones(2, 3))
    assert torch.equal(table[[0, 2, 4]], torch.ones(3, 3))
    # first Adam step: m/(1-b1) = g, v/(1-b2) = g^2 -> the step is lr * sign(g)
    assert torch.allclose(table[[1, 3]], torch.full((2, 3), 0.9))
    assert opt.steps.tolist() == [0, 1, 0, 1, 0]
    opt.step(torch.tensor([3]), torch.ones(1, 3))
    assert opt.steps.tolist() == [0, 1, 0, 2, 0] and torch.allclose(table[1], torch.full((3,), 0.9))


def chain_triples(n: int = 30) -> np.ndarray:
    """i -next-> i+1 and i -next2-> i+2: every "next" edge is implied by the others."""
    return np.array([[i, 0, i + 1] for i in range(n - 1)] + [[i, 1, i + 2] for i in range(n - 2)])


def test_sparse_transe_learns_a_chain():
    triples = chain_triples()
    held = np.array([[10, 0, 11], [20, 0, 21]])
    train = np.array([t for t in triples.tolist() if t not in held.tolist()])
    known = KnownTriples(triples, num_relations=2)
    result = train_sparse(train, 30, 2, dim=16, epochs=60, batch_size=16, num_negatives=8,
                          learning_rate=0.05, margin=2.0, seed=0)
    assert result.epochs_run == 60 and result.losses[-1] < result.losses[0]
    model = rank_tables("transe", result.entity, result.relation, held, known)
    baseline = popularity_baseline(train, held, known, num_entities=30, num_relations=2)
    # every node is a "next" tail once: popularity cannot tell them apart; TransE can
    assert baseline["mrr"] < 0.2 < model["mrr"]


def test_early_stopping_keeps_the_best_tables():
    calls = []

    def validate(entity, relation):
        calls.append(entity.copy())
        return [0.5, 0.4, 0.3][len(calls) - 1]

    result = train_sparse(chain_triples(), 30, 2, dim=4, epochs=10, batch_size=16, num_negatives=4,
                          validate=validate, eval_every=1, patience=2, seed=0)
    assert result.epochs_run == 3 and result.best_epoch == 1 and "early stopping" in result.stop_reason
    np.testing.assert_array_equal(result.entity, calls[0])
    assert [v["mrr"] for v in result.validation] == [0.5, 0.4, 0.3]


def test_text_features_give_untrained_nodes_a_vector():
    text = np.eye(32, dtype=np.float32)  # node 31 is in no triple
    result = train_sparse(chain_triples(30), 32, 2, dim=8, epochs=2, batch_size=16, num_negatives=4,
                          text_features=text, seed=0)
    # e = P x + d: the unseen node keeps d = 0, so its row is its projected name vector, not zero
    assert np.linalg.norm(result.entity[31]) > 0
    with pytest.raises(KGQAError, match="E015.*one row per entity"):
        train_sparse(chain_triples(30), 32, 2, dim=8, epochs=1, text_features=np.eye(31, dtype=np.float32))


def test_freeze_unseen_keeps_unseen_nodes_at_their_name_vector():
    text = np.eye(32, dtype=np.float32)
    text[31] = text[30]  # nodes 30 and 31 are in no triple and have the same name vector
    common = dict(dim=8, epochs=3, batch_size=16, num_negatives=16, text_features=text, seed=0)
    pushed = train_sparse(chain_triples(30), 32, 2, **common)
    # drawn as negatives at different steps, their residuals were pushed apart
    assert not np.allclose(pushed.entity[30], pushed.entity[31])
    frozen = train_sparse(chain_triples(30), 32, 2, freeze_unseen=True, **common)
    np.testing.assert_array_equal(frozen.entity[30], frozen.entity[31])  # both exactly P x_30
    assert not np.allclose(frozen.entity[0], frozen.entity[1])

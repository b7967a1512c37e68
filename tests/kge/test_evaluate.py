"""Filtered ranking: by hand, against PyKEEN's RankBasedEvaluator, and the popularity baseline."""

from __future__ import annotations

import numpy as np
import pytest

from kgqa.kge.evaluate import KnownTriples, filtered_ranks, popularity_baseline, rank_metrics, rank_triples
from tests.conftest import build_graph

pytest.importorskip("pykeen")


def test_known_triples_lookup():
    known = KnownTriples(np.array([[0, 0, 1], [2, 0, 1], [0, 0, 3], [0, 1, 4]]), num_relations=2)
    rows, tails = known.tails(np.array([0, 2, 4]), np.array([0, 0, 0]))
    assert list(zip(rows.tolist(), tails.tolist())) == [(0, 1), (0, 3), (1, 1)]
    rows, heads = known.heads(np.array([0, 1]), np.array([1, 4]))
    assert list(zip(rows.tolist(), heads.tolist())) == [(0, 0), (0, 2), (1, 0)]


def test_filtered_realistic_ranks_by_hand():
    # 4 entities, one relation; scores of every candidate are fixed by hand
    tail_scores = np.array([[0.0, 5.0, 5.0, 1.0]])   # query (0, 0, ?), true tail 3
    head_scores = np.array([[2.0, 2.0, 2.0, 9.0]])   # query (?, 0, 3), true head 0
    known = KnownTriples(np.array([[0, 0, 3], [0, 0, 1]]), num_relations=1)
    ranks = filtered_ranks(lambda h, r: tail_scores, lambda r, t: head_scores, np.array([[0, 0, 3]]), known)
    # tail: entity 1 (5.0) is a known tail -> filtered; entity 2 (5.0) beats 1.0 -> rank 2
    # head: entity 3 (9.0) beats 2.0; entities 1 and 2 tie with it -> 1 + 1 + 2/2 = 3
    assert ranks.tolist() == [2.0, 3.0]
    metrics = rank_metrics(ranks)
    assert metrics["mrr"] == pytest.approx((1 / 2 + 1 / 3) / 2, abs=1e-4)
    assert (metrics["hits_at_1"], metrics["hits_at_3"], metrics["num_triples"]) == (0.0, 1.0, 1)


def test_popularity_baseline_by_hand():
    train = np.array([[0, 0, 1], [2, 0, 1], [3, 0, 4]])
    test = np.array([[4, 0, 1]])
    known = KnownTriples(train, test, num_relations=1)
    out = popularity_baseline(train, test, known, num_entities=5, num_relations=1)
    # tail of (4, 0, ?): entity 1 is the most frequent tail -> rank 1. Head of (?, 0, 1): heads 0
    # and 2 are known (filtered); 3 (once a head) beats 4 (never); 1 ties with 4 -> 1 + 1 + 0.5
    assert out["mrr"] == pytest.approx((1 + 1 / 2.5) / 2, abs=1e-4)
    assert out["mean_rank"] == pytest.approx(1.8, abs=0.05)


def test_filtered_ranks_agree_with_pykeen(tmp_path):
    import torch

    from kgqa.kge.train import KGEConfig, fit

    kg = build_graph(tmp_path / "toy")
    triples = np.stack([kg.head, kg.relation, kg.tail], axis=1).astype(np.int64)
    config = KGEConfig(trainer="pykeen", dim=4, epochs=1, batch_size=9, num_negatives=1, loss="softplus")
    model = fit(triples, kg.num_nodes, kg.num_relations, config).pykeen_model
    reference = rank_triples(model, torch.from_numpy(triples), filter_triples=[torch.from_numpy(triples)],
                             max_triples=None)
    known = KnownTriples(triples, num_relations=kg.num_relations)
    with torch.no_grad():
        ours = rank_metrics(filtered_ranks(
            lambda h, r: model.score_t(torch.from_numpy(np.stack([h, r], 1))),
            lambda r, t: model.score_h(torch.from_numpy(np.stack([r, t], 1))), triples, known))
    for key in ("mrr", "hits_at_1", "hits_at_3", "hits_at_10", "mean_rank"):
        assert ours[key] == pytest.approx(reference[key], abs=1e-3), key

"""AttentionPool on two hand-built graphs: weights per graph, masking, an empty graph."""

from __future__ import annotations

import math

import torch

from kgqa.nn.attention_pool import AttentionPool

# graph 0: nodes 0, 1, 2 (node 2 masked out); graph 1: node 3; graph 2: no node
BATCH = torch.tensor([0, 0, 0, 1])
MASK = torch.tensor([True, True, False, True])


def _pool() -> AttentionPool:
    torch.manual_seed(0)
    return AttentionPool(5, 4, heads=2).eval()


def test_shapes_sums_and_masking():
    pool = _pool()
    x, query = torch.randn(4, 4), torch.randn(3, 5)
    pooled, attention = pool(x, query, BATCH, node_mask=MASK)
    assert pooled.shape == (3, 4) and attention.shape == (4, 2)
    torch.testing.assert_close(attention[:2].sum(0), torch.ones(2))
    assert attention[2].tolist() == [0.0, 0.0]            # masked node
    assert attention[3].tolist() == [1.0, 1.0]            # alone in its graph
    assert pooled[2].tolist() == [0.0] * 4                # a graph without nodes pools to zero
    # a masked node does not change the result
    x2 = x.clone()
    x2[2] = 100.0
    torch.testing.assert_close(pool(x2, query, BATCH, node_mask=MASK)[0], pooled)


def test_matches_dense_attention():
    pool = _pool()
    x, query = torch.randn(4, 4), torch.randn(3, 5)
    pooled, _ = pool(x, query, BATCH)
    with torch.no_grad():
        q = pool.query(query[0]).view(2, 2)
        k = pool.key(x[:3]).view(3, 2, 2)
        v = pool.value(x[:3]).view(3, 2, 2)
        weights = torch.softmax((k * q).sum(-1) / math.sqrt(2), dim=0)  # (3 nodes, 2 heads)
        expected = (weights.unsqueeze(-1) * v).sum(0).reshape(4)
    torch.testing.assert_close(pooled[0], expected)

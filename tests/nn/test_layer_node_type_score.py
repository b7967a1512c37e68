"""NodeTypeScoreEncoder: per-graph score standardisation by hand, sine basis, shapes."""

from __future__ import annotations

import torch

from kgqa.nn.node_type_score import NodeTypeScoreEncoder


def test_scores_are_standardised_per_graph_and_context_is_zero():
    enc = NodeTypeScoreEncoder(4, 6)
    node_type = torch.tensor([0, 1, 2, 3, 0, 1])
    score = torch.tensor([1.0, 2.0, 3.0, 50.0, 4.0, 4.0])
    batch = torch.tensor([0, 0, 0, 0, 1, 1])
    out = enc.normalized_scores(node_type, score, batch)
    # graph 0 (context node excluded): mean 2, mean |dev| 2/3 -> -1.5, 0, 1.5; context 0
    torch.testing.assert_close(out, torch.tensor([-1.5, 0.0, 1.5, 0.0, 0.0, 0.0]), atol=1e-4, rtol=0)


def test_output_is_type_then_score_features():
    torch.manual_seed(0)
    enc = NodeTypeScoreEncoder(4, 6, normalize_scores=False)
    node_type = torch.tensor([0, 2])
    score = torch.tensor([0.5, -1.0])
    out = enc(node_type, score)
    assert out.shape == (2, 6)
    with torch.no_grad():
        types = torch.nn.functional.gelu(enc.type_embedding.weight[[0, 2]])
        basis = torch.sin(score.unsqueeze(-1) * torch.tensor([1.0, 1.1, 1.21]))
        scores = torch.nn.functional.gelu(enc.score_projection(basis))
    torch.testing.assert_close(out, torch.cat([types, scores], -1))

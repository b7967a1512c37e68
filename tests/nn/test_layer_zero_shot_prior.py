"""ZeroShotPrior: every head variant starts at the scaled cosine; the InferSent features let a
linear head learn a per-choice offset of the cosine."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from kgqa.nn.zero_shot_prior import ZeroShotPrior


def _unit(*shape):
    return nn.functional.normalize(torch.randn(*shape), dim=-1)


@pytest.mark.parametrize("interaction,features,hidden,adapter", [
    ("mlp", "product", 16, 0), ("mlp", "infersent", 16, 8), ("linear", "infersent", 0, 0),
    ("linear", "product", 0, 8), ("none", "product", 16, 0)])
def test_starts_at_the_scaled_cosine(interaction, features, hidden, adapter):
    torch.manual_seed(0)
    prior = ZeroShotPrior(12, hidden=hidden, adapter=adapter, scale=7.0, interaction=interaction,
                          features=features).eval()
    q, a = _unit(3, 12), _unit(3, 5, 12)
    expected = 7.0 * (q.unsqueeze(1) * a).sum(-1)
    torch.testing.assert_close(prior(q, a).view(3, 5), expected, atol=1e-5, rtol=1e-5)
    width = {"product": 24, "infersent": 48}[features]
    head = [] if prior.interaction is None else \
        [m for m in prior.interaction.modules() if isinstance(m, nn.Linear)]
    assert head[0].in_features == width if interaction != "none" else not head


def test_unknown_options_are_errors():
    with pytest.raises(ValueError, match="interaction"):
        ZeroShotPrior(4, interaction="bilinear")
    with pytest.raises(ValueError, match="features"):
        ZeroShotPrior(4, features="concat")


def test_infersent_linear_head_learns_a_per_choice_offset():
    """The right choice is the best cosine after a per-choice offset, lower for choices along a
    "hub" direction (answers close to every question). The cosine alone is often wrong; a
    linear head on the InferSent features (which hold the choice vector) learns the offset; on
    the product features alone it barely can."""
    torch.manual_seed(0)
    dim, n = 16, 512
    hub = nn.functional.normalize(torch.randn(dim), dim=0)
    q, a = _unit(n, dim), _unit(n, 5, dim)
    cos = (q.unsqueeze(1) * a).sum(-1)
    labels = (cos - a @ hub).argmax(1)
    assert (cos.argmax(1) == labels).float().mean() < 0.6  # 54.5% here

    def train(features):
        torch.manual_seed(0)
        prior = ZeroShotPrior(dim, interaction="linear", features=features, dropout=0.0)
        opt = torch.optim.Adam(prior.parameters(), lr=0.05)
        for _ in range(200):
            loss = nn.functional.cross_entropy(prior(q, a).view(n, 5), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            return (prior(q, a).view(n, 5).argmax(1) == labels).float().mean().item()

    assert train("infersent") > 0.9  # 97.1% here
    assert train("product") < 0.7  # 58.4%: q * a and |q - a| do not show the hub direction

"""MLP: shapes and a one-layer MLP is exactly a linear map."""

from __future__ import annotations

import pytest
import torch

from kgqa.nn.mlp import MLP


def test_shapes_and_linear_case():
    assert MLP(5, 7, 3, num_layers=3, dropout=0.1, layer_norm=True)(torch.randn(2, 4, 5)).shape == (2, 4, 3)
    single = MLP(5, 7, 3, num_layers=1)
    x = torch.randn(4, 5)
    linear = single.layers[0]
    torch.testing.assert_close(single(x), x @ linear.weight.t() + linear.bias)
    with pytest.raises(ValueError):
        MLP(5, 7, 3, num_layers=0)

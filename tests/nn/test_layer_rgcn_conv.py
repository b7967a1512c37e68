"""BasisRGCNConv must equal PyG's RGCNConv (same parameters) on a 4-node graph, like PyG's own
RGCNConv / FastRGCNConv agreement test."""

from __future__ import annotations

import torch
from torch_geometric.nn import RGCNConv

from kgqa.nn.rgcn_conv import BasisRGCNConv

# node 2 receives two relation-0 edges (mean of 2) and one relation-1 edge; node 3 gets nothing
EDGE_INDEX = torch.tensor([[0, 1, 3, 2, 0], [2, 2, 2, 0, 1]])
EDGE_TYPE = torch.tensor([0, 0, 1, 2, 2])


def test_matches_pyg_rgcnconv():
    torch.manual_seed(0)
    ours = BasisRGCNConv(4, 3, num_relations=3, num_bases=2)
    pyg = RGCNConv(4, 3, num_relations=3, num_bases=2)
    pyg.load_state_dict(ours.state_dict())
    x = torch.randn(4, 4, requires_grad=True)
    out = ours(x, EDGE_INDEX, EDGE_TYPE)
    expected = pyg(x, EDGE_INDEX, EDGE_TYPE)
    assert out.shape == (4, 3)
    torch.testing.assert_close(out, expected)
    # node 3 has no incoming edge: root term and bias only
    torch.testing.assert_close(out[3], x[3] @ ours.root + ours.bias)
    grad, = torch.autograd.grad(out.sum(), x)
    expected_grad, = torch.autograd.grad(expected.sum(), x)
    torch.testing.assert_close(grad, expected_grad)


def test_without_bases_it_is_pygs_layer():
    torch.manual_seed(0)
    ours = BasisRGCNConv(4, 3, num_relations=3)
    pyg = RGCNConv(4, 3, num_relations=3)
    pyg.load_state_dict(ours.state_dict())
    x = torch.randn(4, 4)
    torch.testing.assert_close(ours(x, EDGE_INDEX, EDGE_TYPE), pyg(x, EDGE_INDEX, EDGE_TYPE))


def test_empty_graph():
    conv = BasisRGCNConv(4, 3, num_relations=3, num_bases=2)
    out = conv(torch.zeros(0, 4), torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert out.shape == (0, 3)

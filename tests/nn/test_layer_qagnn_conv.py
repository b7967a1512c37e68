"""QAGNNConv on a 4-node graph typed by hand, against a plain per-edge reference loop."""

from __future__ import annotations

import math

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.nn.qagnn_conv import QAGNNConv

# 0 (question) -> 1 (answer) via relation 0; 2 (other) -> 1 via relation 1; 1 -> 2 via
# relation 2 (an inverse id); node 3 (other) is isolated
EDGE_INDEX = torch.tensor([[0, 2, 1], [1, 1, 2]])
EDGE_TYPE = torch.tensor([0, 1, 2])
NODE_TYPE = torch.tensor([0, 1, 2, 2])


def _conv(**kwargs) -> QAGNNConv:
    torch.manual_seed(0)
    return QAGNNConv(8, 3, 4, extra_channels=4, heads=2, **kwargs).eval()


def _inputs():
    gen = torch.Generator().manual_seed(1)
    return torch.randn(4, 8, generator=gen), torch.randn(4, 4, generator=gen)


def reference(conv: QAGNNConv, x, extra, edge_index, edge_type, node_type):
    """The layer's equations, one edge at a time (self-loops appended, relation id R); with
    ``attention="source"`` the query is the source's, the key the target's, the softmax runs over
    each source's outgoing edges and is multiplied by their number (QA-GNN's GATConvE)."""
    by_source = conv.attention == "source"
    n = x.size(0)
    edges = [(int(s), int(t), int(r)) for (s, t), r in zip(edge_index.t(), edge_type)]
    edges += [(v, v, conv.num_relations) for v in range(n)]
    z = torch.cat([x, extra], dim=-1)
    heads, d = conv.heads, conv.head_channels
    table = conv.relation_table()
    scores, messages = [], []
    f = conv.channels
    w_node, b_node = conv.key_message_node.weight, conv.key_message_node.bias
    w_rel = conv.key_message_relation.weight
    for s, t, r in edges:
        rel = table[r, node_type[s], node_type[t]]
        asker, other = (s, t) if by_source else (t, s)
        q = conv.query(z[asker]).view(heads, d)
        k = (w_node[:f] @ z[other] + b_node[:f] + w_rel[:f] @ rel).view(heads, d)
        m = (w_node[f:] @ z[s] + b_node[f:] + w_rel[f:] @ rel).view(heads, d)
        scores.append((q * k).sum(-1) / math.sqrt(d))
        messages.append(m)
    alpha = torch.zeros(len(edges), heads)
    for v in range(n):
        group = [i for i, e in enumerate(edges) if e[0 if by_source else 1] == v]
        weights = torch.softmax(torch.stack([scores[i] for i in group]), dim=0)
        for w, i in zip(weights, group):
            alpha[i] = w * (len(group) if by_source else 1)
    out = torch.zeros(n, heads, d)
    for i, (s, t, r) in enumerate(edges):
        out[t] += alpha[i].unsqueeze(-1) * messages[i]
    out = conv.update_mlp(out.reshape(n, -1)) + x
    return out, alpha


def test_shapes_and_attention_sums_to_one_per_target():
    conv = _conv()
    x, extra = _inputs()
    out, (edge_index, alpha) = conv(x, EDGE_INDEX, EDGE_TYPE, NODE_TYPE, extra,
                                    return_attention_weights=True)
    assert out.shape == (4, 8)
    assert edge_index.shape == (2, 3 + 4)
    assert alpha.shape == (7, 2)
    # self-loops are appended after the 3 given edges
    assert edge_index[:, 3:].tolist() == [[0, 1, 2, 3], [0, 1, 2, 3]]
    sums = torch.zeros(4, 2).index_add_(0, edge_index[1], alpha)
    torch.testing.assert_close(sums, torch.ones(4, 2))
    # nodes 0 and 3 have only their self-loop: weight exactly 1
    assert alpha[3].tolist() == [1.0, 1.0] and alpha[6].tolist() == [1.0, 1.0]


def test_matches_per_edge_reference():
    conv = _conv()
    x, extra = _inputs()
    with torch.no_grad():
        out, (_, alpha) = conv(x, EDGE_INDEX, EDGE_TYPE, NODE_TYPE, extra,
                               return_attention_weights=True)
        expected_out, expected_alpha = reference(conv, x, extra, EDGE_INDEX, EDGE_TYPE, NODE_TYPE)
    torch.testing.assert_close(alpha, expected_alpha)
    torch.testing.assert_close(out, expected_out)


# 0 -> 1, 0 -> 2, 0 -> 3, 2 -> 1, 1 -> 2: out-degrees with the self-loop 4, 2, 2, 1
FAN_INDEX = torch.tensor([[0, 0, 0, 2, 1], [1, 2, 3, 1, 2]])
FAN_TYPE = torch.tensor([0, 1, 2, 1, 2])


def test_source_attention_sums_to_each_sources_out_degree():
    conv = _conv(attention="source")
    x, extra = _inputs()
    with torch.no_grad():
        out, (edge_index, alpha) = conv(x, FAN_INDEX, FAN_TYPE, NODE_TYPE, extra,
                                        return_attention_weights=True)
    assert edge_index.shape == (2, 5 + 4) and alpha.shape == (9, 2)
    outgoing = torch.zeros(4, 2).index_add_(0, edge_index[0], alpha)
    torch.testing.assert_close(outgoing, torch.tensor([[4.0] * 2, [2.0] * 2, [2.0] * 2, [1.0] * 2]))
    assert alpha[-1].tolist() == [1.0, 1.0]  # node 3 has only its self-loop
    # a target receives an unnormalised sum: node 1 gets weight from 0, 2 and itself
    incoming = torch.zeros(4, 2).index_add_(0, edge_index[1], alpha)
    assert not torch.allclose(incoming, torch.ones(4, 2))
    expected_out, expected_alpha = reference(conv, x, extra, FAN_INDEX, FAN_TYPE, NODE_TYPE)
    torch.testing.assert_close(alpha, expected_alpha)
    torch.testing.assert_close(out, expected_out)
    # the default normalises per target instead, with the same weights otherwise
    target = _conv()
    with torch.no_grad():
        _, (_, alpha_t) = target(x, FAN_INDEX, FAN_TYPE, NODE_TYPE, extra, return_attention_weights=True)
    torch.testing.assert_close(torch.zeros(4, 2).index_add_(0, edge_index[1], alpha_t), torch.ones(4, 2))
    with pytest.raises(ValueError, match="attention"):
        _conv(attention="sideways")


def test_relation_and_node_types_change_the_output():
    conv = _conv()
    x, extra = _inputs()
    with torch.no_grad():
        base = conv(x, EDGE_INDEX, EDGE_TYPE, NODE_TYPE, extra)
        other_rel = conv(x, EDGE_INDEX, torch.tensor([1, 1, 2]), NODE_TYPE, extra)
        other_type = conv(x, EDGE_INDEX, EDGE_TYPE, torch.tensor([1, 1, 2, 2]), extra)
    # node 1 receives the edge whose relation changed; node 3 is untouched
    assert not torch.allclose(base[1], other_rel[1])
    torch.testing.assert_close(base[3], other_rel[3])
    assert not torch.allclose(base[1], other_type[1])


def test_without_self_loops_an_isolated_node_keeps_its_residual():
    conv = _conv(add_self_loops=False)
    x, extra = _inputs()
    with torch.no_grad():
        out = conv(x, EDGE_INDEX, EDGE_TYPE, NODE_TYPE, extra)
        expected = conv.update_mlp(torch.zeros(8)) + x[3]
    torch.testing.assert_close(out[3], expected)


def test_empty_graph():
    conv = _conv()
    out = conv(torch.zeros(0, 8), torch.zeros(2, 0, dtype=torch.long),
               torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros(0, 4))
    assert out.shape == (0, 8)


def test_bad_relation_id_is_a_clear_error():
    conv = _conv()
    x, extra = _inputs()
    with pytest.raises(KGQAError, match="edge_type 3 outside"):
        conv(x, EDGE_INDEX, torch.tensor([0, 1, 3]), NODE_TYPE, extra)

"""KagNet's PathEncoder on hand-typed paths: LSTM vectors, both attention levels, padding, no path."""

from __future__ import annotations

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.nn.path_encoder import PathEncoder

# two graphs; graph 0 owns nodes 0-3, graph 1 nodes 4-5 and has no path
#   row 0: 0 -r1-> 2 -r4-> 1          pair (0, 1)
#   row 1: 0 -r0-> 1                  pair (0, 1)
#   row 2: padding (length -1)
#   row 3: 3 -r2-> 1                  pair (3, 1)
#   row 4: 3                          pair (3, 3), zero hops
PATH_NODES = torch.tensor([[0, 2, 1], [0, 1, -1], [-1, -1, -1], [3, 1, -1], [3, -1, -1]])
PATH_RELATIONS = torch.tensor([[1, 4], [0, -1], [-1, -1], [2, -1], [-1, -1]])
PATH_LENGTHS = torch.tensor([2, 1, -1, 1, 0])
PATH_GRAPH = torch.tensor([0, 0, 0, 0, 0])


def _encoder(**kwargs) -> PathEncoder:
    torch.manual_seed(0)
    return PathEncoder(6, 5, num_relations=5, relation_channels=3, hidden_channels=4,
                       pair_channels=4, **kwargs).eval()


def _run(encoder):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, 6, generator=gen)
    statement = torch.randn(2, 5, generator=gen)
    return x, statement, encoder(x, PATH_NODES, PATH_RELATIONS, PATH_LENGTHS, statement, PATH_GRAPH)


def test_shapes():
    encoder = _encoder()
    _, _, out = _run(encoder)
    assert encoder.out_channels == 4 + 2 * 4
    assert encoder.lstm.input_size == 2 * 6 + 3  # [head; relation; tail]
    assert out.graph_vectors.shape == (2, 12)
    assert out.path_attention.shape == (5,)
    assert out.pair_attention.shape == (3,)
    assert out.pair_index.tolist() == [0, 0, -1, 1, 2]  # pairs (0,1), (3,1), (3,3) sorted
    assert out.pair_graph.tolist() == [0, 0, 0]
    assert out.has_paths.tolist() == [True, False]


def test_attention_sums_padding_and_no_path_vector():
    encoder = _encoder()
    with torch.no_grad():
        encoder.no_path.copy_(torch.arange(12.0))
    _, _, out = _run(encoder)
    # within a pair the path weights sum to 1; a single-path pair gives weight exactly 1
    in_pair = out.path_in_pair_attention
    torch.testing.assert_close(in_pair[0] + in_pair[1], torch.tensor(1.0))
    assert in_pair[3].item() == 1.0 and in_pair[4].item() == 1.0
    torch.testing.assert_close(out.pair_attention.sum(), torch.tensor(1.0))
    torch.testing.assert_close(out.path_attention.sum(), torch.tensor(1.0))
    assert out.path_attention[2].item() == 0.0  # padding row
    # graph 1 has no path: the learned no-path vector, exactly
    assert out.graph_vectors[1].tolist() == list(range(12))


def test_path_vectors_match_an_unpacked_lstm_over_triples():
    encoder = _encoder()
    x, _, _ = _run(encoder)
    self_rel = encoder.self_relation
    emb = encoder.relation_embedding
    with torch.no_grad():
        fast = encoder.encode_paths(x, PATH_NODES[[0, 4]], PATH_RELATIONS[[0, 4]],
                                    PATH_LENGTHS[[0, 4]])
        # row 0 by hand: triples [x0; e1; x2], [x2; e4; x1]
        steps = torch.cat([x[[0, 2]], emb(torch.tensor([1, 4])), x[[2, 1]]], -1)
        _, (h, _) = encoder.lstm(steps.unsqueeze(0))
        torch.testing.assert_close(fast[0], torch.cat([h[0, 0], h[1, 0]]))
        # row 4 (zero hops): one triple [x3; e_self; x3]
        step = torch.cat([x[[3]], emb(torch.tensor([self_rel])), x[[3]]], -1)
        _, (h, _) = encoder.lstm(step.unsqueeze(0))
        torch.testing.assert_close(fast[1], torch.cat([h[0, 0], h[1, 0]]))


def test_graph_vector_is_the_hierarchical_attention_sum():
    encoder = _encoder()
    x, statement, out = _run(encoder)
    with torch.no_grad():
        paths = encoder.encode_paths(x, PATH_NODES[[0, 1]], PATH_RELATIONS[[0, 1]], PATH_LENGTHS[[0, 1]])
        pair = encoder.pair_mlp(torch.cat([x[0], x[1], statement[0]]))
        alpha = torch.softmax(paths @ encoder.path_query(pair), dim=0)
        torch.testing.assert_close(out.path_in_pair_attention[[0, 1]], alpha)
    # the path attention the model returns is alpha * beta
    beta = out.pair_attention[0]
    torch.testing.assert_close(out.path_attention[[0, 1]], alpha * beta)


def test_no_paths_at_all():
    encoder = _encoder()
    statement = torch.randn(3, 5)
    out = encoder(torch.randn(4, 6), torch.zeros(0, 3, dtype=torch.long),
                  torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, dtype=torch.long), statement,
                  torch.zeros(0, dtype=torch.long))
    assert out.graph_vectors.shape == (3, 12)
    assert torch.equal(out.graph_vectors, encoder.no_path.expand(3, -1))
    assert not out.has_paths.any()


def test_out_of_range_node_is_a_clear_error():
    encoder = _encoder()
    bad = PATH_NODES.clone()
    bad[0, 1] = 9
    with pytest.raises(KGQAError, match="path node index outside"):
        encoder(torch.randn(6, 6), bad, PATH_RELATIONS, PATH_LENGTHS, torch.randn(2, 5), PATH_GRAPH)


def test_gathered_lstm_equals_packed_nn_lstm():
    encoder = _encoder()
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(6, 6, generator=gen)
    lengths = torch.tensor([0, 1, 2, 2, 1, 0, 2])
    nodes = torch.randint(0, 6, (7, 3), generator=gen)
    relations = torch.randint(0, 5, (7, 2), generator=gen)
    with torch.no_grad():
        fast = encoder.encode_paths(x, nodes, relations, lengths)
        packed = encoder.encode_paths(x, nodes, relations, lengths, packed=True)
    torch.testing.assert_close(fast, packed)


def test_training_samples_paths_per_pair_and_evaluation_uses_all():
    encoder = _encoder(train_paths_per_pair=1).train()
    torch.manual_seed(3)
    _, _, out = _run(encoder)
    # pair (0, 1) has two paths: exactly one is used (weight 1 in its pair), the other gets 0
    kept = out.path_in_pair_attention[[0, 1]]
    assert sorted(kept.tolist()) == [0.0, 1.0]
    assert (out.pair_index[[0, 1]] >= 0).sum() == 1
    torch.testing.assert_close(out.path_attention.sum(), torch.tensor(1.0))
    _, _, full = _run(encoder.eval())
    assert (full.path_in_pair_attention[[0, 1]] > 0).all()


def test_sample_paths_keeps_k_per_pair():
    encoder = _encoder(train_paths_per_pair=2)
    pair = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2, 0])
    keep = encoder.sample_paths(pair, 3)
    assert torch.bincount(pair[keep], minlength=3).tolist() == [2, 1, 2]
    assert keep.tolist() == sorted(set(keep.tolist()))

"""ConceptEmbedding: text table (tensor and memmap), hashed learned table, none, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.nn.concept_embedding import ConceptEmbedding

TABLE = np.arange(20, dtype=np.float32).reshape(5, 4)  # row i = [4i, 4i+1, 4i+2, 4i+3]


def _identity(layer: ConceptEmbedding) -> ConceptEmbedding:
    with torch.no_grad():
        layer.projection.weight.copy_(torch.eye(4))
        layer.projection.bias.zero_()
    return layer


def test_text_mode_looks_up_rows_of_a_memmap(tmp_path):
    np.save(tmp_path / "nodes.npy", TABLE)
    table = ConceptEmbedding.load_table(tmp_path / "nodes.npy")
    assert isinstance(table, np.memmap)
    layer = _identity(ConceptEmbedding(4, mode="text", table=table))
    out = layer(torch.tensor([3, 0, 3]))
    assert out.tolist() == [[12, 13, 14, 15], [0, 1, 2, 3], [12, 13, 14, 15]]
    assert "table" not in "".join(layer.state_dict())  # never stored in checkpoints


def test_text_mode_with_a_tensor_table_and_projection_width():
    layer = ConceptEmbedding(6, mode="text", in_channels=4).set_table(torch.from_numpy(TABLE))
    assert layer(torch.tensor([1, 2])).shape == (2, 6)
    assert layer(torch.zeros(0, dtype=torch.long)).shape == (0, 6)


def test_text_mode_errors():
    layer = ConceptEmbedding(4, mode="text", in_channels=4)
    with pytest.raises(KGQAError, match="no node-feature table is attached"):
        layer(torch.tensor([0]))
    with pytest.raises(KGQAError, match=r"expected \(num_nodes, 4\)"):
        layer.set_table(np.zeros((5, 3), dtype=np.float32))
    layer.set_table(TABLE)
    with pytest.raises(KGQAError, match="Node id 7 is out of range"):
        layer(torch.tensor([1, 7]))
    with pytest.raises(KGQAError, match="not found"):
        ConceptEmbedding.load_table("/nonexistent/nodes.npy")


def test_learned_hashed_table_stays_in_range():
    layer = ConceptEmbedding(3, mode="learned", num_buckets=7)
    assert layer.embedding.num_embeddings == 7
    ids = torch.tensor([0, 1, 250_000, 7])
    out = layer(ids)
    hashed = (ids * 2654435761) % 7
    torch.testing.assert_close(out, layer.embedding.weight[hashed])
    # one row per concept without hashing, and a clear error past the end
    plain = ConceptEmbedding(3, mode="learned", num_nodes=5)
    torch.testing.assert_close(plain(torch.tensor([4])), plain.embedding.weight[[4]])
    with pytest.raises(KGQAError, match="out of range"):
        plain(torch.tensor([5]))


def test_none_mode_and_unknown_mode():
    assert ConceptEmbedding(3, mode="none")(torch.tensor([1, 2])).tolist() == [[0.0] * 3] * 2
    with pytest.raises(KGQAError, match="Unknown node embedding 'glove'"):
        ConceptEmbedding(3, mode="glove")


class _LazyTable:
    """Like retrieval's NodeEmbeddingTable: rows computed on demand by ``get``."""

    def __init__(self):
        self.asked = []

    def get(self, nodes):
        self.asked.append(list(nodes))
        return TABLE[nodes].astype(np.float16)


def test_text_mode_with_a_provider_object():
    provider = _LazyTable()
    layer = _identity(ConceptEmbedding(4, mode="text", in_channels=4, table=provider))
    assert layer(torch.tensor([2, 1])).tolist() == [[8, 9, 10, 11], [4, 5, 6, 7]]
    assert provider.asked == [[2, 1]]

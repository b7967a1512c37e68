"""The shared node-name embedding cache: lazy rows, shared between tables, resumable, safe to reopen."""

from __future__ import annotations

import numpy as np
import pytest

from kgqa.encoders.node_names import NamedNodes, NodeEmbeddingTable
from tests.conftest import build_graph
from tests.retrieval.test_subgraph import LetterEncoder


@pytest.fixture()
def kg(tmp_path):
    return build_graph(tmp_path / "toy")


def test_lazy_rows_are_shared_through_the_files(kg):
    first = NodeEmbeddingTable(kg, LetterEncoder())
    assert not first.path.exists()  # nothing is written before a row is needed
    dig, garden = kg.node_id("dig"), kg.node_id("garden")
    got = first.get([dig, garden, dig])
    assert first.computed == 2 and got.shape == (3, 26)
    np.testing.assert_allclose(got[0], LetterEncoder().encode(["dig"])[0], atol=1e-3)
    assert first.computed_mask().sum() == 2 and not first.complete
    # another table (another job) reads those rows from the files instead of encoding them
    second = NodeEmbeddingTable(kg, LetterEncoder())
    np.testing.assert_array_equal(second.get([garden]), got[1:2])
    assert second.computed == 0
    # and rows it adds are seen by the first one without reopening
    second.get([kg.node_id("tool")])
    assert first.computed_mask()[kg.node_id("tool")] and first.ensure([kg.node_id("tool")]) == 0
    # the table file is allocated whole but sparse, the mask marks only committed rows
    assert np.load(first.path, mmap_mode="r").shape == (kg.num_nodes, 26)


def test_compute_all_fills_the_rest_only(kg):
    table = NodeEmbeddingTable(kg, LetterEncoder())
    table.get([0, 1])
    table.compute_all(chunk=3)
    assert table.complete and table.computed == kg.num_nodes
    assert NodeEmbeddingTable(kg, LetterEncoder()).compute_all().computed == 0


def test_a_cache_of_another_shape_is_started_again(kg):
    table = NodeEmbeddingTable(kg, LetterEncoder())
    np.save(table.path, np.zeros((3, 5), np.float16))
    np.save(table.mask_path, np.ones(3, bool))
    assert table.computed_mask().sum() == 0  # does not fit the graph: nothing is trusted
    with pytest.warns(UserWarning, match="W220"):
        table.get([0])
    assert np.load(table.path).shape == (kg.num_nodes, 26) and table.computed_mask().sum() == 1


def test_named_nodes_are_content_addressed(tmp_path):
    a = NodeEmbeddingTable(NamedNodes("phrases", ["dig hole", "shovel"], tmp_path), LetterEncoder())
    b = NodeEmbeddingTable(NamedNodes("phrases", ["dig hole", "spade"], tmp_path), LetterEncoder())
    assert a.path != b.path and a.path.parent == tmp_path / "text_embeddings"
    np.testing.assert_allclose(a.get([0])[0], LetterEncoder().encode(["dig hole"])[0], atol=1e-3)

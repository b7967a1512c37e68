"""Collating batches: bad input is caught with a message naming the question and split."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from kgqa.data.records import QAExample
from kgqa.errors import KGQAError
from kgqa.training.collate import QACollator, SplitLoader
from tests.training.toys import synthetic_split


def _examples(*specs):
    return [QAExample(id=f"q{i}", question="?", choices=tuple("abcde"[:n]), label=label)
            for i, (n, label) in enumerate(specs)]


def test_wrong_number_of_choices_in_a_batch():
    collate = QACollator(_examples((5, 0), (4, 1)), "train")
    with pytest.raises(KGQAError, match=r"\[E033\].*'q1' of split 'train' has 4 choices but "
                                        r"question 'q0' in the same batch has 5"):
        collate([0, 1])


def test_missing_answer_key_on_a_training_split():
    collate = QACollator(_examples((5, 0), (5, None)), "ih_train", require_labels=True)
    with pytest.raises(KGQAError, match=r"'q1' of split 'ih_train' has no answerKey"):
        collate([0, 1])
    # prediction without labels is fine when no question has one
    unlabelled = QACollator(_examples((5, None), (5, None)), "test", require_labels=False)
    assert unlabelled([0, 1]).labels is None


def test_label_outside_the_choices():
    collate = QACollator(_examples((5, 0), (5, 7)), "train")
    with pytest.raises(KGQAError, match=r"'q1' of split 'train' has label 7, outside its 5 "
                                        r"choices \(0..4\)"):
        collate([0, 1])


def test_empty_subgraph_is_kept_and_flagged():
    examples = _examples((2, 0), (2, 1))
    full = Data(num_nodes=3, edge_index=torch.tensor([[0, 1], [1, 2]]), node_ids=torch.arange(3))
    empty = Data(num_nodes=0, edge_index=torch.zeros(2, 0, dtype=torch.long),
                 node_ids=torch.zeros(0, dtype=torch.long))
    collate = QACollator(examples, "train", graphs=[[full, empty], [empty, full]])
    batch = collate([0, 1])
    assert batch.graphs.num_graphs == 4 and batch.graphs.num_nodes == 6
    assert batch.graphs.batch.tolist() == [0, 0, 0, 3, 3, 3]
    assert batch.extras["empty_graph"].tolist() == [[False, True], [True, False]]
    bad = QACollator(examples, "train", graphs=[[full], [full, full]])
    with pytest.raises(KGQAError, match=r"'q0' of split 'train' has 2 choices but 1 graphs"):
        bad([0])


def test_misaligned_cache_is_an_error():
    with pytest.raises(KGQAError, match=r"3 questions but the cached LM states have shape \(2, 5, 8\)"):
        QACollator(_examples((5, 0), (5, 0), (5, 0)), "dev", lm_states=torch.zeros(2, 5, 8))
    with pytest.raises(KGQAError, match="3 questions but 1 graph entries"):
        QACollator(_examples((5, 0), (5, 0), (5, 0)), "dev", graphs=[[]])


def test_split_loader_is_deterministic_and_resumable():
    ds, states = synthetic_split(10)
    loader = SplitLoader(QACollator(ds.examples, lm_states=states), 10, batch_size=3,
                         shuffle=True, seed=7)
    epoch0 = loader.index_batches(0)
    assert sorted(i for b in epoch0 for i in b) == list(range(10)) and len(loader) == 4
    assert loader.index_batches(0) == epoch0 and loader.index_batches(1) != epoch0
    assert [b.ids for b in loader.batches(0, start=2)] == [[f"train-{i}" for i in b]
                                                           for b in epoch0[2:]]
    shards = [SplitLoader(loader.collate, 10, batch_size=3, shuffle=True, seed=7, num_shards=2,
                          shard=k, drop_uneven=True).index_batches(0) for k in (0, 1)]
    assert shards == [epoch0[0::2], epoch0[1::2]]

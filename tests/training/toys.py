"""Helpers of the training tests: a toy model, synthetic questions with a learnable signal and
a ~20-question CommonsenseQA-format fixture."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from kgqa.data.jsonl import examples_checksum
from kgqa.data.records import QADataset, QAExample
from kgqa.models.base import QABatch, QAModelOutput, multiple_choice_loss
from kgqa.models.registry import register_model


@dataclass
class ToyConfig:
    lm_hidden_size: int = 8
    dropout: float = 0.1


@register_model("toy_mc")
class ToyModel(nn.Module):
    """Linear scorer over cached LM states (+ the node count of each choice's graph, if any).

    ``nan_at`` (an attribute, not config) makes the ``nan_at``-th training forward return a NaN
    loss, to test the NaN stop.
    """

    config_class = ToyConfig

    def __init__(self, config: ToyConfig | None = None, backbone=None, *, node_features=None):
        super().__init__()
        self.config = config or ToyConfig()
        self.backbone = backbone
        self.dropout = nn.Dropout(self.config.dropout)
        self.scorer = nn.Linear(self.config.lm_hidden_size, 1)
        self.graph_weight = nn.Parameter(torch.zeros(()))
        self.nan_at = None
        self.train_calls = 0

    def forward(self, batch: QABatch) -> QAModelOutput:
        states = batch.lm_states
        scores = self.scorer(self.dropout(states)).squeeze(-1)
        if batch.graphs is not None:
            from torch_geometric.utils import scatter

            ones = torch.ones(batch.graphs.num_nodes, 1)
            counts = scatter(ones, batch.graphs.batch, dim=0,
                             dim_size=batch.batch_size * batch.num_choices, reduce="sum")
            scores = scores + self.graph_weight * counts.view_as(scores)
        if self.training:
            self.train_calls += 1
            if self.nan_at is not None and self.train_calls >= self.nan_at:
                scores = scores * float("nan")
        return QAModelOutput(logits=scores, loss=multiple_choice_loss(scores, batch.labels))


def synthetic_split(n: int, *, split: str = "train", num_choices: int = 5, hidden: int = 8,
                    seed: int = 0, signal: float = 2.0):
    """``n`` questions whose right choice has ``+signal`` on state dimension 0."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_choices, (n,), generator=gen)
    states = 0.5 * torch.randn(n, num_choices, hidden, generator=gen)
    states[torch.arange(n), labels, 0] += signal
    examples = tuple(QAExample(id=f"{split}-{i}", question=f"question {i}?",
                               choices=tuple(f"choice {c}" for c in range(num_choices)),
                               label=int(labels[i])) for i in range(n))
    dataset = QADataset(name="synthetic", split=split, examples=examples,
                        checksum=examples_checksum(examples))
    return dataset, states


#: A CommonsenseQA-format fixture around the toy graph's words (see tests/conftest.py).
_QUESTIONS = [
    ("What tool would you use to dig in the garden?", ["shovel", "hammer", "book", "dog", "ice cream"], 0),
    ("Where do flowers grow?", ["garden", "freezer", "library", "store", "house"], 0),
    ("What is a hammer used for?", ["dig", "nail", "flower", "ground", "plant"], 1),
    ("A shovel is a kind of what?", ["flower", "garden", "tool", "dog", "book"], 2),
    ("What do you dig with a shovel?", ["nail", "book", "tool", "ground", "cat"], 3),
]


def write_csqa_fixture(directory: Path, *, num_train: int = 12, num_dev: int = 4,
                       num_test: int = 4) -> Path:
    """``train.jsonl``/``dev.jsonl``/``test.jsonl`` in the CommonsenseQA shape (20 questions)."""
    directory.mkdir(parents=True, exist_ok=True)
    counter = 0
    for split, count in (("train", num_train), ("dev", num_dev), ("test", num_test)):
        lines = []
        for i in range(count):
            stem, choices, label = _QUESTIONS[counter % len(_QUESTIONS)]
            rot = counter % 5  # move the answer around so position is no cue
            choices = choices[rot:] + choices[:rot]
            label = (label - rot) % 5
            lines.append(json.dumps({
                "id": f"{split}{i:02d}", "answerKey": "ABCDE"[label],
                "question": {"stem": stem, "question_concept": "shovel",
                             "choices": [{"label": "ABCDE"[c], "text": t} for c, t in enumerate(choices)]}}))
            counter += 1
        (directory / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def interrupt_at_train_batch(monkeypatch, n: int, run) -> None:
    """Call ``run()`` with the ``n``-th training batch the collator builds raising
    ``KeyboardInterrupt`` (a Ctrl-C during step ``n``); fails unless ``run`` was interrupted. The
    collator is restored afterwards, so a resume in the same test trains normally."""
    import pytest

    from kgqa.training.collate import QACollator

    real_call = QACollator.__call__
    calls = {"n": 0}

    def crashing(self, indices):
        if self.split == "train":
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
        return real_call(self, indices)

    monkeypatch.setattr(QACollator, "__call__", crashing)
    try:
        with pytest.raises(KeyboardInterrupt):
            run()
    finally:
        monkeypatch.setattr(QACollator, "__call__", real_call)


def assert_same_weights(a: Path, b: Path) -> None:
    """The ``model.safetensors`` of two checkpoint folders hold the same tensors, bit for bit."""
    from safetensors.torch import load_file

    wa, wb = load_file(Path(a) / "model.safetensors"), load_file(Path(b) / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)

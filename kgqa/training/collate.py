"""From dataset examples (+ cached LM states, + per-choice graphs) to :class:`QABatch` batches.

:class:`QACollator` turns a list of question indices into one typed batch and checks it: every
question of a batch has the same number of choices, a training split has every label, a label
is a valid choice index, each question has one graph per choice. A choice whose subgraph is empty
(no concept linked, nothing retrieved) is kept as a zero-node graph and flagged in
``batch.extras["empty_graph"]`` (``(B, C)`` bool) so models and logs can see it. Token encoders
that also align entities (ERNIE's) put ``entity_ids`` (``(B, C, L)``) in ``batch.extras``.

:class:`SplitLoader` yields the batches of a split in a deterministic order: the permutation of
epoch ``e`` depends only on ``(seed, e)``, so a resumed run can regenerate it and skip the batches
it has already seen; with several processes each takes every ``num_shards``-th batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from kgqa.data.records import QAExample
from kgqa.errors import Errors, KGQAError
from kgqa.models.base import QABatch


class SplitGraphs(Protocol):
    """Per-choice graphs of one split, aligned with its examples: ``graphs[i]`` holds the ``C``
    PyG ``Data`` objects of question ``i``. A list of lists satisfies it."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sequence[Any]: ...


def _bad(problem: str) -> KGQAError:
    return KGQAError(Errors.E033.format(problem=problem))


@dataclass
class QACollator:
    """Builds a :class:`QABatch` from question indices.

    Args:
        examples: the split's questions.
        split: its name (for messages).
        require_labels: every question must have a label (training and evaluation splits).
        lm_states: ``(N, C, H)`` cached pooled states (``frozen`` regime), aligned with
            ``examples``.
        sentence_vectors: ``(question_vectors (N, H), choice_vectors (N, C, H))`` of the frozen
            cache, for models with the zero-shot prior; or ``None``.
        lower_states: the cached token states below the trained top layers (``partial``
            regime, :class:`~kgqa.training.lower_states.LowerStates`), aligned with ``examples``.
        encode_choices: ``(questions, choices, max_length) -> BatchEncoding`` of ``(B*C, L)``
            tensors (``finetune`` regime; :meth:`Backbone.encode_choices`).
        max_length: longest "question [SEP] choice" pair, in tokens.
        graphs: per-choice graphs aligned with ``examples`` (graph models), or ``None``.
        texts: put the question and choice texts in ``batch.extras`` (``questions``: ``B``
            strings, ``choices``: ``B`` lists of ``C``), for models that read text themselves
            (``llm``, regime ``lora``).

    Raises:
        KGQAError: ``[E033]`` when ``lm_states`` or ``graphs`` do not line up with ``examples``.
    """

    examples: Sequence[QAExample]
    split: str = "train"
    require_labels: bool = True
    lm_states: torch.Tensor | None = None
    sentence_vectors: tuple[torch.Tensor, torch.Tensor] | None = None
    lower_states: Any = None
    encode_choices: Callable[..., Any] | None = None
    max_length: int = 64
    graphs: SplitGraphs | None = None
    texts: bool = False

    def __post_init__(self) -> None:
        n = len(self.examples)
        if self.lm_states is not None:
            if self.lm_states.dim() != 3 or self.lm_states.shape[0] != n:
                raise _bad(f"split '{self.split}' has {n} questions but the cached LM states have "
                           f"shape {tuple(self.lm_states.shape)} (expected ({n}, C, H))")
        if self.sentence_vectors is not None:
            questions, choices = self.sentence_vectors
            if questions.shape[0] != n or choices.shape[0] != n or choices.dim() != 3:
                raise _bad(f"split '{self.split}' has {n} questions but the cached sentence "
                           f"vectors have shapes {tuple(questions.shape)} and {tuple(choices.shape)}")
        if self.lower_states is not None and len(self.lower_states) != n:
            raise _bad(f"split '{self.split}' has {n} questions but the cached lower-layer states "
                       f"hold {len(self.lower_states)}")
        if self.graphs is not None and len(self.graphs) != n:
            raise _bad(f"split '{self.split}' has {n} questions but {len(self.graphs)} graph "
                       "entries; rebuild the retrieval cache for this split")

    def __len__(self) -> int:
        return len(self.examples)

    def __call__(self, indices: Sequence[int]) -> QABatch:
        examples = [self.examples[i] for i in indices]
        if not examples:
            raise _bad(f"empty batch from split '{self.split}'")
        num_choices = examples[0].num_choices
        for ex in examples[1:]:
            if ex.num_choices != num_choices:
                raise _bad(f"question '{ex.id}' of split '{self.split}' has {ex.num_choices} "
                           f"choices but question '{examples[0].id}' in the same batch has "
                           f"{num_choices}; every question of a batch needs the same number")
        labels = self._labels(examples, num_choices)
        batch = QABatch(ids=[ex.id for ex in examples], num_choices=num_choices, labels=labels)
        if self.lm_states is not None:
            states = self.lm_states[list(indices)]
            if states.shape[1] != num_choices:
                raise _bad(f"cached LM states have {states.shape[1]} choices per question but "
                           f"split '{self.split}' has {num_choices}")
            batch.lm_states = states.float()
        if self.sentence_vectors is not None:
            rows = list(indices)
            batch.question_vectors = self.sentence_vectors[0][rows].float()
            batch.choice_vectors = self.sentence_vectors[1][rows].float()
        if self.lower_states is not None:
            if self.lower_states.num_choices != num_choices:
                raise _bad(f"cached lower-layer states have {self.lower_states.num_choices} choices "
                           f"per question but split '{self.split}' has {num_choices}")
            batch.lower_states, batch.attention_mask = self.lower_states.batch(list(indices))
        if self.encode_choices is not None:
            enc = self.encode_choices([ex.question for ex in examples],
                                      [list(ex.choices) for ex in examples],
                                      max_length=self.max_length)
            shape = (len(examples), num_choices, -1)
            batch.input_ids = enc["input_ids"].view(shape)
            batch.attention_mask = enc["attention_mask"].view(shape)
            if "token_type_ids" in enc:
                batch.token_type_ids = enc["token_type_ids"].view(shape)
            if "entity_ids" in enc:  # knowledge-fused models (ernie): node id per token, -1 = none
                batch.extras["entity_ids"] = enc["entity_ids"].view(shape)
        if self.texts:
            batch.extras["questions"] = [ex.question for ex in examples]
            batch.extras["choices"] = [list(ex.choices) for ex in examples]
        if self.graphs is not None:
            batch.graphs, batch.extras["empty_graph"] = self._graphs(indices, examples, num_choices)
        return batch

    def _labels(self, examples: list[QAExample], num_choices: int) -> torch.Tensor | None:
        missing = [ex.id for ex in examples if ex.label is None]
        if missing:
            if self.require_labels:
                raise _bad(f"question '{missing[0]}' of split '{self.split}' has no answerKey; "
                           "training and evaluation splits need every answer (use a split with "
                           "answers, or predict without labels)")
            if len(missing) != len(examples):
                raise _bad(f"split '{self.split}' mixes questions with and without answers "
                           f"(e.g. '{missing[0]}')")
            return None
        for ex in examples:
            if not 0 <= ex.label < num_choices:
                raise _bad(f"question '{ex.id}' of split '{self.split}' has label {ex.label}, "
                           f"outside its {num_choices} choices (0..{num_choices - 1})")
        return torch.tensor([ex.label for ex in examples], dtype=torch.long)

    def _graphs(self, indices: Sequence[int], examples: list[QAExample], num_choices: int):
        from torch_geometric.data import Batch

        data_list, empty = [], []
        for i, ex in zip(indices, examples):
            per_choice = list(self.graphs[i])
            if len(per_choice) != num_choices:
                raise _bad(f"question '{ex.id}' of split '{self.split}' has {num_choices} choices "
                           f"but {len(per_choice)} graphs in the retrieval cache")
            for graph in per_choice:
                empty.append(int(graph.num_nodes or 0) == 0)
                data_list.append(graph)
        graphs = Batch.from_data_list(data_list)
        return graphs, torch.tensor(empty, dtype=torch.bool).view(len(examples), num_choices)


class SplitLoader:
    """Deterministic, resumable batches of one split.

    Args:
        collate: turns a list of indices into a :class:`QABatch` (a :class:`QACollator`).
        batch_size: questions per batch.
        shuffle: shuffle each epoch with a generator seeded by ``(seed, epoch)``.
        seed: the run's seed.
        num_shards, shard: split the batches among processes (``accelerate launch``): shard
            ``k`` takes batches ``k, k + num_shards, ...``. With ``drop_uneven`` (training) every
            shard gets the same number of batches so no process waits for another.
        micro_batch_size: questions per micro-batch of :meth:`step_batches` (``None``: the whole
            batch); the batches themselves, and so the shuffling, do not depend on it.
    """

    def __init__(self, collate: Callable[[Sequence[int]], QABatch], size: int, *, batch_size: int,
                 shuffle: bool = False, seed: int = 0, num_shards: int = 1, shard: int = 0,
                 drop_uneven: bool = False, micro_batch_size: int | None = None):
        if size == 0:
            raise _bad("the split has no questions")
        if micro_batch_size is not None and micro_batch_size < 1:
            raise _bad(f"micro_batch_size must be >= 1; got {micro_batch_size}")
        self.micro_batch_size = micro_batch_size
        self.collate = collate
        self.size = size
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.num_shards = num_shards
        self.shard = shard
        self.drop_uneven = drop_uneven

    def _all_batches(self, epoch: int) -> list[list[int]]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = torch.randperm(self.size, generator=gen).tolist()
        else:
            order = list(range(self.size))
        return [order[i:i + self.batch_size] for i in range(0, self.size, self.batch_size)]

    def index_batches(self, epoch: int = 0) -> list[list[int]]:
        """The index lists this shard sees in ``epoch``."""
        batches = self._all_batches(epoch)
        if self.drop_uneven and self.num_shards > 1:
            batches = batches[:len(batches) // self.num_shards * self.num_shards]
        return batches[self.shard::self.num_shards]

    def __len__(self) -> int:
        return len(self.index_batches(0))

    def batches(self, epoch: int = 0, start: int = 0) -> Iterator[QABatch]:
        """Batches of ``epoch``, skipping the first ``start`` (already seen before a resume)."""
        for indices in self.index_batches(epoch)[start:]:
            yield self.collate(indices)

    def step_batches(self, epoch: int = 0, start: int = 0) -> Iterator[list[QABatch]]:
        """Each batch of ``epoch`` (from ``start``) as the micro-batches of one optimizer step:
        consecutive slices of ``micro_batch_size`` questions (one slice without it)."""
        size = self.micro_batch_size or self.batch_size
        for indices in self.index_batches(epoch)[start:]:
            yield [self.collate(indices[i:i + size]) for i in range(0, len(indices), size)]

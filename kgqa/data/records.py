"""Typed records of multiple-choice QA: a question (:class:`QAExample`), a split (:class:`QADataset`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class QAExample:
    """One multiple-choice question.

    Attributes:
        id: the dataset's question id.
        question: the question stem.
        choices: the answer texts, in the file's order (``C`` of them, 2-8).
        label: index of the correct choice in ``choices``, or ``None`` when the split has no
            answers (CommonsenseQA's official test set).
        question_concept: the ConceptNet concept the question was written around
            (CommonsenseQA's ``question.question_concept``), else ``None``.
        fact: the supporting science fact (OpenBookQA "Additional" files' ``fact1``), else ``None``.
    """

    id: str
    question: str
    choices: tuple[str, ...]
    label: int | None = None
    question_concept: str | None = None
    fact: str | None = None

    @property
    def num_choices(self) -> int:
        return len(self.choices)

    @property
    def answer(self) -> str | None:
        """The correct choice's text, or ``None`` without a label."""
        return None if self.label is None else self.choices[self.label]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class QADataset:
    """One split of a QA dataset, with where it came from.

    Attributes:
        name: dataset name (``"csqa"``, ``"obqa"`` or the file's stem).
        split: split name (``"train"``, ``"ih_test"``...).
        examples: the questions, in file order.
        sources: the files read (for the in-house split: the train file and the id list).
        checksum: sha256 of the examples' content (:func:`kgqa.data.jsonl.examples_checksum`):
            equal checksums mean the same questions in the same order (results record it).
    """

    name: str
    split: str
    examples: tuple[QAExample, ...]
    sources: tuple[str, ...] = ()
    checksum: str = ""

    def __len__(self) -> int:
        return len(self.examples)

    def __iter__(self) -> Iterator[QAExample]:
        return iter(self.examples)

    def __getitem__(self, index: int) -> QAExample:
        return self.examples[index]

    @property
    def num_choices(self) -> int:
        """Choices per question (the same for every question of a split; 0 when empty)."""
        return self.examples[0].num_choices if self.examples else 0

    @property
    def has_labels(self) -> bool:
        """Whether every question has a label."""
        return bool(self.examples) and all(ex.label is not None for ex in self.examples)

    @property
    def ids(self) -> list[str]:
        return [ex.id for ex in self.examples]

    def __repr__(self) -> str:
        return (f"QADataset(name={self.name!r}, split={self.split!r}, size={len(self)}, "
                f"num_choices={self.num_choices}, checksum={self.checksum[:12]!r})")

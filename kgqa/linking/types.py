"""Typed linking output shared by every linker (ConceptNet concepts, Wikidata items)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True, slots=True)
class Mention:
    """One linked span of text.

    Attributes:
        start: character offset of the span in the text (inclusive).
        end: character offset (exclusive).
        text: the matched surface text, ``text[start:end]``.
        node_id: id of the node in the graph the linker was built for.
        node: the node name (``"ice_cream"``, ``"Q42"``).
        kind: how it matched: ``"lemma"``, ``"surface"``, ``"whole_choice"`` (the whole answer
            choice is a concept), ``"alias"`` (Wikidata alias table).
        score: linker confidence in ``[0, 1]`` (1.0 for exact concept matches).
        source: ``"conceptnet"`` or ``"wikidata"``.
        label: display label (Wikidata label; the concept name with spaces for ConceptNet).
    """

    start: int
    end: int
    text: str
    node_id: int
    node: str
    kind: str
    score: float = 1.0
    source: str = "conceptnet"
    label: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LinkResult:
    """Linking result for one text.

    ``mentions`` is empty when nothing could be linked; then ``reason`` says why (``"empty
    text"``, ``"no concept found"``, ``"text too long"``...). ``error`` is set instead of raising
    when a text in a batch was unusable, so one bad text never sinks a batch.
    """

    text: str
    mentions: tuple[Mention, ...] = ()
    reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def node_ids(self) -> list[int]:
        """Distinct linked node ids in order of first mention."""
        return list(dict.fromkeys(m.node_id for m in self.mentions))

    @property
    def nodes(self) -> list[str]:
        return list(dict.fromkeys(m.node for m in self.mentions))

    def __bool__(self) -> bool:
        return bool(self.mentions)


@dataclass(frozen=True)
class QALinks:
    """Question concepts and answer concepts kept apart, as retrieval needs them.

    Attributes:
        question: links of the question text.
        choices: one :class:`LinkResult` per answer choice.
    """

    question: LinkResult
    choices: tuple[LinkResult, ...] = field(default_factory=tuple)

    def question_ids(self, exclude_answer: int | None = None) -> list[int]:
        """Question concept ids (optionally minus those of choice ``exclude_answer``)."""
        ids = self.question.node_ids
        if exclude_answer is not None:
            answer = set(self.choices[exclude_answer].node_ids)
            ids = [i for i in ids if i not in answer] or ids
        return ids

"""ERNIE's inputs: word pieces plus the graph entity aligned to the first piece of each mention.

ERNIE (Zhang et al., ACL 2019) places each linked entity at the **first token of its mention**;
every other token has no entity (id ``-1``). Linking comes from :mod:`kgqa.linking`
(:class:`~kgqa.linking.types.Mention` character spans); the tokenizer's offset mapping turns a
character span into word pieces. When several mentions start on the same word piece (the linker
keeps ``plant_flower`` and its part ``plant``), the longest mention wins, then the earliest found.

Shapes:
    - **entity_ids:** ``(N, L)`` int64 graph node ids, ``-1`` where a token has no entity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.linking.types import LinkResult, Mention

NO_ENTITY = -1


def align_mentions(offsets: Sequence[tuple[int, int]], mentions: Sequence["Mention"], *,
                   sequence_ids: Sequence[int | None] | None = None, sequence: int = 0,
                   entity_ids: np.ndarray | None = None) -> np.ndarray:
    """Put each mention's node id on the first word piece of its span.

    Args:
        offsets: the tokenizer's ``(start, end)`` character offsets per token (``(0, 0)`` for
            special tokens), relative to the text the mentions were found in.
        mentions: linked mentions of that text (``start``/``end`` character offsets).
        sequence_ids: for a text pair, which text each token comes from (``None`` = special);
            only tokens of ``sequence`` are used.
        sequence: which text of the pair the mentions belong to (0 first, 1 second).
        entity_ids: an ``(L,)`` array to fill (for the second text of a pair); a new one of
            ``-1`` otherwise.

    Returns:
        ``(L,)`` int64 node ids, ``-1`` where no mention starts. A mention cut off by truncation
        (no token inside its span) is dropped.
    """
    length = len(offsets)
    out = np.full(length, NO_ENTITY, dtype=np.int64) if entity_ids is None else entity_ids
    starts = np.array([s for s, _ in offsets], dtype=np.int64)
    ends = np.array([e for _, e in offsets], dtype=np.int64)
    usable = ends > starts
    if sequence_ids is not None:
        usable &= np.array([sid == sequence for sid in sequence_ids], dtype=bool)
    span_len = np.zeros(length, dtype=np.int64)
    for mention in mentions:
        inside = usable & (ends > mention.start) & (starts < mention.end)
        if not inside.any():
            continue
        first = int(np.argmax(inside))
        size = mention.end - mention.start
        if out[first] == NO_ENTITY or size > span_len[first]:
            out[first] = mention.node_id
            span_len[first] = size
    return out


class ErnieInputBuilder:
    """Tokenise texts (or text pairs), link them, and align entities to word pieces.

    Args:
        tokenizer: a fast ``transformers`` tokenizer (offset mappings are needed).
        linker: a linker with ``link_batch(texts)`` (and ``link_batch(texts, as_choice=True)``
            for answer choices), e.g. :func:`kgqa.linking.load_linker`; ``None`` links nothing.
        max_length: longest input in tokens.
    """

    def __init__(self, tokenizer, linker=None, *, max_length: int = 128):
        if not getattr(tokenizer, "is_fast", False):
            from kgqa.errors import Errors, KGQAError

            raise KGQAError(Errors.E053.format(problem=(
                f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer; entity alignment "
                "needs its offset mapping")))
        self.tokenizer = tokenizer
        self.linker = linker
        self.max_length = max_length
        self.uses_token_type_ids = "token_type_ids" in getattr(tokenizer, "model_input_names", [])

    def link(self, texts: Sequence[str], *, choices: bool = False) -> list["LinkResult"]:
        from kgqa.linking.types import LinkResult

        if self.linker is None:
            return [LinkResult(text=t, reason="no linker") for t in texts]
        if choices:
            try:
                return self.linker.link_batch(list(texts), as_choice=True)
            except TypeError:  # a linker without choice handling
                pass
        return self.linker.link_batch(list(texts))

    def encode(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
               links: Sequence["LinkResult"] | None = None, pair_links: Sequence["LinkResult"] | None = None,
               max_length: int | None = None, pairs_are_choices: bool = True) -> dict:
        """Tokenise and align.

        Args:
            texts: first texts.
            pairs: optional second texts (answer choices).
            links: linking results of ``texts`` (linked here when ``None``).
            pair_links: linking results of ``pairs`` (linked here, as choices, when ``None``).
            max_length: longest input (default: the builder's).
            pairs_are_choices: link ``pairs`` as answer choices (whole-choice concepts).

        Returns:
            a dict of ``(N, L)`` tensors ``input_ids``, ``attention_mask``, (``token_type_ids``),
            ``entity_ids``, plus ``links`` (list of :class:`LinkResult` per text, or of
            ``(text, pair)`` link tuples) and ``offsets`` (the offset mappings).
        """
        import torch

        texts = list(texts)
        limit = int(max_length or self.max_length)
        links = list(links) if links is not None else self.link(texts)
        if pairs is not None:
            pairs = list(pairs)
            pair_links = list(pair_links) if pair_links is not None else self.link(pairs, choices=pairs_are_choices)
        enc = self.tokenizer(texts, pairs, padding="longest", truncation=True, max_length=limit,
                             return_offsets_mapping=True, return_tensors="np",
                             return_token_type_ids=self.uses_token_type_ids)
        offsets = enc["offset_mapping"]
        entity_ids = np.full(enc["input_ids"].shape, NO_ENTITY, dtype=np.int64)
        for row in range(len(texts)):
            seq_ids = enc.sequence_ids(row) if pairs is not None else None
            align_mentions(offsets[row], links[row].mentions, sequence_ids=seq_ids, sequence=0,
                           entity_ids=entity_ids[row])
            if pairs is not None:
                align_mentions(offsets[row], pair_links[row].mentions, sequence_ids=seq_ids, sequence=1,
                               entity_ids=entity_ids[row])
        out = {"input_ids": torch.from_numpy(enc["input_ids"].astype(np.int64)),
               "attention_mask": torch.from_numpy(enc["attention_mask"].astype(np.int64)),
               "entity_ids": torch.from_numpy(entity_ids)}
        if self.uses_token_type_ids and "token_type_ids" in enc:
            out["token_type_ids"] = torch.from_numpy(enc["token_type_ids"].astype(np.int64))
        out["links"] = links if pairs is None else list(zip(links, pair_links))
        out["offsets"] = offsets
        return out

    def encode_choices(self, questions: Sequence[str], choices: Sequence[Sequence[str]], *,
                       max_length: int | None = None) -> dict:
        """Question/choice pairs flattened question-major (row ``b * C + c``), each linked once.

        Returns:
            the :meth:`encode` dict with ``(B * C, L)`` tensors.
        """
        from kgqa.errors import Errors, KGQAError

        counts = {len(c) for c in choices}
        if len(questions) != len(choices) or len(counts) > 1 or 0 in counts:
            raise KGQAError(Errors.E053.format(problem=(
                f"{len(questions)} questions with choice counts {sorted(counts)}: every question "
                "needs the same number (>= 1) of choices")))
        num_choices = counts.pop()
        question_links = self.link(questions)
        flat_choices = [c for row in choices for c in row]
        choice_links = self.link(flat_choices, choices=True)
        firsts = [q for q in questions for _ in range(num_choices)]
        first_links = [link for link in question_links for _ in range(num_choices)]
        return self.encode(firsts, flat_choices, links=first_links, pair_links=choice_links,
                           max_length=max_length)

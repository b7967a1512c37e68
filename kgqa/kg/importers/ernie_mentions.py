"""Whole-word anchor mentions from the decoded ERNIE (THU) Wikipedia pre-training sample.

Input format (``wiki_sample_decoded.jsonl.gz``, see ``samples/ernie/SOURCES.md``): one JSON
object per line, one line per Wikipedia article::

    {"doc": 0,
     "sentences": [{"text": "anarchism is a political philosophy ...",
                    "wordpieces": ["ana", "##rch", "##ism", "is", "a", "political", ...],
                    "entities": [{"qid": "Q6199", "tok_start": 0, "tok_end": 1,
                                  "surface": "ana"}, ...]}, ...]}

Each entity is a span of one anchor link: ``qid`` is its Wikidata target and
``tok_start``/``tok_end`` (end exclusive) its span in ``wordpieces`` (bert-base-uncased
WordPiece, lower-cased). ERNIE marks the QID on the *first word piece of each word* only, so
the spans (and their ``surface``) stop inside words (``"ana"`` for ``ana ##rch ##ism``: 7,782 of
the 18,505 spans), and a multi-word anchor whose words have several pieces is cut into one span
per word (``"state"`` + ``"societies"`` for ``state ##less societies``).

Here the word pieces are joined into words (a ``##`` piece is glued to the one before it), each
word takes the QID of its first piece, and a mention is a maximal run of words with the same
QID: ``"anarchism"``, ``"stateless societies"``. ``surface`` is not read.

Counts on the shared sample (100 articles, 16,365 sentences):

* raw entity spans (``SOURCES.md``): 18,505 spans, 11,251 distinct QIDs;
* whole-word mentions (this module): 16,374 mentions, the same 11,251 QIDs (the split
  anchors are joined again; no span starts on a ``##`` piece, so no QID is lost).

:func:`read_ernie_mentions` maps mention text to the QIDs it links to, with counts: the alias
table of a Wikidata entity linker (``"state" -> {"Q7275": 1, "Q1708603": 1}``);
:func:`mention_labels` picks each QID's most frequent text, as a label for graphs without one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, iter_lines

_QID = re.compile(r"Q\d+")


class _Malformed(Exception):
    """A line that parses as JSON but does not have the sample's shape."""


@dataclass(frozen=True, slots=True)
class AnchoredSentence:
    """One sentence of entity-annotated text.

    Attributes:
        doc: index of the article it comes from (its ``doc`` field, else its line number - 1).
        text: the sentence, words separated by single spaces.
        mentions: ``(start, end, qid)`` character spans of the whole-word anchor mentions in
            ``text``, in text order.
    """

    doc: int
    text: str
    mentions: tuple[tuple[int, int, str], ...]


def read_ernie_sentences(path: str | Path, *, bad_lines: BadLines | None = None
                         ) -> Iterator[AnchoredSentence]:
    """Sentences and whole-word anchor mentions of the decoded ERNIE sample, in file order.

    Args:
        path: the decoded sample (``.jsonl`` or ``.jsonl.gz``).
        bad_lines: ``--skip-bad`` accounting. A line that is not valid JSON, or an article
            without the shape above (missing ``sentences``/``wordpieces``/``entities``, a word
            piece that is not a non-empty string, a QID that is not ``Q<digits>``, a span
            outside ``wordpieces``), is reported as ``path:line: problem``; under ``skip_bad``
            the whole line (article) is skipped.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    for number, line in iter_lines(path, bad_lines):
        try:
            article = json.loads(line)
        except json.JSONDecodeError as exc:
            bad_lines.handle(BadInputError(path, number, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            sentences = _article_sentences(article, number - 1)
        except _Malformed as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))
            continue
        yield from sentences


def iter_ernie_mentions(
    path: str | Path, *, bad_lines: BadLines | None = None
) -> Iterator[tuple[str, str]]:
    """Yield ``(mention text, QID)`` for every whole-word mention, in file order.

    The text is the mention's words, lower-cased, separated by single spaces (punctuation keeps
    the spaces the tokenizer put around it: ``"u . s"``). ``bad_lines`` as in
    :func:`read_ernie_sentences`.
    """
    for sentence in read_ernie_sentences(path, bad_lines=bad_lines):
        for start, end, qid in sentence.mentions:
            yield sentence.text[start:end].lower(), qid


def read_ernie_mentions(
    path: str | Path, *, bad_lines: BadLines | None = None
) -> dict[str, Counter[str]]:
    """``mention text -> Counter(QID -> number of links)`` over the whole file.

    The sum of all counts is the number of whole-word mentions read (16,374 in the shared
    sample, from its 18,505 raw spans), and the union of the counters' keys the distinct QIDs
    (11,251).
    """
    aliases: dict[str, Counter[str]] = {}
    for mention, qid in iter_ernie_mentions(path, bad_lines=bad_lines):
        counts = aliases.get(mention)
        if counts is None:
            counts = aliases[mention] = Counter()
        counts[qid] += 1
    return aliases


def mention_labels(counts: Mapping[str, Mapping[str, int]]) -> dict[str, str]:
    """``QID -> its most frequent mention text``, to stand in for a label where none exists.

    Takes the output of :func:`read_ernie_mentions`. Ties go to the alphabetically first text,
    so the result does not depend on file order.

    >>> mention_labels({"batman": {"Q2695156": 3}, "the batman": {"Q2695156": 1}})
    {'Q2695156': 'batman'}
    """
    best: dict[str, tuple[int, str]] = {}
    for mention, qids in counts.items():
        for qid, count in qids.items():
            current = best.get(qid)
            if current is None or count > current[0] or (count == current[0] and mention < current[1]):
                best[qid] = (count, mention)
    return {qid: mention for qid, (_, mention) in best.items()}


def _article_sentences(article: Any, default_doc: int) -> list[AnchoredSentence]:
    if not isinstance(article, dict) or not isinstance(article.get("sentences"), list):
        raise _Malformed("expected an object with a 'sentences' list")
    doc = article.get("doc", default_doc)
    doc = doc if isinstance(doc, int) else default_doc
    return [_sentence(sentence, s, doc) for s, sentence in enumerate(article["sentences"])]


def _sentence(sentence: Any, s: int, doc: int) -> AnchoredSentence:
    if not isinstance(sentence, dict):
        raise _Malformed(f"sentence {s}: expected an object")
    pieces, entities = sentence.get("wordpieces"), sentence.get("entities")
    if not isinstance(pieces, list) or not isinstance(entities, list):
        raise _Malformed(f"sentence {s}: expected 'wordpieces' and 'entities' lists")
    for p, piece in enumerate(pieces):
        if not isinstance(piece, str) or not piece or piece.isspace():
            raise _Malformed(f"sentence {s}: word piece {p} ({piece!r}) is not a non-empty string")
    piece_qid: list[str | None] = [None] * len(pieces)
    for e, entity in enumerate(entities):
        where = f"sentence {s}, entity {e}"
        if not isinstance(entity, dict):
            raise _Malformed(f"{where}: expected an object")
        qid, start, end = entity.get("qid"), entity.get("tok_start"), entity.get("tok_end")
        if not isinstance(qid, str) or not _QID.fullmatch(qid):
            raise _Malformed(f"{where}: qid {qid!r} is not a Wikidata item id (Q followed by digits)")
        if not isinstance(start, int) or not isinstance(end, int):
            raise _Malformed(f"{where}: tok_start/tok_end must be integers, got {start!r}/{end!r}")
        if not 0 <= start < end <= len(pieces):
            raise _Malformed(f"{where}: span [{start}, {end}) is outside the {len(pieces)} word pieces")
        piece_qid[start:end] = [qid] * (end - start)

    # words, each with the QID of its first piece (a continuation only fills a word without one)
    words: list[str] = []
    word_qid: list[str | None] = []
    for piece, qid in zip(pieces, piece_qid):
        if piece.startswith("##") and words:
            words[-1] += piece[2:]
            word_qid[-1] = word_qid[-1] or qid
        else:
            words.append(piece)
            word_qid.append(qid)
    starts, offset = [], 0
    for word in words:
        starts.append(offset)
        offset += len(word) + 1

    # a mention is a maximal run of words with the same QID
    mentions = []
    i = 0
    while i < len(words):
        qid = word_qid[i]
        j = i + 1
        if qid is not None:
            while j < len(words) and word_qid[j] == qid:
                j += 1
            mentions.append((starts[i], starts[j - 1] + len(words[j - 1]), qid))
        i = j
    return AnchoredSentence(doc=doc, text=" ".join(words), mentions=tuple(mentions))

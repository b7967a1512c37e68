"""Anchor-text aliases from the decoded ERNIE (THU) Wikipedia pre-training sample.

Input format (``wiki_sample_decoded.jsonl.gz``, see ``samples/ernie/SOURCES.md``): one JSON
object per line, one line per Wikipedia article::

    {"doc": 0,
     "sentences": [{"text": "anarchism is a political philosophy ...",
                    "wordpieces": ["ana", "##rch", "##ism", "is", "a", "political", ...],
                    "entities": [{"qid": "Q179805", "tok_start": 5, "tok_end": 7,
                                  "surface": "political philosophy"}, ...]}, ...]}

Each entity is one anchor link: ``qid`` is its Wikidata target, ``tok_start``/``tok_end`` (end
exclusive) its span in ``wordpieces`` (bert-base-uncased WordPiece, lower-cased), and
``surface`` its text. The surface is word-piece text, so it is turned back into words before
it is counted: ``##`` continuation pieces are glued to the piece before them
(``"bat ##man"`` -> ``"batman"``), case is folded and runs of whitespace become one space.
Punctuation keeps the spaces the tokenizer put around it (``"self - governed"``). Where an
entity has no ``surface``, it is rebuilt from ``wordpieces[tok_start:tok_end]``.

The result maps mention text to the QIDs it links to, with counts: the alias table of a
Wikidata entity linker (``"state" -> {"Q7275": 1, "Q1708603": 1}``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, iter_lines

_QID = re.compile(r"Q\d+")


class _Malformed(Exception):
    """A line that parses as JSON but does not have the sample's shape."""


def join_wordpieces(text: str) -> str:
    """Word-piece text back to normalised words.

    >>> join_wordpieces("Bat ##man  Begins")
    'batman begins'
    """
    words: list[str] = []
    for piece in text.split():
        if piece.startswith("##"):
            if words:
                words[-1] += piece[2:]
                continue
            piece = piece[2:]  # a mention that starts inside a word
        if piece:
            words.append(piece)
    return " ".join(words).lower()


def iter_ernie_mentions(
    path: str | Path, *, bad_lines: BadLines | None = None
) -> Iterator[tuple[str, str]]:
    """Yield ``(mention text, QID)`` for every entity mention, in file order.

    Args:
        path: the decoded sample (``.jsonl`` or ``.jsonl.gz``).
        bad_lines: ``--skip-bad`` accounting. A line that is not valid JSON, or an article
            without the shape above (missing ``sentences``/``entities``, a QID that is not
            ``Q<digits>``, a span outside ``wordpieces``, empty mention text), is reported as
            ``path:line: problem``; under ``skip_bad`` the whole line (article) is skipped.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    for number, text in iter_lines(path, bad_lines):
        try:
            article = json.loads(text)
        except json.JSONDecodeError as exc:
            bad_lines.handle(BadInputError(path, number, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        try:
            mentions = _article_mentions(article)
        except _Malformed as exc:
            bad_lines.handle(BadInputError(path, number, str(exc)))
            continue
        yield from mentions


def read_ernie_mentions(
    path: str | Path, *, bad_lines: BadLines | None = None
) -> dict[str, Counter[str]]:
    """``mention text -> Counter(QID -> number of links)`` over the whole file.

    The sum of all counts is the number of mentions read (18,505 in the shared sample), and the
    union of the counters' keys the distinct QIDs (11,251).
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


def _article_mentions(article: Any) -> list[tuple[str, str]]:
    if not isinstance(article, dict) or not isinstance(article.get("sentences"), list):
        raise _Malformed("expected an object with a 'sentences' list")
    mentions: list[tuple[str, str]] = []
    for s, sentence in enumerate(article["sentences"]):
        entities = sentence.get("entities") if isinstance(sentence, dict) else None
        if not isinstance(entities, list):
            raise _Malformed(f"sentence {s}: expected an object with an 'entities' list")
        for e, entity in enumerate(entities):
            where = f"sentence {s}, entity {e}"
            if not isinstance(entity, dict):
                raise _Malformed(f"{where}: expected an object")
            qid = entity.get("qid")
            if not isinstance(qid, str) or not _QID.fullmatch(qid):
                raise _Malformed(f"{where}: qid {qid!r} is not a Wikidata item id (Q followed by digits)")
            surface = entity.get("surface")
            if surface is None:
                surface = _span_text(sentence, entity, where)
            if not isinstance(surface, str):
                raise _Malformed(f"{where}: surface is not a string")
            mention = join_wordpieces(surface)
            if not mention:
                raise _Malformed(f"{where}: empty mention text")
            mentions.append((mention, qid))
    return mentions


def _span_text(sentence: dict, entity: dict, where: str) -> str:
    wordpieces = sentence.get("wordpieces")
    start, end = entity.get("tok_start"), entity.get("tok_end")
    if not isinstance(wordpieces, list) or not isinstance(start, int) or not isinstance(end, int):
        raise _Malformed(f"{where}: no surface, and no wordpieces/tok_start/tok_end to rebuild it")
    if not 0 <= start < end <= len(wordpieces):
        raise _Malformed(f"{where}: span [{start}, {end}) is outside the {len(wordpieces)} word pieces")
    return " ".join(str(piece) for piece in wordpieces[start:end])

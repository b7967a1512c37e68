"""The alias table of the Wikidata linker: normalised mention text -> candidate QIDs with counts.

Three sources fill it, all through :meth:`AliasTable.add`:

* **labels** of the loaded graph (``graph.node_labels``) and, for users with a Wikidata dump,
  labels and aliases from :func:`~kgqa.kg.importers.wikidata_dump.read_wikidata_dump`
  (``entity_info=``); each counts as one pseudo-link;
* **anchor texts** of entity-annotated text (Wikipedia links; the ERNIE sample, read as
  whole-word mentions by :func:`~kgqa.kg.importers.ernie_mentions.read_ernie_sentences`): each
  link of a mention text to a QID counts one. The counts give the anchor prior

  .. math::
      P(q \\mid a) = \\frac{\\mathrm{count}(a, q)}{\\mathrm{total}(a)}

  where ``total(a)`` also counts the links to QIDs outside the graph, so an alias that mostly
  names something the graph lacks keeps a low prior for the candidates it has;
* the same annotated text gives the **link probability** (keyphraseness, Mihalcea & Csomai 2007)
  ``P(link | a) = anchor links of a / occurrences of a in the text``: ``"state"`` is linked in a
  few percent of its occurrences, ``"united states"`` in most, so a linker can skip words that
  are rarely a mention.

Normalisation (:func:`normalise`) folds case and accents and splits punctuation off words, the
way the bert-base-uncased tokenizer did for the ERNIE text, so ``"U.S. state"`` and the sample's
``"u . s . state"`` are the same key. Aliases made only of stop words, punctuation or digits
(``"he"``, ``"the"``, ``"1"``) are never stored (:func:`is_linkable`).

Tables are cached next to the graph as JSON (:meth:`AliasTable.for_graph`), keyed by the
graph checksum, the options and the sources' fingerprints, and written atomically.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa.errors import Errors, KGQAError
from kgqa.kg.importers.base import BadLines
from kgqa.kg.importers.ernie_mentions import AnchoredSentence, read_ernie_sentences
from kgqa.utils.io import atomic_write_bytes, sha256_bytes, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.importers.wikidata_dump import EntityInfo
    from kgqa.kg.store import KnowledgeGraph

TABLE_FORMAT = "kgqa-wikidata-alias-table"
TABLE_VERSION = 1
#: Longest alias kept, in normalised tokens (punctuation counts: ``"u . s . state"`` is 5).
MAX_ALIAS_TOKENS = 8
#: Occurrences in the mined text below which an alias's link probability is unknown.
MIN_OCCURRENCES = 3
#: Sources larger than this are fingerprinted by size and mtime instead of sha256 (dumps).
_HASH_LIMIT = 256 << 20

_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")

#: English function words; an alias made only of these (and punctuation/digits) is not linkable.
STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either else ever few for
from further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself neither no nor not now of off on once only or other our
ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up upon very was we were
what when where which while who whom whose why will with within without would yet you your yours
yourself yourselves s t d ll m re ve one two three also
""".split())


# ---------------------------------------------------------------------- normalisation
def _fold(token: str) -> str:
    """Lower-case and strip accents (NFKD, combining marks dropped), as bert-base-uncased does."""
    decomposed = unicodedata.normalize("NFKD", token.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Normalised tokens with their character spans in ``text``.

    Words are runs of letters/digits, every other non-space character is a token of its own.

    >>> tokenize("U.S. state")
    [('u', 0, 1), ('.', 1, 2), ('s', 2, 3), ('.', 3, 4), ('state', 5, 10)]
    """
    tokens = []
    for match in _TOKEN.finditer(text):
        folded = _fold(match.group())
        if folded:
            tokens.append((folded, match.start(), match.end()))
    return tokens


def normalise(text: str) -> str:
    """The alias key of a text: normalised tokens joined by single spaces.

    >>> normalise("Café  de Flore"), normalise("U.S. state"), normalise("u . s . state")
    ('cafe de flore', 'u . s . state', 'u . s . state')
    """
    return " ".join(token for token, _, _ in tokenize(text))


def is_linkable(alias: str) -> bool:
    """Whether a normalised alias may be linked: it has a word of letters that is not a stop
    word, and at least two letters or digits in all.

    >>> is_linkable("the who"), is_linkable("he"), is_linkable("1984"), is_linkable("paris")
    (False, False, False, True)
    """
    tokens = alias.split()
    if sum(len(t) for t in tokens if t.isalnum()) < 2:
        return False
    return any(t not in STOP_WORDS and any(ch.isalpha() for ch in t) for t in tokens)


# ---------------------------------------------------------------------- ERNIE anchor text
def anchor_counts(sentences: Iterable[AnchoredSentence]) -> dict[str, Counter[str]]:
    """``normalised mention text -> Counter(QID -> links)`` over annotated sentences."""
    counts: dict[str, Counter[str]] = {}
    for sentence in sentences:
        for start, end, qid in sentence.mentions:
            alias = normalise(sentence.text[start:end])
            if alias:
                counts.setdefault(alias, Counter())[qid] += 1
    return counts


def ngram_occurrences(texts: Iterable[str], aliases: Collection[str], *,
                      max_tokens: int = MAX_ALIAS_TOKENS) -> Counter[str]:
    """How often each alias occurs as a token n-gram of ``texts`` (linked or not)."""
    occurrences: Counter[str] = Counter()
    firsts = {a.split(" ", 1)[0] for a in aliases}
    for text in texts:
        tokens = [t for t, _, _ in tokenize(text)]
        for i, token in enumerate(tokens):
            if token not in firsts:
                continue
            for n in range(1, min(max_tokens, len(tokens) - i) + 1):
                key = " ".join(tokens[i:i + n])
                if key in aliases:
                    occurrences[key] += 1
    return occurrences


# ---------------------------------------------------------------------- the table
class AliasTable:
    """Normalised alias -> ``{QID: count}``, with the anchor prior and the link probability.

    Args:
        aliases: ``{alias: {qid: count}}``; aliases are normalised and filtered on the way in.
        labels: ``QID -> display label``.
        descriptions: ``QID -> short description`` (from a dump), used by the disambiguator.
        meta: free-form provenance (sources, options), saved with the table.

    Example::

        >>> table = AliasTable()
        >>> table.add("Paris", "Q90", 3), table.add("paris", "Q47899"), table.add("the", "Q1")
        (True, True, False)
        >>> table.prior("PARIS")
        {'Q90': 0.75, 'Q47899': 0.25}
    """

    def __init__(self, aliases: Mapping[str, Mapping[str, int]] | None = None, *,
                 labels: Mapping[str, str] | None = None,
                 descriptions: Mapping[str, str] | None = None,
                 meta: dict | None = None):
        self.aliases: dict[str, dict[str, int]] = {}
        #: all links of an alias, including those to QIDs dropped by :meth:`restrict`
        self.totals: dict[str, int] = {}
        #: anchor links of an alias in annotated text, and its occurrences there
        self.anchor_links: dict[str, int] = {}
        self.occurrences: dict[str, int] = {}
        self.labels: dict[str, str] = dict(labels or {})
        self.descriptions: dict[str, str] = dict(descriptions or {})
        self.meta: dict = dict(meta or {})
        for alias, qids in (aliases or {}).items():
            for qid, count in qids.items():
                self.add(alias, qid, count)

    # ------------------------------------------------------------------ filling
    def add(self, alias: str, qid: str, count: int = 1, *, normalised: bool = False) -> bool:
        """Count ``count`` links of ``alias`` to ``qid``; returns ``False`` if the alias is not
        linkable (stop words, punctuation, digits) and was dropped."""
        key = alias if normalised else normalise(alias)
        if count <= 0 or not is_linkable(key) or len(key.split()) > MAX_ALIAS_TOKENS:
            return False
        entry = self.aliases.setdefault(key, {})
        entry[qid] = entry.get(qid, 0) + int(count)
        self.totals[key] = self.totals.get(key, 0) + int(count)
        return True

    def add_labels(self, labels: Mapping[str, str], *, count: int = 1,
                   display: bool = True) -> int:
        """Add ``QID -> label`` pairs as aliases (``count`` pseudo-links each); with
        ``display`` they also become the display labels. Returns the number added."""
        added = 0
        for qid, label in labels.items():
            if not label:
                continue
            added += self.add(label, qid, count)
            if display:
                self.labels[qid] = label
        return added

    def add_entity_info(self, info: Mapping[str, EntityInfo], *, count: int = 1) -> int:
        """Labels, aliases and descriptions from a dump's ``QID -> EntityInfo``; the dump's
        label becomes the display label (it is Wikidata's own, unlike mined mention texts)."""
        added = 0
        for qid, entity in info.items():
            if entity.label:
                added += self.add(entity.label, qid, count)
                self.labels[qid] = entity.label
            for alias in entity.aliases:
                added += self.add(alias, qid, count)
            if entity.description:
                self.descriptions[qid] = entity.description
        return added

    def add_anchors(self, sentences: Iterable[AnchoredSentence]) -> int:
        """Add the anchor counts of annotated sentences; returns the number of links added."""
        added = 0
        for alias, qids in anchor_counts(sentences).items():
            for qid, count in qids.items():
                if self.add(alias, qid, count, normalised=True):
                    added += count
                    self.anchor_links[alias] = self.anchor_links.get(alias, 0) + count
        return added

    def count_occurrences(self, texts: Iterable[str]) -> None:
        """Count every alias's occurrences in ``texts`` (the annotated text the anchors came
        from), for :meth:`link_probability`."""
        for alias, n in ngram_occurrences(texts, self.aliases.keys()).items():
            self.occurrences[alias] = self.occurrences.get(alias, 0) + n

    def restrict(self, qids: Collection[str]) -> "AliasTable":
        """A copy keeping only candidates in ``qids`` (e.g. the graph's nodes).

        An alias left without candidates stays as an empty entry: a linker still matches it,
        so the longest name in the text wins even when the graph lacks its item (``"sub -
        saharan africa"`` is not linked to *Africa*). ``totals`` keep the dropped links, so the
        anchor prior of the kept candidates stays honest.
        """
        table = AliasTable(labels={q: v for q, v in self.labels.items() if q in qids},
                           descriptions={q: v for q, v in self.descriptions.items() if q in qids},
                           meta=dict(self.meta))
        for alias, entry in self.aliases.items():
            table.aliases[alias] = {q: c for q, c in entry.items() if q in qids}
            table.totals[alias] = self.totals.get(alias, sum(entry.values()))
        table.anchor_links = dict(self.anchor_links)
        table.occurrences = dict(self.occurrences)
        return table

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.aliases)

    def __contains__(self, alias: str) -> bool:
        return alias in self.aliases

    @property
    def qids(self) -> set[str]:
        """Every QID that some alias points to."""
        return {q for entry in self.aliases.values() for q in entry}

    @property
    def max_tokens(self) -> int:
        """Length of the longest alias in tokens (0 for an empty table)."""
        return max((a.count(" ") + 1 for a in self.aliases), default=0)

    def candidates(self, alias: str) -> dict[str, int]:
        """``{QID: count}`` of a normalised alias (empty when unknown)."""
        return self.aliases.get(alias, {})

    def prior(self, alias: str, *, normalised: bool = False) -> dict[str, float]:
        """Anchor prior ``P(qid | alias) = count / total`` of each candidate."""
        key = alias if normalised else normalise(alias)
        entry = self.aliases.get(key, {})
        total = self.totals.get(key) or sum(entry.values()) or 1
        return {q: c / total for q, c in entry.items()}

    def link_probability(self, alias: str) -> float | None:
        """``anchor links / occurrences`` in the mined text, or ``None`` when the alias occurs
        there fewer than :data:`MIN_OCCURRENCES` times (too few to tell)."""
        seen = self.occurrences.get(alias, 0)
        if seen < MIN_OCCURRENCES:
            return None
        return min(1.0, self.anchor_links.get(alias, 0) / seen)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {"format": TABLE_FORMAT, "version": TABLE_VERSION, "meta": self.meta,
                "aliases": self.aliases, "totals": self.totals,
                "anchor_links": self.anchor_links, "occurrences": self.occurrences,
                "labels": self.labels, "descriptions": self.descriptions}

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON, atomically."""
        path = Path(path)
        atomic_write_bytes(path, json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8"))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "AliasTable":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KGQAError(Errors.E019.format(path=path, problem=f"unreadable ({exc})")) from exc
        if not isinstance(data, dict) or data.get("format") != TABLE_FORMAT:
            raise KGQAError(Errors.E019.format(path=path, problem="not a kgqa alias table"))
        if data.get("version") != TABLE_VERSION:
            raise KGQAError(Errors.E019.format(
                path=path, problem=f"version {data.get('version')}, this kgqa reads {TABLE_VERSION}"))
        table = cls(labels=data["labels"], descriptions=data["descriptions"], meta=data["meta"])
        table.aliases = {a: dict(e) for a, e in data["aliases"].items()}
        table.totals = dict(data["totals"])
        table.anchor_links = dict(data["anchor_links"])
        table.occurrences = dict(data["occurrences"])
        return table

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, graph: KnowledgeGraph | None = None, *,
              ernie_sample: str | Path | None = None,
              dump: str | Path | None = None,
              entity_info: Mapping[str, EntityInfo] | None = None,
              graph_only: bool = True,
              link_probability: bool = True,
              skip_bad: bool = False) -> "AliasTable":
        """Build a table from every source given.

        Args:
            graph: its ``node_labels`` become aliases and display labels, and with
                ``graph_only`` the candidates are restricted to its nodes.
            ernie_sample: decoded ERNIE sample (anchor counts and link probabilities).
            dump: a Wikidata JSON dump, read for labels, aliases and descriptions only.
            entity_info: an already-read ``QID -> EntityInfo`` (e.g. filled while building
                the graph from the dump), instead of reading ``dump`` again.
            graph_only: keep only candidates that are nodes of ``graph``.
            link_probability: count anchor-text occurrences in the ERNIE text.
            skip_bad: skip malformed input lines (counted, one warning) instead of raising.
        """
        table = cls()
        bad = BadLines(skip_bad=skip_bad)
        graph_labels: dict[str, str] = {}
        if graph is not None:
            names = graph.node_names
            graph_labels = {names[i]: label for i, label in graph.node_labels.items()}
        mined: dict[str, str] = {}
        texts: list[str] = []
        if ernie_sample is not None:
            sentences = list(read_ernie_sentences(ernie_sample, bad_lines=bad))
            texts = [s.text for s in sentences]
            table.add_anchors(sentences)
            mined = _most_frequent_alias(table.aliases)
        table.add_labels(graph_labels)
        for qid, alias in mined.items():  # a display label where the graph has none
            table.labels.setdefault(qid, alias)
        if dump is not None and entity_info is None:
            from kgqa.kg.importers.wikidata_dump import read_wikidata_dump

            info: dict[str, EntityInfo] = {}
            for _ in read_wikidata_dump(dump, entity_info=info, properties=frozenset(), bad_lines=bad):
                pass
            entity_info = info
        if entity_info is not None:
            table.add_entity_info(entity_info)
        bad.report()
        table.meta = {"sources": {"graph": graph.checksum if graph is not None else None,
                                  "ernie_sample": fingerprint(ernie_sample) if ernie_sample else None,
                                  "dump": fingerprint(dump) if dump else None,
                                  "entity_info": len(entity_info) if entity_info is not None else None},
                      "graph_only": graph_only, "link_probability": link_probability}
        if graph is not None and graph_only:
            table = table.restrict(set(graph.node_names))
        if link_probability and texts:
            table.count_occurrences(texts)
        return table

    @classmethod
    def for_graph(cls, graph: KnowledgeGraph, *, ernie_sample: str | Path | None = None,
                  dump: str | Path | None = None, graph_only: bool = True,
                  link_probability: bool = True, cache: bool = True) -> "AliasTable":
        """:meth:`build` for a graph, cached as JSON next to it.

        The cache file name carries a key over the graph checksum, the options and the
        fingerprints of ``ernie_sample`` and ``dump``: a rebuilt graph or a changed source gives
        a new key, so a stale table is never read.
        """
        key = cache_key({"graph": graph.checksum, "graph_only": graph_only,
                         "link_probability": link_probability, "version": TABLE_VERSION,
                         "ernie_sample": fingerprint(ernie_sample) if ernie_sample else None,
                         "dump": fingerprint(dump) if dump else None})
        path = cache_dir(graph) / f"wikidata_aliases-{key}.json"
        if cache and path.is_file():
            table = cls.load(path)
            table.meta["cache"] = {"path": str(path), "hit": True}
            return table
        table = cls.build(graph, ernie_sample=ernie_sample, dump=dump, graph_only=graph_only,
                          link_probability=link_probability)
        table.meta["key"] = key
        if cache:
            table.save(path)
            table.meta["cache"] = {"path": str(path), "hit": False}
        return table

    def __repr__(self) -> str:
        return f"AliasTable(aliases={len(self.aliases):,}, labels={len(self.labels):,})"


def _most_frequent_alias(aliases: Mapping[str, Mapping[str, int]]) -> dict[str, str]:
    """``QID -> its most linked alias`` (ties: the longer, then alphabetically last)."""
    best: dict[str, tuple[int, int, str]] = {}
    for alias, qids in aliases.items():
        for qid, count in qids.items():
            rank = (count, len(alias), alias)
            if qid not in best or rank > best[qid]:
                best[qid] = rank
    return {qid: rank[2] for qid, rank in best.items()}


# ---------------------------------------------------------------------- cache helpers
def fingerprint(path: str | Path) -> dict:
    """What identifies a source file's content: sha256 (or size + mtime for huge dumps)."""
    path = Path(path)
    stat = path.stat()
    if stat.st_size <= _HASH_LIMIT:
        return {"name": path.name, "sha256": sha256_file(path)}
    return {"name": path.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def cache_key(parts: dict) -> str:
    """A short stable key (16 hex digits) over a JSON-serialisable description of the inputs."""
    return sha256_bytes(json.dumps(parts, sort_keys=True, default=str).encode())[:16]


def cache_dir(graph: KnowledgeGraph) -> Path:
    """``<graph dir>/linking``, or ``KGQA_HOME/cache/linking/<checksum>`` when the graph's
    directory is read-only (the shipped default graph in a system install)."""
    beside = graph.path / "linking"
    if os.access(beside if beside.is_dir() else graph.path, os.W_OK):
        return beside
    from kgqa.paths import kgqa_home

    return kgqa_home() / "cache" / "linking" / graph.checksum[:16]

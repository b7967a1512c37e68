"""A multi-pattern matcher over a graph's concept names: Aho-Corasick on token sequences.

Every concept name is tokenized the way text is (spaCy's English tokenizer:
``ice_cream`` -> ``ice cream``, ``don't`` -> ``do n't``) and stored as the key
``" ice cream "`` in an Aho-Corasick automaton (pyahocorasick). A text is matched as one string
of space-joined tokens, with spaces around, so every hit starts and ends on token boundaries::

    lemmas   " a man dig the ground to plant flower . "   -> dig, ground, plant, plant_flower, flower
    surface  " a man dug the ground to plant flowers . "  -> dug? (no), ground, plant

One pass costs O(characters + hits) whatever the vocabulary size (Aho & Corasick 1975), where
the research code's spaCy ``Matcher`` with one pattern per concept tests every pattern at every
token. ``benchmarks/linking.py`` also measures spaCy's ``PhraseMatcher(attr="LEMMA")``, the other
fast option; this one was kept (see the benchmark JSON for the numbers).

Build cost is dominated by tokenizing the names (~2 s for 250k names); the automaton itself
takes ~0.4 s. The cache stores the pattern list (keys and values, a few MB of ``npz``) rather
than a pickled automaton (60 MB, no faster to load): ``<graph.path>/cache/linker-v1-<key>.npz``
with a JSON manifest beside it, where ``<key>`` hashes the graph checksum, the filter lists,
``max_tokens`` and the spaCy version. A file whose manifest does not match is ignored and rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Warnings, warn
from kgqa.linking.filters import filters_fingerprint, pattern_filter_reason
from kgqa.utils.io import atomic_write_bytes

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph

MATCHER_VERSION = "v1"
#: Longest pattern in tokens; the value packs the token count into its low bits.
MAX_PATTERN_TOKENS = 15
_LEN_BITS = 4


@dataclass(frozen=True, slots=True)
class Candidate:
    """One pattern hit: tokens ``[start, end)`` of the text name ``node_id``.

    ``form`` is ``"surface"`` when the lower-cased text matched as is, ``"lemma"`` when only
    the lemmatized text matched.
    """

    start: int
    end: int
    node_id: int
    form: str


@dataclass
class MatcherStats:
    """How the pattern set was made (recorded in the cache manifest)."""

    num_nodes: int = 0
    num_patterns: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    collisions: int = 0
    build_s: float = 0.0
    from_cache: bool = False
    cache_file: str | None = None


def tokenize_names(names, tokenizer) -> list[tuple[str, ...]]:
    """Lower-cased token tuples of concept names (``"ice_cream"`` -> ``("ice", "cream")``)."""
    out = []
    for doc in tokenizer.pipe(name.replace("_", " ") for name in names):
        out.append(tuple(t.lower_ for t in doc if not t.is_space))
    return out


def build_patterns(names: list[str], token_lists: list[tuple[str, ...]], degree: np.ndarray | None = None,
                   *, max_tokens: int = 4) -> tuple[list[str], np.ndarray, MatcherStats]:
    """The filtered pattern set: keys (space-joined tokens) and values ``node_id << 4 | n_tokens``.

    Two names with the same token sequence (``x-ray``, ``x_-_ray``) share one key; the one with
    the higher degree wins, then the shorter name, then the lower id.
    """
    max_tokens = min(max_tokens, MAX_PATTERN_TOKENS)
    stats = MatcherStats(num_nodes=len(names))
    best: dict[str, int] = {}
    for node_id, (name, tokens) in enumerate(zip(names, token_lists)):
        reason = pattern_filter_reason(tokens, name, max_tokens=max_tokens)
        if reason is not None:
            stats.dropped[reason] = stats.dropped.get(reason, 0) + 1
            continue
        key = " ".join(tokens)
        other = best.get(key)
        if other is None:
            best[key] = node_id
            continue
        stats.collisions += 1
        if _rank(node_id, names, degree) < _rank(other, names, degree):
            best[key] = node_id
    keys = list(best)
    values = np.fromiter(((best[k] << _LEN_BITS) | (k.count(" ") + 1) for k in keys), dtype=np.int64, count=len(keys))
    stats.num_patterns = len(keys)
    return keys, values, stats


def _rank(node_id: int, names: list[str], degree) -> tuple:
    deg = int(degree[node_id]) if degree is not None else 0
    return (-deg, len(names[node_id]), node_id)


class ConceptMatcher:
    """Aho-Corasick matcher of a graph's concept names over lemma and surface token strings.

    Args:
        keys: space-joined token sequences (``"ice cream"``).
        values: (P,) int64 ``node_id << 4 | n_tokens`` for each key.
        stats: how the patterns were made.

    Build one with :meth:`for_graph` (cached on disk) or :meth:`from_names` (tests).
    """

    def __init__(self, keys: list[str], values: np.ndarray, stats: MatcherStats | None = None):
        import ahocorasick

        self.stats = stats or MatcherStats(num_patterns=len(keys))
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for key, value in zip(keys, values.tolist()):
            automaton.add_word(f" {key} ", value)
        automaton.make_automaton()
        self._automaton = automaton
        self.keys = keys
        self.values = values

    def __len__(self) -> int:
        return len(self.keys)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_names(cls, names: list[str], degree: np.ndarray | None = None, *, max_tokens: int = 4,
                   tokenizer=None) -> "ConceptMatcher":
        """Build from a list of concept names (node id = position)."""
        start = time.perf_counter()
        tokenizer = tokenizer or english_tokenizer()
        keys, values, stats = build_patterns(names, tokenize_names(names, tokenizer), degree, max_tokens=max_tokens)
        matcher = cls(keys, values, stats)
        stats.build_s = time.perf_counter() - start
        return matcher

    @classmethod
    def for_graph(cls, kg: "KnowledgeGraph", *, max_tokens: int = 4, cache: bool = True) -> "ConceptMatcher":
        """The matcher of ``kg``'s vocabulary, loaded from ``<kg.path>/cache`` or built and saved there.

        An unwritable graph directory only costs the rebuild next time (a warning says so).
        """
        key = cache_key(kg.checksum, max_tokens=max_tokens)
        path = kg.path / "cache" / f"linker-{MATCHER_VERSION}-{key[:16]}.npz"
        if cache:
            start = time.perf_counter()
            loaded = _load_cache(path, key, kg.checksum)
            if loaded is not None:
                keys, values, stats = loaded
                matcher = cls(keys, values, stats)
                stats.from_cache, stats.cache_file = True, str(path)
                stats.build_s = time.perf_counter() - start
                return matcher
        matcher = cls.from_names(kg.node_names, kg.degree, max_tokens=max_tokens)
        if cache:
            try:
                _save_cache(path, key, matcher, kg)
                matcher.stats.cache_file = str(path)
            except OSError as exc:
                warn(Warnings.W002.format(problem=f"could not cache the linker patterns at {path} ({exc}); "
                                                  f"they are rebuilt on every load"))
        return matcher

    # ------------------------------------------------------------------ matching
    def find(self, tokens: tuple[str, ...] | list[str], form: str) -> list[Candidate]:
        """All pattern hits in one token sequence (overlapping hits included)."""
        if not tokens:
            return []
        text = " " + " ".join(tokens) + " "
        # the space after token i sits at this offset; a hit ends on such a space
        token_at = {}
        pos = 0
        for i, tok in enumerate(tokens):
            pos += len(tok) + 1
            token_at[pos] = i
        out = []
        for end_char, value in self._automaton.iter(text):
            last = token_at[end_char]
            n = value & ((1 << _LEN_BITS) - 1)
            out.append(Candidate(last - n + 1, last + 1, value >> _LEN_BITS, form))
        return out

    def lookup(self, tokens: tuple[str, ...] | list[str]) -> int | None:
        """Node id of the pattern equal to ``tokens``, or ``None``."""
        value = self._automaton.get(f" {' '.join(tokens)} ", None)
        return None if value is None else value >> _LEN_BITS


@lru_cache(maxsize=1)
def english_tokenizer():
    """spaCy's rule-based English tokenizer (no model needed; what the model uses too)."""
    import spacy

    return spacy.blank("en").tokenizer


def cache_key(graph_checksum: str, *, max_tokens: int) -> str:
    """sha256 over everything that changes the pattern set."""
    import spacy

    config = {"version": MATCHER_VERSION, "graph_checksum": graph_checksum, "max_tokens": max_tokens,
              "filters": filters_fingerprint(), "spacy": spacy.__version__, "tokenizer": "spacy.blank('en')"}
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _save_cache(path: Path, key: str, matcher: ConceptMatcher, kg: "KnowledgeGraph") -> None:
    from kgqa import __version__

    blob = "\n".join(matcher.keys).encode("utf-8")
    buffer = io.BytesIO()
    np.savez(buffer, keys=np.frombuffer(blob, dtype=np.uint8), values=matcher.values)
    stats = matcher.stats
    manifest = {"format": "kgqa-linker-patterns", "version": MATCHER_VERSION, "key": key,
                "graph": kg.name, "graph_checksum": kg.checksum, "kgqa_version": __version__,
                "num_nodes": stats.num_nodes, "num_patterns": stats.num_patterns,
                "dropped": stats.dropped, "collisions": stats.collisions,
                "build_s": round(stats.build_s, 3)}
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_bytes(path.with_suffix(".json"), (json.dumps(manifest, indent=2) + "\n").encode())


def _load_cache(path: Path, key: str, graph_checksum: str):
    manifest_path = path.with_suffix(".json")
    if not (path.exists() and manifest_path.exists()):
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") != key or manifest.get("graph_checksum") != graph_checksum:
            return None
        with np.load(path, allow_pickle=False) as data:
            blob = data["keys"].tobytes().decode("utf-8")
            keys = blob.split("\n") if blob else []
            values = data["values"].astype(np.int64)
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
        warn(Warnings.W002.format(problem=f"ignoring unreadable linker cache {path} ({exc}); rebuilding"))
        return None
    if len(keys) != len(values) or len(keys) != manifest.get("num_patterns"):
        return None
    stats = MatcherStats(num_nodes=manifest.get("num_nodes", 0), num_patterns=len(keys),
                         dropped=manifest.get("dropped", {}), collisions=manifest.get("collisions", 0))
    return keys, values, stats

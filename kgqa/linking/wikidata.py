"""Wikidata entity linking: alias-table candidates, disambiguated by context and priors.

For any loaded graph whose node names are QIDs (CoDEx, a dump-built graph), a
:class:`WikidataLinker` finds mentions by longest match of an
:class:`~kgqa.linking.alias_table.AliasTable` over the normalised text and picks, for each,
the candidate item that best fits the text, or none (NIL).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.linking.alias_table import AliasTable, cache_dir, cache_key, tokenize
from kgqa.linking.types import LinkResult, Mention
from kgqa.utils.io import atomic_write_bytes, sha256_bytes

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.encoders.sentence import SentenceEncoder
    from kgqa.kg.store import KnowledgeGraph

SOURCE = "wikidata"
_PREPOSITIONS = frozenset({"of", "in", "by", "after", "at", "for", "with", "to", "from", "on", "as"})
#: The shared ERNIE sample, relative to the data folder (used by :meth:`WikidataLinker.for_graph`).
ERNIE_SAMPLE = Path("samples") / "ernie" / "wiki_sample_decoded.jsonl.gz"


class TextEncoder(Protocol):
    """What the linker needs of an encoder: unit vectors for texts, and a name for the cache."""

    model_name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True, slots=True)
class ScoredCandidate:
    """One candidate item of a mention with the parts of its score.

    Attributes:
        node_id: graph node id of the item.
        qid: its node name (``"Q90"``).
        label: display label.
        context: cosine similarity of the text's context and the item's description, or
            ``None`` when the linker has no encoder.
        anchor_prior: ``P(qid | alias)`` from the alias table.
        popularity: ``log(1 + degree) / log(1 + max degree)`` in the graph.
        score: the combined score (see :class:`WikidataLinker`).
    """

    node_id: int
    qid: str
    label: str
    context: float | None
    anchor_prior: float
    popularity: float
    score: float


@dataclass(frozen=True, slots=True)
class MentionCandidates:
    """A detected span and all its scored candidates, best first (before the NIL cut)."""

    start: int
    end: int
    text: str
    alias: str
    candidates: tuple[ScoredCandidate, ...]

    @property
    def best(self) -> ScoredCandidate:
        return self.candidates[0]


class WikidataLinker:
    r"""Links text to the items of a Wikidata graph.

    **Candidates.** The normalised text is scanned left to right for the longest alias in the
    table (at most 8 tokens). The table keeps the names of items outside the graph too, so
    ``"sub-Saharan Africa"`` is one (unlinked) span, not a link to *Africa*; aliases made of
    stop words only are never in the table, and an alias whose link probability in the mined
    anchor text is below ``min_link_probability`` is passed over (a shorter one may match).
    A span's candidates are its alias's items that are graph nodes.

    **Score.** For a mention :math:`m` in text :math:`x` and candidate item :math:`q`:

    .. math::
        s(q) = (1 - \lambda)\,\max\bigl(0, \cos(\mathbf{e}_x, \mathbf{e}_q)\bigr)
               + \lambda\,\bigl[\beta\,P(q \mid m) + (1 - \beta)\,
               \tfrac{\log(1 + \deg q)}{\log(1 + \max_v \deg v)}\bigr]

    where :math:`\mathbf{e}_x` is the sentence embedding of the text (or of a window of
    ``context_tokens`` tokens around the mention in a longer text), :math:`\mathbf{e}_q` that of
    the item's description -- its label, its dump description if any, and up to ``neighbours``
    facts about labelled graph neighbours, highest degree first, at most two per relation
    (``"occupation: actor"``; for incoming edges ``"capital of France"``, or
    ``"Eiffel Tower located in"`` when the relation label ends in a preposition) -- :math:`P(q \mid
    m)` the anchor prior of the alias table, :math:`\lambda` = ``prior_weight`` (default 0.4)
    and :math:`\beta` = ``anchor_share`` (default 0.5). Every term lies in :math:`[0, 1]`, so
    :math:`s` does too. Without an encoder the context term is dropped:
    :math:`s = \beta P + (1 - \beta)\,\mathrm{pop}`.

    **NIL.** The best candidate is linked when :math:`s \ge` ``nil_threshold`` (default 0.35);
    otherwise the mention is dropped, and a text left without mentions says why in
    :attr:`LinkResult.reason`.

    The defaults were chosen on a development split of the ERNIE sample (aliases from articles
    0-59, scored on articles 60-79; ``benchmarks/wikidata_linking.py`` reports articles 80-99).

    Description embeddings are computed once per graph and cached next to it
    (``linking/wikidata_vectors-KEY.npy``, the key over the graph checksum, the encoder name
    and the description texts).

    Args:
        graph: a graph whose node names are QIDs.
        aliases: the alias table; ``None`` uses the graph's labels only (see :meth:`for_graph`
            for anchor texts and dumps).
        encoder: ``"minilm"`` (or another name for
            :class:`~kgqa.encoders.sentence.SentenceEncoder`), an encoder instance, or ``None``
            for priors only.
        nil_threshold: minimum combined score of a link.
        prior_weight: :math:`\lambda`, the weight of the priors against the context.
        anchor_share: :math:`\beta`, the anchor prior's share of the prior term.
        min_link_probability: skip aliases linked in fewer than this share of their
            occurrences in the mined text (0 keeps all).
        neighbours: neighbour facts in a candidate's description.
        context_tokens: texts up to this many tokens are the context as a whole; longer ones
            use a window of this size around each mention.
        max_chars: longer texts are not linked (the result's ``reason`` says so).
        cache: read and write the embedding cache.

    Example::

        >>> kg = KnowledgeGraph.load("codex_m")
        >>> linker = WikidataLinker.for_graph(kg)
        >>> [(m.text, m.node, m.label) for m in linker.link("Paris is the capital of France.").mentions]
        [('Paris', 'Q90', 'paris'), ('France', 'Q142', 'france')]
    """

    def __init__(self, graph: KnowledgeGraph, *, aliases: AliasTable | None = None,
                 encoder: str | SentenceEncoder | TextEncoder | None = "minilm",
                 nil_threshold: float = 0.35, prior_weight: float = 0.4,
                 anchor_share: float = 0.5, min_link_probability: float = 0.02,
                 neighbours: int = 8, context_tokens: int = 48, max_chars: int = 10_000,
                 cache: bool = True):
        for name, value in (("prior_weight", prior_weight), ("anchor_share", anchor_share),
                            ("min_link_probability", min_link_probability)):
            if not 0.0 <= value <= 1.0:
                raise KGQAError(Errors.E015.format(problem=f"{name} must be in [0, 1], got {value}"))
        self.graph = graph
        self.aliases = aliases if aliases is not None else AliasTable.build(graph)
        self.nil_threshold = float(nil_threshold)
        self.prior_weight = float(prior_weight)
        self.anchor_share = float(anchor_share)
        self.min_link_probability = float(min_link_probability)
        self.neighbours = int(neighbours)
        self.context_tokens = int(context_tokens)
        self.max_chars = int(max_chars)
        self.cache = cache
        if isinstance(encoder, str):
            self._encoder_name: str | None = encoder
            self._encoder = None
        elif encoder is None:
            self._encoder_name = self._encoder = None
        else:
            self._encoder = encoder
            self._encoder_name = str(getattr(encoder, "model_name", type(encoder).__name__))
        self.max_tokens = self.aliases.max_tokens
        self._first_tokens = {alias.split(" ", 1)[0] for alias in self.aliases.aliases}
        self._alias_candidates: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        degree = np.asarray(graph.degree, dtype=np.float64)
        top = math.log1p(degree.max()) if len(degree) else 0.0
        self._popularity = np.log1p(degree) / top if top > 0 else np.zeros_like(degree)
        self._rows: dict[int, int] | None = None
        self._vectors: np.ndarray | None = None
        #: path and hit/miss of the embedding cache, once the vectors are loaded
        self.vectors_cache: dict | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_graph(cls, graph: KnowledgeGraph, *,
                  ernie_sample: str | Path | Literal[False] | None = None,
                  dump: str | Path | None = None, cache: bool = True,
                  **kwargs) -> "WikidataLinker":
        """A linker with the richest alias table available, cached next to the graph.

        Args:
            graph: a graph whose node names are QIDs.
            ernie_sample: the decoded ERNIE sample for anchor texts; ``None`` looks for it in
                the shared data folder (``samples/ernie/``) and goes without when it is not
                there; ``False`` never uses it.
            dump: a Wikidata JSON dump for full labels, aliases and descriptions.
            cache: read and write the alias-table and embedding caches.
            **kwargs: the linker's other options (``encoder``, ``nil_threshold``...).
        """
        if ernie_sample is None:
            from kgqa.paths import data_dir

            shared = data_dir(required=False)
            found = shared / ERNIE_SAMPLE if shared is not None else None
            ernie_sample = found if found is not None and found.is_file() else None
        elif ernie_sample is False:
            ernie_sample = None
        table = AliasTable.for_graph(graph, ernie_sample=ernie_sample, dump=dump, cache=cache)
        return cls(graph, aliases=table, cache=cache, **kwargs)

    # ------------------------------------------------------------------ candidates
    def _candidates(self, alias: str) -> tuple[np.ndarray, np.ndarray]:
        """``(node ids, anchor priors)`` of an alias's candidates that are graph nodes."""
        found = self._alias_candidates.get(alias)
        if found is None:
            prior = self.aliases.prior(alias, normalised=True)
            ids, priors = [], []
            for qid, p in sorted(prior.items()):
                node = self.graph.get_node_id(qid)
                if node is not None:
                    ids.append(node)
                    priors.append(p)
            found = (np.asarray(ids, dtype=np.int64), np.asarray(priors, dtype=np.float64))
            self._alias_candidates[alias] = found
        return found

    def detect(self, text: str) -> list[tuple[int, int, str]]:
        """Longest-match alias spans ``(start, end, alias)`` of a text, left to right."""
        tokens = tokenize(text)
        words = [t for t, _, _ in tokens]
        spans: list[tuple[int, int, str]] = []
        i = 0
        while i < len(words):
            step = 1
            if words[i] in self._first_tokens:
                for n in range(min(self.max_tokens, len(words) - i), 0, -1):
                    alias = " ".join(words[i:i + n])
                    if alias in self.aliases and self._keyphrase(alias):
                        if len(self._candidates(alias)[0]):
                            spans.append((tokens[i][1], tokens[i + n - 1][2], alias))
                        step = n  # a name of items outside the graph still covers its words
                        break
            i += step
        return spans

    def _keyphrase(self, alias: str) -> bool:
        probability = self.aliases.link_probability(alias)
        return probability is None or probability >= self.min_link_probability

    # ------------------------------------------------------------------ descriptions
    def label(self, node: int) -> str:
        """Display label of a node: the alias table's, else the graph's, else the QID."""
        qid = self.graph.node_name(node)
        return self.aliases.labels.get(qid) or self.graph.node_labels.get(int(node)) or qid

    def _known_label(self, node: int) -> str | None:
        qid = self.graph.node_names[node]
        return self.aliases.labels.get(qid) or self.graph.node_labels.get(int(node))

    def describe(self, node: int | str) -> str:
        """The text a candidate is embedded from: label, description, neighbour facts.

        >>> linker.describe("Q90")   # doctest: +SKIP
        'paris. capital of france; country: france; instance of: city'
        """
        node = self.graph.node_id(node) if isinstance(node, str) else int(node)
        qid = self.graph.node_names[node]
        parts = [self.label(node)]
        description = self.aliases.descriptions.get(qid)
        if description:
            parts.append(description)
        facts = self._neighbour_facts(node)
        if facts:
            parts.append("; ".join(facts))
        return ". ".join(parts)

    def _neighbour_facts(self, node: int) -> list[str]:
        if self.neighbours <= 0:
            return []
        nb = self.graph.neighbors(node)
        degree = self.graph.degree
        relation_labels = self.graph.manifest.get("relation_labels", {})
        r = self.graph.num_relations
        order = sorted(range(len(nb)), key=lambda k: (-int(degree[nb.nodes[k]]), int(nb.nodes[k]),
                                                     int(nb.relations[k])))
        facts: list[str] = []
        per_relation: dict[int, int] = {}
        for k in order:
            other = int(nb.nodes[k])
            label = self._known_label(other)
            if not label:
                continue
            rel = int(nb.relations[k])
            if per_relation.get(rel % r, 0) >= 2:
                continue
            name = relation_labels.get(self.graph.relations[rel % r])
            if name is None:
                fact = label
            elif rel < r:
                fact = f"{name}: {label}"
            elif name.rsplit(" ", 1)[-1] in _PREPOSITIONS:  # "Eiffel Tower located in"
                fact = f"{label} {name}"
            else:  # "capital of France"
                fact = f"{name} of {label}"
            if fact in facts:
                continue
            facts.append(fact)
            per_relation[rel % r] = per_relation.get(rel % r, 0) + 1
            if len(facts) >= self.neighbours:
                break
        return facts

    # ------------------------------------------------------------------ embeddings
    @property
    def encoder(self) -> TextEncoder | None:
        """The sentence encoder (loaded on first use), or ``None`` for priors only."""
        if self._encoder is None and self._encoder_name is not None:
            from kgqa.encoders.sentence import get_sentence_encoder

            self._encoder = get_sentence_encoder(self._encoder_name)
        return self._encoder

    def candidate_vectors(self) -> tuple[dict[int, int], np.ndarray]:
        """``(node id -> row, (C, dim) unit vectors)`` of every candidate's description.

        Read from the cache next to the graph when its key matches, else encoded and saved.
        """
        if self._vectors is not None:
            return self._rows, self._vectors
        encoder = self.encoder
        if encoder is None:
            raise KGQAError(Errors.E015.format(problem="this WikidataLinker has no encoder"))
        nodes = sorted({n for q in self.aliases.qids
                        if (n := self.graph.get_node_id(q)) is not None})
        texts = [self.describe(n) for n in nodes]
        key = cache_key({"graph": self.graph.checksum, "encoder": self._encoder_name,
                         "texts": sha256_bytes("\n".join(texts).encode("utf-8"))})
        path = cache_dir(self.graph) / f"wikidata_vectors-{key}.npy"
        vectors = None
        if self.cache and path.is_file():
            try:
                vectors = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise KGQAError(Errors.E019.format(path=path, problem=f"unreadable ({exc})")) from exc
            if vectors.ndim != 2 or vectors.shape[0] != len(texts):
                raise KGQAError(Errors.E019.format(
                    path=path, problem=f"shape {vectors.shape}, expected ({len(texts)}, dim)"))
            self.vectors_cache = {"path": str(path), "hit": True}
        if vectors is None:
            vectors = self._encode(texts)
            if self.cache:
                buffer = io.BytesIO()
                np.save(buffer, vectors, allow_pickle=False)
                atomic_write_bytes(path, buffer.getvalue())
                self.vectors_cache = {"path": str(path), "hit": False}
        self._rows = {n: i for i, n in enumerate(nodes)}
        self._vectors = vectors
        return self._rows, self._vectors

    def _encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) vectors, encoded in order of length so batches pad little."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        encoded = np.asarray(self.encoder.encode([texts[i] for i in order]), dtype=np.float32)
        vectors = np.empty_like(encoded.reshape(len(texts), -1))
        vectors[order] = encoded.reshape(len(texts), -1)
        return vectors

    def _context(self, text: str, tokens: list[tuple[str, int, int]], start: int, end: int) -> str:
        if len(tokens) <= self.context_tokens:
            return text
        first = next(i for i, t in enumerate(tokens) if t[2] > start)
        last = max(i for i, t in enumerate(tokens) if t[1] < end)
        half = max(0, (self.context_tokens - (last - first + 1)) // 2)
        lo = max(0, first - half)
        hi = min(len(tokens), lo + self.context_tokens)
        lo = max(0, hi - self.context_tokens)
        return text[tokens[lo][1]:tokens[hi - 1][2]]

    # ------------------------------------------------------------------ scoring
    def rank(self, texts: Sequence[str]) -> list[list[MentionCandidates]]:
        """Every detected span of every text with all its candidates scored, best first."""
        detected = []
        contexts: dict[str, int] = {}
        for text in texts:
            tokens = tokenize(text)
            spans = self.detect(text)
            items = []
            for start, end, alias in spans:
                context = self._context(text, tokens, start, end)
                items.append((start, end, alias, contexts.setdefault(context, len(contexts))))
            detected.append(items)
        context_vectors = None
        if self._encoder_name is not None and contexts:
            rows, vectors = self.candidate_vectors()
            context_vectors = self._encode(list(contexts))
        out = []
        for text, items in zip(texts, detected):
            ranked = []
            for start, end, alias, context_index in items:
                nodes, priors = self._candidates(alias)
                popularity = self._popularity[nodes]
                prior_term = self.anchor_share * priors + (1.0 - self.anchor_share) * popularity
                if context_vectors is not None:
                    sims = vectors[[rows[int(n)] for n in nodes]] @ context_vectors[context_index]
                    sims = sims.astype(np.float64)
                    scores = ((1.0 - self.prior_weight) * np.clip(sims, 0.0, 1.0)
                              + self.prior_weight * prior_term)
                else:
                    sims = None
                    scores = prior_term
                order = np.lexsort((nodes, -scores))
                candidates = tuple(ScoredCandidate(
                    node_id=int(nodes[k]), qid=self.graph.node_names[int(nodes[k])],
                    label=self.label(int(nodes[k])),
                    context=float(sims[k]) if sims is not None else None,
                    anchor_prior=float(priors[k]), popularity=float(popularity[k]),
                    score=float(scores[k])) for k in order)
                ranked.append(MentionCandidates(start, end, text[start:end], alias, candidates))
            out.append(ranked)
        return out

    # ------------------------------------------------------------------ linking
    def link(self, text: str) -> LinkResult:
        """Link one text (see :meth:`link_batch`)."""
        return self.link_batch([text])[0]

    def link_batch(self, texts: Iterable[str]) -> list[LinkResult]:
        """Link many texts; contexts are encoded together, in batches.

        A text that cannot be linked gives a result with a ``reason`` (``"empty text"``,
        ``"text too long"``, ``"no alias of a graph item found"``, ``"all mentions below the NIL
        threshold"``) or, when it is not a string, an ``error``; it never sinks the batch.
        """
        texts = list(texts)
        results: list[LinkResult | None] = [None] * len(texts)
        todo: list[int] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                results[i] = LinkResult(text=repr(text)[:200],
                                        error=f"expected a string, got {type(text).__name__}")
            elif not text.strip():
                results[i] = LinkResult(text=text, reason="empty text")
            elif len(text) > self.max_chars:
                results[i] = LinkResult(text=text, reason=(
                    f"text too long ({len(text):,} characters; the limit is {self.max_chars:,})"))
            else:
                todo.append(i)
        ranked = self.rank([texts[i] for i in todo])
        for i, spans in zip(todo, ranked):
            results[i] = self._result(texts[i], spans)
        return results

    def _result(self, text: str, spans: list[MentionCandidates]) -> LinkResult:
        if not spans:
            return LinkResult(text=text, reason="no alias of a graph item found")
        mentions = tuple(
            Mention(start=s.start, end=s.end, text=s.text, node_id=s.best.node_id,
                    node=s.best.qid, kind="alias", score=round(min(1.0, max(0.0, s.best.score)), 6),
                    source=SOURCE, label=s.best.label)
            for s in spans if s.best.score >= self.nil_threshold)
        if mentions:
            return LinkResult(text=text, mentions=mentions)
        best = max(spans, key=lambda s: s.best.score)
        return LinkResult(text=text, reason=(
            f"all mentions below the NIL threshold {self.nil_threshold:g} (best: "
            f"'{best.text}' -> {best.best.qid} at {best.best.score:.3f})"))

    def __repr__(self) -> str:
        return (f"WikidataLinker(graph={self.graph.name!r}, aliases={len(self.aliases):,}, "
                f"encoder={self._encoder_name!r}, nil_threshold={self.nil_threshold})")


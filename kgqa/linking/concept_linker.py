"""Link text to ConceptNet concepts: lemma and surface matches, longest first, overlaps resolved.

For one text (a question or an answer choice) the linker

1. tokenizes and lemmatizes it with spaCy (:mod:`kgqa.linking.lemmatize`);
2. finds every concept whose tokens equal a run of the text's **lemmas** (``dug`` -> ``dig``,
   ``flowers`` -> ``flower``) or of its lower-cased **surface** tokens (``ice cream`` ->
   ``ice_cream``, names the graph stores unlemmatized) with the Aho-Corasick matcher
   (:mod:`kgqa.linking.matcher`); a span matched both ways keeps the lemma's concept; spans that
   neither finds may still match with ``-ing``/``-ed`` nouns and adjectives read as verbs
   (``shopping bag`` -> ``shop_bag``, how ConceptNet 4 normalised its names);
3. drops one-token hits on function-word tokens (``near`` as a preposition);
4. for an answer choice, adds the whole choice when it is a concept (kind ``"whole_choice"``,
   tried as written, lower-cased, with its last word lemmatized, fully lemmatized);
5. resolves overlaps greedily: longer spans first, then the better-connected concept (higher
   degree), then the earlier one; a hit that overlaps a chosen span is dropped;
6. also links the parts of a chosen multi-word span (resolved the same way inside it) when the
   span **contains a verb** (``plant flowers`` -> ``plant_flower`` *and* ``plant``, ``flower``)
   or its concept is **weakly connected** (fewer than ``min_phrase_degree`` = 10 edges:
   ``paper_bag`` has 3, so ``paper`` and ``bag`` come too). Event phrases are compositional and a
   near-isolated compound cannot stand for its words in retrieval; well-connected noun compounds
   (``ice_cream`` 114 edges, ``apple_tree`` 133) are kept whole. ``phrase_parts=False`` turns
   this off.

Stop words and over-generic concepts never become patterns (:mod:`kgqa.linking.filters`).
Generic content nouns such as ``man``, ``person`` and ``tool`` stay linkable, as in QA-GNN: they
are CommonsenseQA's most frequent ``question_concept`` values.

Every match is exact, so every mention has ``score=1.0``. Control characters are replaced by
spaces first (offsets keep pointing into the given text). A text with nothing linkable gives an
empty :class:`~kgqa.linking.types.LinkResult` with a ``reason``; an unusable text (see
:mod:`kgqa.linking.checks`) gives one with ``error`` set. Batches never raise for one bad text;
a ``str`` where a list of texts is expected raises ``[E141]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from kgqa.errors import Errors, KGQAError
from kgqa.linking.checks import (EMPTY_TEXT, MAX_CHARS, NO_CONCEPT, check_text, qa_inputs,
                                 strip_control_characters, text_list)
from kgqa.linking.filters import FUNCTION_POS
from kgqa.linking.lemmatize import DEFAULT_MODEL, TextTokens, VerbLemmatizer, analyze, doc_tokens, load_nlp
from kgqa.linking.matcher import Candidate, ConceptMatcher
from kgqa.linking.types import LinkResult, Mention, QALinks

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc

    from kgqa.kg.store import KnowledgeGraph

_WHOLE, _SURFACE, _LEMMA = "whole_choice", "surface", "lemma"


@dataclass(frozen=True)
class LinkerConfig:
    """Options of :class:`ConceptLinker`.

    Args:
        max_tokens: longest concept (in tokens) the matcher looks for (QA-GNN: 4).
        phrase_parts: also link the parts of a multi-word match that contains a verb or whose
            concept has fewer than ``min_phrase_degree`` edges.
        min_phrase_degree: see ``phrase_parts``.
        verb_forms: also match ``-ing``/``-ed`` nouns and adjectives by their verb lemma.
        whole_choice: link an answer choice as one concept when it is one.
        drop_pos: POS tags on which a one-token match is dropped.
        max_chars: longer texts are refused with an error record.
        batch_size: ``nlp.pipe`` batch size.
        model: spaCy pipeline used for lemmas.
        cache: load/save the matcher patterns under ``<graph>/cache``.
    """

    max_tokens: int = 4
    phrase_parts: bool = True
    min_phrase_degree: int = 10
    verb_forms: bool = True
    whole_choice: bool = True
    drop_pos: frozenset[str] = field(default=FUNCTION_POS)
    max_chars: int = MAX_CHARS
    batch_size: int = 256
    model: str = DEFAULT_MODEL
    cache: bool = True


class ConceptLinker:
    """Links questions and answer choices to the concepts of a ConceptNet-style graph.

    Args:
        graph: a :class:`~kgqa.kg.store.KnowledgeGraph`, or its name/path.
        config: a :class:`LinkerConfig`; keyword ``options`` override its fields.
        nlp: a spaCy pipeline with tagger and lemmatizer (default: :func:`load_nlp`, loaded on
            first use).

    Example::

        >>> linker = ConceptLinker("default")
        >>> qa = linker.link_qa("A man dug the ground to plant flowers. What tool did he use?",
        ...                     ["shovel", "hammer"])
        >>> qa.question.nodes
        ['man', 'dig', 'ground', 'plant_flower', 'plant', 'flower', 'tool', 'use']
        >>> qa.choices[0].mentions[0].kind
        'whole_choice'
    """

    source = "conceptnet"

    def __init__(self, graph: "KnowledgeGraph | str" = "default", config: LinkerConfig | None = None, *,
                 nlp: "Language | None" = None, **options):
        from kgqa.kg.store import KnowledgeGraph

        unknown = sorted(set(options) - {f.name for f in fields(LinkerConfig)})
        if unknown:
            raise KGQAError(Errors.E013.format(kind="linker option", name=", ".join(unknown),
                                               known=", ".join(f.name for f in fields(LinkerConfig))))
        self.kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph)
        self.config = replace(config or LinkerConfig(), **options)
        if not isinstance(self.config.drop_pos, frozenset):
            self.config = replace(self.config, drop_pos=frozenset(self.config.drop_pos))
        self.matcher = ConceptMatcher.for_graph(self.kg, max_tokens=self.config.max_tokens, cache=self.config.cache)
        self._names = self.kg.node_names
        self._degree = self.kg.degree
        self._nlp = nlp
        self._verbs: VerbLemmatizer | None = None

    @property
    def nlp(self) -> "Language":
        if self._nlp is None:
            self._nlp = load_nlp(self.config.model)
        return self._nlp

    @property
    def verbs(self) -> VerbLemmatizer | None:
        """Verb lemmas from the linker's own pipeline (``None`` with ``verb_forms=False``)."""
        if self._verbs is None and self.config.verb_forms:
            self._verbs = VerbLemmatizer(self.nlp)
        return self._verbs

    def __repr__(self) -> str:
        return f"ConceptLinker(graph={self.kg.name!r}, patterns={len(self.matcher):,})"

    # ------------------------------------------------------------------ public API
    def link(self, text: str, *, as_choice: bool = False) -> LinkResult:
        """Link one text (``as_choice=True`` for an answer choice: tries the whole choice too)."""
        return self._link_many([(text, as_choice)])[0]

    def link_batch(self, texts: Iterable[str], *, as_choice: bool = False) -> list[LinkResult]:
        """Link many texts with one ``nlp.pipe`` pass; one result per text, in order.

        A bad text (see :mod:`kgqa.linking.checks`) gives a result with ``error`` set and never
        stops the batch. Identical texts are analysed once.

        Raises:
            KGQAError: ``[E141]`` when ``texts`` is one string (or not iterable) instead of a list.
        """
        texts = text_list(texts, function="link_batch()", one_text_hint="; to link one text use link()",
                          check_items=False)
        return self._link_many([(t, as_choice) for t in texts])

    def link_qa(self, question: str, choices: Sequence[str]) -> QALinks:
        """Question concepts and each choice's concepts, kept apart.

        Raises:
            KGQAError: ``[E141]`` when ``question`` is not a ``str`` or ``choices`` is not a list
                of ``str`` (one string would link each of its characters as a choice).
        """
        question, choices = qa_inputs(question, choices)
        return self.link_qa_batch([question], [choices])[0]

    def link_qa_batch(self, questions: Sequence[str], choices: Sequence[Sequence[str]]) -> list[QALinks]:
        """:meth:`link_qa` for many questions in one ``nlp.pipe`` pass."""
        items, shape = [], []
        for question, options in zip(questions, choices, strict=True):
            items.append((question, False))
            items.extend((c, True) for c in options)
            shape.append(len(options))
        results = self._link_many(items)
        out, pos = [], 0
        for n in shape:
            out.append(QALinks(question=results[pos], choices=tuple(results[pos + 1:pos + 1 + n])))
            pos += 1 + n
        return out

    def link_doc(self, doc: "Doc", *, as_choice: bool = False) -> LinkResult:
        """Link a spaCy ``Doc`` already processed by a pipeline (the spaCy component's path).

        Uses the doc's lemmas and POS tags when it has them, else surface forms only.
        """
        error = check_text(doc.text, max_chars=self.config.max_chars)
        if error is not None:
            return LinkResult(text=doc.text, reason=error, error=error)
        has_lemmas = doc.has_annotation("LEMMA")
        tokens = doc_tokens(doc, use_lemmas=has_lemmas, verbs=self.verbs if has_lemmas else None)
        return self._safe_link(tokens, as_choice)

    # ------------------------------------------------------------------ batching
    def _link_many(self, items: list[tuple[object, bool]]) -> list[LinkResult]:
        results: list[LinkResult | None] = [None] * len(items)
        pending: dict[str, list[int]] = {}
        for i, (text, _) in enumerate(items):
            if isinstance(text, str):
                text = strip_control_characters(text)[0]
            error = check_text(text, max_chars=self.config.max_chars)
            if error is not None:
                results[i] = LinkResult(text=text if isinstance(text, str) else "", reason=error, error=error)
            elif not text.strip():
                results[i] = LinkResult(text=text, reason=EMPTY_TEXT)
            else:
                pending.setdefault(text, []).append(i)
        for text, tokens in zip(pending, self._analyze(list(pending))):
            done: dict[bool, LinkResult] = {}
            for i in pending[text]:
                as_choice = items[i][1]
                if as_choice not in done:
                    done[as_choice] = (tokens if isinstance(tokens, LinkResult)
                                       else self._safe_link(tokens, as_choice))
                results[i] = done[as_choice]
        return results  # type: ignore[return-value]

    def _analyze(self, texts: list[str]) -> list[TextTokens | LinkResult]:
        """Tokens of every text; if spaCy fails on a batch, retry one by one to isolate the text."""
        try:
            return list(analyze(self.nlp, texts, batch_size=self.config.batch_size, verbs=self.verbs))
        except Exception:  # noqa: BLE001 - isolate the failing text instead of failing the batch
            out: list[TextTokens | LinkResult] = []
            for text in texts:
                try:
                    out.append(next(analyze(self.nlp, [text], verbs=self.verbs)))
                except Exception as exc:  # noqa: BLE001
                    message = f"spaCy failed on this text: {type(exc).__name__}: {exc}"
                    out.append(LinkResult(text=text, reason=message, error=message))
            return out

    def _safe_link(self, tokens: TextTokens, as_choice: bool) -> LinkResult:
        try:
            return self.link_tokens(tokens, as_choice=as_choice)
        except Exception as exc:  # noqa: BLE001 - one text's failure is its own error record
            message = f"internal error while linking: {type(exc).__name__}: {exc}"
            return LinkResult(text=tokens.text, reason=message, error=message)

    # ------------------------------------------------------------------ the linking itself
    def link_tokens(self, tokens: TextTokens, *, as_choice: bool = False) -> LinkResult:
        """Link an analysed text (steps 2-6 of the module docstring)."""
        if len(tokens) == 0:
            return LinkResult(text=tokens.text, reason=EMPTY_TEXT)
        spans = self._candidates(tokens)
        if as_choice and self.config.whole_choice:
            node = self._whole_choice(tokens)
            if node is not None:
                spans[(0, len(tokens))] = (node, _WHOLE)
        chosen = self._resolve(spans, 0, len(tokens))
        if self.config.phrase_parts:
            parts = []
            for start, end in chosen:
                if end - start > 1 and self._has_parts(tokens, start, end, spans[(start, end)][0]):
                    inner = {k: v for k, v in spans.items() if start <= k[0] and k[1] <= end and k != (start, end)}
                    parts += self._resolve(inner, start, end)
            chosen += parts
        if not chosen:
            return LinkResult(text=tokens.text, reason=NO_CONCEPT)
        chosen.sort(key=lambda se: (se[0], -se[1]))
        mentions = []
        for start, end in chosen:
            node, kind = spans[(start, end)]
            c0, c1 = tokens.starts[start], tokens.ends[end - 1]
            name = self._names[node]
            mentions.append(Mention(start=c0, end=c1, text=tokens.text[c0:c1], node_id=node, node=name,
                                    kind=kind, score=1.0, source=self.source, label=name.replace("_", " ")))
        return LinkResult(text=tokens.text, mentions=tuple(mentions))

    def _has_parts(self, tokens: TextTokens, start: int, end: int, node: int) -> bool:
        """A multi-word match also links its parts: it contains a verb, or it is weakly connected."""
        if any(tag in ("VERB", "AUX") for tag in tokens.pos[start:end]):
            return True
        return int(self._degree[node]) < self.config.min_phrase_degree

    def _candidates(self, tokens: TextTokens) -> dict[tuple[int, int], tuple[int, str]]:
        """``(start, end) -> (node, kind)`` of every hit; a span's lemma concept beats its surface one."""
        spans: dict[tuple[int, int], tuple[int, str]] = {}
        hits: list[Candidate] = self.matcher.find(tokens.lemmas, _LEMMA)
        for c in hits:
            spans[(c.start, c.end)] = (c.node_id, _LEMMA)
        if tokens.surface != tokens.lemmas:
            for c in self.matcher.find(tokens.surface, _SURFACE):
                key = (c.start, c.end)
                prior = spans.get(key)
                if prior is None or prior[0] == c.node_id:
                    spans[key] = (c.node_id, _SURFACE)
        else:
            spans = {k: (v[0], _SURFACE) for k, v in spans.items()}
        if tokens.verb_lemmas is not None:
            for c in self.matcher.find(tokens.verb_lemmas, _LEMMA):
                spans.setdefault((c.start, c.end), (c.node_id, _LEMMA))
        drop = self.config.drop_pos
        if drop:
            spans = {k: v for k, v in spans.items() if k[1] - k[0] > 1 or tokens.pos[k[0]] not in drop}
        return spans

    def _resolve(self, spans: dict, lo: int, hi: int) -> list[tuple[int, int]]:
        """Greedy non-overlapping choice in tokens ``[lo, hi)``: longest, best-connected, earliest."""
        degree = self._degree
        order = sorted(spans, key=lambda se: (se[0] - se[1], -int(degree[spans[se][0]]), se[0]))
        taken = [False] * (hi - lo)
        chosen = []
        for start, end in order:
            if any(taken[start - lo:end - lo]):
                continue
            for t in range(start - lo, end - lo):
                taken[t] = True
            chosen.append((start, end))
        return chosen

    def _whole_choice(self, tokens: TextTokens) -> int | None:
        """Node of the whole choice: as written, lower-cased tokens, last word lemmatized, all lemmas."""
        kg = self.kg
        raw = "_".join(tokens.text.lower().split())
        candidates = (raw, "_".join(tokens.surface), "_".join(tokens.surface[:-1] + tokens.lemmas[-1:]),
                      "_".join(tokens.lemmas))
        for name in candidates:
            node = kg.get_node_id(name)
            if node is not None:
                return node
        return None

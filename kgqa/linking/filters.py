"""Which graph concepts the ConceptNet linker may link: stop words and over-generic concepts.

A concept name becomes a matcher pattern (a token sequence, see :mod:`kgqa.linking.matcher`)
unless one of these rules drops it (:func:`pattern_filter_reason`):

* ``"stop word"``: a one-token concept that is an English function word (:data:`STOP_WORDS`:
  pronouns, determiners, auxiliaries and modals, prepositions, conjunctions, wh-words,
  negation and clitics such as ``n't``/``'s``). It is the closed-class part of NLTK's English
  list, which QA-GNN/MHGRN use, plus spaCy's clitic tokens.
* ``"generic"``: a concept in :data:`GENERIC_CONCEPTS`: indefinite pronouns (``something``,
  ``someone``), hedges and light verbs (``likely``, ``want``, ``make``) that link to huge hubs
  and carry no question-specific meaning. It extends QA-GNN's ``blacklist`` in ``grounding.py``.
* ``"stop-word edge"``: a multi-word concept that starts with a word of :data:`LEADING_STOP_WORDS`
  or ends with one of :data:`TRAILING_STOP_WORDS` (``the_ground``, ``to_plant``, ``a_man``,
  ``plant_a``, ``go_to``): a longest-match would otherwise take ``"the ground"`` for
  ``the_ground`` instead of ``ground``. Stop words *inside* are fine (``go_to_store``), and so
  are a leading light verb (``have_fun``, ``be_hungry``, ``do_housework``), a leading preposition
  (``in_love``), a trailing particle (``give_up``, ``cool_off``) and the modals that are also
  nouns (``trash_can``, ``can_opener``, ``will_power``).
* ``"punctuation edge"``: a first or last token without a letter or digit (``'arm``, ``'_```).
* ``"too long"``: more than ``max_tokens`` tokens (QA-GNN drops concepts of 5+ tokens).

At link time one more rule uses the tagger: a one-token match on a function-word token
(:data:`FUNCTION_POS`: ``near``/``like`` as prepositions, ``every`` as a determiner) is dropped,
which catches closed-class words the list misses without losing ``like`` the verb.

Kept on purpose: ``man``, ``person``, ``people``, ``tool``, ``thing``-like content nouns that
CommonsenseQA uses as its ``question_concept`` (``person`` is the most frequent one) and that
QA-GNN keeps. Only the matcher applies the filters: an answer choice that *is* a filtered concept
(``"someone"``) still links as ``whole_choice``, because the choice is what gets scored.

Changing a list changes :func:`filters_fingerprint`, which is part of the matcher's cache key.
"""

from __future__ import annotations

import hashlib

#: English function words, lower-cased, as spaCy tokenizes and lemmatizes them.
STOP_WORDS: frozenset[str] = frozenset("""
i me my myself we us our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves one's
what which who whom whose this that these those
am is are was were be been being have has had having do does did doing
a an the and but if or because as until while of at by for with about against between into
through during before after above below to from up down in out on off over under again further
then once here there when where why how all any both each few more most other some such no nor
not only own same so than too very s t can will just don should now d ll m o re ve y ain aren
couldn didn doesn hadn hasn haven isn mightn mustn needn shan shouldn wasn weren wouldn
would could might may must shall ought cannot
n't 's 're 've 'd 'll 'm '
""".split())

_DETERMINERS_PRONOUNS = """
a an the this that these those some any each every either neither no another such
i me my mine we us our ours you your yours he him his she her hers it its they
them their theirs what which who whom whose where when why how
""".split()
_CONJUNCTIONS_MODALS_CLITICS = """
and but or nor if because as while than so though although whether to of
would could should shall ought cannot n't 's 're 've 'd 'll 'm '
""".split()
_AUXILIARIES = "am is are was were be been being have has had having do does did doing".split()

#: Words a multi-word concept may not start with.
LEADING_STOP_WORDS: frozenset[str] = frozenset(_DETERMINERS_PRONOUNS + _CONJUNCTIONS_MODALS_CLITICS)
#: Words a multi-word concept may not end with (reflexives such as ``express_yourself`` may).
TRAILING_STOP_WORDS: frozenset[str] = frozenset(_DETERMINERS_PRONOUNS + _CONJUNCTIONS_MODALS_CLITICS + _AUXILIARIES)

#: Universal POS tags of function words; one-token matches on such tokens are dropped.
FUNCTION_POS: frozenset[str] = frozenset({"DET", "PRON", "ADP", "CCONJ", "SCONJ", "PART", "AUX", "PUNCT", "SYM"})

#: Over-generic concepts never linked from text (names as stored in the graph).
GENERIC_CONCEPTS: frozenset[str] = frozenset("""
something someone somebody somewhere anything anyone anybody anywhere everything everyone
everybody everywhere nothing nobody nowhere one
actually likely possibly probably sometimes usually often also really maybe perhaps
want want_to make could_be sometimes_people
""".split())


def pattern_filter_reason(tokens: list[str] | tuple[str, ...], name: str, *, max_tokens: int = 4) -> str | None:
    """Why the concept ``name`` (tokenized as ``tokens``) is not a matcher pattern, or ``None``.

    Args:
        tokens: the concept's lower-cased tokens (``["ice", "cream"]``).
        name: the concept's node name (``"ice_cream"``).
        max_tokens: longest pattern kept.
    """
    if not tokens:
        return "empty"
    if len(tokens) > max_tokens:
        return "too long"
    if not (_has_alnum(tokens[0]) and _has_alnum(tokens[-1])):
        return "punctuation edge"
    if name in GENERIC_CONCEPTS:
        return "generic"
    if len(tokens) == 1:
        if tokens[0] in STOP_WORDS:
            return "stop word"
        if tokens[0] in GENERIC_CONCEPTS:
            return "generic"
        return None
    if tokens[0] in LEADING_STOP_WORDS or tokens[-1] in TRAILING_STOP_WORDS:
        return "stop-word edge"
    if all(t in STOP_WORDS or t in GENERIC_CONCEPTS or not _has_alnum(t) for t in tokens):
        return "stop word"
    return None


def filters_fingerprint() -> str:
    """sha256 of the filter lists (part of the matcher cache key)."""
    blob = "\0".join("\n".join(sorted(words)) for words in (
        STOP_WORDS, GENERIC_CONCEPTS, LEADING_STOP_WORDS, TRAILING_STOP_WORDS))
    return hashlib.sha256(blob.encode()).hexdigest()


def _has_alnum(token: str) -> bool:
    return any(c.isalnum() for c in token)

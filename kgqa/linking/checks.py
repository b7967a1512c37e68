"""Input checks of the linkers: which texts are refused, and why, before spaCy sees them.

Control characters (``\\x01``, ``ESC``..., every ``Cc`` character but tab, newline, carriage
return, vertical tab, form feed, NEL and NUL) are **replaced by spaces** before linking
(:func:`strip_control_characters`): the text keeps its length, so mention offsets index the given
text too, and "What \\x01 digs?" links like "What digs?". Every check then returns a one-line
reason instead of raising, so a batch can turn a bad text into an error record
(:attr:`LinkResult.error`) and go on with the rest:

* not a ``str`` (``None``, ``bytes``): ``"expected str, got bytes"``;
* longer than ``max_chars`` (default 10,000): **refused**, not truncated: a silently cut text
  would lose concepts without telling; split long documents into sentences or passages, or raise
  ``max_chars``;
* binary data: a NUL character, or more than 10% replacement (``U+FFFD``) or private-use
  characters;
* invalid text: a lone surrogate (``U+DCFF``: bytes that were not UTF-8, decoded leniently);
* not English: at least 8 letters, fewer than half of them Latin. English-only pipelines would
  link noise. Latin-script languages (French, German) are not detected; they link what matches.

Empty or whitespace-only text is not an error: it gives an empty result with the reason
``"empty text"`` (see :data:`EMPTY_TEXT`).

The public functions that take lists of texts check their arguments' shape with
:func:`text_list` (``[E141]``), and those that cannot work around invalid text refuse it with
:func:`require_valid_text` (``[E140]``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from kgqa.errors import Errors, KGQAError

#: Default longest text the linkers accept, in characters.
MAX_CHARS = 10_000
EMPTY_TEXT = "empty text"
NO_CONCEPT = "no concept found"

_LATIN_END = 0x024F  # Basic Latin .. Latin Extended-B
_MIN_LETTERS = 8
#: Control characters (``Cc``) but the line/space ones (tab, LF, VT, FF, CR, NEL) and NUL (which marks binary data).
CONTROL_CHARACTERS = re.compile(r"[\x01-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def strip_control_characters(text: str) -> tuple[str, int]:
    """``text`` with every control character (see :data:`CONTROL_CHARACTERS`) replaced by a space,
    and how many there were. The length is kept, so character offsets stay valid."""
    count = len(CONTROL_CHARACTERS.findall(text))
    return (CONTROL_CHARACTERS.sub(" ", text), count) if count else (text, 0)


def surrogate_problem(text: str) -> str | None:
    """Where ``text`` has a lone surrogate (it was decoded from bytes that are not UTF-8), or ``None``."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return f"lone surrogate U+{ord(found.group()):04X} at character {found.start() + 1}"


def require_valid_text(text: str, what: str) -> str:
    """``text`` itself, when it is valid Unicode text.

    Raises:
        KGQAError: ``[E140]`` naming ``what`` ("the question", "text 3") and where the lone
            surrogate is.
    """
    problem = surrogate_problem(text)
    if problem is not None:
        raise KGQAError(Errors.E140.format(what=what, problem=problem))
    return text


def _preview(value: object) -> str:
    """A short, terminal-safe picture of a value for error messages."""
    text = ascii(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text_list(value: object, *, function: str, argument: str = "texts", one_text_hint: str = "",
              check_items: bool = True) -> list:
    """``value`` as a list of texts, refusing what is not one.

    One ``str`` where a list is expected (``link_batch("shovel")`` would link each character),
    ``None`` or a non-iterable, and (with ``check_items``) items that are not ``str``, raise;
    nothing is converted.

    Args:
        value: what the caller passed.
        function: the public function, for the message (``"kgqa.link_batch()"``).
        argument: the argument's name.
        one_text_hint: appended when one text was given (e.g. ``"; to link one text use kgqa.link()"``).
        check_items: also refuse items that are not ``str`` (off where a bad item becomes an error
            record, as in ``link_batch``).

    Raises:
        KGQAError: ``[E141]`` saying what was expected and what was given.
    """
    expected = "a list of texts (str)"
    if isinstance(value, (str, bytes)):
        raise KGQAError(Errors.E141.format(function=function, argument=argument, expected=expected,
                                           got=f"one {type(value).__name__}, {_preview(value)}{one_text_hint}"))
    if value is None or not isinstance(value, Iterable) or isinstance(value, dict):
        raise KGQAError(Errors.E141.format(function=function, argument=argument, expected=expected,
                                           got=type(value).__name__))
    items = list(value)
    for i, item in enumerate(items if check_items else ()):
        if not isinstance(item, str):
            raise KGQAError(Errors.E141.format(
                function=function, argument=argument, expected=expected,
                got=f"{type(item).__name__} {_preview(item)} at position {i + 1}"))
    return items


def check_text(text: object, *, max_chars: int = MAX_CHARS) -> str | None:
    """Why ``text`` cannot be linked (an error message), or ``None`` when it can.

    Empty and whitespace-only strings pass (they are linkable to nothing, not an error), and so
    do control characters other than NUL (the linkers replace them by spaces first).
    """
    if not isinstance(text, str):
        return f"expected str, got {type(text).__name__}"
    if len(text) > max_chars:
        return (f"text too long: {len(text):,} characters > max_chars={max_chars:,}; split it into "
                f"sentences or passages, or raise max_chars")
    if "\x00" in text:
        return "binary data: the text contains NUL characters"
    if text.isascii():  # fast path: every letter is Latin, no replacement character
        return None
    problem = surrogate_problem(text)
    if problem is not None:
        return f"invalid text: {problem} (bytes that are not UTF-8, decoded leniently)"
    bad = letters = latin = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            if ord(ch) <= _LATIN_END:
                latin += 1
        elif ch == "\ufffd" or unicodedata.category(ch) == "Co":
            bad += 1
    if bad and bad > 0.1 * len(text):
        return f"binary data: {bad} of {len(text)} characters are replacement or private-use characters"
    if letters >= _MIN_LETTERS and latin < 0.5 * letters:
        return (f"not English: {letters - latin} of {letters} letters are outside the Latin script "
                f"(the linker's lemmatizer and vocabulary are English)")
    return None


def qa_inputs(question: object, choices: object, *, function: str = "link_qa()") -> tuple[str, list[str]]:
    """A question (one ``str``) and its choices (a list of ``str``), checked for shape.

    Raises:
        KGQAError: ``[E141]`` for a question that is not a ``str``, or choices that are ``None``,
            one string or hold a non-string.
    """
    if not isinstance(question, str):
        raise KGQAError(Errors.E141.format(function=function, argument="question", expected="a str",
                                           got=f"{type(question).__name__} {_preview(question)}"))
    return question, text_list(choices, function=function, argument="choices")

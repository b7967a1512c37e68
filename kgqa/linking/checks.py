"""Input checks of the linkers: which texts are refused, and why, before spaCy sees them.

Every check returns a one-line reason instead of raising, so a batch can turn a bad text into an
error record (:attr:`LinkResult.error`) and go on with the rest:

* not a ``str`` (``None``, ``bytes``): ``"expected str, got bytes"``;
* longer than ``max_chars`` (default 10,000): **refused**, not truncated: a silently cut text
  would lose concepts without telling; split long documents into sentences or passages, or raise
  ``max_chars``;
* binary data: a NUL character, or more than 10% control / replacement (``U+FFFD``) characters;
* not English: at least 8 letters, fewer than half of them Latin. English-only pipelines would
  link noise. Latin-script languages (French, German) are not detected; they link what matches.

Empty or whitespace-only text is not an error: it gives an empty result with the reason
``"empty text"`` (see :data:`EMPTY_TEXT`).
"""

from __future__ import annotations

import re
import unicodedata

#: Default longest text the linkers accept, in characters.
MAX_CHARS = 10_000
EMPTY_TEXT = "empty text"
NO_CONCEPT = "no concept found"

_LATIN_END = 0x024F  # Basic Latin .. Latin Extended-B
_MIN_LETTERS = 8
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def check_text(text: object, *, max_chars: int = MAX_CHARS) -> str | None:
    """Why ``text`` cannot be linked (an error message), or ``None`` when it can.

    Empty and whitespace-only strings pass (they are linkable to nothing, not an error).
    """
    if not isinstance(text, str):
        return f"expected str, got {type(text).__name__}"
    if len(text) > max_chars:
        return (f"text too long: {len(text):,} characters > max_chars={max_chars:,}; split it into "
                f"sentences or passages, or raise max_chars")
    if "\x00" in text:
        return "binary data: the text contains NUL characters"
    if text.isascii():  # fast path: every letter is Latin
        bad = len(_ASCII_CONTROL.findall(text))
        if bad > 0.1 * len(text):
            return f"binary data: {bad} of {len(text)} characters are control characters"
        return None
    bad = letters = latin = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            if ord(ch) <= _LATIN_END:
                latin += 1
        elif ch == "\ufffd" or (not ch.isspace() and unicodedata.category(ch) in ("Cc", "Cs", "Co")):
            bad += 1
    if bad and bad > 0.1 * len(text):
        return f"binary data: {bad} of {len(text)} characters are control or replacement characters"
    if letters >= _MIN_LETTERS and latin < 0.5 * letters:
        return (f"not English: {letters - latin} of {letters} letters are outside the Latin script "
                f"(the linker's lemmatizer and vocabulary are English)")
    return None

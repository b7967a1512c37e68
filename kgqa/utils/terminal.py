"""User text on a terminal: shown as written, never run as terminal commands or rich markup.

A question or choice can hold ``ESC`` sequences (``\\x1b]0;title\\x07`` sets the window title,
``\\x1b[2J`` clears the screen), carriage returns that overwrite a line, bidirectional overrides
that reorder what is shown, or rich markup (``[/]`` even raises). :func:`printable` writes the
control characters as escapes; :func:`plain` also makes a :class:`rich.text.Text`, which rich
prints without reading markup. Every CLI prints user text through them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls, bidirectional marks/overrides/isolates, lone surrogates
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """``text`` with control characters, bidirectional controls and lone surrogates written as
    Python escapes: ``"a\\x1b[2Jb"`` -> ``"a\\\\x1b[2Jb"``. Tabs and newlines are kept."""
    return _UNPRINTABLE.sub(lambda found: ascii(found.group())[1:-1], str(text))


def plain(text: object, style: str = "") -> "Text":
    """:func:`printable` text as a rich ``Text`` (no markup is read from it)."""
    from rich.text import Text

    return Text(printable(text), style=style)

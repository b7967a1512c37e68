"""What every importer shares: the :class:`Triple` record, line reading with clear errors, and
``--skip-bad`` accounting.

An importer is a generator ``read_<source>(path, *, bad_lines=None, ...) -> Iterator[Triple]``.
It streams its input (never loads a whole dump), normalises node names and relation names to the
conventions of :mod:`kgqa.kg.relations`, and reports a malformed line as
``BadInputError(path, line_number, problem)`` through ``bad_lines.handle()``, which raises
unless the user asked to skip bad lines.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kgqa.errors import BadInputError, Warnings, warn


@dataclass(frozen=True, slots=True)
class Triple:
    """One directed edge as an importer yields it.

    Attributes:
        head: normalised node name of the start node (``"shovel"``, ``"ice_cream"``, ``"Q42"``).
        relation: relation name in the source's naming after normalisation (``"UsedFor"``,
            ``"P106"``); the builder maps it through a :class:`~kgqa.kg.relations.RelationMap`.
        tail: normalised node name of the end node.
        weight: edge weight (1.0 where the source has none).
    """

    head: str
    relation: str
    tail: str
    weight: float = 1.0


@dataclass
class BadLines:
    """Counts malformed lines when ``skip_bad`` is set; otherwise re-raises the first one."""

    skip_bad: bool = False
    count: int = 0
    first: BadInputError | None = None
    by_source: dict[str, int] = field(default_factory=dict)

    def handle(self, error: BadInputError) -> None:
        if not self.skip_bad:
            raise error
        self.count += 1
        self.by_source[error.source] = self.by_source.get(error.source, 0) + 1
        if self.first is None:
            self.first = error

    def report(self) -> None:
        """Warn once with the number of skipped lines (no-op when none were skipped)."""
        if self.count:
            sources = ", ".join(self.by_source)
            warn(Warnings.W001.format(count=self.count, source=sources, first=self.first))


def open_binary(path: str | Path):
    """Open a file for binary reading, decompressing ``.gz``, ``.bz2`` and ``.xz`` by suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rb")
    if suffix == ".bz2":
        return bz2.open(path, "rb")
    if suffix in {".xz", ".lzma"}:
        return lzma.open(path, "rb")
    return open(path, "rb")


def iter_lines(path: str | Path, bad_lines: BadLines | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line (1-based, newline stripped).

    A line that is not valid UTF-8 is reported as ``path:line: invalid UTF-8`` (raised, or
    counted and skipped under ``skip_bad``). Empty lines are skipped silently.
    """
    bad_lines = bad_lines if bad_lines is not None else BadLines()
    with open_binary(path) as raw:
        for number, data in enumerate(io.BufferedReader(raw) if not hasattr(raw, "peek") else raw, 1):
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_lines.handle(BadInputError(path, number, f"invalid UTF-8 ({exc.reason} at byte {exc.start})"))
                continue
            text = text.rstrip("\r\n")
            if text.strip():
                yield number, text


def normalise_concept(name: str) -> str:
    """ConceptNet-style concept name: lower-cased, trimmed, inner whitespace as ``_``.

    >>> normalise_concept("  Ice Cream ")
    'ice_cream'
    """
    return "_".join(name.strip().lower().split())

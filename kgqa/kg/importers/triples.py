"""Importer for plain triple files: TSV or CSV, three or four columns.

Input format: one triple per line, fields in the order given by ``columns`` (by default
``head, relation, tail[, weight]``)::

    shovel<TAB>UsedFor<TAB>dig<TAB>2.0        (TSV: .tsv, .txt)
    "ice cream",AtLocation,freezer            (CSV: .csv, with csv-module quoting)

* The delimiter comes from the suffix unless given: ``.tsv``/``.txt`` -> tab, ``.csv`` -> comma,
  also under ``.gz``, ``.bz2`` or ``.xz`` (``edges.tsv.gz``). Tab-separated lines are split on
  every tab with no quoting (a ``"`` is an ordinary character); other delimiters are parsed with
  the :mod:`csv` module, one record per line (a quoted field may not span lines).
* The weight column is optional per line: a line may stop after the last of head, relation and
  tail, and a missing weight is 1.0. A weight that is not a finite number is a bad line.
* Fields are stripped of surrounding whitespace; an empty field is a bad line, and so is a line
  with fewer or more fields than the columns allow.
* ``has_header`` skips the first non-empty line; empty lines are skipped everywhere.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from kgqa.errors import BadInputError, Errors, KGQAError
from kgqa.kg.importers.base import BadLines, Triple, iter_lines, normalise_concept

_REQUIRED = ("head", "relation", "tail")
_KNOWN = frozenset(_REQUIRED + ("weight",))
_COMPRESSED = {".gz", ".bz2", ".xz", ".lzma"}
_DELIMITERS = {".tsv": "\t", ".txt": "\t", ".csv": ","}


def read_triples(
    path: str | Path,
    *,
    delimiter: str | None = None,
    columns: Sequence[str | None] = ("head", "relation", "tail", "weight"),
    has_header: bool = False,
    normalise: bool = False,
    bad_lines: BadLines | None = None,
) -> Iterator[Triple]:
    """Yield the triples of a TSV/CSV file, in file order.

    Args:
        path: the file; ``.gz``/``.bz2``/``.xz`` are decompressed.
        delimiter: field separator; ``None`` infers it from the suffix (see the module doc).
        columns: the name of each column in file order: ``"head"``, ``"relation"``, ``"tail"``
            (each exactly once), ``"weight"`` (at most once) and ``None`` for a column to
            ignore, e.g. ``("relation", "head", "tail")`` or
            ``("head", "relation", "tail", "weight", None)`` for a trailing frequency column.
        has_header: skip the first non-empty line.
        normalise: pass head and tail through
            :func:`~kgqa.kg.importers.base.normalise_concept` (``"Ice Cream"`` -> ``"ice_cream"``);
            the relation is never changed.
        bad_lines: ``--skip-bad`` accounting; bad lines are reported as ``path:line: problem``.

    Yields:
        ``Triple(head, relation, tail, weight)``.

    Raises:
        KGQAError: for invalid ``columns`` or a suffix with no known delimiter (before anything
            is read).
    """
    columns = tuple(columns)
    for name in columns:
        if name is not None and name not in _KNOWN:
            raise KGQAError(Errors.E013.format(kind="triple column", name=name,
                                               known="head, relation, tail, weight, None"))
    named = [name for name in columns if name is not None]
    if len(named) != len(set(named)) or not set(_REQUIRED) <= set(named):
        raise KGQAError(Errors.E015.format(problem=(
            f"columns {columns!r} must name 'head', 'relation' and 'tail' once each "
            "('weight' at most once, None for ignored columns)")))
    if delimiter is None:
        delimiter = infer_delimiter(path)
    return _read(Path(path), delimiter, columns, has_header, normalise,
                 bad_lines if bad_lines is not None else BadLines())


def infer_delimiter(path: str | Path) -> str:
    """The delimiter implied by a file name: ``.tsv``/``.txt`` -> tab, ``.csv`` -> comma."""
    suffixes = [suffix.lower() for suffix in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    if suffixes and suffixes[-1] in _DELIMITERS:
        return _DELIMITERS[suffixes[-1]]
    raise KGQAError(Errors.E015.format(problem=(
        f"Cannot tell the delimiter of '{path}' from its suffix (known: .tsv, .txt, .csv, "
        "optionally with .gz/.bz2/.xz); pass delimiter=")))


def _read(
    path: Path,
    delimiter: str,
    columns: tuple[str | None, ...],
    has_header: bool,
    normalise: bool,
    bad_lines: BadLines,
) -> Iterator[Triple]:
    index = {name: i for i, name in enumerate(columns) if name is not None}
    head_i, relation_i, tail_i = index["head"], index["relation"], index["tail"]
    weight_i = index.get("weight")
    min_fields = max(head_i, relation_i, tail_i) + 1
    max_fields = len(columns)
    expected = str(max_fields) if min_fields == max_fields else f"{min_fields} to {max_fields}"
    tab = delimiter == "\t"
    skip_header = has_header
    for number, text in iter_lines(path, bad_lines):
        if skip_header:
            skip_header = False
            continue
        if tab:
            fields = text.split("\t")
        else:
            try:
                fields = next(csv.reader([text], delimiter=delimiter, strict=True))
            except csv.Error as exc:
                bad_lines.handle(BadInputError(path, number, f"malformed CSV ({exc})"))
                continue
        if not min_fields <= len(fields) <= max_fields:
            bad_lines.handle(BadInputError(path, number, (
                f"expected {expected} fields separated by {delimiter!r}, found {len(fields)}")))
            continue
        fields = [field.strip() for field in fields]
        empty = next((i for i, field in enumerate(fields) if not field), None)
        if empty is not None:
            name = columns[empty] or "ignored"
            bad_lines.handle(BadInputError(path, number, f"empty field {empty + 1} ({name})"))
            continue
        weight = 1.0
        if weight_i is not None and weight_i < len(fields):
            try:
                weight = float(fields[weight_i])
            except ValueError:
                weight = math.nan
            if not math.isfinite(weight):
                bad_lines.handle(BadInputError(path, number, (
                    f"weight {fields[weight_i]!r} is not a finite number")))
                continue
        head, relation, tail = fields[head_i], fields[relation_i], fields[tail_i]
        if normalise:
            head, tail = normalise_concept(head), normalise_concept(tail)
        yield Triple(head, relation, tail, weight)

"""Helpers of the importer tests: writing raw (possibly invalid) lines to plain or gzip files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kgqa.errors import BadInputError


def raw_lines(lines) -> bytes:
    """Join ``lines`` (``str``, encoded as UTF-8, or ``bytes`` kept as they are) with ``\\n``."""
    return b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)


def write_lines(path: Path, lines) -> Path:
    path.write_bytes(raw_lines(lines))
    return path


def write_gz(path: Path, lines) -> Path:
    with gzip.open(path, "wb") as fh:
        fh.write(raw_lines(lines))
    return path


def assert_bad_line(read, path: Path, problem: str, line: int = 2) -> BadInputError:
    """``list(read(path))`` raises :class:`BadInputError` naming ``path:line`` and ``problem``."""
    with pytest.raises(BadInputError) as info:
        list(read(path))
    assert f"{path}:{line}: " in str(info.value)
    assert problem in str(info.value)
    return info.value

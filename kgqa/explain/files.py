"""Writing explanation files: atomic writes, and a clear ``[E014]`` when a path is not writable."""

from __future__ import annotations

import os
import re
from pathlib import Path

from kgqa.errors import Errors, KGQAError


def not_writable(path: str | Path, problem: str) -> KGQAError:
    return KGQAError(Errors.E014.format(path=path, problem=problem))


def check_writable_dir(directory: str | Path) -> Path:
    """Create ``directory`` if needed and check that files can be written in it.

    Raises:
        KGQAError: ``[E014]`` naming the directory and why (a file is in the way, permission).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise not_writable(directory, "it is a file, not a directory; pass a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise not_writable(directory, exc.strerror or str(exc)) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise not_writable(directory, "permission denied; pass --out with a writable directory")
    return directory


def write_file(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename).

    Raises:
        KGQAError: ``[E014]`` when the file or its directory cannot be written.
    """
    from kgqa.utils.io import atomic_write_bytes

    path = Path(path)
    if path.is_dir():
        raise not_writable(path, "it is a directory; pass a file name")
    check_writable_dir(path.parent)
    try:
        atomic_write_bytes(path, data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as exc:
        raise not_writable(path, exc.strerror or str(exc)) from None
    return path


def slug(text: str, max_length: int = 60) -> str:
    """A file-name-safe slug: ``"A man dug..."`` -> ``a_man_dug...``."""
    value = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return value[:max_length].rstrip("_") or "question"

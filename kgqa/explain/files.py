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
    """A file-name-safe slug: ``"A man dug..."`` -> ``a_man_dug...`` (not unique: see :func:`page_name`)."""
    value = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return value[:max_length].rstrip("_") or "question"


def page_name(text: str, max_length: int = 60, *, keep_slugs: bool = False) -> str:
    """A file name (without suffix) that only ``text`` gets: its slug, a dash and 8 hex digits of
    its sha256 (``a_man_dug_the_ground-1f0c2d3e``; every Cyrillic question would otherwise be
    ``question``, and ids ``Q-1`` and ``q_1`` would both be ``q_1``).

    With ``keep_slugs``, a text that is its own slug (a dataset id such as ``dev01``) is kept
    as it is: a slug has no dash, so it cannot equal another text's slug-dash-hash name.
    """
    import hashlib

    name = slug(text, max_length)
    if keep_slugs and name == text:
        return name
    return f"{name}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


def unique_page_names(texts: list[str], max_length: int = 80) -> list[str]:
    """:func:`page_name` of each text (ids kept when they are slugs), distinct even when two
    hashes collide (a counter is added)."""
    names, used = [], set()
    for text in texts:
        name = base = page_name(text, max_length, keep_slugs=True)
        k = 2
        while name in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name)
        names.append(name)
    return names

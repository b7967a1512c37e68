"""Small file helpers: hashing and atomic writes (nothing is ever half-written).

Temp files and folders are created with ``os.open(..., 0o666)`` / ``os.mkdir(..., 0o777)``
rather than :mod:`tempfile` (which makes them ``0600`` / ``0700``), so what is renamed into
place gets the permissions a plain ``open()`` or ``mkdir`` would give: the umask (and any
default ACL of the folder) applies, and a shared data home stays readable by the group.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_NEW_FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL
                   | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0))


def _create_beside(final: Path, suffix: str, create: Callable[[Path], T]) -> tuple[Path, T]:
    """Create a new hidden sibling ``.<name>.<random><suffix>`` of ``final`` with ``create``
    (which must fail with :class:`FileExistsError` if the name is taken); returns its path and
    what ``create`` returned."""
    for _ in range(100):
        candidate = final.with_name(f".{final.name}.{secrets.token_hex(6)}{suffix}")
        try:
            return candidate, create(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {final}")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path`` and rename it into place.

    The file gets the mode a plain ``open(path, "wb")`` of a new file would (``0o666`` less
    the umask), not :func:`tempfile.mkstemp`'s ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_beside(path, ".tmp", lambda candidate: os.open(candidate, _NEW_FILE_FLAGS, 0o666))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


@contextmanager
def atomic_directory(final: str | Path):
    """Yield a temp directory beside ``final``; on success it replaces ``final`` in one rename.

    On any exception the temp directory is removed and ``final`` is left as it was. The
    directory gets the mode a plain ``mkdir`` would (``0o777`` less the umask), not
    :func:`tempfile.mkdtemp`'s ``0o700``.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp, _ = _create_beside(final, ".partial", lambda candidate: os.mkdir(candidate, 0o777))
    try:
        yield tmp
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def atomic_file(final: str | Path):
    """Yield a new empty temp file's path beside ``final``; on success it replaces ``final``.

    For writers that need a path rather than bytes (``numpy.lib.format.open_memmap``). The file
    is fsynced before the rename; on any exception it is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = _create_beside(final, ".tmp", lambda candidate: os.open(candidate, _NEW_FILE_FLAGS, 0o666))
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Small file helpers: hashing and atomic writes (nothing is ever half-written, and a directory
is only ever replaced by one of the same kind that kgqa wrote: see :func:`atomic_directory`).

Temp files and folders are created with ``os.open(..., 0o666)`` / ``os.mkdir(..., 0o777)``
rather than :mod:`tempfile` (which makes them ``0600`` / ``0700``), so what is renamed into
place gets the permissions a plain ``open()`` or ``mkdir`` would give: the umask (and any
default ACL of the folder) applies, and a shared data home stays readable by the group.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from kgqa.errors import Errors, KGQAError

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


def _create_beside(final: Path, suffix: str, create: Callable[[Path], T], owner: str = "") -> tuple[Path, T]:
    """Create a new hidden sibling ``.<name>.[<owner>-]<random><suffix>`` of ``final`` with
    ``create`` (which must fail with :class:`FileExistsError` if the name is taken); returns its
    path and what ``create`` returned."""
    prefix = f"{owner}-" if owner else ""
    for _ in range(100):
        candidate = final.with_name(f".{final.name}.{prefix}{secrets.token_hex(6)}{suffix}")
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


#: Written into every directory :func:`atomic_directory` creates for a named ``kind``, so that a
#: later write knows the directory is kgqa's to replace.
ARTEFACT_MARKER = ".kgqa-artefact"
#: A half-written sibling: ``.<name>.<pid>-<host>-<random>.partial``.
_PARTIAL = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-(?P<host>[0-9a-f]{8})-[0-9a-f]{12}\.partial")
#: The previous copy while two renames swap it out: ``.<name>.old-<pid>`` (a kill between them
#: leaves it as the only copy, which kgqa.training.checkpoint recovers).
_OLD = re.compile(r"\.(?P<name>.+)\.old-\d+")
#: What kgqa before 0.1.1 left behind (no owner in the name): removed once a day old.
_LEGACY_PARTIAL = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.partial")
_LEGACY_AGE_S = 24 * 3600


def _host_tag() -> str:
    return sha256_bytes(socket.gethostname().encode())[:8]


def artefact_kind(path: str | Path) -> str | None:
    """The kind recorded in a directory's :data:`ARTEFACT_MARKER`, or ``None``."""
    try:
        kind = json.loads((Path(path) / ARTEFACT_MARKER).read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def _listing(path: Path, shown: int = 3) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _protected(path: Path) -> bool:
    """The file-system root, the home folder and the working directory (or a folder above it)."""
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    return resolved in (Path(resolved.anchor), Path.home().resolve()) or resolved == cwd or resolved in cwd.parents


def check_replaceable(final: str | Path, kind: str | None, *, recognise: Callable[[Path], bool] | None = None,
                      force: bool | None = None, incoming: Path | None = None) -> None:
    """Raise ``[E100]`` unless a new ``kind`` artefact may be written to ``final``.

    ``final`` may be missing, an empty directory, or a kgqa artefact of the same ``kind``: its
    :data:`ARTEFACT_MARKER` says so, or ``recognise(final)`` does (for artefacts written before
    the marker existed). Without a ``kind`` (a caller that names none), a directory also passes
    when the ``incoming`` one rewrites every name in it (the same layout written again), so
    nothing but what is rewritten is lost. ``force=True`` also allows any other directory (never
    a file, a link, the root, the home folder or the working directory). ``force=None`` means the
    caller offers no such option (the message then does not suggest ``--force``).
    """
    final = Path(final)
    problem, forcible = None, True
    if final.is_symlink():
        problem = "it is a symbolic link"
    elif not final.exists():
        return
    elif not final.is_dir():
        problem, forcible = "it is a file, not a folder", False
    elif not any(final.iterdir()):
        return
    else:
        found = artefact_kind(final)
        if (kind is not None and found == kind) or (recognise is not None and recognise(final)):
            return
        if kind is None and incoming is not None and \
                {p.name for p in final.iterdir()} <= {p.name for p in incoming.iterdir()}:
            return
        what = f"kgqa {kind}" if kind else "folder with the same files as the one being written"
        problem = (f"it is a kgqa {found}, not a {kind or 'folder of this kind'}" if found else
                   f"it is not empty and is not a {what} (it holds {_listing(final)})")
    if force and forcible and not _protected(final):
        return
    hint = "Choose another path, or move it away yourself"
    if force is not None and forcible:
        hint += "; --force (force=True) replaces that one directory"
    raise KGQAError(Errors.E100.format(path=final, problem=problem, hint=hint))


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # another user's process: alive
        return True


def remove_stale_partials(final: str | Path) -> list[Path]:
    """Remove half-written siblings of ``final`` left by killed processes; returns what went.

    Only partials this host's dead processes made are removed (a live writer, or one on another
    machine sharing the folder, keeps its own), plus unowned ones from older kgqa a day old. A
    previous copy (``.<name>.old-<pid>``) goes only once ``final`` exists again: while it is
    missing, that copy is all there is.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    host, removed = _host_tag(), []
    for sibling in final.parent.glob(f".{glob.escape(final.name)}.*"):
        partial, old = _PARTIAL.fullmatch(sibling.name), _OLD.fullmatch(sibling.name)
        legacy = _LEGACY_PARTIAL.fullmatch(sibling.name)
        if partial and partial["name"] == final.name:
            stale = partial["host"] == host and not _alive(int(partial["pid"]))
        elif old and old["name"] == final.name:
            stale = final.is_dir()
        else:
            stale = bool(legacy and legacy["name"] == final.name
                         and time.time() - sibling.stat().st_mtime > _LEGACY_AGE_S)
        if stale and sibling.is_dir() and not sibling.is_symlink():
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed


@contextmanager
def atomic_directory(final: str | Path, *, kind: str | None = None,
                     recognise: Callable[[Path], bool] | None = None, force: bool | None = None):
    """Yield a temp directory beside ``final``; on success it replaces ``final`` in one rename.

    ``final`` is replaced only when :func:`check_replaceable` allows it: missing, empty, or a
    kgqa artefact of the same ``kind`` (the new directory gets an :data:`ARTEFACT_MARKER` naming
    it); checked before the work starts and again before the rename. A caller that names no
    ``kind`` writes no marker and replaces a directory only when the new one rewrites every name
    in it. Otherwise ``[E100]`` and nothing changes. Half-written siblings that killed processes
    left are removed first (:func:`remove_stale_partials`); the temp name carries this process's
    id.

    On any exception the temp directory is removed and ``final`` is left as it was. The
    directory gets the mode a plain ``mkdir`` would (``0o777`` less the umask), not
    :func:`tempfile.mkdtemp`'s ``0o700``.
    """
    final = Path(final)
    if kind is not None:  # without a kind, only the finished directory can tell (same layout)
        check_replaceable(final, kind, recognise=recognise, force=force)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    owner = f"{os.getpid()}-{_host_tag()}"
    tmp, _ = _create_beside(final, ".partial", lambda candidate: os.mkdir(candidate, 0o777), owner)
    try:
        if kind is not None:
            (tmp / ARTEFACT_MARKER).write_text(json.dumps({"kind": kind}) + "\n")
        yield tmp
        check_replaceable(final, kind, recognise=recognise, force=force, incoming=tmp)
        if final.is_dir() and not final.is_symlink():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if final.is_symlink():
                final.unlink()
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def new_file_mode(directory: Path) -> int:
    """The mode a plain ``open()`` gives a new file in ``directory`` (``0o666`` less the umask)."""
    probe = directory / ".mode-probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        return os.fstat(fd).st_mode & 0o777
    finally:
        os.close(fd)
        probe.unlink()


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

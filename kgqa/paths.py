"""Where kgqa reads and writes files: one data home, one shared-data folder, no absolute paths.

``KGQA_HOME`` (default ``~/.cache/kgqa``, i.e. the user's cache dir) holds built graphs
(``graphs/NAME``), caches and downloads. ``KGQA_DATA_DIR`` points at the read-only research data
(``csqa/``, ``conceptnet/``, ``wikidata/``, ``samples/``); without it, kgqa looks for a
``shared/data`` folder beside the source checkout or the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from kgqa.errors import Errors, KGQAError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _make_folder(path: Path) -> str | None:
    """Create ``path`` and its parents if missing; the problem when it cannot be a folder."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return "it is a file, not a folder"
    except NotADirectoryError:
        return "a file is in the way of one of its parent folders"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def ensure_folder(path: str | Path) -> Path:
    """Create ``path`` (and its parents) if missing; return it.

    Raises:
        KGQAError: ``[E014]`` when it cannot be a folder (a file is in the way, no permission).
    """
    path = Path(path)
    problem = _make_folder(path)
    if problem:
        raise KGQAError(Errors.E014.format(path=path, problem=problem))
    return path


def kgqa_home() -> Path:
    """The writable data home (created on first use).

    Raises:
        KGQAError: ``[E102]`` when it cannot be a folder.
    """
    env = os.environ.get("KGQA_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        home = Path(base) / "kgqa"
    problem = _make_folder(home)
    if problem:
        raise KGQAError(Errors.E102.format(path=home, problem=problem))
    return home


def graphs_home() -> Path:
    home = kgqa_home()
    problem = _make_folder(home / "graphs")
    if problem:
        raise KGQAError(Errors.E102.format(path=home, problem=f"graphs/ in it: {problem}"))
    return home / "graphs"


def data_dir(required: bool = True) -> Path | None:
    """The shared research-data folder (``KGQA_DATA_DIR`` or a ``shared/data`` nearby)."""
    env = os.environ.get("KGQA_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        if path.is_dir() or not required:
            return path
        raise KGQAError(Errors.E008.format(path=path))
    for base in (REPO_DIR.parent, Path.cwd().parent, Path.cwd()):
        candidate = base / "shared" / "data"
        if candidate.is_dir():
            return candidate.resolve()
    if required:
        raise KGQAError(Errors.E008.format(path="(KGQA_DATA_DIR unset; no shared/data found)"))
    return None


def recipes_dir() -> Path:
    """The ``graphs/`` folder of build recipes (the source checkout's, or ``KGQA_RECIPES``)."""
    env = os.environ.get("KGQA_RECIPES")
    return Path(env) if env else REPO_DIR / "graphs"

"""Provenance of a run: package versions, git commit, input checksums, peak memory.

What :class:`~kgqa.training.results.RunResult` records beside the metrics so that a number in
RESULTS.md can be traced to the code, the data and the machine that produced it.
"""

from __future__ import annotations

import platform
import resource
import subprocess
from pathlib import Path
from typing import Any

import torch


def package_versions() -> dict[str, str]:
    """Versions of python and the packages a result depends on."""
    from importlib import metadata

    from kgqa import __version__

    out = {"python": platform.python_version(), "kgqa": __version__}
    for name in ("torch", "transformers", "torch-geometric", "accelerate", "numpy", "safetensors",
                 "pydantic", "tokenizers"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


_GIT_STATE: dict[str, Any] | None = None


def git_state(*, refresh: bool = False) -> dict[str, Any]:
    """``{"commit", "dirty"}`` of the source checkout, or ``None`` values outside one.

    Read once per process (``refresh=True`` reads again): a run's code was imported when it
    started, so a commit made while it trains must not end up in its results. Runs call this
    when they start (:func:`kgqa.training.runner.pipeline`, :func:`kgqa.llm.evaluate.evaluate_llm`).
    """
    global _GIT_STATE
    if _GIT_STATE is None or refresh:
        _GIT_STATE = _read_git_state()
    return dict(_GIT_STATE)


def _read_git_state() -> dict[str, Any]:
    from kgqa.paths import REPO_DIR

    def run(*args):
        return subprocess.run(["git", "-C", str(REPO_DIR), *args], capture_output=True,
                              text=True, timeout=10)

    try:
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None}
        status = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


_FILE_SHA: dict[tuple, str] = {}


def dataset_checksums(dataset) -> dict[str, Any]:
    """The split's content sha256 and the sha256 of each source file."""
    from kgqa.utils.io import sha256_file

    files = {}
    for source in getattr(dataset, "sources", ()):
        path = Path(source)
        if path.is_file():
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime_ns)
            if key not in _FILE_SHA:
                _FILE_SHA[key] = sha256_file(path)
            files[str(path)] = _FILE_SHA[key]
    return {"name": getattr(dataset, "name", None), "split": getattr(dataset, "split", None),
            "num_questions": len(dataset), "checksum": getattr(dataset, "checksum", None),
            "files": files}


def peak_memory_mb() -> dict[str, float | None]:
    """Peak resident memory of this process (``ru_maxrss``) and peak CUDA allocation."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {"rss": round(rss, 1), "cuda": None if cuda is None else round(cuda, 1)}

"""Machine and software facts recorded with every benchmark result."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path


def peak_rss_mb(*, children: bool = False) -> float:
    """Peak resident set size of this process so far, in MiB; with ``children``, the larger of
    that and the peak of any finished child process (worker pools)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return peak / 1024


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None
    except OSError:
        return None


def machine_info() -> dict:
    """Cores, RAM, CPU model, Python and key package versions, git commit, UTC time, and the load
    average when the result was written (other jobs on the cores slow every timing down)."""
    info = {
        "cores": os.cpu_count(),
        "ram_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git_commit(),
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    for module in ("numpy", "scipy", "numba", "torch", "torch_geometric", "transformers", "spacy", "networkx"):
        if module in sys.modules or module in ("numpy", "networkx"):
            try:
                info[f"{module}_version"] = __import__(module).__version__
            except ImportError:
                pass
    import kgqa

    info["kgqa_version"] = kgqa.__version__
    return info


def emit(result: dict, out: str | Path | None) -> dict:
    """Print ``result`` as one indented JSON object and, when ``out`` is given, save it there.

    The file is written atomically (:func:`kgqa.utils.io.atomic_write_json`, same text plus a
    newline), so an interrupted run never leaves a half-written ``benchmarks/results/*.json``.

    Args:
        result: the benchmark's JSON-serialisable report.
        out: where to save it; ``None`` or ``""`` only prints.

    Returns:
        ``result`` unchanged, so a ``main`` can ``return emit(result, args.out)``.
    """
    import json

    print(json.dumps(result, indent=2))
    if out:
        from kgqa.utils.io import atomic_write_json

        atomic_write_json(out, result)
    return result

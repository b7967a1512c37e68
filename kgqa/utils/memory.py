"""Allocator settings for CPU training: keep freed memory instead of handing it back every step.

On Linux, glibc's ``malloc`` serves the tensors of a training step (tens of MB each for a graph
batch) from the top of its heap and, when they are freed, trims that heap back to the kernel as
soon as more than ``M_TRIM_THRESHOLD`` (at most 64 MB by default) lies free at the top. The next
step grows the heap again and touches fresh pages: every step pays page faults and zeroing in
the kernel. On a 2-core machine training QA-GNN on cached MiniLM states, half of the CPU time
was system time. ``M_TOP_PAD`` makes every heap growth reserve that much more and every trim
keep that much, so the pages of the last step are reused (`benchmarks/training.py`,
``malloc_top_pad``: the measured step times with and without it). The cost is resident memory:
up to ``pad`` bytes above the peak the process already reached.

Memory that ``malloc`` serves with ``mmap`` (blocks above the dynamic mmap threshold, 32 MB at
most) is not affected; PyTorch's CPU allocator takes every tensor from ``posix_memalign``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``mallopt`` parameter numbers of glibc (``malloc.h``).
M_TOP_PAD = -2
_applied: int | None = None


def _glibc():
    """The loaded C library if it is glibc (it has ``gnu_get_libc_version``), else ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl does not)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.mallopt.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def malloc_top_pad(megabytes: int) -> int | None:
    """Set glibc's ``M_TOP_PAD`` to ``megabytes`` MiB for this process.

    Args:
        megabytes: the pad; ``0`` for none (glibc's own default is 128 KiB).

    Returns:
        The pad now in force, in MiB, or ``None`` where it cannot be set (not Linux, not glibc,
        or ``mallopt`` refused the value): nothing changes there.

    Raises:
        ValueError: ``megabytes`` negative or beyond what ``mallopt`` takes (2 GiB - 1 byte).
    """
    global _applied
    size = int(megabytes) * 2**20
    if megabytes < 0 or size > 2**31 - 1:
        raise ValueError(f"malloc top pad must be between 0 and 2047 MiB; got {megabytes}")
    if _applied == megabytes:
        return _applied
    libc = _glibc()
    if libc is None or libc.mallopt(M_TOP_PAD, size) != 1:
        return None
    _applied = int(megabytes)
    return _applied

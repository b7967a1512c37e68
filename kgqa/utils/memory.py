"""Allocator settings for CPU training: keep freed memory instead of handing it back every step.

On Linux, glibc's ``malloc`` serves the tensors of a training step (tens of MB each for a graph
batch) from the top of its heap and, when they are freed, trims that heap back to the kernel as
soon as more than ``M_TRIM_THRESHOLD`` lies free at the top; blocks above the mmap threshold get
their own ``mmap`` and are unmapped when freed. Either way the next step touches fresh pages and
pays page faults and zeroing in the kernel: training QA-GNN on cached MiniLM states on a 2-core
machine spent half its CPU time there.

:func:`malloc_top_pad` sets ``M_TOP_PAD`` (every heap growth reserves that much more, every trim
keeps that much) and ``M_MMAP_THRESHOLD = 32 MiB`` (blocks up to that size come from the heap).
The second matters as much as the first: setting any of these parameters switches off glibc's
*dynamic* mmap threshold, which otherwise rises to the size of freed mmap'd blocks (up to 32 MiB
on 64-bit), so with the pad alone every block above 128 KiB was mmap'd and unmapped each step.
Blocks above 32 MiB keep their own mapping and go back to the kernel when freed, unless
``all_blocks`` serves those from the heap too (``M_MMAP_MAX = 0``, ``training.malloc_heap_only``):
on a 2-core Zen 3 without AVX-512 (fp32), 80 steps of the frozen QA-GNN config trained 1.52x
faster that way (103.8 against 158.2 s; system time 31 against 141 s over the whole run) at 9.4
against 6.1 GB resident; earlier a partial QA-GNN run grew from 4.3 to 8 GB, a frozen KagNet run
peaks at 17 GB without it, so it is off by default. Measured in `benchmarks/training.py` (``malloc``) and on
live runs (README, "Speed"). The cost is resident memory: up to ``pad`` above the peak, and freed
blocks inside the heap stay with the process for reuse (a training loop allocates the same sizes
every step).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

#: ``mallopt`` parameter numbers of glibc (``malloc.h``).
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
#: glibc's default ``M_MMAP_MAX`` (``DEFAULT_MMAP_MAX``), restored when ``all_blocks`` is off again.
_DEFAULT_MMAP_MAX = 65536
#: glibc's initial mmap threshold, restored by ``malloc_top_pad(0)`` (the dynamic one stays off)
#: and the largest its dynamic threshold reaches on 64-bit (``DEFAULT_MMAP_THRESHOLD_MAX``).
_DEFAULT_MMAP_THRESHOLD = 128 * 1024
MMAP_THRESHOLD = 32 * 2**20
_applied: tuple[int, bool, bool] | None = None


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


def malloc_top_pad(megabytes: int, *, heap_blocks: bool = True,
                   all_blocks: bool = False) -> int | None:
    """Set glibc's ``M_TOP_PAD`` to ``megabytes`` MiB for this process and, with a pad, serve
    blocks up to 32 MiB from the heap (``M_MMAP_THRESHOLD``).

    Args:
        megabytes: the pad; ``0`` for none: a process that never set one is left untouched
            (glibc's defaults: a 128 KiB pad, a dynamic mmap threshold), one that did gets a zero
            pad and the initial 128 KiB mmap threshold back (the dynamic one stays off).
        heap_blocks: with a pad, also raise the mmap threshold to 32 MiB (the default; ``False``
            only to measure the pad alone).
        all_blocks: with a pad and ``heap_blocks``, serve larger blocks from the heap too
            (``M_MMAP_MAX = 0``): faster where steps allocate blocks above 32 MiB, at more
            resident memory (see the module docstring).

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
    setting = (int(megabytes), bool(heap_blocks and megabytes),
               bool(all_blocks and heap_blocks and megabytes))
    libc = _glibc()
    if libc is None:
        return None
    if _applied == setting or (_applied is None and not megabytes):
        return setting[0]  # already in force, or glibc's defaults never changed
    if libc.mallopt(M_TOP_PAD, size) != 1:
        return None
    libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD if setting[1] else _DEFAULT_MMAP_THRESHOLD)
    libc.mallopt(M_MMAP_MAX, 0 if setting[2] else _DEFAULT_MMAP_MAX)
    _applied = setting
    return setting[0]

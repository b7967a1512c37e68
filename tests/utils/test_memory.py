"""kgqa.utils.memory.malloc_top_pad: glibc's M_TOP_PAD and M_MMAP_THRESHOLD, set where they exist, a
no-op elsewhere."""

import platform
import subprocess
import sys

import pytest

from kgqa.utils import memory

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.fixture(autouse=True)
def _no_pad_after():
    yield
    memory.malloc_top_pad(0)


@pytest.mark.skipif(not GLIBC, reason="M_TOP_PAD is a glibc setting")
def test_sets_the_pad_on_glibc():
    assert memory.malloc_top_pad(64) == 64
    assert memory.malloc_top_pad(64) == 64  # the same value again: nothing to do
    assert memory.malloc_top_pad(0) == 0


PROBE = """
import ctypes, os, sys
from kgqa.utils.memory import malloc_top_pad
applied = malloc_top_pad(int(sys.argv[1]))
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallopt(-3, 64 * 2**20)  # M_MMAP_THRESHOLD: a 32 MiB block comes from the heap's top
statm = os.open("/proc/self/statm", os.O_RDONLY)  # read below without a new malloc'd buffer
page = os.sysconf("SC_PAGE_SIZE")
def rss_mib():
    return int(os.pread(statm, 64, 0).split()[1]) * page / 2**20
block = libc.malloc(32 * 2**20)
ctypes.memset(block, 1, 32 * 2**20)
before = rss_mib()
libc.free(block)
print(applied, before - rss_mib())
"""


@pytest.mark.skipif(not GLIBC, reason="M_TOP_PAD is a glibc setting")
@pytest.mark.parametrize("pad, returned_at_least, returned_at_most", [(0, 24, 40), (64, 0, 1)])
def test_freed_heap_memory_stays_with_the_process_under_the_pad(pad, returned_at_least,
                                                               returned_at_most):
    """Freeing 32 MiB at the top of a fresh heap hands it back to the kernel without a pad (the
    next step would fault it in again) and keeps it with a 64 MiB pad."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(pad)], check=True, capture_output=True,
                         text=True).stdout.split()
    assert int(out[0]) == pad
    assert returned_at_least <= float(out[1]) <= returned_at_most


BIG_BLOCK_PROBE = """
import ctypes, os, sys
from kgqa.utils.memory import malloc_top_pad
applied = malloc_top_pad(int(sys.argv[1]), heap_blocks=sys.argv[2] == "1")
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
statm = os.open("/proc/self/statm", os.O_RDONLY)
page = os.sysconf("SC_PAGE_SIZE")
def rss_mib():
    return int(os.pread(statm, 64, 0).split()[1]) * page / 2**20
keep = libc.malloc(1024)  # something after the block, so it is not at the heap's top
block = libc.malloc(24 * 2**20)
after = libc.malloc(1024)
ctypes.memset(block, 1, 24 * 2**20)
before = rss_mib()
libc.free(block)
print(applied, before - rss_mib())
"""


@pytest.mark.skipif(not GLIBC, reason="M_MMAP_THRESHOLD is a glibc setting")
@pytest.mark.parametrize("pad, heap_blocks, returned_at_least, returned_at_most",
                         [(0, True, 20, 28), (64, False, 20, 28), (64, True, 0, 1)])
def test_big_blocks_come_from_the_heap_under_the_pad(pad, heap_blocks, returned_at_least,
                                                     returned_at_most):
    """A freed 24 MiB block in a fresh process was mmap'd and goes back to the kernel (the next
    step faults it in again), with the pad alone too (setting it switches off glibc's dynamic mmap
    threshold); with the pad as the runner sets it, it comes from the heap and stays for reuse."""
    out = subprocess.run([sys.executable, "-c", BIG_BLOCK_PROBE, str(pad), str(int(heap_blocks))],
                         check=True, capture_output=True, text=True).stdout.split()
    assert int(out[0]) == pad
    assert returned_at_least <= float(out[1]) <= returned_at_most


@pytest.mark.skipif(not GLIBC, reason="M_MMAP_MAX is a glibc setting")
@pytest.mark.parametrize("all_blocks, returned_at_least, returned_at_most", [(0, 40, 52), (1, 0, 1)])
def test_blocks_above_the_threshold_come_from_the_heap_with_all_blocks(all_blocks, returned_at_least,
                                                                       returned_at_most):
    """A freed 48 MiB block (above the 32 MiB threshold) has its own mapping and goes back to the
    kernel under the runner's pad; with ``all_blocks`` it comes from the heap and stays."""
    probe = BIG_BLOCK_PROBE.replace('heap_blocks=sys.argv[2] == "1"', 'all_blocks=sys.argv[2] == "1"') \
        .replace("24 * 2**20", "48 * 2**20")
    out = subprocess.run([sys.executable, "-c", probe, "64", str(all_blocks)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert int(out[0]) == 64
    assert returned_at_least <= float(out[1]) <= returned_at_most


@pytest.mark.skipif(not GLIBC, reason="a glibc setting")
def test_no_pad_leaves_glibcs_dynamic_threshold_alone():
    """``malloc_top_pad(0)`` in a process that never set a pad changes nothing: glibc's dynamic mmap
    threshold still rises after the first big block is freed, so the second one of the same size
    comes from the heap and stays (setting M_TOP_PAD, even to 0, would switch that off)."""
    probe = BIG_BLOCK_PROBE.replace("print(applied, before - rss_mib())", """
block = libc.malloc(24 * 2**20)
ctypes.memset(block, 1, 24 * 2**20)
before = rss_mib()
libc.free(block)
print(applied, before - rss_mib())""")
    out = subprocess.run([sys.executable, "-c", probe, "0", "1"], check=True, capture_output=True,
                         text=True).stdout.split()
    assert int(out[0]) == 0
    assert float(out[1]) < 1


def test_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    monkeypatch.setattr(memory, "_applied", None)
    assert memory.malloc_top_pad(256) is None


@pytest.mark.parametrize("megabytes", [-1, 2048])
def test_refuses_pads_mallopt_cannot_take(megabytes):
    with pytest.raises(ValueError, match="between 0 and 2047 MiB"):
        memory.malloc_top_pad(megabytes)

"""Scoped torch CPU thread counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run a block with ``count`` torch intra-op CPU threads, then restore the previous count.

    ``None``, or the count already in force, changes nothing (no ``set_num_threads`` call, which
    matters on a per-question path such as :meth:`kgqa.explain.answer.Answerer.answer`).
    """
    import torch

    previous = torch.get_num_threads()
    if count is None or count == previous:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)

"""Scoped SIGTERM handling."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_raises(exception: type[BaseException]) -> Iterator[None]:
    """Inside the block, a SIGTERM raises ``exception`` in the main thread; the previous handler
    is put back afterwards.

    Elsewhere than the main thread the block runs unchanged (handlers can only be set there).
    Used by ``kgqa preprocess``'s process pool (stop the workers, then end as SIGTERM would) and by
    ``kgqa train`` (stop like Ctrl-C and print the resume command).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame) -> None:
        raise exception()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)

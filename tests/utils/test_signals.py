"""kgqa.utils.signals: SIGTERM raises inside the block, the previous handler comes back after."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from kgqa.utils.signals import sigterm_raises


class _Stop(BaseException):
    pass


def test_sigterm_raises_inside_the_block_and_restores_the_previous_handler():
    def previous(signum, frame):
        pass

    old = signal.signal(signal.SIGTERM, previous)
    try:
        with pytest.raises(_Stop):
            with sigterm_raises(_Stop):
                os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, old)


def test_outside_the_main_thread_the_handler_is_left_alone():
    seen = {}

    def work():
        with sigterm_raises(_Stop):
            seen["handler"] = signal.getsignal(signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen["handler"] is before and signal.getsignal(signal.SIGTERM) is before

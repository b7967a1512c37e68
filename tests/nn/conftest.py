"""Fixtures of the layer tests."""

from __future__ import annotations

import pytest

from kgqa.utils.threads import torch_threads


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Hand-built graphs of a few nodes gain nothing from a second thread (see
    tests/models/conftest.py)."""
    with torch_threads(1):
        yield

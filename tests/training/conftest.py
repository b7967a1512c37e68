"""Fixtures of the training tests (helpers are in ``toys.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgqa.utils.threads import torch_threads
from tests.training.toys import write_csqa_fixture


@pytest.fixture()
def csqa_fixture(tmp_path) -> Path:
    return write_csqa_fixture(tmp_path / "csqa_fixture")


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory) -> Path:
    from kgqa.backbones.tiny import save_tiny_backbone

    return save_tiny_backbone("bert", tmp_path_factory.mktemp("tiny_bert"), seed=0)


@pytest.fixture()
def accelerator():
    """An fp32 CPU accelerator. accelerate keeps one state per process, so a plain
    ``Accelerator(cpu=True)`` after a test that ran under bf16 autocast (``auto`` on a CPU with
    AVX512-BF16) would inherit bf16; ``make_accelerator`` resets it."""
    from kgqa.training.runner import make_accelerator

    return make_accelerator("no")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a busy 2-core machine OpenMP
    barriers make a 45-row scatter take 0.1 s; run these tests on one thread."""
    with torch_threads(1):
        yield

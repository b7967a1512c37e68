"""Fixtures of the training tests (helpers are in ``toys.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    from accelerate import Accelerator

    return Accelerator(cpu=True)

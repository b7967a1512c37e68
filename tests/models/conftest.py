"""Fixtures of the model tests: a tiny random BERT (hidden 32, 2 layers), written once."""

from __future__ import annotations

import pytest
import torch

from kgqa.utils.threads import torch_threads


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory):
    from kgqa.backbones.tiny import save_tiny_backbone

    return save_tiny_backbone("bert", tmp_path_factory.mktemp("tiny_bert") / "bert")


@pytest.fixture()
def tiny_backbone(tiny_bert_dir):
    from kgqa.backbones import Backbone

    torch.manual_seed(0)
    return Backbone.from_pretrained(str(tiny_bert_dir))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny graphs gain nothing from a second thread, and on a busy machine every small
    parallel op waits for it (RGCN's per-relation scatters ran 100x slower): use one."""
    with torch_threads(1):
        yield

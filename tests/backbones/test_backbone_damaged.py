"""Backbone directories with damaged or hostile weights: ``[E121]``, no pickled code runs, and
no advice to load the file unsafely."""

from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch

from kgqa.backbones import Backbone
from kgqa.errors import KGQAError


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def bert_copy(tiny_backbone_dirs, tmp_path):
    return shutil.copytree(tiny_backbone_dirs["bert"], tmp_path / "bert")


def _refused(directory) -> str:
    with pytest.raises(KGQAError) as info:
        Backbone.from_pretrained(str(directory))
    message = str(info.value)
    assert "weights_only" not in message and "weights only" not in message.lower()
    return message


@pytest.mark.parametrize("payload", ["pickle", "torch.save"])
def test_pytorch_model_bin_with_pickled_code_is_refused(bert_copy, tmp_path, payload):
    marker = tmp_path / "ran"
    state = Backbone.from_pretrained(str(bert_copy)).model.state_dict()
    (bert_copy / "model.safetensors").unlink()
    target = bert_copy / "pytorch_model.bin"
    if payload == "pickle":
        target.write_bytes(pickle.dumps(_RunsCode(marker)))
    else:  # real tensors with one hostile object among them
        torch.save({**state, "extra": _RunsCode(marker)}, target)
    message = _refused(bert_copy)
    assert message.startswith("[E121] Backbone") and f"'{target}'" in message
    assert "not a plain tensor file" in message and "safetensors" in message
    assert not marker.exists()


def test_plain_pytorch_model_bin_still_loads(bert_copy):
    state = Backbone.from_pretrained(str(bert_copy)).model.state_dict()
    (bert_copy / "model.safetensors").unlink()
    torch.save(state, bert_copy / "pytorch_model.bin")
    loaded = Backbone.from_pretrained(str(bert_copy)).model.state_dict()
    assert all(torch.equal(state[k], loaded[k]) for k in state)


@pytest.mark.parametrize("damage", ["truncate", "pickle"])
def test_unreadable_model_safetensors_is_a_coded_error(bert_copy, damage):
    weights = bert_copy / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000] if damage == "truncate"
                        else pickle.dumps({"w": [1.0] * 100}))
    message = _refused(bert_copy)
    assert message.startswith("[E121]") and "SafetensorError" in message

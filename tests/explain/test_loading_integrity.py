"""Model loading for ``kgqa answer`` verifies the weights: the shipped default model records its
checksum, and a damaged model is ``[E120]`` before the graph or backbone load."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from kgqa.errors import KGQAError
from kgqa.explain.loading import DEFAULT_MODEL_CONFIG, DEFAULT_MODEL_SEED, default_model_dir, load_answerer
from kgqa.training.checkpoint import CONFIG_FILE, WEIGHTS_FILE, Checkpoint
from kgqa.utils.io import sha256_file


def _flip_byte(path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_shipped_default_model_records_and_matches_its_checksum():
    weights = default_model_dir() / WEIGHTS_FILE
    files = json.loads((default_model_dir() / CONFIG_FILE).read_text())["files"]
    assert files == {WEIGHTS_FILE: {"sha256": sha256_file(weights), "bytes": weights.stat().st_size}}
    Checkpoint.load(default_model_dir()).verify_all()


def test_damaged_default_model_says_to_reinstall(tmp_path, monkeypatch):
    import kgqa.explain.loading as loading

    copy = tmp_path / "default_model"
    shutil.copytree(default_model_dir(), copy)
    _flip_byte(copy / WEIGHTS_FILE)  # one bit of one weight
    monkeypatch.setattr(loading, "default_model_dir", lambda: copy)
    with pytest.raises(KGQAError, match=r"\[E120\] Checkpoint file '.*default_model/model"
                                        r"\.safetensors' is damaged.*The shipped default model "
                                        r"is damaged: reinstall kgqa, or reproduce it with `kgqa "
                                        r"train " + re.escape(f"{DEFAULT_MODEL_CONFIG} --seed {DEFAULT_MODEL_SEED}")):
        load_answerer()


def test_damaged_checkpoint_is_refused_before_the_graph_loads(tmp_path, toy_checkpoints, monkeypatch):
    import kgqa.kg.store as store

    copy = shutil.copytree(toy_checkpoints["qagnn"], tmp_path / "qagnn")
    _flip_byte(copy / WEIGHTS_FILE)

    def no_graph(*args, **kwargs):
        raise AssertionError("the graph was loaded before the weights were verified")

    monkeypatch.setattr(store.KnowledgeGraph, "load", no_graph)
    with pytest.raises(KGQAError, match=r"\[E120\].*qagnn/model.safetensors' is damaged.*Restore "
                                        r"the file from a copy"):
        load_answerer(copy)


def test_checkpoint_of_an_unknown_regime_is_refused(tmp_path):
    copy = shutil.copytree(default_model_dir(), tmp_path / "model")
    config = json.loads((copy / CONFIG_FILE).read_text())
    config["regime"] = config["experiment"]["regime"] = "semi"
    (copy / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(KGQAError, match=r"\[E031\] Checkpoint '.*model' is unusable: it records "
                                        r"regime 'semi', which this kgqa does not know \(finetune, "
                                        r"frozen, lora, partial\)"):
        load_answerer(copy)

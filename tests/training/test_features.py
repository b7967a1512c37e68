"""Frozen-regime state cache: miss then hit, keys that change with their inputs, damage."""

from __future__ import annotations

import json

import pytest
import torch

from kgqa.data import load_dataset
from kgqa.errors import KGQAError
from kgqa.training.features import (MANIFEST_FILE, backbone_fingerprint, cache_key, encode_pairs,
                                    load_or_compute_states)


@pytest.fixture(scope="module")
def tiny(tiny_backbone_dir):
    from kgqa.backbones import Backbone

    return Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all")


def test_miss_then_hit_gives_the_same_states(tmp_path, csqa_fixture, tiny, tiny_backbone_dir):
    dev = load_dataset(csqa_fixture, "dev")
    first = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path, progress=False)
    assert not first.hit and first.states.shape == (4, 5, 32) and first.pairs_per_second > 0
    manifest = json.loads((first.path / MANIFEST_FILE).read_text())
    assert manifest["ids"] == dev.ids and manifest["max_length"] == 32
    assert manifest["dataset_checksum"] == dev.checksum
    # a hit by name does not need the backbone loaded
    second = load_or_compute_states(str(tiny_backbone_dir), dev, max_length=32, cache_dir=tmp_path)
    assert second.hit and second.path == first.path
    assert torch.equal(first.states, second.states)
    # row i, column c is question i with choice c
    direct = encode_pairs(tiny, dev, max_length=32, batch_size=1, progress=False)
    assert torch.allclose(direct, first.states, atol=1e-5)


def test_key_changes_with_length_pooling_data_and_weights(tmp_path, csqa_fixture, tiny,
                                                          tiny_backbone_dir):
    dev, test = load_dataset(csqa_fixture, "dev"), load_dataset(csqa_fixture, "test")
    base = dict(backbone="b", fingerprint="sha256:1", max_length=64, pooling="first",
                dataset_checksum=dev.checksum)
    keys = {cache_key(**base), cache_key(**{**base, "max_length": 32}),
            cache_key(**{**base, "pooling": "mean"}),
            cache_key(**{**base, "dataset_checksum": test.checksum}),
            cache_key(**{**base, "fingerprint": "sha256:2"})}
    assert len(keys) == 5
    assert backbone_fingerprint(str(tiny_backbone_dir)).startswith("sha256:")
    a = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path, progress=False)
    b = load_or_compute_states(tiny, dev, max_length=16, cache_dir=tmp_path, progress=False)
    c = load_or_compute_states(tiny, dev, max_length=32, pooling="mean", cache_dir=tmp_path,
                               progress=False)
    assert not b.hit and not c.hit and len({a.path, b.path, c.path}) == 3
    assert not torch.equal(a.states, c.states)


def test_choice_pooled_states_are_the_backbone_choice_pooling(tmp_path, csqa_fixture,
                                                              tiny_backbone_dir):
    from kgqa.backbones import Backbone

    dev = load_dataset(csqa_fixture, "dev")
    chooser = Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all", pooling="choice").eval()
    cached = load_or_compute_states(chooser, dev, max_length=32, pooling="choice",
                                    cache_dir=tmp_path, progress=False)
    mean = load_or_compute_states(chooser, dev, max_length=32, pooling="mean", cache_dir=tmp_path,
                                  progress=False)
    assert cached.path != mean.path and not torch.allclose(cached.states, mean.states)
    ex = dev.examples[0]
    enc = chooser.encode_choices([ex.question], [list(ex.choices)], max_length=32)
    with torch.no_grad():
        pooled = chooser(**enc).pooled
    torch.testing.assert_close(cached.states[0], pooled, atol=1e-5, rtol=1e-5)


def test_damaged_entry_is_recomputed_with_a_warning(tmp_path, csqa_fixture, tiny):
    dev = load_dataset(csqa_fixture, "dev")
    good = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path, progress=False)
    entry = good.path
    manifest = json.loads((entry / MANIFEST_FILE).read_text())
    manifest["ids"] = manifest["ids"][:2]
    (entry / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match=r"\[W190\].*do not match"):
        again = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path)
    assert not again.hit and torch.allclose(again.states, good.states, atol=1e-6)
    # flipped bytes inside the tensors: the sha256 in the manifest catches them
    data = bytearray((entry / "states.safetensors").read_bytes())
    data[-64:-32] = bytes(32)
    (entry / "states.safetensors").write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"\[W190\].*sha256"):
        again = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path)
    assert torch.allclose(again.states, good.states, atol=1e-6)
    (entry / "states.safetensors").write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=r"\[W190\]"):
        again = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path)
    assert load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path).hit


def test_sentence_vectors_are_the_zero_shot_encoder(tmp_path, csqa_fixture, tiny, tiny_backbone_dir):
    """The cached question/choice vectors are SentenceEncoder's: their cosine is the zero-shot
    baseline's logit."""
    from kgqa.encoders.sentence import SentenceEncoder
    from kgqa.training.zeroshot import zeroshot_logits

    dev = load_dataset(csqa_fixture, "dev")
    cached = load_or_compute_states(tiny, dev, max_length=32, cache_dir=tmp_path, progress=False)
    q, a = cached.sentence_vectors()
    assert q.shape == (4, 32) and a.shape == (4, 5, 32)
    assert torch.allclose(q.norm(dim=-1), torch.ones(4), atol=1e-5)
    expected = zeroshot_logits(dev, SentenceEncoder(str(tiny_backbone_dir), max_length=32))
    assert torch.allclose(torch.einsum("nd,ncd->nc", q, a), expected, atol=1e-5)

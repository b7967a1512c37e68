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


def test_state_layers_concatenate_the_top_hidden_states(tmp_path, csqa_fixture, tiny):
    """``state_layers: k`` pair states are the pooled states of the top ``k`` hidden states side
    by side, lowest first: the last block is the last layer's state, the first block of ``all``
    the embeddings' output; each ``k`` is its own cache entry."""
    dev = load_dataset(csqa_fixture, "dev")
    hidden, layers = tiny.hidden_size, tiny.num_layers
    last = load_or_compute_states(tiny, dev, max_length=32, pooling="mean", cache_dir=tmp_path,
                                  progress=False)
    two = load_or_compute_states(tiny, dev, max_length=32, pooling="mean", state_layers=2,
                                 cache_dir=tmp_path, progress=False)
    every = load_or_compute_states(tiny, dev, max_length=32, pooling="mean", state_layers="all",
                                   cache_dir=tmp_path, progress=False)
    assert not two.hit and not every.hit and len({last.path, two.path, every.path}) == 3
    assert two.states.shape == (4, 5, 2 * hidden)
    assert every.states.shape == (4, 5, (layers + 1) * hidden)
    torch.testing.assert_close(two.states[..., hidden:], last.states, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(every.states[..., -2 * hidden:], two.states, atol=1e-5, rtol=1e-5)
    # the lower block is a different layer's state, not a copy of the last one
    assert not torch.allclose(two.states[..., :hidden], last.states, atol=1e-3)
    # the first block of "all": the embeddings' output, mean-pooled
    ex = dev.examples[0]
    enc = tiny.encode_choices([ex.question], [list(ex.choices)], max_length=32)
    with torch.no_grad():
        tiny.eval()  # no dropout
        embedded = tiny.model.embeddings(input_ids=enc["input_ids"],
                                         token_type_ids=enc.get("token_type_ids"))
    mask = enc["attention_mask"].unsqueeze(-1).float()
    expected = (embedded * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(every.states[0, :, :hidden], expected, atol=1e-5, rtol=1e-5)
    assert json.loads((every.path / MANIFEST_FILE).read_text())["state_layers"] == "all"
    again = load_or_compute_states(tiny, dev, max_length=32, pooling="mean", state_layers=2,
                                   cache_dir=tmp_path)
    assert again.hit and torch.equal(again.states, two.states)
    # the key of last-layer states is the one it was before state_layers existed
    base = dict(backbone="b", fingerprint="sha256:1", max_length=64, pooling="mean",
                dataset_checksum=dev.checksum)
    assert cache_key(**base) == cache_key(**base, state_layers=1) != cache_key(**base, state_layers=2)


@pytest.mark.parametrize("bad", [0, 4, "last", True])
def test_state_layers_out_of_range_is_a_coded_error(csqa_fixture, tiny, bad):
    dev = load_dataset(csqa_fixture, "dev")
    assert tiny.num_layers == 2  # so 1..3 hidden states exist
    with pytest.raises(KGQAError, match=r"E018.*state_layers"):
        encode_pairs(tiny, dev, max_length=32, state_layers=bad, progress=False)

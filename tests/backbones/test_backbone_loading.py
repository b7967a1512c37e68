import json

import pytest
import torch

from kgqa.backbones import Backbone, BackboneOutput, resolve_backbone_name
from kgqa.backbones.tiny import TINY_ARCHITECTURES, save_tiny_backbone, wordpiece_vocab
from kgqa.errors import KGQAError

MODEL_CLASSES = {"bert": "BertModel", "albert": "AlbertModel", "electra": "ElectraModel",
                 "roberta": "RobertaModel", "distilbert": "DistilBertModel"}


@pytest.mark.parametrize("arch", TINY_ARCHITECTURES)
def test_each_architecture_loads_from_a_directory(tiny_backbone_dirs, arch):
    backbone = Backbone.from_pretrained(str(tiny_backbone_dirs[arch]))
    assert type(backbone.model).__name__ == MODEL_CLASSES[arch]
    assert (backbone.hidden_size, backbone.num_layers, backbone.model_type) == (32, 2, arch)
    assert backbone.resolved.kind == "directory" and backbone.max_length == 64
    assert getattr(backbone.model, "pooler", None) is None  # first-token pooling, no pooler
    assert backbone.uses_token_type_ids == (arch in ("bert", "albert", "electra"))


@pytest.mark.parametrize("arch", TINY_ARCHITECTURES)
def test_multiple_choice_shapes_and_first_token_pooling(tiny_backbone_dirs, arch):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs[arch]).eval()
    batch = backbone.encode_choices(
        ["where would you keep ice cream?", "what is a shovel for?"],
        [["freezer", "oven", "garden"], ["dig", "read a book", "cats"]], max_length=24)
    names = {"input_ids", "attention_mask"} | (
        {"token_type_ids"} if backbone.uses_token_type_ids else set())
    assert set(batch) == names
    num_rows, length = batch["input_ids"].shape
    assert num_rows == 6 and length <= 24
    with torch.no_grad():
        out = backbone(**batch)
    assert isinstance(out, BackboneOutput)
    assert out.pooled.shape == (6, 32) and out.hidden_states.shape == (6, length, 32)
    assert torch.equal(out.pooled, out.hidden_states[:, 0])
    assert torch.isfinite(out.hidden_states).all()


@pytest.mark.parametrize("arch", TINY_ARCHITECTURES)
def test_choice_pooling_is_the_mean_over_the_choice_tokens(tiny_backbone_dirs, arch):
    from kgqa.backbones.backbone import second_text_mask

    backbone = Backbone.from_pretrained(tiny_backbone_dirs[arch], pooling="choice").eval()
    questions = ["where would you keep ice cream in summer?", "what is a shovel for?"]
    choices = [["freezer", "hot oven", "garden"], ["dig a hole", "read", "cats"]]
    batch = backbone.encode_choices(questions, choices, max_length=24)
    mask = second_text_mask(batch["input_ids"], batch["attention_mask"], backbone.tokenizer)
    # the tokenizer's own record of which text each token came from (None: special tokens)
    expected = [[int(s == 1) for s in batch.sequence_ids(i)] for i in range(6)]
    assert mask.tolist() == expected
    for row, choice in enumerate(c for row in choices for c in row):
        kept = batch["input_ids"][row][mask[row].bool()]
        assert backbone.tokenizer.decode(kept).replace(" ", "") == choice.replace(" ", "")
    with torch.no_grad():
        out = backbone(**batch)
    keep = mask.unsqueeze(-1).float()
    by_hand = (out.hidden_states * keep).sum(1) / keep.sum(1)
    torch.testing.assert_close(out.pooled, by_hand)
    assert not torch.allclose(out.pooled, out.hidden_states[:, 0])


def test_choice_pooling_of_single_texts_keeps_every_token(tiny_backbone_dirs):
    from kgqa.backbones.backbone import second_text_mask

    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    batch = backbone.encode(["a dog", "a much longer text"])
    mask = second_text_mask(batch["input_ids"], batch["attention_mask"], backbone.tokenizer)
    assert torch.equal(mask, batch["attention_mask"])  # no second text: the mean over the text


def test_pairs_are_question_major_and_sentence_pairs(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    batch = backbone.encode_choices(["the dog", "a cat"], [["home", "garden"], ["store", "book"]])
    decoded = [backbone.tokenizer.decode(row, skip_special_tokens=False).replace(" [PAD]", "")
               for row in batch["input_ids"]]
    assert decoded == ["[CLS] the dog [SEP] home [SEP]", "[CLS] the dog [SEP] garden [SEP]",
                       "[CLS] a cat [SEP] store [SEP]", "[CLS] a cat [SEP] book [SEP]"]
    # segment ids: 0 for [CLS] question [SEP], 1 for the choice and its [SEP]
    assert batch["token_type_ids"][0].tolist()[:6] == [0, 0, 0, 0, 1, 1]
    roberta = Backbone.from_pretrained(tiny_backbone_dirs["roberta"])
    row = roberta.encode_choices(["the dog"], [["home"]])["input_ids"][0]
    assert roberta.tokenizer.decode(row) == "<s>the dog</s></s>home</s>"


def test_truncation_and_padding_to_max_length(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    long_question = " ".join(["the dog"] * 50)
    batch = backbone.encode_choices([long_question], [["a", "store"]], max_length=16)
    assert batch["input_ids"].shape == (2, 16)
    assert batch["input_ids"][0, -1].item() == backbone.tokenizer.sep_token_id
    padded = backbone.encode_choices(["the dog"], [["a", "b"]], max_length=12, padding="max_length")
    assert padded["attention_mask"].sum(1).tolist() == [6, 6]  # [CLS] the dog [SEP] a [SEP]
    assert padded["input_ids"].shape == (2, 12)
    capped = backbone.encode_choices([long_question], [["a"]], max_length=1000)
    assert capped["input_ids"].shape == (1, 64)  # capped at the position table


def test_bad_choice_inputs(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    with pytest.raises(KGQAError, match=r"\[E018\].*2 questions but 1 choice lists"):
        backbone.encode_choices(["a", "b"], [["x", "y"]])
    with pytest.raises(KGQAError, match=r"same number \(>= 1\) of choices; got \[2, 3\]"):
        backbone.encode_choices(["a", "b"], [["x", "y"], ["x", "y", "z"]])
    batch = backbone.encode_choices(["a"], [["x", "y"]])
    with pytest.raises(KGQAError, match=r"input_ids must be \(N, L\); got shape \(1, 2, \d+\)"):
        backbone(batch["input_ids"].view(1, 2, -1), batch["attention_mask"].view(1, 2, -1))


def test_same_seed_same_weights_and_vocab(tmp_path):
    a = Backbone.from_pretrained(save_tiny_backbone("bert", tmp_path / "a", seed=3))
    b = Backbone.from_pretrained(save_tiny_backbone("bert", tmp_path / "b", seed=3))
    c = Backbone.from_pretrained(save_tiny_backbone("bert", tmp_path / "c", seed=4))
    wa, wb, wc = (m.model.embeddings.word_embeddings.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert wa.shape == (len(wordpiece_vocab()), 32)


def test_unknown_names_are_clear_errors(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never wait on the network in tests
    with pytest.raises(KGQAError) as info:
        Backbone.from_pretrained("no-such-backbone-xyz")
    message = str(info.value)
    assert message.startswith("[E017] Could not load backbone 'no-such-backbone-xyz'. Tried: ")
    assert "short names: no match" in message
    assert "local directory no-such-backbone-xyz: does not exist" in message
    assert "hub cache only (offline) 'no-such-backbone-xyz'" in message
    assert "minilm" in message  # the short names are listed
    with pytest.raises(KGQAError, match=r"local directory ./no/such/dir: does not exist\. Pass"):
        Backbone.from_pretrained("./no/such/dir")


def test_directory_without_weights(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E017\].*no config.json and no weights "
                                        r"\(model.safetensors"):
        Backbone.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(KGQAError, match=r"local directory .*: no weights \(model.safetensors"):
        Backbone.from_pretrained(tmp_path)


def test_name_resolution():
    assert resolve_backbone_name("roberta-large").path == "FacebookAI/roberta-large"
    assert resolve_backbone_name("google/electra-large-discriminator").kind == "hub"
    assert resolve_backbone_name("albert-xxlarge").kind == "hub"
    with pytest.raises(KGQAError, match=r"Tried: an empty name"):
        resolve_backbone_name(" ")


def test_hub_id_loads_from_the_hub_cache_offline(tiny_backbone_dirs, tmp_path, monkeypatch):
    """A hub id goes through the hub branch: here a hand-made hub cache, with HF_HUB_OFFLINE."""
    import shutil

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--kgqa-tests--tiny-electra"
    shutil.copytree(tiny_backbone_dirs["electra"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    backbone = Backbone.from_pretrained("kgqa-tests/tiny-electra", cache_dir=tmp_path / "hub")
    assert backbone.resolved.kind == "hub" and backbone.model_type == "electra"
    local = Backbone.from_pretrained(tiny_backbone_dirs["electra"])
    assert torch.equal(backbone.model.embeddings.word_embeddings.weight,
                       local.model.embeddings.word_embeddings.weight)
    with pytest.raises(KGQAError, match=r"hub cache only \(offline\) 'kgqa-tests/other'"):
        Backbone.from_pretrained("kgqa-tests/other", cache_dir=tmp_path / "hub")


def test_weights_missing_from_the_checkpoint_warn(tiny_backbone_dirs, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_backbone_dirs["bert"], tmp_path / "bert3")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, num_hidden_layers=3)))
    with pytest.warns(UserWarning, match=r"\[W002\] backbone '.*bert3': 16 weights were not in "
                                         r"the checkpoint and are randomly initialised"):
        backbone = Backbone.from_pretrained(folder)
    assert backbone.num_layers == 3

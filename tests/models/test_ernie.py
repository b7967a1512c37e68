"""The knowledge-fused encoder (ERNIE) on tiny random backbones and a hand-built graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgqa.backbones.backbone import Backbone
from kgqa.backbones.tiny import save_tiny_backbone
from kgqa.errors import KGQAError
from kgqa.kge.artifacts import EntityEmbeddings
from kgqa.linking.types import LinkResult, Mention
from kgqa.models.base import QABatch
from kgqa.models.ernie import ErnieConfig, ErnieForMultipleChoice, KnowledgeFusedEncoder
from kgqa.models.ernie_inputs import ErnieInputBuilder, align_mentions
from kgqa.models.registry import get_model_class
from kgqa.pretraining.dea import KEEP, MASKED, REPLACED, dea_corrupt, sequence_entities
from tests.conftest import build_graph

ARCHS = ("bert", "albert", "electra")


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ernie_tiny")
    return {arch: save_tiny_backbone(arch, root / arch) for arch in ARCHS}


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return build_graph(tmp_path_factory.mktemp("ernie_graph") / "toy")


@pytest.fixture(scope="module")
def table(toy):
    rng = np.random.default_rng(0)
    return EntityEmbeddings.from_arrays(toy, rng.normal(size=(toy.num_nodes, 8)).astype(np.float32))


class DictLinker:
    """Links every occurrence of the given words (a stand-in for the real linker)."""

    def __init__(self, kg, words):
        self.kg, self.words = kg, words

    def link(self, text):
        mentions = []
        for word in self.words:
            start = text.find(word)
            while start >= 0:
                mentions.append(Mention(start, start + len(word), word, self.kg.node_id(word), word, "surface"))
                start = text.find(word, start + 1)
        return LinkResult(text=text, mentions=tuple(sorted(mentions, key=lambda m: m.start)))

    def link_batch(self, texts, as_choice=False):
        return [self.link(t) for t in texts]


def _config(**kw):
    base = dict(lm_hidden_size=32, num_aggregators=1, entity_dim=8, entity_hidden_size=8, entity_heads=2)
    return ErnieConfig(**{**base, **kw})


@pytest.mark.parametrize("arch", ARCHS)
def test_without_entities_it_is_the_backbone(arch, tiny_dirs, table):
    reference = Backbone.from_pretrained(tiny_dirs[arch]).eval()
    encoder = KnowledgeFusedEncoder(_config(), Backbone.from_pretrained(tiny_dirs[arch]), table).eval()
    assert encoder.backbone.num_layers == 1 and len(encoder.aggregators) == 1
    enc = reference.encode(["a shovel is a tool", "where is the garden?"])
    with torch.no_grad():
        expected = reference(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")).hidden_states
        out = encoder(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
    mask = enc["attention_mask"].bool()
    assert out.hidden_states.shape == expected.shape == (2, enc["input_ids"].shape[1], 32)
    assert out.entity_states.shape == (2, enc["input_ids"].shape[1], 8)
    torch.testing.assert_close(out.hidden_states[mask], expected[mask], rtol=0, atol=1e-5)
    assert out.has_entities.tolist() == [False, False]


@pytest.mark.parametrize("arch", ARCHS)
def test_entities_change_only_their_tokens_in_one_aggregator(arch, tiny_dirs, table):
    encoder = KnowledgeFusedEncoder(_config(), Backbone.from_pretrained(tiny_dirs[arch]), table).eval()
    enc = encoder.backbone.encode(["a shovel is a tool used to dig"])
    entity_ids = torch.full_like(enc["input_ids"], -1)
    entity_ids[0, 2], entity_ids[0, 5] = 3, 4
    with torch.no_grad():
        plain = encoder(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")).hidden_states
        fused = encoder(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"), entity_ids)
    changed = (fused.hidden_states - plain).abs().amax(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == [2, 5]
    assert fused.entity_mask[0].nonzero().flatten().tolist() == [2, 5]
    assert fused.has_entities.tolist() == [True]


def test_alignment_lands_on_the_first_word_piece(tiny_dirs, toy):
    backbone = Backbone.from_pretrained(tiny_dirs["bert"])
    builder = ErnieInputBuilder(backbone.tokenizer, DictLinker(toy, ["flower", "garden", "shovel", "dig"]))
    enc = builder.encode(["the flower is in the garden"], ["shovel to dig"])
    tokens = backbone.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    # "flower" is not in the tiny vocabulary: f ##l ##o ##w ##e ##r; its entity sits on "f"
    assert tokens[:9] == ["[CLS]", "the", "f", "##l", "##o", "##w", "##e", "##r", "is"]
    placed = {tokens[i]: toy.node_name(int(e)) for i, e in enumerate(enc["entity_ids"][0]) if e >= 0}
    assert placed == {"f": "flower", "garden": "garden", "shovel": "shovel", "dig": "dig"}
    assert int((enc["entity_ids"][0] >= 0).sum()) == 4
    # "shovel" of the choice (second segment) is after the first [SEP]
    sep = tokens.index("[SEP]")
    assert tokens.index("shovel") > sep and enc["entity_ids"][0][tokens.index("shovel")] == toy.node_id("shovel")


def test_overlapping_mentions_keep_the_longest():
    offsets = [(0, 0), (0, 5), (6, 13), (0, 0)]  # [CLS] plant flowers [SEP]
    mentions = [Mention(0, 5, "plant", 7, "plant", "surface"), Mention(0, 13, "plant flowers", 9, "plant_flower", "lemma"),
                Mention(6, 13, "flowers", 8, "flower", "lemma")]
    assert align_mentions(offsets, mentions).tolist() == [-1, 9, 8, -1]
    # a mention cut off by truncation (no token inside) is dropped
    assert align_mentions(offsets[:2], [Mention(6, 13, "flowers", 8, "flower", "lemma")]).tolist() == [-1, -1]


def test_real_linker_alignment(tiny_dirs, toy):
    from kgqa.linking.linker import load_linker

    backbone = Backbone.from_pretrained(tiny_dirs["bert"])
    builder = ErnieInputBuilder(backbone.tokenizer, load_linker(toy))
    enc = builder.encode(["A shovel is a tool to dig in the garden.", "what is this?"])
    tokens = backbone.tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist())
    placed = [(tokens[i], toy.node_name(int(e))) for i, e in enumerate(enc["entity_ids"][0]) if e >= 0]
    assert placed == [("shovel", "shovel"), ("tool", "tool"), ("dig", "dig"), ("garden", "garden")]
    assert (enc["entity_ids"][1] == -1).all() and enc["links"][1].mentions == ()


def test_bad_entity_ids_and_sizes(tiny_dirs, table):
    encoder = KnowledgeFusedEncoder(_config(), Backbone.from_pretrained(tiny_dirs["bert"]), table)
    ids = torch.tensor([[2, 10, 11, 3]])
    with pytest.raises(KGQAError, match=r"\[E054\] Entity id 9 is out of range"):
        encoder(ids, entity_ids=torch.tensor([[-1, 9, -1, -1]]))
    with pytest.raises(KGQAError, match=r"\[E054\] Entity id -2"):
        encoder(ids, entity_ids=torch.tensor([[-1, -2, -1, -1]]))
    with pytest.raises(KGQAError, match=r"\[E053\].*entity_dim is 100"):
        KnowledgeFusedEncoder(_config(entity_dim=100), Backbone.from_pretrained(tiny_dirs["bert"]), table)
    with pytest.raises(KGQAError, match=r"\[E053\].*not divisible by entity_heads 3"):
        KnowledgeFusedEncoder(_config(entity_heads=3), Backbone.from_pretrained(tiny_dirs["bert"]), table)
    with pytest.raises(KGQAError, match=r"\[E053\].*num_aggregators=3.*2 layers"):
        KnowledgeFusedEncoder(_config(num_aggregators=3), Backbone.from_pretrained(tiny_dirs["bert"]), table)
    with pytest.raises(KGQAError, match=r"\[E053\].*lm_hidden_size is 64"):
        KnowledgeFusedEncoder(_config(lm_hidden_size=64), Backbone.from_pretrained(tiny_dirs["bert"]), table)


def _mc_batch(model):
    enc = model.encode_choices(["where is the flower?", "a shovel is used to"],
                               [["garden", "book", "tool"], ["dig", "garden", "home"]])
    shape = (2, 3, -1)
    batch = QABatch(ids=["q1", "q2"], num_choices=3, labels=torch.tensor([0, 0]),
                    input_ids=enc["input_ids"].view(shape), attention_mask=enc["attention_mask"].view(shape),
                    token_type_ids=enc["token_type_ids"].view(shape))
    batch.extras["entity_ids"] = enc["entity_ids"].view(shape)
    return batch


def test_multiple_choice_forward_and_frozen_t_encoder(tiny_dirs, toy, table):
    assert get_model_class("ernie") is ErnieForMultipleChoice
    torch.manual_seed(0)
    # two aggregators: in one, the first token ([CLS], never an entity) cannot see fused entities yet
    model = ErnieForMultipleChoice(_config(num_aggregators=2), Backbone.from_pretrained(tiny_dirs["bert"]),
                                   entity_embeddings=table, linker=DictLinker(toy, ["flower", "garden", "shovel", "dig"]))
    batch = _mc_batch(model)
    out = model(batch)
    assert out.logits.shape == (2, 3) and out.loss is not None
    out.loss.backward()
    assert all(p.grad is None for p in model.encoder.backbone.parameters())
    assert model.encoder.aggregators[0].entity_in.weight.grad.abs().sum() > 0
    # the last aggregator's entity term only changes entity tokens, which the first-token score never reads
    assert model.encoder.aggregators[1].entity_in.weight.grad.abs().sum() == 0
    groups = model.parameter_groups()
    # frozen T-encoder: the lm-rate group is only the aggregators' token paths (copied layers)
    token_paths = {id(p) for a in model.encoder.aggregators for name in ("token_attention", "token_in",
                   "token_out", "token_norm") for p in getattr(a, name).parameters()}
    assert {id(p) for p in groups["backbone"]} == token_paths and len(groups["head"]) > 0
    del batch.extras["entity_ids"]
    with pytest.raises(KGQAError, match=r"E040.*entity_ids"):
        model(batch)


def test_save_load_round_trip(tiny_dirs, toy, table, tmp_path):
    torch.manual_seed(0)
    linker = DictLinker(toy, ["flower", "garden", "shovel", "dig"])
    model = ErnieForMultipleChoice(_config(num_aggregators=2), Backbone.from_pretrained(tiny_dirs["albert"]),
                                   entity_embeddings=table, linker=linker).eval()
    with torch.no_grad():
        for p in model.scorer.parameters():
            p.add_(0.5)
    batch = _mc_batch(model)
    model.save_pretrained(tmp_path / "ernie")
    assert {p.name for p in (tmp_path / "ernie").iterdir()} == {"config.json", "model.safetensors", "backbone",
                                                          ".kgqa-artefact"}  # the marker: a kgqa encoder
    loaded = ErnieForMultipleChoice.from_pretrained(tmp_path / "ernie", entity_embeddings=table, linker=linker).eval()
    with torch.no_grad():
        assert torch.equal(model(batch).logits, loaded(batch).logits)
    assert loaded.config.entity_checksum == table.checksum
    other = EntityEmbeddings.from_arrays(toy, np.ones((toy.num_nodes, 8), np.float32))
    with pytest.raises(KGQAError, match=r"\[E052\].*differs"):
        ErnieForMultipleChoice.from_pretrained(tmp_path / "ernie", entity_embeddings=other)


def test_pretrained_by_name_under_kgqa_home(tiny_dirs, toy, table, tmp_path, monkeypatch):
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    model = ErnieForMultipleChoice(_config(), Backbone.from_pretrained(tiny_dirs["bert"]), entity_embeddings=table)
    model.save_pretrained(tmp_path / "home" / "pretrained" / "tiny-ernie")
    loaded = ErnieForMultipleChoice({"pretrained": "tiny-ernie"}, entity_embeddings=table)
    assert loaded.encoder.backbone.num_layers == model.encoder.backbone.num_layers
    with pytest.raises(KGQAError, match=r"\[E053\].*no saved ERNIE model 'missing'.*kgqa pretrain"):
        ErnieForMultipleChoice({"pretrained": "missing"}, entity_embeddings=table)


def _questions_like_batch(seed: int = 0) -> torch.Tensor:
    """64 texts of 64 tokens, each with 2-5 distinct entities (ids 0..299) aligned to about half
    of its tokens, like a batch of linked CommonsenseQA questions: about 2,000 alignments."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.full((64, 64), -1, dtype=torch.long)
    for row in range(64):
        own = torch.randperm(300, generator=g)[:int(torch.randint(2, 6, (1,), generator=g))]
        aligned = torch.rand(64, generator=g) < 0.5
        ids[row, aligned] = own[torch.randint(len(own), (int(aligned.sum()),), generator=g)]
    return ids


def test_dea_corruption_rates_and_batch_replacements():
    """ERNIE's rates (thunlp/ERNIE run_pretrain.py: 5% replaced, 15% masked, 80% kept),
    measured on ~2,000 alignments; replacements and candidates come from the whole batch."""
    ids = _questions_like_batch()
    aligned = ids >= 0
    n = int(aligned.sum())
    assert 1900 < n < 2200
    out = dea_corrupt(ids, generator=torch.Generator().manual_seed(1))
    masked = float((out.corruption == MASKED).sum()) / n
    replaced = float((out.corruption == REPLACED).sum()) / n
    # binomial standard deviations at n = 2,000: 0.008 (15%) and 0.005 (5%); 3 sigma
    assert abs(masked - 0.15) < 0.025 and abs(replaced - 0.05) < 0.015
    assert int(((out.corruption >= 0) & (out.corruption <= 2)).sum()) == n and (out.corruption[~aligned] == -1).all()
    assert (out.input_entity_ids[out.corruption == MASKED] == -1).all()
    assert torch.equal(out.input_entity_ids[out.corruption == KEEP], ids[out.corruption == KEEP])
    batch = set(ids[aligned].tolist())
    rows, cols = (out.corruption == REPLACED).nonzero(as_tuple=True)
    foreign = 0
    for r, c in zip(rows.tolist(), cols.tolist()):
        new = int(out.input_entity_ids[r, c])
        assert new != int(ids[r, c]) and new in batch
        foreign += new not in ids[r].tolist()
    assert foreign / len(rows) > 0.9  # almost always an entity the text itself does not have
    # every row chooses among the batch's distinct entities; targets index the original
    assert out.candidates.shape == (64, len(batch)) and (out.candidates == out.candidates[0]).all()
    assert out.candidates[0].tolist() == sorted(batch)
    picked = out.candidates.gather(1, out.targets.clamp(min=0))
    assert torch.equal(picked[aligned], ids[aligned]) and (out.targets[~aligned] == -100).all()


def test_dea_sequence_scope_draws_from_the_text_itself():
    ids = _questions_like_batch(seed=2)
    out = dea_corrupt(ids, mask_prob=0.05, replace_prob=0.15, scope="sequence",
                      generator=torch.Generator().manual_seed(3))
    rows, cols = (out.corruption == REPLACED).nonzero(as_tuple=True)
    assert len(rows) > 200
    for r, c in zip(rows.tolist(), cols.tolist()):
        new = int(out.input_entity_ids[r, c])
        assert new != int(ids[r, c]) and new in ids[r].tolist()
    assert out.candidates.shape[1] <= 5
    # a batch with a single entity has nothing to replace it with: kept
    single = torch.tensor([[7, 7, -1, 7]] * 50)
    lone = dea_corrupt(single, replace_prob=1.0, mask_prob=0.0)
    assert (lone.corruption[single >= 0] == KEEP).all()
    with pytest.raises(ValueError, match="scope"):
        dea_corrupt(single, scope="corpus")


def test_sequence_entities_by_hand():
    candidates, targets = sequence_entities(torch.tensor([[5, -1, 3, 5], [-1, -1, -1, -1]]))
    assert candidates.tolist() == [[3, 5], [-1, -1]]
    assert targets.tolist() == [[1, -100, 0, 1], [-100, -100, -100, -100]]


def test_pretraining_losses_fall(tiny_dirs, toy, table, tmp_path):
    import json

    from kgqa.pretraining.run import PretrainConfig, pretrain

    linker = DictLinker(toy, ["flower", "garden", "shovel", "dig", "tool", "hammer"])
    texts = ["a shovel is a tool to dig in the garden", "the flower is in the garden", "a hammer is a tool"] * 12
    cfg = PretrainConfig(entity_hidden_size=8, entity_heads=2, num_aggregators=1, steps=24, batch_size=8,
                         log_every=8, eval_texts=6, learning_rate=2e-3, warmup_steps=1, output=str(tmp_path / "p"))
    record = pretrain(cfg, backbone=Backbone.from_pretrained(tiny_dirs["bert"]), entity_embeddings=table,
                      linker=linker, texts=texts)
    assert record["eval_after"]["dea_loss"] < record["eval_before"]["dea_loss"]
    assert record["curve"]["step"] == [8, 16, 24]
    assert json.loads((tmp_path / "p" / "loss_curve.json").read_text())["name"] == "ernie-csqa"
    encoder, heads, saved = KnowledgeFusedEncoder.from_pretrained(tmp_path / "p", entity_embeddings=table)
    assert saved["model"] == "ernie" and any(k.startswith("pretraining.dea") for k in heads)

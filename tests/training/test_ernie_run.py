"""``ernie`` through the training runner: linking inside the collator, entity ids in the batch,
the finetune regime only, and ``kgqa eval`` on its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.kge.artifacts import EntityEmbeddings
from kgqa.training import pipeline
from kgqa.training.checkpoint import Checkpoint
from kgqa.training.runner import evaluate_checkpoint, uses_subgraphs
from tests.conftest import build_graph

ERNIE_KWARGS = {"num_aggregators": 1, "entity_dim": 8, "entity_hidden_size": 8, "entity_heads": 2,
                "dropout": 0.0}


@pytest.fixture()
def ernie_setup(tmp_path, csqa_fixture):
    kg = build_graph(tmp_path / "toy")
    rng = np.random.default_rng(0)
    table = EntityEmbeddings.from_arrays(kg, rng.normal(size=(kg.num_nodes, 8)).astype(np.float32))
    emb_dir = table.save(tmp_path / "toy_transe")
    config = {"name": "tiny_ernie",
              "dataset": {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev",
                          "test_split": "test"},
              "graph": {"name": str(tmp_path / "toy")},
              "backbone": {"max_length": 32},
              "model": {"name": "ernie", "kwargs": {**ERNIE_KWARGS, "embeddings": str(emb_dir)}},
              "training": {"epochs": 1, "batch_size": 4, "eval_batch_size": 8, "lr": 1e-2,
                           "lm_lr": 1e-3, "patience": None}}
    return config, table


def test_ernie_trains_through_the_runner_with_linked_entities(tmp_path, ernie_setup, tiny_backbone_dir):
    config, table = ernie_setup
    seen = []
    from kgqa.models.ernie import ErnieForMultipleChoice

    original = ErnieForMultipleChoice.forward

    def spy(self, batch):
        seen.append(batch.extras["entity_ids"].clone())
        return original(self, batch)

    ErnieForMultipleChoice.forward = spy
    try:
        result = pipeline(config=config, backbone=str(tiny_backbone_dir), regime="finetune", seed=0,
                          out_dir=tmp_path / "runs", progress=False)
    finally:
        ErnieForMultipleChoice.forward = original
    assert result.model == "ernie" and result.training["steps"] == 3
    assert set(result.metrics) == {"dev", "test"}
    # the collator linked the fixture's words to toy-graph nodes and put them in the batch
    ids = torch.cat([s.flatten() for s in seen])
    linked = ids[ids >= 0]
    assert linked.numel() > 0 and int(linked.max()) < table.entity.shape[0]
    assert result.checksums["entities"]["entity_checksum"] == table.checksum
    assert "graph" not in result.checksums  # no subgraph retrieval for ernie
    # a saved checkpoint scores a split to the same accuracy as the run reported
    again = evaluate_checkpoint(result.checkpoint, split="dev", dataset=config["dataset"]["name"])
    assert again["accuracy"] == pytest.approx(result.metrics["dev"]["accuracy"])
    assert again["loss"] == pytest.approx(result.metrics["dev"]["loss"], abs=1e-5)
    assert Checkpoint.load(result.checkpoint).model_name == "ernie"


def test_ernie_pretrained_layers_take_the_lm_rate(ernie_setup, tiny_backbone_dir):
    from kgqa.backbones import Backbone
    from kgqa.models.ernie import ErnieForMultipleChoice

    config, table = ernie_setup
    model = ErnieForMultipleChoice(
        {**ERNIE_KWARGS, "lm_hidden_size": 32, "freeze_t_encoder": True, "graph": config["graph"]["name"]},
        Backbone.from_pretrained(str(tiny_backbone_dir)), entity_embeddings=table)
    groups = model.parameter_groups()
    aggregator = model.encoder.aggregators[0]
    lm_ids = {id(p) for p in groups["backbone"]}
    assert all(id(p) in lm_ids for p in aggregator.token_in.parameters())  # copied from the backbone
    assert all(id(p) in lm_ids for p in aggregator.token_attention.parameters())
    assert not any(id(p) in lm_ids for p in aggregator.entity_in.parameters())  # new: head rate
    assert not any(id(p) in lm_ids for p in model.scorer.parameters())
    assert not any(p.requires_grad for p in model.encoder.backbone.parameters())  # frozen T-encoder
    assert len(groups["backbone"]) + len(groups["head"]) == sum(p.requires_grad for p in model.parameters())


def test_ernie_refuses_the_frozen_regime(tmp_path, ernie_setup, tiny_backbone_dir):
    config, _ = ernie_setup
    with pytest.raises(KGQAError, match=r"E030.*regime.*reads token ids.*finetune"):
        pipeline(config={**config, "regime": "frozen"}, backbone=str(tiny_backbone_dir),
                 out_dir=tmp_path / "runs", progress=False)


def test_which_models_read_subgraphs():
    assert [uses_subgraphs(n) for n in ("lm", "ernie", "zeroshot", "rgcn", "qagnn", "kagnet")] == [
        False, False, False, True, True, True]


def test_saved_ernie_finds_its_table_by_checksum_on_another_machine(tmp_path, ernie_setup, tiny_backbone_dir):
    """A checkpoint records the absolute path of its entity table; where that path does not
    exist, the graph's table with the recorded sha256 is used, never merely the newest one."""
    from kgqa.backbones import Backbone
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.kge.artifacts import embeddings_root
    from kgqa.models.ernie import ErnieForMultipleChoice

    config, table = ernie_setup
    graph_dir = config["graph"]["name"]
    kg = KnowledgeGraph.load(graph_dir)
    model = ErnieForMultipleChoice({**ERNIE_KWARGS, "lm_hidden_size": 32, "graph": graph_dir},
                                   Backbone.from_pretrained(str(tiny_backbone_dir)), entity_embeddings=table)
    saved = {**model.config_dict(), "embeddings": str(tmp_path / "elsewhere" / "transe-8-gone")}
    with pytest.raises(KGQAError, match=r"E052.*sha256.*no table under"):
        ErnieForMultipleChoice(saved, Backbone.from_pretrained(str(tiny_backbone_dir)))
    table.save(embeddings_root(kg) / "transe-8-right")
    rng = np.random.default_rng(1)
    newer = EntityEmbeddings.from_arrays(kg, rng.normal(size=(kg.num_nodes, 8)).astype(np.float32))
    newer.save(embeddings_root(kg) / "transe-8-newer")
    rebuilt = ErnieForMultipleChoice(saved, Backbone.from_pretrained(str(tiny_backbone_dir)))
    assert rebuilt.config.entity_checksum == table.checksum != newer.checksum
    assert torch.equal(rebuilt.encoder.entity_table, torch.from_numpy(np.asarray(table.entity)))

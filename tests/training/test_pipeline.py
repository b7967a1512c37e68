"""End to end on a 20-question CommonsenseQA-format fixture with a tiny random backbone."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch_geometric.data import Data

from kgqa.data import load_dataset
from kgqa.training import pipeline
from kgqa.training.checkpoint import Checkpoint
from kgqa.training.results import RunResult
from tests.conftest import build_graph
from tests.training.toys import assert_same_weights, interrupt_at_train_batch


def _config(csqa_fixture, **training):
    return {"name": "tiny_run",
            "dataset": {"name": str(csqa_fixture), "train_split": "train", "dev_split": "dev",
                        "test_split": "test"},
            "backbone": {"max_length": 32},
            "training": {"epochs": 2, "batch_size": 4, "eval_batch_size": 8, "lr": 1e-2,
                         "lm_lr": 1e-3, "patience": None, **training}}


def _toy_graph(kg) -> dict:
    """The ``graph`` section for the toy graph: serial retrieval, no learned ranker or scorer."""
    return {"name": str(kg.path), "backend": "serial", "workers": 1,
            "retrieval": {"ranker": "degree", "path_scorer": "none"}}


def _partial_graph_config(csqa_fixture, backbone_dir, kg, **training) -> dict:
    """:func:`_config` in the partial regime (the tiny backbone's top layer trained, mean
    pooling) on the toy graph."""
    cfg = _config(csqa_fixture, **training)
    cfg["regime"] = "partial"
    cfg["backbone"] = {**cfg["backbone"], "name": str(backbone_dir), "train_layers": 1,
                       "pooling": "mean"}
    cfg["graph"] = _toy_graph(kg)
    return cfg


def test_frozen_lm_end_to_end_writes_complete_results(tmp_path, csqa_fixture, tiny_backbone_dir):
    result = pipeline(config=_config(csqa_fixture), model="lm", backbone=str(tiny_backbone_dir),
                      regime="frozen", seed=3, out_dir=tmp_path / "runs",
                      feature_cache_dir=tmp_path / "features", progress=False)
    run_dir = tmp_path / "runs" / "tiny_run" / "seed-3"
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["seed"] == 3 and saved["model"] == "lm" and saved["regime"] == "frozen"
    assert set(saved["metrics"]) == {"dev", "test"} and saved["roles"] == {"dev": "dev", "test": "test"}
    for split, n in (("dev", 4), ("test", 4)):
        m = saved["metrics"][split]
        assert m["num_questions"] == n and m["accuracy"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert 0 < m["loss"] < 10
    assert saved["config"]["backbone"]["name"] == str(tiny_backbone_dir)
    assert saved["config"]["training"]["epochs"] == 2 and saved["config"]["seeds"] == [3]
    assert saved["versions"]["torch"] == torch.__version__
    assert {"python", "kgqa", "transformers", "accelerate"} <= set(saved["versions"])
    assert "commit" in saved["git"] and "dirty" in saved["git"]
    train_ck = saved["checksums"]["datasets"]["train"]
    assert train_ck["num_questions"] == 12 and len(train_ck["checksum"]) == 64
    from kgqa.utils.io import sha256_file

    assert train_ck["files"] == {str(csqa_fixture / "train.jsonl"):
                                 sha256_file(csqa_fixture / "train.jsonl")}
    assert saved["checksums"]["features"]["train"]["hit"] is False
    assert saved["wall_seconds"] > 0 and saved["peak_memory_mb"]["rss"] > 50
    assert saved["training"]["steps"] == 6 and saved["training"]["stop_reason"] == "epochs"
    assert len(saved["training"]["history"]) == 3  # step 0, then each epoch
    # linear scorer over 32-d states (33) + the zero-shot prior: scale (1), interaction MLP over
    # [q*a, |q-a|] 64 -> 256 (+ LayerNorm) -> 1
    assert saved["parameters"]["trainable"] == 33 + 1 + (64 * 256 + 256) + 2 * 256 + (256 + 1)
    assert saved["training"]["planned_steps"] == 6 and saved["training"]["effective_epochs"] == 2
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert saved["training"]["malloc_top_pad_mb"] == (1024 if glibc else None)
    assert RunResult.load(run_dir) == result
    assert Checkpoint.load(result.checkpoint).model_name == "lm"


def test_finetune_trains_the_backbone(tmp_path, csqa_fixture, tiny_backbone_dir):
    from kgqa.backbones import Backbone

    backbone = Backbone.from_pretrained(str(tiny_backbone_dir))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    # no evaluation at step 0: the best (reloaded) checkpoint is then the trained one
    result = pipeline(config=_config(csqa_fixture, epochs=1, eval_at_start=False), model="lm",
                      backbone=backbone,
                      regime="finetune", seed=0, out_dir=tmp_path, progress=False)
    assert result.regime == "finetune" and result.training["steps"] == 3
    assert result.parameters["trainable"] > 10_000  # the tiny BERT is trained too
    changed = [k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) > 10
    assert set(result.metrics) == {"dev", "test"}


def _fixture_graphs(kg, dataset):
    """Per-choice graphs: the choice concept, the question concept 'shovel' and the edges
    between them and their neighbours (a stand-in for retrieval)."""
    graphs = []
    q = kg.node_id("shovel")
    for ex in dataset:
        per_choice = []
        for choice in ex.choices:
            name = choice.replace(" ", "_")
            if not kg.has_node(name):  # no concept linked: an empty subgraph
                per_choice.append(Data(num_nodes=0, edge_index=torch.zeros(2, 0, dtype=torch.long),
                                       node_ids=torch.zeros(0, dtype=torch.long),
                                       node_type=torch.zeros(0, dtype=torch.long),
                                       node_score=torch.zeros(0),
                                       edge_type=torch.zeros(0, dtype=torch.long)))
                continue
            a = kg.node_id(name)
            nodes = np.unique(np.concatenate([[q, a], kg.neighbors(a).nodes]))
            edges = kg.edges_among(nodes)
            local = {int(n): i for i, n in enumerate(nodes)}
            types = [0 if n == q else 1 if n == a else 2 for n in nodes]
            per_choice.append(Data(
                num_nodes=len(nodes), node_ids=torch.as_tensor(nodes, dtype=torch.long),
                node_type=torch.tensor(types), node_score=torch.zeros(len(nodes)),
                edge_index=torch.tensor([[local[int(h)] for h in edges.head],
                                         [local[int(t)] for t in edges.tail]], dtype=torch.long).view(2, -1),
                edge_type=torch.as_tensor(edges.relation, dtype=torch.long)))
        graphs.append(per_choice)
    return graphs


def test_graph_model_with_fixture_graph_and_empty_subgraphs(tmp_path, csqa_fixture, tiny_backbone_dir):
    kg = build_graph(tmp_path / "toy")
    graphs = {role: _fixture_graphs(kg, load_dataset(csqa_fixture, split))
              for role, split in (("train", "train"), ("dev", "dev"), ("test", "test"))}
    assert any(g.num_nodes == 0 for per in graphs["train"] for g in per)  # 'ice cream' etc.
    result = pipeline(config=_config(csqa_fixture), model="rgcn",
                      model_kwargs={"node_embedding": "learned", "num_nodes": kg.num_nodes,
                                    "num_relations": kg.num_relations, "hidden_size": 16,
                                    "num_bases": 0, "scorer_hidden": 16},
                      backbone=str(tiny_backbone_dir), regime="frozen", graphs=graphs,
                      out_dir=tmp_path / "runs", feature_cache_dir=tmp_path / "f", progress=False)
    assert result.model == "rgcn" and result.training["steps"] == 6
    assert all(0.0 <= result.metrics[s]["accuracy"] <= 1.0 for s in ("dev", "test"))


def test_pipeline_resume_matches_uninterrupted_run(tmp_path, csqa_fixture, tiny_backbone_dir,
                                                   monkeypatch):
    cfg = _config(csqa_fixture, epochs=3, checkpoint_every=2, eval_every=2)
    common = dict(model="lm", backbone=str(tiny_backbone_dir), regime="frozen", seed=1,
                  feature_cache_dir=tmp_path / "f", progress=False)
    full = pipeline(config=cfg, out_dir=tmp_path / "full", **common)
    # e.g. Ctrl-C during step 6
    interrupt_at_train_batch(monkeypatch, 6,
                             lambda: pipeline(config=cfg, out_dir=tmp_path / "crash", **common))
    last = tmp_path / "crash" / "tiny_run" / "seed-1" / "checkpoints" / "last"
    crashed = Checkpoint.load(last).state
    assert crashed.step == 4 and crashed.train_seconds > 0
    with pytest.raises(Exception, match="already exists"):
        pipeline(config=cfg, out_dir=tmp_path / "crash", **common)
    resumed = pipeline(config=cfg, out_dir=tmp_path / "crash", resume=True, **common)
    assert resumed.metrics == full.metrics
    assert resumed.training["history"] == full.training["history"]
    assert full.training["resumed_at_step"] is None and resumed.training["resumed_at_step"] == 4
    # the wall time counts the training before the crash, not only the resumed segment
    assert resumed.wall_seconds >= crashed.train_seconds + resumed.timings["train"]
    assert_same_weights(full.checkpoint, resumed.checkpoint)


def test_qagnn_end_to_end_through_retrieval(tmp_path, csqa_fixture, tiny_backbone_dir):
    """Linking, retrieval (kgqa.retrieval.preprocess) and training on the toy graph."""
    kg = build_graph(tmp_path / "toy")
    cfg = {**_config(csqa_fixture), "graph": _toy_graph(kg)}
    result = pipeline(config=cfg, model="qagnn",
                      model_kwargs={"hidden_size": 16, "num_layers": 2, "heads": 2,
                                    "scorer_hidden": 16},
                      backbone=str(tiny_backbone_dir), regime="frozen", out_dir=tmp_path / "runs",
                      feature_cache_dir=tmp_path / "f", progress=False)
    graph = result.checksums["graph"]
    assert graph["checksum"] == kg.checksum and set(graph["caches"]) == {"train", "dev", "test"}
    assert graph["view"] == {"paths": False, "add_inverse": True, "context_node": False}
    saved = Checkpoint.load(result.checkpoint)
    assert saved.meta["model_config"]["num_relations"] == 2 * kg.num_relations + 4
    assert result.training["steps"] == 6 and len(result.training["history"]) == 3
    assert all(0.0 <= result.metrics[s]["accuracy"] <= 1.0 for s in ("dev", "test"))


@pytest.mark.parametrize("model,kwargs", [
    ("qagnn", {"hidden_size": 16, "num_layers": 2, "heads": 2, "scorer_hidden": 16}),
    ("rgcn", {"hidden_size": 16, "num_layers": 3, "num_bases": 0, "scorer_hidden": 16}),
    ("kagnet", {"hidden_size": 16, "gcn_layers": 2, "relation_dim": 8, "lstm_hidden": 8,
                "pair_dim": 8, "scorer_hidden": 16}),
])
def test_graph_models_in_the_partial_regime_train_top_layers_and_graph_part(
        tmp_path, csqa_fixture, tiny_backbone_dir, model, kwargs):
    """A graph model over cached lower layers: the top layer and the graph part train, the rest
    of the backbone not; the checkpoint evaluates to the run's numbers."""
    from kgqa.training.runner import evaluate_checkpoint
    from kgqa.backbones import Backbone

    kg = build_graph(tmp_path / "toy")
    backbone = Backbone.from_pretrained(str(tiny_backbone_dir), freeze="all", pooling="mean")
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    cfg = _partial_graph_config(csqa_fixture, tiny_backbone_dir, kg)
    result = pipeline(config=cfg, model=model, model_kwargs=kwargs, backbone=backbone,
                      out_dir=tmp_path / "runs", feature_cache_dir=tmp_path / "f", progress=False)
    changed = {k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("model.encoder.layer.1.") for k in changed)
    saved = Checkpoint.load(result.checkpoint)
    assert saved.meta["model_name"] == model
    assert saved.meta["model_config"]["num_relations"] == 2 * kg.num_relations + 4
    assert result.checksums["graph"]["view"]["paths"] == (model == "kagnet")
    assert result.checksums["features"]["train"]["num_lower"] == 1
    assert result.training["steps"] == 6
    with safe_open(str(Path(result.checkpoint) / "model.safetensors"), "pt") as f:
        saved_names = set(f.keys())
    lm_names = {n for n in saved_names if n.startswith("backbone.")}
    assert lm_names and all(".encoder.layer.0." in n for n in lm_names)  # the trained top layer only
    assert any(not n.startswith(("backbone.", "scorer.")) for n in saved_names)  # the graph part
    again = evaluate_checkpoint(result.checkpoint, split="test", feature_cache_dir=tmp_path / "f")
    assert again["accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])


def test_partial_qagnn_resumed_mid_epoch_matches_the_uninterrupted_run(tmp_path, csqa_fixture,
                                                                       tiny_backbone_dir,
                                                                       monkeypatch):
    """The long MPNet runs are stopped at a session's end and resumed: a partial-regime QA-GNN
    (dropout in the trained top layer and the graph part) checkpointed every step and stopped
    inside its second epoch resumes to the same weights, history and metrics."""
    kg = build_graph(tmp_path / "toy")
    # 3 steps an epoch: step 4 is mid-epoch
    cfg = _partial_graph_config(csqa_fixture, tiny_backbone_dir, kg, checkpoint_every=1)
    common = dict(model="qagnn", model_kwargs={"hidden_size": 16, "num_layers": 2, "heads": 2,
                                               "scorer_hidden": 16, "dropout": 0.3},
                  seed=2, feature_cache_dir=tmp_path / "f", progress=False)
    full = pipeline(config=cfg, out_dir=tmp_path / "full", **common)
    # stopped during step 5, the second of epoch 2
    interrupt_at_train_batch(monkeypatch, 5,
                             lambda: pipeline(config=cfg, out_dir=tmp_path / "crash", **common))
    last = tmp_path / "crash" / "tiny_run" / "seed-2" / "checkpoints" / "last"
    crashed = Checkpoint.load(last).state
    assert (crashed.step, crashed.epoch, crashed.batch_in_epoch) == (4, 1, 1)
    resumed = pipeline(config=cfg, out_dir=tmp_path / "crash", resume=True, **common)
    assert resumed.training["resumed_at_step"] == 4 and resumed.training["steps"] == 6
    assert resumed.metrics == full.metrics
    assert resumed.training["history"] == full.training["history"]
    assert_same_weights(full.checkpoint, resumed.checkpoint)


def test_resuming_refuses_another_experiment_but_not_run_only_settings(tmp_path, csqa_fixture,
                                                                       tiny_backbone_dir):
    import copy

    from kgqa.errors import KGQAError
    from kgqa.training.config import parse_config
    from kgqa.training.runner import _check_same_run

    result = pipeline(config=_config(csqa_fixture), model="lm", backbone=str(tiny_backbone_dir),
                      regime="frozen", seed=0, out_dir=tmp_path / "runs",
                      feature_cache_dir=tmp_path / "features", progress=False)
    ckpt = Checkpoint.load(result.checkpoint)
    recorded = copy.deepcopy(ckpt.experiment)
    same = copy.deepcopy(result.config)
    same["training"].update(max_minutes=5, torch_threads=1, malloc_top_pad_mb=0)
    same["seeds"], same["description"] = [7], "another description"
    _check_same_run(ckpt, parse_config(same))
    assert ckpt.experiment == recorded  # the comparison leaves the checkpoint's config as it was
    other = copy.deepcopy(result.config)
    other["training"]["lr"] = 0.5
    with pytest.raises(KGQAError, match=r"\[E031\].*different experiment.*training"):
        _check_same_run(ckpt, parse_config(other))
    # a setting added to the schema after the checkpoint was written counts at its default
    ckpt.experiment["backbone"].pop("state_layers")
    _check_same_run(ckpt, parse_config(same))
    ckpt.experiment["backbone"]["state_layers"] = 2  # but a recorded non-default still differs
    with pytest.raises(KGQAError, match=r"\[E031\].*different experiment.*backbone"):
        _check_same_run(ckpt, parse_config(same))

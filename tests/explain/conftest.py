"""Fixtures of the explain tests: the running-example toy graph, a tiny random BERT and tiny
checkpoints of every model trained on nothing (random weights), saved like the runner saves them."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import build_graph

QUESTION = "A man dug the ground to plant flowers. What tool did he use?"
CHOICES = ["shovel", "hammer", "ladder"]
GRAPH_MODELS = ("kagnet", "qagnn", "rgcn")


@pytest.fixture(scope="session")
def toy_kg(tmp_path_factory):
    return build_graph(tmp_path_factory.mktemp("explain_graph") / "toy")


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory):
    from kgqa.backbones.tiny import save_tiny_backbone

    return save_tiny_backbone("bert", tmp_path_factory.mktemp("explain_bert") / "bert")


def model_config(name: str, kg) -> dict:
    from kgqa.retrieval.data import num_edge_types

    if name == "lm":
        return {"lm_hidden_size": 32}
    return {"lm_hidden_size": 32, "num_relations": num_edge_types(kg.num_relations),
            "node_embedding": "learned", "num_nodes": kg.num_nodes, "hidden_size": 16,
            **{"kagnet": {"relation_dim": 8, "lstm_hidden": 8, "pair_dim": 8, "scorer_hidden": 16},
               "qagnn": {"num_layers": 2, "heads": 2, "scorer_hidden": 16},
               "rgcn": {"num_bases": 2, "scorer_hidden": 16}, "lm": {}}[name]}


def save_toy_checkpoint(directory, name: str, kg, bert_dir, *, checksum: str | None = "auto",
                        extra_config: dict | None = None):
    """A checkpoint of a random ``name`` model as the runner writes it (frozen regime);
    ``extra_config`` adds model settings (e.g. the zero-shot prior)."""
    from kgqa.models import build_model
    from kgqa.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = build_model(name, {**model_config(name, kg), **(extra_config or {})})
    experiment = {"name": f"toy_{name}", "regime": "frozen",
                  "backbone": {"name": str(bert_dir), "max_length": 32, "pooling": "first"},
                  "graph": {"name": str(kg.path), "retrieval": {"ranker": "degree"}},
                  "model": {"name": name, "kwargs": {**model_config(name, kg), **(extra_config or {})}}}
    extra = {"regime": "frozen", "backbone": str(bert_dir), "graph_name": kg.name}
    if checksum is not None:
        extra["graph_checksum"] = kg.checksum if checksum == "auto" else checksum
    return save_checkpoint(directory, model=model, model_name=name, model_config=model.config,
                           experiment=experiment, extra=extra)


@pytest.fixture(scope="session")
def toy_checkpoints(tmp_path_factory, toy_kg, tiny_bert):
    root = tmp_path_factory.mktemp("explain_ckpts")
    return {name: save_toy_checkpoint(root / name, name, toy_kg, tiny_bert)
            for name in (*GRAPH_MODELS, "lm")}


@pytest.fixture(scope="session")
def answerers(toy_checkpoints):
    from kgqa.explain.loading import load_answerer

    return {name: load_answerer(path) for name, path in toy_checkpoints.items()}

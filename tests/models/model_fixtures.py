"""Tiny inputs for the model tests: per-choice graphs built by hand, frozen and finetune batches.

The graphs follow retrieval's per-choice format: ``node_ids`` (global concept ids),
``node_type`` (0 question, 1 answer, 2 other), ``node_score``, ``edge_index``, ``edge_type``
(relation ids below ``NUM_RELATIONS``), and KagNet's ``path_nodes`` / ``path_relations`` /
``path_lengths`` with ``path_nodes`` shifted by PyG batching like ``edge_index``.
"""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data

from kgqa.models.base import QABatch

NUM_RELATIONS = 6
NUM_CONCEPTS = 20
FEATURE_DIM = 16
MAX_HOPS = 2
QUESTIONS = ["where would you put ice cream?", "what does a dog do at home?"]
CHOICES = [["freezer", "library", "book"], ["dig", "cat", "store"]]
LABELS = torch.tensor([0, 2])
MODEL_NAMES = ("lm", "kagnet", "rgcn", "qagnn")
GRAPH_MODELS = ("kagnet", "rgcn", "qagnn")


class ChoiceGraph(Data):
    """A per-choice graph whose path node indices shift with batching, like ``edge_index``."""

    def __inc__(self, key, value, *args, **kwargs):
        if key == "path_nodes":
            return self.num_nodes
        return super().__inc__(key, value, *args, **kwargs)


def choice_graph(num_nodes: int, seed: int) -> ChoiceGraph:
    """``num_nodes`` concepts: node 0 question, node 1 answer, the rest other; a cycle of
    edges plus paths 0 -> 1 (direct and through every other node) and a zero-hop path 1 -> 1."""
    gen = torch.Generator().manual_seed(seed)
    if num_nodes == 0:
        return empty_graph()
    node_ids = torch.randperm(NUM_CONCEPTS, generator=gen)[:num_nodes]
    node_type = torch.full((num_nodes,), 2, dtype=torch.long)
    node_type[0] = 0
    if num_nodes > 1:
        node_type[1] = 1
    src = torch.arange(num_nodes)
    dst = (src + 1) % num_nodes
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    base = torch.randint(0, NUM_RELATIONS // 2, (num_nodes,), generator=gen)
    edge_type = torch.cat([base, base + NUM_RELATIONS // 2])  # inverse relations r + R
    paths, relations, lengths = [], [], []
    if num_nodes > 1:
        paths.append([0, 1, -1]), relations.append([int(base[0]), -1]), lengths.append(1)
        for mid in range(2, num_nodes):
            r = torch.randint(0, NUM_RELATIONS, (2,), generator=gen).tolist()
            paths.append([0, mid, 1]), relations.append(r), lengths.append(2)
        paths.append([1, -1, -1]), relations.append([-1, -1]), lengths.append(0)
    return ChoiceGraph(
        node_ids=node_ids, node_type=node_type, node_score=torch.rand(num_nodes, generator=gen),
        edge_index=edge_index, edge_type=edge_type, num_nodes=num_nodes,
        path_nodes=torch.tensor(paths, dtype=torch.long).view(-1, MAX_HOPS + 1),
        path_relations=torch.tensor(relations, dtype=torch.long).view(-1, MAX_HOPS),
        path_lengths=torch.tensor(lengths, dtype=torch.long))


def empty_graph() -> ChoiceGraph:
    """No linked concept: zero nodes, edges and paths."""
    return ChoiceGraph(
        node_ids=torch.zeros(0, dtype=torch.long), node_type=torch.zeros(0, dtype=torch.long),
        node_score=torch.zeros(0), edge_index=torch.zeros(2, 0, dtype=torch.long),
        edge_type=torch.zeros(0, dtype=torch.long), num_nodes=0,
        path_nodes=torch.zeros(0, MAX_HOPS + 1, dtype=torch.long),
        path_relations=torch.zeros(0, MAX_HOPS, dtype=torch.long),
        path_lengths=torch.zeros(0, dtype=torch.long))


def make_graphs(*, empty: tuple[int, ...] = (), sizes=(3, 4, 5, 4, 3, 2)) -> Batch:
    """Six choice graphs (2 questions x 3 choices); the indices in ``empty`` have no node."""
    graphs = [empty_graph() if i in empty else choice_graph(n, seed=i) for i, n in enumerate(sizes)]
    return Batch.from_data_list(graphs)


def concept_table() -> torch.Tensor:
    return torch.randn(NUM_CONCEPTS, FEATURE_DIM, generator=torch.Generator().manual_seed(7))


def model_config(name: str, **overrides) -> dict:
    """A small config for each model (hidden 16, frozen states of width 32)."""
    if name == "lm":
        return {"lm_hidden_size": 32, **overrides}
    config = {"lm_hidden_size": 32, "num_relations": NUM_RELATIONS, "node_feature_dim": FEATURE_DIM,
              "hidden_size": 16}
    config.update({"kagnet": {"relation_dim": 8, "lstm_hidden": 8, "pair_dim": 8, "scorer_hidden": 16},
                   "rgcn": {"num_bases": 2, "scorer_hidden": 16},
                   "qagnn": {"num_layers": 2, "heads": 2, "scorer_hidden": 16}}[name])
    config.update(overrides)
    return config


def build(name: str, backbone=None, **overrides):
    from kgqa.models import build_model

    table = None if name == "lm" else concept_table()
    return build_model(name, model_config(name, **overrides), backbone=backbone, node_features=table)


def frozen_batch(graphs: Batch | None = None, *, labels: bool = True) -> QABatch:
    states = torch.randn(2, 3, 32, generator=torch.Generator().manual_seed(3))
    return QABatch(ids=["q0", "q1"], num_choices=3, labels=LABELS.clone() if labels else None,
                   lm_states=states, graphs=graphs if graphs is not None else make_graphs())


def finetune_batch(backbone, graphs: Batch | None = None, *, labels: bool = True) -> QABatch:
    enc = backbone.encode_choices(QUESTIONS, CHOICES, max_length=32)
    shape = (2, 3, -1)
    return QABatch(ids=["q0", "q1"], num_choices=3, labels=LABELS.clone() if labels else None,
                   input_ids=enc["input_ids"].view(shape),
                   attention_mask=enc["attention_mask"].view(shape),
                   token_type_ids=enc["token_type_ids"].view(shape) if "token_type_ids" in enc else None,
                   graphs=graphs if graphs is not None else make_graphs())

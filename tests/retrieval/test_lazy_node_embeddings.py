"""Small jobs embed only the node names they need (node_embeddings="auto"), into the shared cache."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from kgqa.encoders.node_names import NodeEmbeddingTable
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.preprocess import preprocess
from kgqa.retrieval.ranking import AUTO_ALL_QUESTIONS, node_embedding_mode
from kgqa.training.graphs import _node_features
from tests.conftest import build_graph
from tests.retrieval.helpers import TRIPLES, WordLinker, write_questions
from tests.retrieval.test_subgraph import LetterEncoder


class RecordingEncoder(LetterEncoder):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts, batch_size=64):
        self.texts.extend(texts)
        return super().encode(texts, batch_size)


@pytest.fixture()
def encoder(monkeypatch):
    """Every sentence encoder asked for by name is this one (no model is loaded)."""
    import kgqa.encoders.sentence

    recorder = RecordingEncoder()
    monkeypatch.setattr(kgqa.encoders.sentence, "get_sentence_encoder", lambda name: recorder)
    return recorder


def test_auto_mode_by_job_size():
    assert node_embedding_mode("auto", 40) == "lazy" and node_embedding_mode("auto", None) == "lazy"
    assert node_embedding_mode("auto", AUTO_ALL_QUESTIONS) == "all"
    assert node_embedding_mode("all", 1) == "all" and node_embedding_mode("lazy", 10**6) == "lazy"
    assert RetrievalConfig().node_embeddings == "auto"


#: The garden graph plus a part no question reaches (no question or choice names these nodes).
FAR = [("whale", "AtLocation", "ocean", 1.0), ("ocean", "IsA", "water", 1.0)]


def test_small_preprocess_embeds_only_ranked_nodes(tmp_path, encoder):
    kg = build_graph(tmp_path / "garden", TRIPLES + FAR, name="garden")
    config = RetrievalConfig(ranker="relevance", path_scorer="none", shard_size=2)
    assert config.score_all_nodes  # every subgraph node is ranked, the rest of the graph is not
    preprocess(str(write_questions(tmp_path / "dev.jsonl")), kg, "dev", config=config, workers=1,
               backend="serial", linker=WordLinker(kg.node_names), cache_dir=tmp_path / "cache")
    mask = NodeEmbeddingTable(kg, "minilm").computed_mask()
    names = [n for n in encoder.texts if n in set(kg.node_names)]
    # only the nodes of the job's subgraphs were embedded, each once: never the far part
    assert 0 < mask.sum() < kg.num_nodes
    assert not mask[[kg.node_id(name) for name in ("whale", "ocean", "water")]].any()
    assert sorted(names) == sorted(kg.node_names[i] for i in np.flatnonzero(mask))


def test_small_eval_gets_a_lazy_node_feature_table(tmp_path, encoder):
    kg = build_graph(tmp_path / "garden", TRIPLES, name="garden")
    cfg = SimpleNamespace(model=SimpleNamespace(kwargs={}))
    small = _node_features(cfg, kg, RetrievalConfig(), num_questions=40)
    assert small.computed_mask().sum() == 0  # nothing encoded up front
    small.get([kg.node_id("dig")])
    assert small.computed_mask().sum() == 1 and encoder.texts == ["dig"]
    big = _node_features(cfg, kg, RetrievalConfig(), num_questions=AUTO_ALL_QUESTIONS)
    assert big.complete and len(encoder.texts) == kg.num_nodes  # the other 8 names, once each

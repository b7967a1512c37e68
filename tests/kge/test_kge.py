"""Entity embeddings: training on a hand-built graph, saving, reuse, checks, scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kgqa.errors import KGQAError
from kgqa.kge.artifacts import EntityEmbeddings, find_embeddings, load_embeddings, read_embeddings
from kgqa.kge.scoring import TransEPathScorer, score_triples, transe_cosine_plausibility
from kgqa.kge.train import KGEConfig, embeddings_dir, split_edges, train_embeddings
from tests.conftest import build_graph

pytest.importorskip("pykeen")

FAST = KGEConfig(dim=8, epochs=2, batch_size=4, holdout=0.2, eval_triples=10, num_negatives=4, text_init="none")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return build_graph(tmp_path_factory.mktemp("kge") / "toy")


@pytest.fixture(scope="module")
def trained(toy):
    return train_embeddings(toy, FAST)


def test_train_saves_aligned_tables_and_manifest(toy, trained):
    assert trained.entity.shape == (toy.num_nodes, 8)
    assert trained.relation.shape == (toy.num_relations, 8)
    assert trained.path == embeddings_dir(toy, FAST)
    assert trained.path.parent == toy.path / "embeddings"
    assert trained.path.name.startswith("transe-8-")
    manifest = json.loads((trained.path / "manifest.json").read_text())
    assert manifest["graph"]["checksum"] == toy.checksum
    assert manifest["graph"]["num_nodes"] == 9
    assert manifest["config"]["epochs"] == 2 and manifest["config"]["trainer"] == "sparse"
    assert manifest["norm"] == 2 and manifest["text_features"] is None
    assert len(manifest["training"]["losses"]) == 2
    # 9 edges, 20% held out -> 1 validates, 1 is the test ranked in both directions
    assert manifest["metrics"]["split"] == {"train_edges": 7, "validation_edges": 1, "test_edges": 1}
    assert manifest["metrics"]["num_triples"] == 1
    assert 0.0 < manifest["metrics"]["mrr"] <= 1.0
    assert manifest["metrics"]["popularity"]["num_triples"] == 1  # the baseline of the same edges
    assert [v["epoch"] for v in manifest["training"]["validation"]] == [2]
    assert set(manifest["files"]) == {"entity_embeddings.npy", "relation_embeddings.npy"}


def test_reused_when_present(toy, trained):
    stamp = (trained.path / "manifest.json").stat().st_mtime_ns
    again = train_embeddings(toy, FAST)
    assert (again.path / "manifest.json").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(np.asarray(again.entity), np.asarray(trained.entity))
    assert find_embeddings(toy, "transe", 8) == [trained.path]
    assert load_embeddings(toy, "transe", dim=8).path == trained.path


def test_config_hash_ignores_evaluation_only_fields():
    assert KGEConfig(eval_triples=5).directory_name() == KGEConfig(eval_triples=99).directory_name()
    assert KGEConfig(epochs=5).directory_name() != KGEConfig(epochs=6).directory_name()
    with pytest.raises(KGQAError, match="E013"):
        KGEConfig(model="complexx")
    # the trainer and text_init resolve by model; RotatE trains with PyKEEN only
    assert (KGEConfig().trainer, KGEConfig().text_init) == ("sparse", "minilm")
    assert (KGEConfig(model="rotate").trainer, KGEConfig(model="rotate").text_init) == ("pykeen", "none")
    with pytest.raises(KGQAError, match="E015.*sparse trainer"):
        KGEConfig(model="rotate", trainer="sparse")
    with pytest.raises(KGQAError, match="E013.*loss"):
        KGEConfig(loss="marginranking")


def test_split_is_fixed_by_seed():
    a = split_edges(100, 0.02, seed=3)
    b = split_edges(100, 0.02, seed=3)
    np.testing.assert_array_equal(a[1], b[1])
    assert len(a[1]) == 2 and len(a[0]) == 98
    assert not set(a[0]) & set(a[1])
    assert len(split_edges(10, 0.01, 0)[1]) == 1  # at least one held out


def test_embeddings_of_another_graph_are_refused(toy, trained, tmp_path):
    other = build_graph(tmp_path / "other", triples=[("a", "IsA", "b", 1.0)], name="other")
    with pytest.raises(KGQAError, match=r"\[E050\].*trained for graph 'toy'"):
        load_embeddings(other, path=trained.path)
    with pytest.raises(KGQAError, match=r"\[E051\]"):
        load_embeddings(other, "transe")


def test_damaged_directory(trained, tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1, "graph": {"num_nodes": 3}}))
    np.save(tmp_path / "entity_embeddings.npy", np.zeros((2, 4), np.float32))
    np.save(tmp_path / "relation_embeddings.npy", np.zeros((1, 4), np.float32))
    with pytest.raises(KGQAError, match=r"\[E052\].*shape"):
        read_embeddings(tmp_path)


def test_distmult_and_rotate_shapes(toy):
    dm = train_embeddings(toy, KGEConfig(model="distmult", dim=4, epochs=1, batch_size=9, holdout=0,
                                         text_init="none", num_negatives=3), save=False)
    assert dm.entity.shape == (9, 4) and dm.manifest["metrics"] == {}
    rot = train_embeddings(toy, KGEConfig(model="rotate", dim=4, epochs=1, batch_size=9, holdout=0), save=False)
    assert rot.entity.shape == (9, 8) and rot.manifest["complex"] is True
    assert rot.manifest["norm"] is None and rot.manifest["training"]["epochs_run"] == 1


def _hand_embeddings(toy) -> EntityEmbeddings:
    entity = np.zeros((toy.num_nodes, 2), np.float32)
    entity[toy.node_id("shovel")] = [0.0, 0.0]
    entity[toy.node_id("dig")] = [1.0, 0.0]
    entity[toy.node_id("garden")] = [0.0, 1.0]
    relation = np.zeros((toy.num_relations, 2), np.float32)
    relation[toy.relation_id("UsedFor")] = [1.0, 0.0]
    relation[toy.relation_id("AtLocation")] = [1.0, 0.0]
    return EntityEmbeddings.from_arrays(toy, entity, relation)


def test_triple_scores_by_hand(toy):
    emb = _hand_embeddings(toy)
    s, u, a, d, g = (toy.node_id("shovel"), toy.relation_id("UsedFor"), toy.relation_id("AtLocation"),
                     toy.node_id("dig"), toy.node_id("garden"))
    # TransE: -|h + r - t|_1: shovel+UsedFor = (1,0) = dig -> 0; to garden (0,1): -2
    np.testing.assert_allclose(score_triples(emb, [s, s], [u, a], [d, g]), [0.0, -2.0])
    # KagNet plausibility (1 + cos(r, t - h)) / 2: (1,0) vs (1,0) -> 1; (1,0) vs (0,1) -> 0.5
    np.testing.assert_allclose(transe_cosine_plausibility(np.array([[0.0, 0]]), np.array([[1.0, 0]]),
                                                          np.array([[0.0, 1]])), [0.5])


def test_path_scorer_by_hand(toy):
    emb = _hand_embeddings(toy)
    scorer = TransEPathScorer(emb)
    s, d, g = toy.node_id("shovel"), toy.node_id("dig"), toy.node_id("garden")
    u, a, r = toy.relation_id("UsedFor"), toy.relation_id("AtLocation"), toy.num_relations
    nodes = np.array([[s, d, -1], [d, s, g], [s, s, -1]])
    relations = np.array([[u, -1], [u + r, a], [-1, -1]])
    lengths = np.array([1, 2, 0])
    # path 0: shovel -UsedFor-> dig: 1.0
    # path 1: dig <-UsedFor- shovel (scored as shovel UsedFor dig: 1.0), shovel -AtLocation-> garden:
    #   cos((1,0), (0,1)) = 0 -> 0.5; mean 0.75.  path 2: zero length -> 1.0
    np.testing.assert_allclose(scorer.score(nodes, relations, lengths), [1.0, 0.75, 1.0])
    with pytest.raises(KGQAError, match="E006"):
        scorer.score(np.array([[s, d]]), np.array([[2 * r]]), np.array([1]))
    with pytest.raises(KGQAError, match="E054"):
        emb.vectors([toy.num_nodes])


def test_cli_embed(toy, trained):
    import typer
    from typer.testing import CliRunner

    from kgqa.kge.cli import register

    app = typer.Typer()
    graphs = typer.Typer()
    app.add_typer(graphs, name="graphs")
    register(app)
    result = CliRunner().invoke(app, ["graphs", "embed", str(toy.path), "--dim", "8", "--epochs", "2",
                                      "--batch-size", "4", "--holdout", "0.2", "--eval-triples", "10",
                                      "--negatives", "4", "--text-init", "none"])
    assert result.exit_code == 0, result.output
    assert "reused transe (9, 8)" in result.output and "relation-popularity baseline" in result.output
    bad = CliRunner().invoke(app, ["graphs", "embed", str(toy.path), "--model", "nope"])
    assert bad.exit_code == 1 and "E013" in bad.output

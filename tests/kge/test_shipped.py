"""The compact shipped table format: int8 rows, sha256-checked, found after trained tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kgqa.errors import KGQAError
from kgqa.kge import artifacts
from kgqa.kge.artifacts import QUANTIZED_FILE, find_embeddings, load_embeddings, read_embeddings
from kgqa.kge.train import KGEConfig, export_compact, train_embeddings
from kgqa.utils.quantize import dequantize_rows, quantize_rows
from tests.conftest import build_graph

pytest.importorskip("pykeen")

FAST = KGEConfig(dim=8, epochs=2, batch_size=4, holdout=0.2, eval_triples=10, num_negatives=4, text_init="none")


def test_quantize_round_trip():
    table = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32) * np.arange(1, 51)[:, None]
    rows, scale = quantize_rows(table)
    assert rows.dtype == np.int8 and scale.dtype == np.float16 and np.abs(rows).max() == 127
    error = np.abs(dequantize_rows(rows, scale) - table)
    # half a quantisation step, plus float16's rounding of the scale (relative 2**-11 of the row max)
    assert np.all(error <= scale.astype(np.float32)[:, None] * (0.5 + 127 * 2**-10))


@pytest.fixture()
def shipped(tmp_path, monkeypatch):
    """A toy graph's trained table exported as the shipped one; the graph rebuilt elsewhere, untrained."""
    trained_on = build_graph(tmp_path / "trained" / "toy")
    emb = train_embeddings(trained_on, FAST)
    root = tmp_path / "shipped"
    export_compact(trained_on, emb, root / "transe-8")
    monkeypatch.setattr(artifacts, "SHIPPED_DIR", root)
    fresh = build_graph(tmp_path / "fresh" / "toy")
    assert fresh.checksum == trained_on.checksum and find_embeddings(fresh, shipped=False) == []
    return fresh, emb, root / "transe-8"


def test_shipped_table_is_found_and_loaded(shipped):
    kg, trained, directory = shipped
    assert find_embeddings(kg, "transe") == [directory] and find_embeddings(kg, "transe", 100) == []
    table = load_embeddings(kg)
    assert table.path == directory and table.entity.shape == (9, 8) and table.entity.dtype == np.float32
    np.testing.assert_allclose(table.entity, trained.entity, atol=np.abs(trained.entity).max() / 100)
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["graph"]["checksum"] == kg.checksum and manifest["config"]["seed"] == 0
    assert set(manifest["files"]) == {QUANTIZED_FILE} and "int8" in manifest["quantization"]["entity"]
    assert {"mrr", "popularity", "split"} <= set(manifest["metrics"]) and manifest["metrics_float32"]["mrr"] > 0
    # a table trained later takes precedence
    again = train_embeddings(kg, FAST)
    assert load_embeddings(kg).path == again.path


def test_damaged_shipped_table_is_refused(shipped):
    kg, _, directory = shipped
    data = bytearray((directory / QUANTIZED_FILE).read_bytes())
    data[-40] ^= 0xFF
    (directory / QUANTIZED_FILE).write_bytes(bytes(data))
    with pytest.raises(KGQAError, match=r"\[E220\].*sha256"):
        read_embeddings(directory)


def test_embed_works_with_only_the_shipped_table(shipped, tmp_path):
    """kgqa.embed on a graph whose only table is the shipped one (nothing trained, no command run)."""
    from kgqa.backbones.tiny import save_tiny_backbone
    from kgqa.embedding import embed

    kg, _, _ = shipped
    backbone = save_tiny_backbone("bert", tmp_path / "bert")
    out = embed(["a shovel is a tool to dig in the garden"], model=str(backbone), graph=kg, kind="graph")
    assert out.vectors.shape == (1, 8) and out.has_entities.tolist() == [True]
    assert np.isclose(np.linalg.norm(out.vectors[0]), 1.0)
    with pytest.warns(UserWarning, match="W002.*untrained"):
        fused = embed(["a shovel is a tool"], model=str(backbone), graph=kg, kind="fused")
    assert fused.vectors.shape[0] == 1 and np.isfinite(fused.vectors).all()


def test_embed_on_a_fresh_install_reads_the_table_shipped_for_the_default_graph(tmp_path, monkeypatch):
    """Empty KGQA_HOME, no command run: kgqa.embed links the text on the default graph (unpacked
    from the package) and takes the entity vectors from kgqa/kge/default/transe-32."""
    import kgqa
    from kgqa.backbones.tiny import save_tiny_backbone

    shipped = artifacts.SHIPPED_DIR / "transe-32"
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert (shipped / QUANTIZED_FILE).stat().st_size < 10 * 2**20 and manifest["dim"] == 32
    assert manifest["metrics"]["popularity"]["mrr"] > 0 and "by_endpoints" in manifest["metrics"]
    backbone = save_tiny_backbone("bert", tmp_path / "bert")
    home = tmp_path / "home"
    monkeypatch.setenv("KGQA_HOME", str(home))
    out = kgqa.embed(["A man dug the ground to plant flowers."], model=str(backbone), kind="graph")
    assert out.vectors.shape == (1, 32) and out.has_entities.tolist() == [True]
    assert np.isfinite(out.vectors).all() and np.linalg.norm(out.vectors[0]) > 0
    assert not list(home.glob("graphs/*/embeddings/*"))  # nothing was trained

"""The shipped default model (kgqa/explain/default_model/) on the running example."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from kgqa.explain.loading import (DEFAULT_MODEL_CONFIG, DEFAULT_MODEL_SEED, default_model_dir, has_default_model,
                                  recorded_graph)


def test_default_model_is_shipped():
    assert has_default_model(), "kgqa/explain/default_model/ must hold the trained head"

QUESTIONS = ["A man dug the ground to plant flowers. What tool did he use?",
             "A man dug the ground to build a house. What tool did he use?"]
CHOICES = ["shovel", "excavator", "hammer", "saw", "ladder"]


def test_default_model_is_small_and_names_its_graph():
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.training.checkpoint import Checkpoint

    # the trained layers, head and graph part, weight matrices in int8 (the backbone's embeddings
    # come from its package): MiniLM's 6 layers are 10.6M parameters, ~11 MB; KagNet adds 0.4M
    assert (default_model_dir() / "model.safetensors").stat().st_size < 12 * 2**20
    ckpt = Checkpoint.load(default_model_dir())
    assert ckpt.meta["export"]["dtype"] == "int8" and not (default_model_dir() / "optimizer.bin").exists()
    # MiniLM's 36 layer matrices as int8 differences from the packaged weights, checked at load
    assert ckpt.meta["export"]["delta_base"]["matrices"] == 36
    assert "minilm" in ckpt.meta["export"]["delta_base"]["source"]
    # the reproduce command that errors print names the run the shipped weights came from
    assert ckpt.meta["experiment"]["name"] == Path(DEFAULT_MODEL_CONFIG).stem
    assert ckpt.meta["seed"] == DEFAULT_MODEL_SEED
    assert recorded_graph(ckpt.meta)[1] == KnowledgeGraph.load("default").checksum


def test_default_model_answers_and_explains_the_running_example():
    from kgqa.explain.answer import answer

    for question in QUESTIONS:
        result = answer(question, CHOICES)
        assert math.isclose(sum(result.probabilities), 1.0, rel_tol=1e-6)
        exp = result.explanation
        assert {"dig", "ground"} <= set(exp.question_concepts)
        shovel = exp.per_choice[0]
        assert shovel.answer_concepts == ["shovel"] and shovel.nodes and shovel.paths


def test_default_model_shows_a_dig_path_for_shovel_checked_by_occlusion():
    """On the running example a shown path links dig (or dig_hole) to shovel; every shown path
    runs from a question concept to the answer concept, is checked by occlusion, and the paths
    are ranked by it."""
    from kgqa.explain.answer import answer

    for question in QUESTIONS:
        shovel = answer(question, CHOICES).explanation.per_choice[0]
        assert shovel.ranking == "occlusion" and shovel.num_checked > 0
        assert any(p.nodes[0] in ("dig", "dig_hole") and p.nodes[-1] == "shovel" for p in shovel.paths), \
            [p.text for p in shovel.paths]
        for p in shovel.paths:
            assert p.nodes[0] in shovel.question_concepts and p.nodes[-1] in shovel.answer_concepts
            assert p.occlusion is not None and p.sentence
        drops = [p.occlusion for p in shovel.paths]
        assert drops == sorted(drops, reverse=True)


def test_default_model_re_exports_through_the_cli(tmp_path):
    """`kgqa export` of the shipped file (int8 differences) loads MiniLM's packaged weights to
    undo the differences: the float16 copy holds the same weights, and its config records no base."""
    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from kgqa.cli import app
    from kgqa.training.checkpoint import Checkpoint
    from kgqa.training.quantize import dequantize_int8
    from kgqa.training.regimes import pretrained_weights

    out = tmp_path / "half"
    result = CliRunner().invoke(app, ["export", str(default_model_dir()), str(out), "--dtype", "float16"])
    assert result.exit_code == 0, result.output
    assert "delta_base" not in Checkpoint.load(out).meta["export"]
    base, _ = pretrained_weights(Checkpoint.load(default_model_dir()).meta)
    shipped = dequantize_int8(load_file(str(default_model_dir() / "model.safetensors")), base=base)
    copy = load_file(str(out / "model.safetensors"))
    assert sorted(copy) == sorted(shipped)
    name = "backbone.model.encoder.layer.5.output.dense.weight"
    assert copy[name].dtype == torch.float16
    assert torch.allclose(copy[name].float(), shipped[name], atol=1e-3)
    assert not torch.allclose(shipped[name], base[name], atol=1e-3)  # trained: not the package's

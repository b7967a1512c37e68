"""The shipped default model (kgqa/explain/default_model/) on the running example."""

from __future__ import annotations

import math
from pathlib import Path

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
    # come from its package): MiniLM's 6 layers are 10.6M parameters, ~11 MB; QA-GNN adds ~0.5 MB
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

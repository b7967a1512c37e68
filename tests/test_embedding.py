"""kgqa.embed / Encoder: three kinds x three levels on a tiny backbone and the hand-built graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kgqa.backbones.tiny import save_tiny_backbone
from kgqa.embedding import Encoder, embed
from kgqa.errors import KGQAError
from kgqa.kge.artifacts import EntityEmbeddings
from tests.conftest import build_graph

TEXTS = ["a shovel is a tool to dig in the garden", "what is this?"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    kg = build_graph(root / "toy")
    rng = np.random.default_rng(0)
    table = EntityEmbeddings.from_arrays(kg, rng.normal(size=(kg.num_nodes, 8)).astype(np.float32))
    backbone_dir = save_tiny_backbone("bert", root / "bert")
    encoder = Encoder(str(backbone_dir), kg, embeddings=table, num_aggregators=1, batch_size=1)
    return kg, table, encoder, backbone_dir


def test_sentence_level_three_kinds(setup):
    kg, table, encoder, _ = setup
    with pytest.warns(UserWarning, match="W002.*untrained"):
        fused = encoder.encode(TEXTS)
    lm = encoder.encode(TEXTS, kind="lm")
    graph = encoder.encode(TEXTS, kind="graph")
    assert fused.vectors.shape == lm.vectors.shape == (2, 32)
    assert graph.vectors.shape == (2, 8)
    assert fused.has_entities.tolist() == [True, False] == graph.has_entities.tolist()
    assert fused.entities == [["shovel", "tool", "dig", "garden"], []]
    np.testing.assert_allclose(np.linalg.norm(fused.vectors, axis=1), 1.0, rtol=1e-5)
    # graph only: the normalised mean of the linked concepts' KGE vectors; zero without concepts
    mean = table.entity[[kg.node_id(n) for n in ["shovel", "tool", "dig", "garden"]]].mean(0)
    np.testing.assert_allclose(graph.vectors[0], mean / np.linalg.norm(mean), rtol=1e-5)
    assert np.all(graph.vectors[1] == 0)
    # a text without entities is token-only fused: the same as the LM alone (untrained fusion)
    np.testing.assert_allclose(fused.vectors[1], lm.vectors[1], atol=1e-6)
    assert not np.allclose(fused.vectors[0], lm.vectors[0], atol=1e-6)


def test_token_and_entity_levels(setup):
    kg, table, encoder, _ = setup
    tokens = encoder.encode(TEXTS, level="token", return_tensors="pt")
    assert isinstance(tokens.vectors, torch.Tensor) and tokens.vectors.shape[0] == 2
    assert tokens.vectors.shape[2] == 32 and tokens.mask.shape == tokens.vectors.shape[:2]
    # "this" is not in the tiny vocabulary: t ##h ##i ##s
    assert tokens.tokens[1] == ["[CLS]", "what", "is", "t", "##h", "##i", "##s", "?", "[SEP]"]
    assert int(tokens.mask[1].sum()) == 9
    entities = encoder.encode(TEXTS, level="entity")
    assert entities.vectors.shape == (2, 4, 8) and entities.mask.tolist() == [[True] * 4, [False] * 4]
    graph_entities = encoder.encode(TEXTS, level="entity", kind="graph")
    np.testing.assert_allclose(graph_entities.vectors[0], table.entity[[kg.node_id(n) for n in
                                                                         ["shovel", "tool", "dig", "garden"]]])
    lm_entities = encoder.encode(TEXTS, level="entity", kind="lm")
    assert lm_entities.vectors.shape == (2, 4, 32)


def test_embed_function_keeps_the_encoder_and_checks_input(setup):
    kg, table, _, backbone_dir = setup
    out = embed(TEXTS[:1], model=str(backbone_dir), graph=kg, kind="graph", embeddings=table)
    again = embed(TEXTS[:1], model=str(backbone_dir), graph=kg, kind="graph", embeddings=table)
    np.testing.assert_array_equal(out.vectors, again.vectors)
    assert out.kind == "graph"
    with pytest.raises(KGQAError, match="E013.*embedding level"):
        embed(TEXTS, model=str(backbone_dir), graph=kg, level="paragraph", embeddings=table)
    with pytest.raises(KGQAError, match="E013.*embedding kind"):
        Encoder(str(backbone_dir), kg, kind="both")


@pytest.mark.parametrize("texts, error", [
    (None, r"\[E141\] embed\(\): texts must be a list of texts \(str\), got NoneType"),
    (["a shovel", 7], r"\[E141\] embed\(\): texts .* got int 7 at position 2"),
    ([b"a shovel"], r"\[E141\] embed\(\): texts .* got bytes b'a shovel' at position 1"),
    (["a shovel", "dig \udce9"], r"\[E140\] text 2 is not valid text: lone surrogate U\+DCE9 at character 5"),
    ("caf\udce9", r"\[E140\] the text is not valid text: lone surrogate U\+DCE9 at character 4"),
    ([], r"\[E015\] embed\(\) got no texts"),
])
def test_bad_texts_are_coded_errors(setup, texts, error):
    kg, table, encoder, backbone_dir = setup
    with pytest.raises(KGQAError, match=error):
        encoder.encode(texts, kind="lm")
    with pytest.raises(KGQAError, match=error):
        embed(texts, model=str(backbone_dir), graph=kg, kind="lm", embeddings=table)


def test_graph_helpers_and_other_graph(setup, tmp_path):
    kg, table, encoder, backbone_dir = setup
    np.testing.assert_array_equal(encoder.concept_vectors(["dig", kg.node_id("tool")]),
                                  table.entity[[kg.node_id("dig"), kg.node_id("tool")]])
    near = encoder.nearest_concepts("dig", k=3)
    assert len(near) == 3 and "dig" not in [n for n, _ in near]
    sims = np.array([s for _, s in near])
    assert np.all(np.diff(sims) <= 0)
    with pytest.raises(KGQAError, match="E005"):
        encoder.concept_vectors(["no_such_concept"])
    other = build_graph(tmp_path / "other", triples=[("a", "IsA", "b", 1.0)], name="other")
    with pytest.raises(KGQAError, match="E050"):
        Encoder(str(backbone_dir), other, embeddings=table).encode(["a b"], kind="graph")

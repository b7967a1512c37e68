import numpy as np
import pytest

from kgqa.errors import KGQAError
from kgqa.kg import GraphBuilder, KnowledgeGraph, RelationMap
from kgqa.kg.importers.base import Triple


def test_duplicates_keep_max_weight_and_self_loops_dropped(tmp_path):
    b = GraphBuilder()
    for t in [Triple("a", "R", "b", 1.0), Triple("a", "R", "b", 5.0), Triple("a", "R", "b", 2.0),
              Triple("a", "S", "b", 1.0), Triple("c", "R", "c", 1.0)]:
        b.add(t)
    kg = b.save(tmp_path / "g", name="g")
    assert kg.num_edges == 2 and kg.num_nodes == 2  # c only had a self-loop
    assert sorted(zip(kg.relation.tolist(), kg.weight.tolist())) == [(0, 5.0), (1, 1.0)]
    stats = kg.manifest["build"]["stats"]
    assert stats["duplicates_merged"] == 2 and stats["self_loops_dropped"] == 1


def test_merged17_reverses_hasa_and_keeps_negated(tmp_path):
    rm = RelationMap("merged17")
    b = GraphBuilder(rm)
    for t in [Triple("car", "HasA", "wheel"), Triple("wheel", "PartOf", "car"),
              Triple("eat", "MotivatedByGoal", "hunger"), Triple("fish", "NotIsA", "mammal"),
              Triple("cat", "ConceptuallyRelatedTo", "dog"), Triple("a", "FormOf", "b"),
              Triple("go", "HasPrerequisite", "stand")]:
        b.add(t)
    kg = b.save(tmp_path / "g", name="g")
    edges = {(kg.node_name(h), kg.relations[r], kg.node_name(t)) for h, r, t in zip(kg.head, kg.relation, kg.tail)}
    assert edges == {("wheel", "PartOf", "car"), ("hunger", "Causes", "eat"), ("fish", "NotIsA", "mammal"),
                     ("cat", "RelatedTo", "dog"), ("go", "HasSubevent", "stand")}
    assert kg.manifest["relation_map"]["dropped_edges"] == {"FormOf": 1}
    assert kg.num_edges == 5  # HasA reversed merged with the PartOf duplicate -> still one edge


def test_negated_drop_option():
    rm = RelationMap("merged17", negated="drop")
    assert rm.apply("NotIsA") is None
    assert rm.apply("NotCapableOf") == ("NotCapableOf", False)  # one of the 17
    assert RelationMap("full").apply("NotIsA") == ("NotIsA", False)
    assert RelationMap("full").apply("ConceptuallyRelatedTo") == ("RelatedTo", False)
    with pytest.raises(KGQAError, match="E013"):
        RelationMap("merged99")


def test_empty_build_is_an_error_and_leaves_nothing(tmp_path):
    b = GraphBuilder(RelationMap("merged17"))
    b.add(Triple("a", "FormOf", "b"))
    with pytest.raises(KGQAError, match="E012"):
        b.save(tmp_path / "g", name="g")
    assert not (tmp_path / "g").exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_check_leaves_previous_graph_untouched(tmp_path):
    b = GraphBuilder()
    b.add(Triple("a", "R", "b"))
    kg = b.save(tmp_path / "g", name="g")
    before = (tmp_path / "g" / "manifest.json").read_text()
    b.add(Triple("b", "R", "c"))

    def check(_):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        b.save(tmp_path / "g", name="g", check=check)
    assert (tmp_path / "g" / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]
    assert KnowledgeGraph.load(tmp_path / "g").num_edges == kg.num_edges == 1


def test_labels_are_stored_for_graph_nodes_only(tmp_path):
    b = GraphBuilder()
    b.add(Triple("Q90", "P17", "Q142"))
    b.add_labels({"Q90": "Paris", "Q142": "France", "Q1": "universe"})
    kg = b.save(tmp_path / "g", name="g")
    assert kg.node_label(kg.node_id("Q90")) == "Paris"
    assert set(kg.node_labels.values()) == {"Paris", "France"}


def test_csr_indexes_are_consistent(tmp_path):
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    for _ in range(300):
        h, t = rng.integers(0, 40, size=2)
        b.add(Triple(f"n{h}", f"R{rng.integers(0, 3)}", f"n{t}", float(rng.random())))
    kg = b.save(tmp_path / "g", name="g")
    for v in range(kg.num_nodes):
        out = np.arange(kg.out_indptr[v], kg.out_indptr[v + 1])
        assert (kg.head[out] == v).all()
        inc = kg.in_edges[kg.in_indptr[v]:kg.in_indptr[v + 1]]
        assert (kg.tail[inc] == v).all()
    assert kg.out_indptr[-1] == kg.in_indptr[-1] == kg.num_edges

import json

import networkx as nx
import numpy as np
import pytest

from kgqa.errors import KGQAError
from kgqa.kg import KnowledgeGraph
from tests.conftest import TOY_TRIPLES, build_graph

# names sorted: dig flower garden ground hammer nail plant shovel tool
NAMES = ["dig", "flower", "garden", "ground", "hammer", "nail", "plant", "shovel", "tool"]
RELS = ["AtLocation", "HasA", "HasSubevent", "IsA", "RelatedTo", "UsedFor"]


def test_ids_are_sorted_names_and_round_trip(toy_graph, tmp_path):
    kg = KnowledgeGraph.load(toy_graph.path)
    assert kg.node_names == NAMES
    assert kg.relations == RELS
    assert (kg.num_nodes, kg.num_edges, kg.num_relations) == (9, 9, 6)
    assert kg.node_id("shovel") == 7 and kg.node_name(7) == "shovel"
    # arrays are memory-mapped, edges sorted by (head, relation, tail)
    assert isinstance(kg.head, np.memmap)
    keys = list(zip(kg.head.tolist(), kg.relation.tolist(), kg.tail.tolist()))
    assert keys == sorted(keys)
    got = {(kg.node_name(h), kg.relations[r], kg.node_name(t), float(w))
           for h, r, t, w in zip(kg.head, kg.relation, kg.tail, kg.weight)}
    assert got == set(TOY_TRIPLES)
    # rebuilding from the same triples in another order gives the same checksum
    again = build_graph(tmp_path / "again", list(reversed(TOY_TRIPLES)))
    assert again.checksum == kg.checksum


def test_neighbors_directions_and_relation_filter(toy_graph):
    kg = toy_graph
    out = kg.neighbors("shovel", direction="out")
    assert sorted(kg.node_name(v) for v in out.nodes) == ["dig", "garden", "tool"]
    inc = kg.neighbors("garden", direction="in")
    assert sorted((kg.node_name(v), kg.relation_name(r)) for v, r in zip(inc.nodes, inc.relations)) == [
        ("flower", "~AtLocation"), ("shovel", "~AtLocation")]
    both = kg.neighbors("flower")
    assert sorted((kg.node_name(v), kg.relation_name(r)) for v, r in zip(both.nodes, both.relations)) == [
        ("garden", "AtLocation"), ("garden", "~HasA"), ("plant", "~RelatedTo")]
    used = kg.neighbors("dig", relations=["UsedFor"])
    assert [(kg.node_name(v), kg.relation_name(r), float(w)) for v, r, w in zip(used.nodes, used.relations, used.weights)] == [
        ("shovel", "~UsedFor", 2.0)]
    only_inverse = kg.neighbors("garden", relations=["~HasA"])
    assert len(only_inverse) == 0  # garden HasA flower is outgoing
    assert [kg.node_name(v) for v in kg.neighbors("garden", relations=["HasA"]).nodes] == ["flower"]


def test_relation_ids_and_inverse_names(toy_graph):
    kg = toy_graph
    r = kg.relation_id("UsedFor")
    assert kg.relation_name(r) == "UsedFor"
    assert kg.relation_id("~UsedFor") == r + 6
    assert kg.relation_name(r + 6) == "~UsedFor"
    with pytest.raises(KGQAError, match="E006"):
        kg.relation_id("Likes")
    with pytest.raises(KGQAError, match="E005"):
        kg.node_id("spoon")
    with pytest.raises(KGQAError, match="E007"):
        kg.node_name(99)


def test_edges_among(toy_graph):
    kg = toy_graph
    ids = [kg.node_id(n) for n in ("shovel", "dig", "garden", "flower")]
    es = kg.edges_among(ids)
    got = sorted((kg.node_name(h), kg.relations[r], kg.node_name(t)) for h, r, t in zip(es.head, es.relation, es.tail))
    assert got == [("flower", "AtLocation", "garden"), ("garden", "HasA", "flower"),
                   ("shovel", "AtLocation", "garden"), ("shovel", "UsedFor", "dig")]
    assert len(kg.edges_among([])) == 0


def test_k_hop_matches_networkx(toy_graph):
    kg = toy_graph
    undirected = nx.Graph(kg.to_networkx(names=False))
    for seed in range(kg.num_nodes):
        for k in range(4):
            expected = sorted(nx.single_source_shortest_path_length(undirected, seed, cutoff=k))
            assert kg.k_hop([seed], k).tolist() == expected
    assert [kg.node_name(v) for v in kg.k_hop(["dig"], 1, direction="out")] == ["dig", "ground"]
    assert [kg.node_name(v) for v in kg.k_hop(["dig"], 1, direction="in")] == ["dig", "shovel"]


def test_networkx_and_pyg_exports_agree_with_store(toy_graph):
    kg = toy_graph
    g = kg.to_networkx()
    assert g.number_of_nodes() == 9 and g.number_of_edges() == 9
    assert {(h, d["relation"], t, d["weight"]) for h, t, d in g.edges(data=True)} == set(TOY_TRIPLES)
    edge_index, edge_type = kg.to_pyg()
    assert edge_index.shape == (2, 9) and edge_type.shape == (9,)
    assert edge_index[0].tolist() == kg.head.tolist() and edge_type.tolist() == kg.relation.tolist()
    ei2, et2 = kg.to_pyg(add_inverse=True)
    assert ei2.shape == (2, 18)
    assert ei2[:, 9:].flip(0).tolist() == edge_index.tolist()
    assert (et2[9:] - 6).tolist() == edge_type.tolist()


def test_degree(toy_graph):
    kg = toy_graph
    assert kg.degree[kg.node_id("shovel")] == 3
    assert kg.degree[kg.node_id("garden")] == 3
    assert int(kg.degree.sum()) == 2 * kg.num_edges


def _edit_manifest(path, **changes):
    m = json.loads((path / "manifest.json").read_text())
    m.update(changes)
    (path / "manifest.json").write_text(json.dumps(m))


def test_mismatched_manifest_is_a_clear_error(toy_graph):
    path = toy_graph.path
    _edit_manifest(path, num_edges=10)
    with pytest.raises(KGQAError, match=r"E101.*head.npy has shape"):
        KnowledgeGraph.load(path)
    _edit_manifest(path, num_edges=9, format_version=99)
    with pytest.raises(KGQAError, match="E004"):
        KnowledgeGraph.load(path)


def test_verify_detects_changed_array(toy_graph):
    path = toy_graph.path
    weight = np.load(path / "weight.npy")
    weight[0] += 1
    np.save(path / "weight.npy", weight)
    KnowledgeGraph.load(path)  # shapes still match: cheap load passes
    with pytest.raises(KGQAError, match=r"E101.*weight.npy sha256"):
        KnowledgeGraph.load(path, verify=True)


def test_unknown_graph_name(tmp_path):
    with pytest.raises(KGQAError, match=r"E002.*no_such_graph.*default"):
        KnowledgeGraph.load("no_such_graph")
    with pytest.raises(KGQAError, match="E002"):
        KnowledgeGraph.load(tmp_path / "missing")

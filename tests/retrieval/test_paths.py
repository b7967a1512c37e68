import random
from collections import Counter

import networkx as nx
import numpy as np
import pytest

from kgqa.kg import GraphBuilder
from kgqa.kg.importers.base import Triple
from kgqa.retrieval.paths import PathFinder, find_paths
from tests.retrieval.helpers import IDS, R, REL

dig, flower, garden, plant, shovel, tool = (IDS[n] for n in ("dig", "flower", "garden", "plant", "shovel", "tool"))
AT, HAS_A, REL_TO, USED_FOR = REL["AtLocation"], REL["HasA"], REL["RelatedTo"], REL["UsedFor"]


def multigraph(kg) -> nx.MultiGraph:
    """Undirected multigraph, one edge per stored edge, keyed by edge id (with its head and relation)."""
    graph = nx.MultiGraph()
    graph.add_nodes_from(range(kg.num_nodes))
    for e, (h, r, t) in enumerate(zip(kg.head.tolist(), kg.relation.tolist(), kg.tail.tolist())):
        graph.add_edge(h, t, key=e, relation=r, head=h)
    return graph


def networkx_first_paths(graph: nx.MultiGraph, s: int, t: int, cutoff: int, num_relations: int) -> Counter:
    """(node sequence, relation sequence) of every simple path of the simple graph, each hop with
    the lowest relation id (as walked) among its parallel edges."""
    found = Counter()
    for nodes in nx.all_simple_paths(nx.Graph(graph), s, t, cutoff=cutoff):
        rels = [min(d["relation"] if d["head"] == u else d["relation"] + num_relations
                    for d in graph.get_edge_data(u, v).values()) for u, v in zip(nodes, nodes[1:])]
        found[(tuple(nodes), tuple(rels))] += 1
    return found


def networkx_paths(graph: nx.MultiGraph, s: int, t: int, cutoff: int, num_relations: int) -> Counter:
    """(node sequence, relation sequence) of every simple edge path, as our relation ids."""
    found = Counter()
    for edge_path in nx.all_simple_edge_paths(graph, s, t, cutoff=cutoff):
        nodes, rels = [s], []
        for u, v, key in edge_path:
            data = graph.edges[u, v, key]
            rels.append(data["relation"] if data["head"] == u else data["relation"] + num_relations)
            nodes.append(v)
        found[(tuple(nodes), tuple(rels))] += 1
    return found


def random_graph(path, seed: int, nodes: int = 25, edges: int = 70):
    rng = random.Random(seed)
    builder = GraphBuilder(None)
    names = [f"n{i:02d}" for i in range(nodes)]
    for _ in range(edges):
        h, t = rng.sample(names, 2)
        builder.add(Triple(h, rng.choice(["A", "B", "C"]), t, 1.0))
    return builder.save(path, name=f"random{seed}")


def test_hand_computed_paths_shortest_first(garden_graph):
    paths = find_paths(garden_graph, [shovel], [flower], max_hops=3, max_paths=None)
    # garden-flower is a multi-edge: flower -AtLocation-> garden (walked backwards: AtLocation + R)
    # and garden -HasA-> flower; one path per node sequence, the hop keeps the lower id (HasA)
    assert paths.as_tuples(0) == [
        ((shovel, garden, flower), (AT, HAS_A)),
        ((shovel, dig, garden, flower), (USED_FOR, AT, HAS_A)),
        ((shovel, garden, plant, flower), (AT, AT + R, REL_TO)),
    ]
    assert paths.lengths.tolist() == [2, 3, 3]
    assert paths.nodes[0].tolist() == [shovel, garden, flower, -1]
    assert paths.relations[0].tolist() == [AT, HAS_A, -1]
    assert paths.pair_ptr.tolist() == [0, 3]
    # backwards the same hop is flower -> garden: AtLocation (0) beats ~HasA (1 + R)
    assert find_paths(garden_graph, [flower], [garden], max_hops=1).as_tuples(0) == [((flower, garden), (AT,))]


def test_all_relations_makes_each_relation_choice_a_path(garden_graph):
    paths = find_paths(garden_graph, [shovel], [flower], max_hops=3, max_paths=None, relations="all")
    assert paths.as_tuples(0) == [
        ((shovel, garden, flower), (AT, AT + R)),
        ((shovel, garden, flower), (AT, HAS_A)),
        ((shovel, dig, garden, flower), (USED_FOR, AT, AT + R)),
        ((shovel, dig, garden, flower), (USED_FOR, AT, HAS_A)),
        ((shovel, garden, plant, flower), (AT, AT + R, REL_TO)),
    ]
    assert paths.lengths.tolist() == [2, 2, 3, 3, 3]
    assert paths.pair_ptr.tolist() == [0, 5]


def test_cap_keeps_the_shortest_paths(garden_graph):
    capped = find_paths(garden_graph, [shovel, shovel], [flower, tool], max_hops=3, max_paths=2)
    assert capped.paths_per_pair.tolist() == [2, 1]
    assert capped.as_tuples(0)[0] == ((shovel, garden, flower), (AT, HAS_A))
    assert capped.as_tuples(0)[1][0] in {(shovel, dig, garden, flower), (shovel, garden, plant, flower)}
    assert capped.as_tuples(1) == [((shovel, tool), (REL["IsA"],))]


def test_parallel_edges_do_not_fill_the_cap(garden_graph):
    """With one path per relation combination the garden-flower multi-edge spends the whole cap
    of 2 on one node sequence; one path per node sequence keeps two different ones."""
    every = find_paths(garden_graph, [shovel], [flower], max_hops=3, max_paths=2, relations="all")
    assert [nodes for nodes, _ in every.as_tuples(0)] == [(shovel, garden, flower)] * 2
    first = find_paths(garden_graph, [shovel], [flower], max_hops=3, max_paths=2)
    assert len({nodes for nodes, _ in first.as_tuples(0)}) == 2


def fan_graph(path, width: int = 40):
    """s - m00..m39 - t: ``width`` two-hop paths between s and t, plus s - t directly."""
    builder = GraphBuilder(None)
    builder.add(Triple("s", "A", "t", 1.0))
    for i in range(width):
        builder.add(Triple("s", "A", f"m{i:02d}", 1.0))
        builder.add(Triple(f"m{i:02d}", "B", "t", 1.0))
    return builder.save(path, name="fan")


def test_cap_inside_a_length_is_a_fair_sample_not_the_lowest_ids(tmp_path):
    kg = fan_graph(tmp_path / "fan")
    s, t = kg.node_id("s"), kg.node_id("t")
    middles = sorted(kg.node_id(f"m{i:02d}") for i in range(40))
    capped = PathFinder(kg, max_hops=2, max_paths=11).find([s, t], [t, s])
    assert capped.paths_per_pair.tolist() == [11, 11]
    forward, backward = capped.as_tuples(0), capped.as_tuples(1)
    assert forward[0] == ((s, t), (kg.relation_id("A"),))  # the shorter path is always kept
    kept = [nodes[1] for nodes, _ in forward[1:]]
    assert len(set(kept)) == 10 and set(kept) <= set(middles)
    assert kept != middles[:10]  # walk order would keep the 10 lowest ids
    assert sum(m >= middles[20] for m in kept) >= 2  # from both halves of the id range
    # a seeded hash, not the walk: the same sample for the reversed pair, another with another seed
    assert sorted(kept) == sorted(nodes[1] for nodes, _ in backward[1:])
    again = PathFinder(kg, max_hops=2, max_paths=11).find([s], [t]).as_tuples(0)
    assert again == forward
    other_seed = PathFinder(kg, max_hops=2, max_paths=11, seed=1).find([s], [t]).as_tuples(0)
    assert other_seed != forward


def test_same_concept_is_one_zero_length_path(garden_graph):
    paths = find_paths(garden_graph, [garden, garden], [garden, dig], max_hops=3)
    assert paths.as_tuples(0) == [((garden,), ())]
    assert paths.lengths[0] == 0 and paths.nodes[0].tolist() == [garden, -1, -1, -1]
    assert list(nx.all_simple_paths(multigraph(garden_graph), garden, garden, cutoff=3)) == [[garden]]


def test_backwards_search_gives_reversed_inverted_paths(garden_graph):
    forward = find_paths(garden_graph, [flower], [shovel], max_hops=3, max_paths=None, relations="all").as_tuples(0)
    backward = find_paths(garden_graph, [shovel], [flower], max_hops=3, max_paths=None, relations="all").as_tuples(0)

    def invert(path):
        nodes, rels = path
        return tuple(reversed(nodes)), tuple(r + R if r < R else r - R for r in reversed(rels))

    assert sorted(forward) == sorted(invert(p) for p in backward)


def test_no_path_and_isolated_pairs(garden_graph):
    paths = find_paths(garden_graph, [IDS["nail"], flower], [IDS["ground"], flower], max_hops=2)
    assert paths.paths_per_pair.tolist() == [0, 1]
    assert find_paths(garden_graph, [], [], max_hops=3).num_pairs == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uncapped_paths_equal_networkx_on_random_pairs(tmp_path, garden_graph, seed):
    """``relations="all"``: node sequences (with multiplicity) = nx.all_simple_paths on the
    multigraph view, and (node, relation) sequences = nx.all_simple_edge_paths; ``"first"``:
    node sequences = nx.all_simple_paths on the simple graph, each hop's lowest relation."""
    kg = garden_graph if seed == 0 else random_graph(tmp_path / "g", seed)
    graph = multigraph(kg)
    rng = random.Random(seed)
    pairs = [(rng.randrange(kg.num_nodes), rng.randrange(kg.num_nodes)) for _ in range(60)]
    for hops in (1, 2, 3, 4):
        paths = PathFinder(kg, max_hops=hops, max_paths=None, relations="all").find(*zip(*pairs))
        first = PathFinder(kg, max_hops=hops, max_paths=None).find(*zip(*pairs))
        for k, (s, t) in enumerate(pairs):
            ours = paths.as_tuples(k)
            assert Counter(nodes for nodes, _ in ours) == Counter(
                tuple(p) for p in nx.all_simple_paths(graph, s, t, cutoff=hops)), (hops, s, t)
            assert Counter(ours) == networkx_paths(graph, s, t, hops, kg.num_relations), (hops, s, t)
            assert Counter(first.as_tuples(k)) == networkx_first_paths(graph, s, t, hops, kg.num_relations)
            for found in (ours, first.as_tuples(k)):
                lengths = [len(nodes) - 1 for nodes, _ in found]
                assert lengths == sorted(lengths)


@pytest.mark.parametrize("relations", ["first", "all"])
def test_capped_sets_are_the_shortest_subset(tmp_path, relations):
    kg = random_graph(tmp_path / "g", 7, nodes=20, edges=80)
    rng = random.Random(7)
    pairs = [(rng.randrange(20), rng.randrange(20)) for _ in range(80)]
    full = PathFinder(kg, max_hops=4, max_paths=None, relations=relations).find(*zip(*pairs))
    capped = PathFinder(kg, max_hops=4, max_paths=10, relations=relations).find(*zip(*pairs))
    assert full.paths_per_pair.max() > 10  # the cap matters for some pairs
    for k in range(len(pairs)):
        all_paths, kept = full.as_tuples(k), capped.as_tuples(k)
        assert len(kept) == min(10, len(all_paths))
        assert set(kept) <= set(all_paths)
        if kept:  # every path shorter than the longest kept one is kept
            longest = max(len(nodes) for nodes, _ in kept)
            assert {p for p in all_paths if len(p[0]) < longest} <= set(kept)


def test_hop_edges_are_the_stored_edges(garden_graph):
    finder = PathFinder(garden_graph, max_hops=3, max_paths=None)
    paths = finder.find([shovel, plant], [flower, dig])
    eids = finder.hop_edges(paths)
    kg = garden_graph
    for p in range(len(paths)):
        for j in range(paths.lengths[p]):
            u, v, r = paths.nodes[p, j], paths.nodes[p, j + 1], paths.relations[p, j]
            e = eids[p, j]
            expected = (u, r, v) if r < R else (v, r - R, u)
            assert (kg.head[e], kg.relation[e], kg.tail[e]) == expected
        assert (eids[p, paths.lengths[p]:] == -1).all()


def test_select_recomputes_offsets(garden_graph):
    paths = find_paths(garden_graph, [shovel, flower, shovel], [flower, flower, dig], max_hops=3, max_paths=None)
    keep = paths.lengths != 2
    kept = paths.select(keep)
    assert kept.paths_per_pair.tolist() == [
        int(keep[paths.pair_ptr[k]:paths.pair_ptr[k + 1]].sum()) for k in range(3)]
    assert np.array_equal(kept.lengths, paths.lengths[keep])


def test_select_with_empty_pairs_at_the_end(garden_graph):
    paths = find_paths(garden_graph, [shovel, IDS["nail"]], [dig, IDS["ground"]], max_hops=2, max_paths=None)
    assert paths.paths_per_pair.tolist() == [2, 0]
    assert paths.select(paths.lengths == 1).paths_per_pair.tolist() == [1, 0]
    assert paths.select(np.zeros(len(paths), dtype=bool)).pair_ptr.tolist() == [0, 0, 0]


def test_shortest_mask_keeps_each_pairs_shortest_length(garden_graph):
    # shovel-flower: one 2-hop and two 3-hop paths; shovel-tool: one edge; dig-plant: 2 hops via garden
    paths = find_paths(garden_graph, [shovel, shovel, dig], [flower, tool, plant], max_hops=3, max_paths=None)
    kept = paths.select(paths.shortest_mask())
    assert kept.as_tuples(0) == [((shovel, garden, flower), (AT, HAS_A))]
    assert kept.as_tuples(1) == [((shovel, tool), (REL["IsA"],))]
    assert set(kept.lengths[kept.pair_ptr[2]:kept.pair_ptr[3]].tolist()) == \
        {int(paths.lengths[paths.pair_ptr[2]:paths.pair_ptr[3]].min())}
    assert kept.pair_ptr.tolist()[:3] == [0, 1, 2]
    empty = find_paths(garden_graph, [], [], max_hops=3)
    assert empty.shortest_mask().shape == (0,)


@pytest.mark.parametrize("seed", [0, 3])
def test_distances_equal_networkx_shortest_path_lengths(tmp_path, garden_graph, seed):
    kg = garden_graph if seed == 0 else random_graph(tmp_path / "g", seed, nodes=30, edges=45)
    graph = nx.Graph(multigraph(kg))
    rng = random.Random(seed)
    pairs = [(rng.randrange(kg.num_nodes), rng.randrange(kg.num_nodes)) for _ in range(80)] + [(0, 0)]
    for hops in (1, 2, 3):
        ours = PathFinder(kg, max_hops=hops, max_paths=100).distances(*zip(*pairs))
        expected = []
        for s, t in pairs:
            try:
                d = nx.shortest_path_length(graph, s, t)
            except nx.NetworkXNoPath:
                d = -1
            expected.append(d if d <= hops else -1)
        assert ours.tolist() == expected, hops
        assert set(expected) >= {-1, 0, 1, *range(2, hops + 1)}, hops  # every distance occurs

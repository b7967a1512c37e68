import random

import numpy as np
import pytest

from kgqa.retrieval.ranking import DegreeRanker, NodeEmbeddingTable, RandomRanker, RelevanceRanker, node_text
from kgqa.retrieval.subgraph import SubgraphBuilder, edges_among_groups, split_concepts
from tests.retrieval.helpers import IDS, REL

dig, flower, garden, ground, hammer, nail, plant, shovel, tool = (
    IDS[n] for n in ("dig", "flower", "garden", "ground", "hammer", "nail", "plant", "shovel", "tool"))


def test_two_hop_subgraph_by_hand(garden_graph):
    sub = SubgraphBuilder(garden_graph).build([shovel], [flower])
    # bridging: N(shovel) = {dig, garden, tool}, N(flower) = {garden, plant} -> {garden}
    assert sub.node_ids.tolist() == [shovel, flower, garden]
    assert sub.node_type.tolist() == [0, 1, 2]
    assert sub.num_candidates == 3
    # edges among them, in edge-id order (flower -AtLocation-> garden, garden -HasA-> flower,
    # shovel -AtLocation-> garden), with local indices
    assert sub.edge_index.tolist() == [[1, 2, 0], [2, 1, 2]]
    assert sub.edge_type.tolist() == [REL["AtLocation"], REL["HasA"], REL["AtLocation"]]
    assert sub.edge_weight.tolist() == [3.0, 1.0, 1.0]
    # every node is scored (the default ranker: log(1 + degree)), under the cap too
    assert sub.node_score.tolist() == pytest.approx(np.log1p([3, 3, 5]).tolist())
    lazy = SubgraphBuilder(garden_graph, score_all_nodes=False).build([shovel], [flower])
    assert np.isnan(lazy.node_score).all()  # only a cap makes the ranker run


def test_three_hop_bridging_and_shared_concepts(garden_graph):
    builder = SubgraphBuilder(garden_graph, hops=3)
    # d(Q, v) + d(v, A) <= 3: dig (1 + 2), garden (1 + 1), plant (2 + 1); not tool or ground
    assert builder.bridging([[shovel]], [[flower]])[0].tolist() == [dig, garden, plant]
    assert SubgraphBuilder(garden_graph, hops=1).bridging([[shovel]], [[flower]])[0].tolist() == []
    # a concept linked in the question and the choice is an answer concept
    q, a = split_concepts([shovel, flower, shovel], [flower])
    assert q.tolist() == [shovel] and a.tolist() == [flower]
    sub = SubgraphBuilder(garden_graph).build([flower], [flower])
    assert sub.node_ids.tolist() == [flower] and sub.node_type.tolist() == [1]


def test_qagnn_subgraph_by_hand(garden_graph):
    """QA-GNN keeps the common neighbours of any two distinct concepts; bridging only those of a
    question and an answer concept. Neighbours: shovel {dig, garden, tool}, hammer {nail, tool},
    flower {garden, plant}, dig {shovel, ground, garden}, plant {flower, garden}, ground {dig}."""
    qagnn = SubgraphBuilder(garden_graph, mode="qagnn")
    bridging = SubgraphBuilder(garden_graph)
    # Q = {shovel, hammer}, A = {flower}: tool bridges the two question concepts
    assert qagnn.common_neighbours([[shovel, hammer]], [[flower]])[0].tolist() == [garden, tool]
    assert bridging.bridging([[shovel, hammer]], [[flower]])[0].tolist() == [garden]
    sub = qagnn.build([shovel, hammer], [flower])
    assert sub.node_ids.tolist() == [shovel, hammer, flower, garden, tool]  # garden: degree 5 > tool: 2
    assert sub.node_type.tolist() == [0, 0, 1, 2, 2] and sub.num_candidates == 5
    # flower -AtLocation-> garden, garden -HasA-> flower, hammer -IsA-> tool, shovel -AtLocation->
    # garden, shovel -IsA-> tool (edge-id order), local indices
    assert sub.edge_index.tolist() == [[2, 3, 1, 0, 0], [3, 2, 4, 3, 4]]
    assert sub.edge_type.tolist() == [REL["AtLocation"], REL["HasA"], REL["IsA"], REL["AtLocation"], REL["IsA"]]
    # Q = {ground}, A = {plant, dig}: garden is common to the two answer concepts only
    assert qagnn.common_neighbours([[ground]], [[plant, dig]])[0].tolist() == [garden]
    assert bridging.bridging([[ground]], [[plant, dig]])[0].tolist() == []
    # no answer concept: question-question pairs still count; one concept alone has no pair
    assert qagnn.common_neighbours([[shovel, hammer]], [[]])[0].tolist() == [tool]
    assert qagnn.common_neighbours([[garden]], [[]])[0].tolist() == []
    # a concept linked in both is an answer concept, and concepts are never extra nodes
    assert qagnn.build([shovel, garden], [garden, dig]).node_ids.tolist() == [shovel, garden, dig]
    # a superset of bridging (k = 2) on every choice of a batch
    qs = [[shovel], [dig], [hammer, plant], [flower, tool], [nail]]
    as_ = [[flower], [plant], [garden], [dig], [ground]]
    for ours, theirs in zip(qagnn.select(qs, as_), bridging.select(qs, as_)):
        assert set(theirs.node_ids.tolist()) <= set(ours.node_ids.tolist())


def test_no_linked_concept_gives_answer_only_or_empty_subgraph(garden_graph):
    builder = SubgraphBuilder(garden_graph)
    no_question, nothing = builder.build_many([[], []], [[flower], []])
    assert no_question.node_ids.tolist() == [flower] and no_question.num_edges == 0
    assert nothing.num_nodes == 0 and nothing.edge_index.shape == (2, 0)


def test_cap_keeps_concepts_and_ranks_bridging_nodes(garden_graph):
    kg = garden_graph
    # Q = {shovel}, A = {flower}: with k = 3 the three bridging nodes do not fit under the cap
    builder = SubgraphBuilder(kg, hops=3, max_nodes=3, ranker=DegreeRanker(kg))
    sub = builder.build([shovel], [flower])
    # candidates dig (degree 3), garden (5), plant (2): the cap leaves room for 1 -> garden
    assert sub.num_candidates == 5
    assert sub.node_ids.tolist() == [shovel, flower, garden]
    assert sub.node_score.tolist() == pytest.approx(np.log1p([kg.degree[shovel], kg.degree[flower], 5]).tolist())
    assert kg.degree[garden] == 5 and kg.degree[dig] == 3 and kg.degree[plant] == 2
    # concepts are kept even past the cap
    assert SubgraphBuilder(kg, max_nodes=1).build([shovel], [flower]).node_ids.tolist() == [shovel, flower]
    # the random ranker is a seeded hash: same scores in every call, other seeds differ
    r0, r1 = RandomRanker(0), RandomRanker(1)
    nodes = np.arange(kg.num_nodes)
    assert np.array_equal(r0.score_many([nodes])[0], RandomRanker(0).score_many([nodes])[0])
    assert not np.array_equal(r0.score_many([nodes])[0], r1.score_many([nodes])[0])
    ranked = SubgraphBuilder(kg, hops=3, max_nodes=4, ranker=r0).build([shovel], [flower])
    scores = r0.score_many([np.array([dig, garden, plant])])[0]
    best = [dig, garden, plant][int(np.lexsort(([dig, garden, plant], -scores))[0])]
    assert ranked.node_ids.tolist()[:2] == [shovel, flower] and ranked.node_ids[2] == best


def test_edges_among_groups_equals_store(garden_graph, tmp_path):
    kg = garden_graph
    rng = random.Random(0)
    groups = [np.array(rng.sample(range(kg.num_nodes), rng.randint(0, kg.num_nodes)), dtype=np.int32)
              for _ in range(40)]
    for nodes, (edge_index, edge_type, weight) in zip(groups, edges_among_groups(kg, groups)):
        expected = kg.edges_among(nodes)
        assert nodes[edge_index[0]].tolist() == expected.head.tolist()
        assert nodes[edge_index[1]].tolist() == expected.tail.tolist()
        assert edge_type.tolist() == expected.relation.tolist()
        assert weight.tolist() == expected.weight.tolist()


class LetterEncoder:
    """A stand-in sentence encoder: the unit vector of letter counts (a..z)."""

    model_name = "letters"

    def __init__(self):
        self.calls = 0

    def encode(self, texts, batch_size=64):
        self.calls += 1
        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_relevance_ranker_and_node_embedding_cache(garden_graph):
    kg = garden_graph
    assert node_text("ice_cream") == "ice cream"
    encoder = LetterEncoder()
    table = NodeEmbeddingTable(kg, encoder)
    assert table.path.parent == kg.path / "text_embeddings"
    ranker = RelevanceRanker(kg, table=table, node_embeddings="lazy")
    scores = ranker.score_many([np.array([dig, garden, plant])], ["gardening"])[0]
    query = encoder.encode(["gardening"])[0]
    expected = encoder.encode(["dig", "garden", "plant"]) @ query
    assert scores == pytest.approx(expected, abs=1e-3)  # float16 table
    assert table.computed == 3  # lazy: only the ranked nodes were embedded
    # "all": every node once, saved next to the graph and reused by a new table
    table.compute_all()
    assert table.computed == kg.num_nodes and table.path.exists() and table.mask_path.exists()
    again = NodeEmbeddingTable(kg, LetterEncoder())
    assert again.complete
    assert np.allclose(again.get([flower]), encoder.encode(["flower"]), atol=1e-3) and again.computed == 0
    # over the cap, the subgraph keeps the nodes closest to the question text
    builder = SubgraphBuilder(kg, hops=3, max_nodes=3, ranker=ranker)
    sub = builder.build([shovel], [flower], query="plant")
    assert sub.node_ids.tolist() == [shovel, flower, plant]
    assert sub.node_score[2] == pytest.approx(1.0, abs=1e-3)

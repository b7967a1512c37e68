import warnings

import numpy as np
import pytest

from kgqa.kge.artifacts import EntityEmbeddings
from kgqa.kge.scoring import TransEPathScorer
from kgqa.retrieval import pruning
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.paths import find_paths
from kgqa.retrieval.pruning import load_path_scorer, prune_paths
from kgqa.retrieval.retriever import Retriever
from tests.retrieval.helpers import IDS, REL

flower, garden, shovel, dig = IDS["flower"], IDS["garden"], IDS["shovel"], IDS["dig"]


class ShortIsPlausible:
    """score = 1 / hops (a stand-in scorer)."""

    def score(self, nodes, relations, lengths):
        return 1.0 / np.maximum(lengths, 1)


def test_pluggable_scorer_drops_paths_below_threshold(garden_graph):
    paths = find_paths(garden_graph, [shovel, shovel], [flower, dig], max_hops=3, max_paths=None)
    kept, scores = prune_paths(paths, ShortIsPlausible(), threshold=0.4)
    assert kept.lengths.tolist() == [2, 1, 2] and kept.paths_per_pair.tolist() == [1, 2]
    assert scores.tolist() == pytest.approx([0.5, 1.0, 0.5])
    assert paths.lengths.tolist() == [2, 3, 3, 1, 2]
    same, nan = prune_paths(paths, None)
    assert same is paths and np.isnan(nan).all() and len(nan) == len(paths)


def test_no_embedding_keeps_all_paths_and_warns_once(garden_graph):
    pruning._WARNED.discard(garden_graph.checksum)
    with pytest.warns(UserWarning, match="W060"):
        scorer, info = load_path_scorer(garden_graph, "auto")
    assert scorer is None and not info.pruned and "no TransE" in info.reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_path_scorer(garden_graph, "auto")  # the second time is quiet
    assert load_path_scorer(garden_graph, "none")[1].to_dict()["pruned"] is False


def test_transe_scorer_prunes_in_the_retriever(garden_graph):
    kg = garden_graph
    entity = np.zeros((kg.num_nodes, 2), dtype=np.float32)
    entity[garden] = [1, 0]
    entity[flower] = [2, 0]
    relation = np.zeros((kg.num_relations, 2), dtype=np.float32)
    relation[REL["AtLocation"]] = [1, 0]
    relation[REL["HasA"]] = [-1, 0]
    scorer = TransEPathScorer(EntityEmbeddings.from_arrays(kg, entity, relation))
    paths = find_paths(kg, [shovel], [flower], max_hops=2, max_paths=None, relations="all")
    # shovel -AtLocation-> garden: cos(r, garden - shovel) = 1 -> 1; then garden <-AtLocation- flower:
    # the stored triple (flower, AtLocation, garden), cos((1,0), (-1,0)) = -1 -> 0; mean 0.5.
    # garden -HasA-> flower: cos((-1,0), (1,0)) = -1 -> 0; mean 0.5 as well.
    assert scorer.score(paths.nodes, paths.relations, paths.lengths).tolist() == pytest.approx([0.5, 0.5])
    # KagNet multiplies the hop scores: 1 * 0
    product = scorer.with_aggregate("product")
    assert product.score(paths.nodes, paths.relations, paths.lengths).tolist() == pytest.approx([0.0, 0.0])
    arrays = Retriever(kg, RetrievalConfig(ranker="degree", max_hops=2, prune_threshold=0.6),
                       scorer=scorer).retrieve([[shovel]], [[flower]])
    assert arrays["pair_found"].tolist() == [1] and arrays["path_ptr"].tolist() == [0, 0]
    assert arrays["path_score"].shape == (0,)
    # the mean keeps the path at a threshold of 0.4, the product does not
    kept = [Retriever(kg, RetrievalConfig(ranker="degree", max_hops=2, prune_threshold=0.4, path_aggregate=agg),
                      scorer=scorer).retrieve([[shovel]], [[flower]])["path_ptr"].tolist() for agg in ("mean", "product")]
    assert kept == [[0, 1], [0, 0]]


def test_keep_paths_shortest_in_the_retriever(garden_graph):
    kg = garden_graph
    every = Retriever(kg, RetrievalConfig(ranker="degree", max_hops=3), scorer=None).retrieve([[shovel]], [[flower]])
    shortest = Retriever(kg, RetrievalConfig(ranker="degree", max_hops=3, keep_paths="shortest"),
                         scorer=None).retrieve([[shovel]], [[flower]])
    assert every["path_lengths"].tolist() == [2, 3, 3]
    assert shortest["path_lengths"].tolist() == [2] and shortest["path_ptr"].tolist() == [0, 1]
    assert shortest["path_nodes"].shape[0] == 1


def test_keep_paths_setting_is_checked_and_all_keeps_old_cache_keys():
    from kgqa.errors import KGQAError

    with pytest.raises(KGQAError, match="E013"):
        RetrievalConfig(keep_paths="longest")
    assert "keep_paths" not in RetrievalConfig().output_settings()
    assert RetrievalConfig(keep_paths="shortest").fingerprint() != RetrievalConfig().fingerprint()

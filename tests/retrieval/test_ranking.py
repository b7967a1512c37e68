"""Relevance for every node: QA-GNN's LM ranker, and the settings that name the cache."""

import numpy as np
import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.ranking import LMRelevanceRanker, lm_statement
from kgqa.retrieval.retriever import Retriever
from tests.retrieval.helpers import IDS

dig, flower, garden, plant, shovel = (IDS[n] for n in ("dig", "flower", "garden", "plant", "shovel"))


@pytest.fixture(scope="module")
def tiny_mlm_dir(tmp_path_factory):
    """A tiny random BERT with its masked-LM head and the tiny WordPiece tokenizer."""
    from transformers import BertForMaskedLM

    from kgqa.backbones.tiny import tiny_config, tiny_tokenizer

    tokenizer = tiny_tokenizer("bert")
    torch.manual_seed(0)
    model = BertForMaskedLM(tiny_config("bert", len(tokenizer), pad_token_id=tokenizer.pad_token_id))
    directory = tmp_path_factory.mktemp("tiny_mlm")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def reference_nll(directory, text: str) -> float:
    """Summed NLL of every token of ``text`` (no masking), one text at a time."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForMaskedLM.from_pretrained(directory).eval()
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0], dim=-1)
    return float(-logp[torch.arange(ids.shape[1]), ids[0]].sum())


def test_lm_ranker_scores_are_qagnn_likelihood_differences(garden_graph, tiny_mlm_dir):
    query = "What do you use a shovel for? dig"
    assert lm_statement(query) == "what do you use a shovel for? dig."
    ranker = LMRelevanceRanker(garden_graph, str(tiny_mlm_dir), device="cpu")
    nodes = np.array([dig, garden, plant])
    (scores,) = ranker.score_many([nodes], [query])
    context = reference_nll(tiny_mlm_dir, "what do you use a shovel for? dig.")
    expected = [context - reference_nll(tiny_mlm_dir, f"what do you use a shovel for? dig. {name}.")
                for name in ("dig", "garden", "plant")]
    assert scores.dtype == np.float32 and scores.tolist() == pytest.approx(expected, abs=1e-3)
    # padding in a batch changes nothing: one sentence per forward pass gives the same scores
    one_by_one = LMRelevanceRanker(garden_graph, str(tiny_mlm_dir), batch_size=1, device="cpu")
    again = one_by_one.score_many([nodes, np.array([flower]), np.array([], dtype=np.int64)],
                                  [query, "Where does a flower grow? garden", "x"])
    assert again[0].tolist() == pytest.approx(scores.tolist(), abs=1e-3)
    assert len(again[1]) == 1 and np.isfinite(again[1]).all() and len(again[2]) == 0
    with pytest.raises(KGQAError, match="E060"):
        ranker.score_many([nodes], None)


def test_lm_ranker_in_retrieval_scores_every_node(garden_graph, tiny_mlm_dir):
    config = RetrievalConfig(ranker="lm", relevance_lm=str(tiny_mlm_dir), path_scorer="none", max_paths=0)
    retriever = Retriever(garden_graph, config)
    arrays = retriever.retrieve([[shovel], [shovel]], [[flower], []], ["What grows in a garden? flower", "x y"])
    # subgraph nodes and path-only nodes all get a finite score
    assert len(arrays["node_score"]) == arrays["node_ptr"][-1] > 3
    assert np.isfinite(arrays["node_score"]).all()
    assert arrays["ranked"].tolist() == [1, 1]


def test_unloadable_lm_names_the_setting(garden_graph, tmp_path):
    ranker = LMRelevanceRanker(garden_graph, str(tmp_path / "missing"))
    with pytest.raises(KGQAError, match=r"E200.*relevance_lm"):
        ranker.score_many([np.array([dig])], ["q a"])


def test_cache_fingerprint_follows_the_output_settings():
    base = RetrievalConfig()
    changed = [RetrievalConfig(subgraph="qagnn"), RetrievalConfig(score_all_nodes=False),
               RetrievalConfig(path_relations="all"), RetrievalConfig(ranker="lm"),
               RetrievalConfig(path_scorer="auto", path_aggregate="product")]
    prints = {c.fingerprint() for c in changed}
    assert base.fingerprint() not in prints and len(prints) == len(changed)
    # settings the output does not read leave the key alone
    assert RetrievalConfig(relevance_lm="other").fingerprint() == base.fingerprint()
    assert RetrievalConfig(subgraph="qagnn", subgraph_hops=3).fingerprint() == \
        RetrievalConfig(subgraph="qagnn").fingerprint()
    assert RetrievalConfig(path_aggregate="product").fingerprint() == base.fingerprint()  # no pruning
    assert RetrievalConfig(ranker="lm", relevance_lm="a").fingerprint() != \
        RetrievalConfig(ranker="lm", relevance_lm="b").fingerprint()
    with pytest.raises(KGQAError, match="E013"):
        RetrievalConfig(subgraph="everything")

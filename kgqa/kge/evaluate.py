"""Link prediction with trained KGE models: filtered MRR and Hits@K, and the popularity baseline.

For a held-out triple :math:`(h, r, t)` the model scores every entity as the tail (and as the
head); the rank of the true entity counts only candidates that are not known true triples
(*filtered* setting, Bordes et al. 2013), ties at the mean ("realistic" rank). Reported:

.. math::
    \\mathrm{MRR} = \\frac{1}{2|T|} \\sum_{(h,r,t) \\in T} \\Big(\\frac{1}{\\mathrm{rank}_t} +
    \\frac{1}{\\mathrm{rank}_h}\\Big), \\qquad
    \\mathrm{Hits@}k = \\text{share of ranks} \\le k .

:func:`filtered_ranks` computes these ranks from any scorer of all candidates (the tables of
the ``sparse`` trainer through :func:`rank_tables`; the test suite checks it against PyKEEN's
``RankBasedEvaluator``, which :func:`rank_triples` runs on PyKEEN models).
:func:`popularity_baseline` ranks the same triples by how often each candidate fills that
relation's slot in training, so every MRR comes with the number it has to beat.

:func:`evaluate_cn100k` runs the CN-100K protocol (Li et al., ACL 2016): train on the 100k
training triples, rank the 1,200 true triples of ``test.txt`` (filtered by every known true
triple: train, dev1/dev2 positives, test positives), plus triple classification accuracy
(threshold tuned on dev1+dev2, applied to the labelled test triples).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from kgqa.kge.train import KGEConfig


def rank_triples(model, triples: "torch.Tensor", *, filter_triples: list | None = None,
                 max_triples: int | None = 1000, seed: int = 0, batch_size: int = 16) -> dict:
    """Filtered link-prediction metrics of ``model`` on ``triples`` (both directions).

    Args:
        model: a trained PyKEEN model.
        triples: ``(T, 3)`` long ``(head, relation, tail)`` ids to rank.
        filter_triples: other known true triples (e.g. the training edges) to filter out.
        max_triples: rank a fixed-seed sample of at most this many (``None``: all).
        seed: the sample's seed.
        batch_size: triples scored at once.

    Returns:
        ``{"mrr", "hits_at_1", "hits_at_3", "hits_at_10", "mean_rank", "num_triples", "seconds"}``.
    """
    import torch
    from pykeen.evaluation import RankBasedEvaluator

    if max_triples is not None and len(triples) > max_triples:
        pick = np.sort(np.random.default_rng(seed).choice(len(triples), max_triples, replace=False))
        triples = triples[torch.from_numpy(pick)]
    start = time.perf_counter()
    evaluator = RankBasedEvaluator(filtered=True)
    result = evaluator.evaluate(model, triples, batch_size=batch_size, use_tqdm=False,
                                additional_filter_triples=filter_triples or None)
    flat = result.to_dict()["both"]["realistic"]
    return {"mrr": round(float(flat["inverse_harmonic_mean_rank"]), 4),
            "hits_at_1": round(float(flat["hits_at_1"]), 4),
            "hits_at_3": round(float(flat["hits_at_3"]), 4),
            "hits_at_10": round(float(flat["hits_at_10"]), 4),
            "mean_rank": round(float(flat["arithmetic_mean_rank"]), 1),
            "num_triples": int(len(triples)),
            "seconds": round(time.perf_counter() - start, 1)}


class KnownTriples:
    """Every known true triple, indexed for filtering: the tails of ``(h, r)``, the heads of ``(r, t)``.

    Args:
        triples: ``(T, 3)`` int ``(head, relation, tail)`` arrays (train, validation, test...).
        num_relations: ``R`` (ids in ``[0, R)``).
    """

    def __init__(self, *triples: np.ndarray, num_relations: int):
        rows = np.concatenate([np.asarray(t, dtype=np.int64).reshape(-1, 3) for t in triples]) if triples \
            else np.zeros((0, 3), np.int64)
        self.num_relations = int(num_relations)
        self.triples = rows
        self._tail_key, self._tails = self._index(rows[:, 0] * num_relations + rows[:, 1], rows[:, 2])
        self._head_key, self._heads = self._index(rows[:, 2] * num_relations + rows[:, 1], rows[:, 0])

    @staticmethod
    def _index(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.lexsort((values, keys))
        return keys[order], values[order]

    def _lookup(self, sorted_keys, values, queries) -> tuple[np.ndarray, np.ndarray]:
        lo = np.searchsorted(sorted_keys, queries, side="left")
        hi = np.searchsorted(sorted_keys, queries, side="right")
        counts = hi - lo
        rows = np.repeat(np.arange(len(queries)), counts)
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return rows, values[starts + np.arange(counts.sum())]

    def tails(self, heads, relations) -> tuple[np.ndarray, np.ndarray]:
        """``(query row, known tail)`` pairs of the queries ``(heads[i], relations[i], ?)``."""
        return self._lookup(self._tail_key, self._tails, np.asarray(heads) * self.num_relations + np.asarray(relations))

    def heads(self, relations, tails) -> tuple[np.ndarray, np.ndarray]:
        """``(query row, known head)`` pairs of the queries ``(?, relations[i], tails[i])``."""
        return self._lookup(self._head_key, self._heads, np.asarray(tails) * self.num_relations + np.asarray(relations))


def filtered_ranks(score_tails, score_heads, triples: np.ndarray, known: KnownTriples, *,
                   batch_size: int = 256) -> np.ndarray:
    """Filtered, realistic ranks of ``triples`` as tails, then as heads: ``(2T,)`` float64.

    ``score_tails(h, r)`` / ``score_heads(r, t)`` return ``(B, N)`` scores of every entity as the
    missing tail / head (numpy or torch, higher = more plausible). Every known true triple other
    than the one ranked is removed from its candidates (``known`` must hold ``triples`` too);
    ties count half (the mean of the optimistic and pessimistic rank, PyKEEN's "realistic").
    """
    triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    out = []
    for side in ("tail", "head"):
        for start in range(0, len(triples), batch_size):
            part = triples[start:start + batch_size]
            h, r, t = part[:, 0], part[:, 1], part[:, 2]
            scores = score_tails(h, r) if side == "tail" else score_heads(r, t)
            scores = np.array(scores.detach().cpu().numpy() if hasattr(scores, "detach") else scores,
                              dtype=np.float64)
            target = t if side == "tail" else h
            rows = np.arange(len(part))
            own = scores[rows, target].copy()
            filt_rows, filt_cols = known.tails(h, r) if side == "tail" else known.heads(r, t)
            scores[filt_rows, filt_cols] = -np.inf  # the ranked triple is among them
            greater = (scores > own[:, None]).sum(1)
            equal = (scores == own[:, None]).sum(1)
            out.append(1.0 + greater + equal / 2.0)
    return np.concatenate(out) if out else np.zeros(0)


def rank_metrics(ranks: np.ndarray) -> dict:
    """MRR, Hits@1/3/10 and mean rank of filtered ranks (both directions pooled)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if len(ranks) == 0:
        return {"mrr": float("nan"), "hits_at_1": float("nan"), "hits_at_3": float("nan"),
                "hits_at_10": float("nan"), "mean_rank": float("nan"), "num_triples": 0}
    return {"mrr": round(float((1.0 / ranks).mean()), 4),
            "hits_at_1": round(float((ranks <= 1).mean()), 4),
            "hits_at_3": round(float((ranks <= 3).mean()), 4),
            "hits_at_10": round(float((ranks <= 10).mean()), 4),
            "mean_rank": round(float(ranks.mean()), 1),
            "num_triples": int(len(ranks) // 2)}


def popularity_baseline(train: np.ndarray, triples: np.ndarray, known: KnownTriples, *,
                        num_entities: int, num_relations: int) -> dict:
    """The relation-popularity baseline: candidate tails of ``(h, r, ?)`` ranked by how often they
    are a tail of ``r`` in ``train`` (heads likewise), whatever ``h`` is; same filtered protocol.

    A model that does not beat it has learnt little beyond "which concepts are common answers
    of this relation". Returns :func:`rank_metrics` of its ranks.
    """
    train = np.asarray(train, dtype=np.int64).reshape(-1, 3)
    as_tail = np.zeros((num_relations, num_entities), dtype=np.float32)
    as_head = np.zeros((num_relations, num_entities), dtype=np.float32)
    np.add.at(as_tail, (train[:, 1], train[:, 2]), 1.0)
    np.add.at(as_head, (train[:, 1], train[:, 0]), 1.0)
    ranks = filtered_ranks(lambda h, r: as_tail[r], lambda r, t: as_head[r], triples, known)
    return rank_metrics(ranks)


def rank_tables(model: str, entity: np.ndarray, relation: np.ndarray, triples: np.ndarray,
                known: KnownTriples, *, max_triples: int | None = None, seed: int = 0) -> dict:
    """Filtered link-prediction metrics of trained tables (``sparse``-trainer scores: TransE L2,
    DistMult) on ``triples``, both directions: :func:`rank_metrics` of :func:`filtered_ranks`."""
    import torch

    from kgqa.kge.sparse import score_all

    triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    if max_triples is not None and len(triples) > max_triples:
        triples = triples[np.sort(np.random.default_rng(seed).choice(len(triples), max_triples, replace=False))]
    ent = torch.from_numpy(np.ascontiguousarray(entity, dtype=np.float32))
    rel = torch.from_numpy(np.ascontiguousarray(relation, dtype=np.float32))
    batch = max(1, min(256, (1 << 24) // max(len(ent), 1)))
    with torch.no_grad():
        ranks = filtered_ranks(lambda h, r: score_all(model, ent, rel, h, r, "tail"),
                               lambda r, t: score_all(model, ent, rel, t, r, "head"),
                               triples, known, batch_size=batch)
    return rank_metrics(ranks)


def _labelled(path: Path) -> list[tuple[str, str, str, int]]:
    from kgqa.kg.importers.cn100k import read_cn100k

    pos = [(t.head, t.relation, t.tail, 1) for t in read_cn100k(path, labelled=True)]
    neg = [(t.head, t.relation, t.tail, 0) for t in read_cn100k(path, labelled=True, negatives=True)]
    return pos + neg


def evaluate_cn100k(data_dir: str | Path, config: "KGEConfig", *, progress: bool = False,
                    text_encoder=None) -> dict:
    """Train on CN-100K ``train.txt`` (all 34 relations) and evaluate on its ``test.txt``.

    Args:
        data_dir: the ``conceptnet/cn100k`` folder of the shared data.
        config: the KGE config (``holdout`` is ignored: CN-100K has its own split; the dev1 +
            dev2 positives validate for early stopping).
        progress: progress bars (phrase embeddings, epochs).
        text_encoder: sentence encoder (name or object) of ``config.text_init``.

    Returns:
        ``{"link_prediction": {...metrics, "popularity": {...}, "test_triples",
        "test_triples_unseen_entity"}, "triple_classification": {"accuracy", "threshold",
        "test_covered"}, "training": {...}, "text_features": {...} | None}``. Test triples with an
        entity absent from training are left out of the ranking (as in the protocol) and
        counted. Ranks are filtered by every known true triple: train, dev and test positives.
    """
    from kgqa.kg.importers.cn100k import read_cn100k
    from kgqa.kge.train import evaluate_fit, fit

    data_dir = Path(data_dir)
    train = [(t.head, t.relation, t.tail) for t in read_cn100k(data_dir / "train.txt")]
    names = sorted({x for h, _, t in train for x in (h, t)})
    entities = {name: i for i, name in enumerate(names)}
    relations = {name: i for i, name in enumerate(sorted({r for _, r, _ in train}))}

    def ids(rows) -> np.ndarray:
        return np.array([[entities[h], relations[r], entities[t]] for h, r, t, *_ in rows],
                        dtype=np.int64).reshape(-1, 3)

    def known_row(h, r, t, *_):
        return h in entities and t in entities and r in relations

    dev = _labelled(data_dir / "dev1.txt") + _labelled(data_dir / "dev2.txt")
    test = _labelled(data_dir / "test.txt")
    train_ids = ids(train)
    dev_pos = ids([row for row in dev if row[3] == 1 and known_row(*row)])
    test_pos = [row for row in test if row[3] == 1]
    ranked = ids([row for row in test_pos if known_row(*row)])
    known = KnownTriples(train_ids, dev_pos, ranked, num_relations=len(relations))
    text, text_info = None, None
    if config.text_init != "none":
        text, text_info = cn100k_name_features(names, text_encoder or config.text_init, progress=progress)
    fitted = fit(train_ids, len(entities), len(relations), config, validation=dev_pos, known=known,
                 text_features=text, progress=progress, description=f"{config.model} on CN-100K")
    link = evaluate_fit(fitted, config, train_ids, ranked, known, num_entities=len(entities),
                        num_relations=len(relations))
    link.update(test_triples=len(test_pos), test_triples_unseen_entity=len(test_pos) - len(ranked))

    def scores(rows):
        covered = [row for row in rows if known_row(*row)]
        if not covered:
            return np.zeros(0), np.zeros(0)
        triples = ids(covered)
        if fitted.pykeen_model is not None:
            import torch

            with torch.no_grad():
                s = fitted.pykeen_model.score_hrt(torch.from_numpy(triples)).view(-1).numpy()
        else:
            from kgqa.kge.scoring import score_table_triples

            s = score_table_triples(config.model, fitted.entity, fitted.relation, triples)
        return s, np.array([row[3] for row in covered])

    dev_s, dev_y = scores(dev)
    test_s, test_y = scores(test)
    threshold = _best_threshold(dev_s, dev_y)
    accuracy = float(((test_s >= threshold) == (test_y == 1)).mean()) if len(test_s) else float("nan")
    training = dict(fitted.training, train_triples=len(train_ids), entities=len(entities), relations=len(relations))
    return {"link_prediction": link,
            "triple_classification": {"accuracy": round(accuracy, 4), "threshold": float(threshold),
                                      "test_covered": int(len(test_s)), "test_total": len(test)},
            "training": training, "text_features": text_info}


def cn100k_name_features(names: list[str], encoder, *, progress: bool = False) -> tuple[np.ndarray, dict]:
    """Sentence embeddings of CN-100K's phrases, cached like a graph's node names (content-addressed
    by the phrase list, under ``KGQA_HOME/cache/node_embeddings``)."""
    import time as _time

    from kgqa.encoders.node_names import NamedNodes, NodeEmbeddingTable
    from kgqa.paths import kgqa_home

    nodes = NamedNodes("cn100k phrases", names, kgqa_home() / "cache" / "cn100k")
    nodes.path.mkdir(parents=True, exist_ok=True)
    table = NodeEmbeddingTable(nodes, encoder)
    start = _time.perf_counter()
    before = int(table.computed_mask().sum())
    table.compute_all(progress=progress)
    return table.get(np.arange(len(names))), {"encoder": table.encoder_name, "cache": str(table.path),
                                              "rows_encoded_now": len(names) - before,
                                              "seconds": round(_time.perf_counter() - start, 1)}


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold with the best accuracy on ``(scores, labels)`` (ties: the lowest)."""
    if len(scores) == 0:
        return 0.0
    candidates = np.unique(scores)
    best, best_acc = candidates[0], -1.0
    for c in candidates:
        acc = float(((scores >= c) == (labels == 1)).mean())
        if acc > best_acc:
            best, best_acc = c, acc
    return float(best)

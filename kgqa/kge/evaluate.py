"""Link prediction with trained KGE models: filtered MRR and Hits@K (PyKEEN's RankBasedEvaluator).

For a held-out triple :math:`(h, r, t)` the model scores every entity as the tail (and as the
head); the rank of the true entity counts only candidates that are not known true triples
(*filtered* setting, Bordes et al. 2013), ties at the mean ("realistic" rank). Reported:

.. math::
    \\mathrm{MRR} = \\frac{1}{2|T|} \\sum_{(h,r,t) \\in T} \\Big(\\frac{1}{\\mathrm{rank}_t} +
    \\frac{1}{\\mathrm{rank}_h}\\Big), \\qquad
    \\mathrm{Hits@}k = \\text{share of ranks} \\le k .

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


def _labelled(path: Path) -> list[tuple[str, str, str, int]]:
    from kgqa.kg.importers.cn100k import read_cn100k

    pos = [(t.head, t.relation, t.tail, 1) for t in read_cn100k(path, labelled=True)]
    neg = [(t.head, t.relation, t.tail, 0) for t in read_cn100k(path, labelled=True, negatives=True)]
    return pos + neg


def evaluate_cn100k(data_dir: str | Path, config: "KGEConfig") -> dict:
    """Train on CN-100K ``train.txt`` (all 34 relations) and evaluate on its ``test.txt``.

    Args:
        data_dir: the ``conceptnet/cn100k`` folder of the shared data.
        config: the KGE config (``holdout`` is ignored: CN-100K has its own split).

    Returns:
        ``{"link_prediction": {...metrics, "test_triples", "test_triples_unseen_entity"},
        "triple_classification": {"accuracy", "threshold", "test_covered"}, "training": {...}}``.
        Test triples with an entity absent from training are left out of the ranking (their
        embedding would be random) and counted.
    """
    import torch
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import CoreTriplesFactory

    from kgqa.kg.importers.cn100k import read_cn100k
    from kgqa.kge.train import _pykeen_model, quiet_pykeen

    data_dir = Path(data_dir)
    train = [(t.head, t.relation, t.tail) for t in read_cn100k(data_dir / "train.txt")]
    entities = {name: i for i, name in enumerate(sorted({x for h, _, t in train for x in (h, t)}))}
    relations = {name: i for i, name in enumerate(sorted({r for _, r, _ in train}))}

    def ids(rows):
        return torch.tensor([[entities[h], relations[r], entities[t]] for h, r, t in rows], dtype=torch.long)

    def known(h, r, t):
        return h in entities and t in entities and r in relations

    dev = _labelled(data_dir / "dev1.txt") + _labelled(data_dir / "dev2.txt")
    test = _labelled(data_dir / "test.txt")
    train_ids = ids(train)
    factory = CoreTriplesFactory.create(mapped_triples=train_ids, num_entities=len(entities),
                                        num_relations=len(relations))
    torch.manual_seed(config.seed)
    model = _pykeen_model(config, factory)
    loop = SLCWATrainingLoop(model=model, triples_factory=factory,
                             optimizer=torch.optim.Adam(model.parameters(), lr=config.learning_rate),
                             negative_sampler_kwargs={"num_negs_per_pos": config.num_negatives})
    start = time.perf_counter()
    with quiet_pykeen():
        losses = loop.train(triples_factory=factory, num_epochs=config.epochs,
                            batch_size=min(config.batch_size, len(train_ids)), use_tqdm=False, pin_memory=False)
    seconds = time.perf_counter() - start

    test_pos = [(h, r, t) for h, r, t, y in test if y == 1]
    ranked = [row for row in test_pos if known(*row)]
    filters = [train_ids, ids([(h, r, t) for h, r, t, y in dev if y == 1 and known(h, r, t)])]
    with quiet_pykeen():
        link = rank_triples(model, ids(ranked), filter_triples=filters, max_triples=None,
                            batch_size=config.eval_batch_size)
    link.update(test_triples=len(test_pos), test_triples_unseen_entity=len(test_pos) - len(ranked))

    def scores(rows):
        covered = [row for row in rows if known(*row[:3])]
        if not covered:
            return np.zeros(0), np.zeros(0)
        with torch.no_grad():
            s = model.score_hrt(ids([row[:3] for row in covered])).view(-1).numpy()
        return s, np.array([row[3] for row in covered])

    dev_s, dev_y = scores(dev)
    test_s, test_y = scores(test)
    threshold = _best_threshold(dev_s, dev_y)
    accuracy = float(((test_s >= threshold) == (test_y == 1)).mean()) if len(test_s) else float("nan")
    return {"link_prediction": link,
            "triple_classification": {"accuracy": round(accuracy, 4), "threshold": float(threshold),
                                      "test_covered": int(len(test_s)), "test_total": len(test)},
            "training": {"seconds": round(seconds, 1), "losses": [float(x) for x in losses or []],
                         "train_triples": len(train_ids), "entities": len(entities),
                         "relations": len(relations)}}


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

"""kgqa's KGE training loop: each step touches only the rows of its batch.

PyKEEN's sLCWA loop (``trainer="pykeen"``) gathers ``B * K`` corrupted triples per step and
updates the whole entity table with dense Adam; on this 2-core machine that was 58 s per
CN-100K epoch with 64 negatives per positive, and 248k rows per step on the default graph.
This loop (``trainer="sparse"``, the default) does the same job cheaper:

1. a batch of ``B`` training triples and ``K`` negative entities drawn (uniformly, or by
   ``(1 + degree) ** negative_power``) and **shared** by the batch (PyTorch-BigGraph's batched negatives): every positive is scored against all
   ``K`` as corrupted tails and as corrupted heads with one ``(B, K)`` matrix product each;
2. the loss, per positive score :math:`s^+` and negative scores :math:`s^-_j`:

   - ``"nssa"`` (self-adversarial negative sampling, Sun et al., ICLR 2019):
     :math:`-\\log\\sigma(\\gamma + s^+) - \\sum_j p_j \\log\\sigma(-\\gamma - s^-_j)`,
     :math:`p = \\mathrm{softmax}(\\alpha s^-)` (not differentiated);
   - ``"softplus"``: :math:`\\mathrm{softplus}(-s^+) + \\mathrm{mean}_j\\,\\mathrm{softplus}(s^-_j)`;
   - ``"ce"``: sampled softmax, :math:`-s^+ + \\log(e^{s^+} + \\sum_j e^{s^-_j})`, tails and
     heads separately;

3. the gradient reaches only the ``U`` distinct rows the batch used; they get a row-wise
   ("lazy") Adam step, and every other row, with its Adam moments, is left as it was.

Scores: TransE :math:`-\\lVert h + r - t \\rVert_2` (Bordes et al., NeurIPS 2013; the L2 form
so the ``(B, K)`` distances are a matrix product), DistMult :math:`\\langle h, r, t\\rangle`.

Optionally (``text_features``) an entity's vector is :math:`e_i = P x_i + d_i`, with
:math:`x_i` the sentence embedding of node ``i``'s name (retrieval's MiniLM node-name cache),
:math:`P` a learned projection shared by all nodes (dense Adam) and :math:`d_i` a learned
per-node residual starting at zero: concepts seen in few triples still get a vector that
reflects their name (as text-initialised KGE for ConceptNet does, Malaviya et al., AAAI 2020).
The saved table is the sum, one plain ``(N, D)`` row per node.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

#: Models this loop trains.
SPARSE_MODELS = ("transe", "distmult")
#: Losses this loop knows.
SPARSE_LOSSES = ("nssa", "softplus", "ce")


class RowAdam:
    """Adam whose step updates only the given rows of a table (and their moments).

    Each row counts its own steps for the bias correction, so a row seen rarely is corrected as a
    row seen at every step would be after that many steps (TensorFlow's "lazy Adam").
    """

    def __init__(self, table: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        self.table, self.lr, self.eps = table, lr, eps
        self.b1, self.b2 = betas
        self.m = torch.zeros_like(table)
        self.v = torch.zeros_like(table)
        self.steps = torch.zeros(table.shape[0], dtype=table.dtype)

    @torch.no_grad()
    def step(self, rows: torch.Tensor, grad: torch.Tensor) -> None:
        self.steps[rows] += 1
        t = self.steps[rows].unsqueeze(1)
        m = self.m[rows].mul_(self.b1).add_(grad, alpha=1 - self.b1)
        v = self.v[rows].mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        self.m[rows], self.v[rows] = m, v
        update = (m / (1 - self.b1 ** t)) / ((v / (1 - self.b2 ** t)).sqrt_() + self.eps)
        self.table[rows] -= self.lr * update


def _pairwise(model: str, queries: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` scores of each query vector against every candidate entity.

    TransE: queries are ``h + r`` (tails) or ``t - r`` (heads), score ``-||q - c||_2``;
    DistMult: queries are ``h * r`` or ``t * r``, score ``<q, c>``.
    """
    if model == "distmult":
        return queries @ candidates.T
    squared = (queries * queries).sum(1, keepdim=True) + (candidates * candidates).sum(1)[None] \
        - 2.0 * queries @ candidates.T
    return -squared.clamp_min(1e-9).sqrt()


def _queries(model: str, anchor: torch.Tensor, relation: torch.Tensor, side: str) -> torch.Tensor:
    if model == "distmult":
        return anchor * relation
    return anchor + relation if side == "tail" else anchor - relation


def positive_scores(model: str, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``(B,)`` scores of triples given as vectors (TransE L2 or DistMult)."""
    if model == "distmult":
        return (h * r * t).sum(-1)
    return -((h + r - t) ** 2).sum(-1).clamp_min(1e-9).sqrt()


def score_all(model: str, entity: torch.Tensor, relation: torch.Tensor, anchors, relations,
              side: str) -> torch.Tensor:
    """``(B, N)`` scores of every entity as the missing ``side`` (``"tail"`` or ``"head"``)."""
    anchors = torch.as_tensor(np.asarray(anchors), dtype=torch.long)
    relations = torch.as_tensor(np.asarray(relations), dtype=torch.long)
    return _pairwise(model, _queries(model, entity[anchors], relation[relations], side), entity)


def _loss(kind: str, pos: torch.Tensor, neg_tail: torch.Tensor, neg_head: torch.Tensor,
          margin: float, temperature: float) -> torch.Tensor:
    if kind == "ce":
        total = 0.0
        for neg in (neg_tail, neg_head):
            total = total + (torch.logsumexp(torch.cat([pos[:, None], neg], 1), 1) - pos).mean()
        return total
    neg = torch.cat([neg_tail, neg_head], 1)
    if kind == "softplus":
        return torch.nn.functional.softplus(-pos).mean() + torch.nn.functional.softplus(neg).mean()
    weights = torch.softmax(temperature * neg.detach(), dim=1)
    logsig = torch.nn.functional.logsigmoid
    return (-logsig(margin + pos) - (weights * logsig(-margin - neg)).sum(1)).mean()


@dataclass
class SparseResult:
    """What :func:`train_sparse` returns: the tables and the training record."""

    entity: np.ndarray
    relation: np.ndarray
    losses: list[float] = field(default_factory=list)
    seconds_per_epoch: list[float] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = "epochs"
    epochs_run: int = 0


def train_sparse(triples: np.ndarray, num_entities: int, num_relations: int, *, model: str = "transe",
                 dim: int = 100, epochs: int = 50, batch_size: int = 1024, num_negatives: int = 256,
                 learning_rate: float = 0.05, loss: str = "nssa", margin: float = 3.0,
                 temperature: float = 1.0, negative_power: float = 0.0, freeze_unseen: bool = False,
                 seed: int = 0,
                 text_features: np.ndarray | None = None,
                 projection_lr: float = 0.001, validate: Callable[[np.ndarray, np.ndarray], float] | None = None,
                 eval_every: int = 5, patience: int = 2, max_seconds: float | None = None,
                 on_epoch: Callable[[int, float], None] | None = None) -> SparseResult:
    """Train entity and relation vectors on ``(head, relation, tail)`` id triples.

    Args:
        triples: ``(T, 3)`` int training triples.
        num_entities, num_relations: table sizes.
        model: ``"transe"`` or ``"distmult"``.
        dim: vector width.
        epochs: most passes over ``triples``.
        batch_size: positives per step.
        num_negatives: negative entities per step, shared by the batch.
        learning_rate: row-wise Adam step of the entity and relation rows.
        loss: ``"nssa"``, ``"softplus"`` or ``"ce"`` (see the module docstring).
        margin, temperature: NSSA's :math:`\\gamma` and :math:`\\alpha`.
        negative_power: negatives are drawn with probability :math:`\\propto (1 + \\deg)^{p}`
            (training degree; ``0``: uniform; word2vec uses 0.75): frequent concepts, the answers
            the popularity baseline gets right, then appear as negatives often enough to be told apart.
        freeze_unseen: with ``text_features``, entities in no training triple keep ``d_i = 0`` (their
            vector stays the projection of their name): they are only ever drawn as negatives, so
            their residual could only be pushed away from every query, which makes them rank badly
            when they turn up in held-out triples (75% of the default graph's nodes have one edge).
        seed: initialisation, batch order and negatives.
        text_features: ``(N, D_text)`` node-name vectors (``e = P x + d``), or ``None``.
        projection_lr: dense Adam step of ``P``.
        validate: ``f(entity, relation) -> MRR`` on held-out triples, for early stopping; the
            tables of the best evaluation are returned.
        eval_every: epochs between validations.
        patience: validations without improvement before stopping.
        max_seconds: stop after the epoch that passes this wall time.
        on_epoch: ``f(epoch, mean loss)`` after each epoch (progress bars).
    """
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    train = torch.from_numpy(np.ascontiguousarray(triples, dtype=np.int64))
    text = None
    if text_features is not None:
        text = torch.from_numpy(np.asarray(text_features, dtype=np.float32))
        if text.ndim != 2 or text.shape[0] != num_entities:
            from kgqa.errors import Errors, KGQAError

            raise KGQAError(Errors.E015.format(problem=(
                f"text features have shape {tuple(text.shape)}; expected one row per entity ({num_entities})")))
        projection = torch.randn(text.shape[1], dim, generator=generator) / math.sqrt(text.shape[1])
        entity = torch.zeros(num_entities, dim)
        projection_opt = torch.optim.Adam([projection.requires_grad_()], lr=projection_lr)
    else:
        bound = 6.0 / math.sqrt(dim)
        entity = torch.empty(num_entities, dim).uniform_(-bound, bound, generator=generator)
        entity = torch.nn.functional.normalize(entity, dim=1) if model == "transe" else entity * 0.1
    relation = torch.empty(num_relations, dim).uniform_(-6.0 / math.sqrt(dim), 6.0 / math.sqrt(dim),
                                                       generator=generator)
    relation = torch.nn.functional.normalize(relation, dim=1) if model == "transe" else relation * 0.1
    entity_opt, relation_opt = RowAdam(entity, learning_rate), RowAdam(relation, learning_rate)
    degree = np.bincount(np.asarray(triples, dtype=np.int64)[:, [0, 2]].reshape(-1), minlength=num_entities)
    trainable = torch.from_numpy(degree > 0) if freeze_unseen and text is not None else None
    cdf = None
    if negative_power:
        weights = (1.0 + degree.astype(np.float64)) ** negative_power
        cdf = torch.from_numpy(np.cumsum(weights / weights.sum()))

    def full_entity() -> torch.Tensor:
        with torch.no_grad():
            return entity if text is None else text @ projection + entity

    result = SparseResult(entity=np.zeros(0), relation=np.zeros(0))
    best = (-1.0, None, None)
    bad_evals, start = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        epoch_start, total = time.perf_counter(), 0.0
        order = torch.from_numpy(rng.permutation(len(train)))
        for lo in range(0, len(order), batch_size):
            batch = train[order[lo:lo + batch_size]]
            n = len(batch)
            if cdf is None:
                negatives = torch.randint(num_entities, (num_negatives,), generator=generator)
            else:
                draws = torch.rand(num_negatives, generator=generator, dtype=torch.float64)
                negatives = torch.searchsorted(cdf, draws).clamp_(max=num_entities - 1)
            rows, inverse = torch.unique(torch.cat([batch[:, 0], batch[:, 2], negatives]), return_inverse=True)
            rel_rows, rel_inverse = torch.unique(batch[:, 1], return_inverse=True)
            own = entity[rows].requires_grad_()
            rel = relation[rel_rows].requires_grad_()
            vectors = own if text is None else text[rows] @ projection + own
            h, t, c, r = vectors[inverse[:n]], vectors[inverse[n:2 * n]], vectors[inverse[2 * n:]], rel[rel_inverse]
            pos = positive_scores(model, h, r, t)
            neg_tail = _pairwise(model, _queries(model, h, r, "tail"), c)
            neg_head = _pairwise(model, _queries(model, t, r, "head"), c)
            value = _loss(loss, pos, neg_tail, neg_head, margin, temperature)
            if text is not None:
                projection_opt.zero_grad()
            value.backward()
            grad = own.grad if trainable is None else own.grad * trainable[rows, None]
            entity_opt.step(rows, grad)
            relation_opt.step(rel_rows, rel.grad)
            if text is not None:
                projection_opt.step()
            total += float(value.detach()) * n
        mean_loss = total / max(len(train), 1)
        result.losses.append(mean_loss)
        result.seconds_per_epoch.append(round(time.perf_counter() - epoch_start, 2))
        result.epochs_run = epoch
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if validate is not None and (epoch % eval_every == 0 or epoch == epochs or out_of_time):
            table = full_entity().numpy().copy()
            mrr = float(validate(table, relation.numpy()))
            result.validation.append({"epoch": epoch, "mrr": round(mrr, 4)})
            if mrr > best[0]:
                best, bad_evals = (mrr, table, relation.numpy().copy()), 0
                result.best_epoch = epoch
            else:
                bad_evals += 1
                if bad_evals >= patience:
                    result.stop_reason = f"early stopping: no better validation MRR in {patience} evaluations"
                    break
        if out_of_time:
            result.stop_reason = f"time budget ({max_seconds / 60:.1f} min)"
            break
    if best[1] is not None:
        result.entity, result.relation = best[1], best[2]
    else:
        result.entity, result.relation = full_entity().numpy().copy(), relation.numpy().copy()
    return result

"""Triple plausibility from trained embeddings, and KagNet's path pruning score.

KagNet (Lin et al., EMNLP 2019) prunes the paths it retrieves with TransE: each hop
:math:`(h, r, t)` gets the plausibility

.. math::
    s(h, r, t) = \\frac{1 + \\cos(\\mathbf{r}, \\mathbf{t} - \\mathbf{h})}{2} \\in [0, 1]

(the released code's ``vanila_score_triple``). A path keeps the **mean** of its hops' scores by
default (it does not punish long paths by length alone, and ranks paths of one length the same
way), or their **product** as KagNet's ``score_triples`` (``aggregate="product"``; its pruning
threshold of 0.15 was set for the product). A hop followed backwards (relation id ``r + R``,
stored edge ``v -r-> u``) is scored as the stored triple ``(v, r, u)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kge.artifacts import EntityEmbeddings
    from kgqa.retrieval.paths import PathSet


def transe_cosine_plausibility(head: np.ndarray, relation: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """KagNet's ``(1 + cos(r, t - h)) / 2`` for ``(M, D)`` rows; 0.5 where a vector is zero."""
    diff = tail - head
    num = np.einsum("md,md->m", relation, diff)
    den = np.linalg.norm(relation, axis=1) * np.linalg.norm(diff, axis=1)
    cos = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return (1.0 + cos) / 2.0


def score_triples(embeddings: "EntityEmbeddings", heads, relations, tails) -> np.ndarray:
    """The KGE model's own score of stored triples (higher = more plausible), ``(M,)`` float32.

    TransE: :math:`-\\lVert h + r - t \\rVert_p` (``p`` = the manifest's ``norm``: 2 from kgqa's
    sparse trainer, 1 from PyKEEN's; tables without one are PyKEEN's); DistMult: :math:`\\langle h, r, t \\rangle`;
    RotatE: :math:`-\\lVert h \\circ r - t \\rVert` (complex, ``|r_i| = 1``).

    Raises:
        KGQAError: a relation id outside ``[0, R)`` or an entity id out of range.
    """
    heads, relations, tails = (np.asarray(x, dtype=np.int64).reshape(-1) for x in (heads, relations, tails))
    if len(relations) and (relations.min() < 0 or relations.max() >= len(embeddings.relation)):
        raise KGQAError(Errors.E006.format(name=int(relations[(relations < 0) | (relations >= len(embeddings.relation))][0]),
                                           known=f"ids 0..{len(embeddings.relation) - 1}"))
    h, t = embeddings.vectors(heads), embeddings.vectors(tails)
    r = np.asarray(embeddings.relation[relations])
    return _score(embeddings.model, h, r, t, norm=embeddings.manifest.get("norm") or 1)


def score_table_triples(model: str, entity: np.ndarray, relation: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """Scores of ``(M, 3)`` id triples from the tables of kgqa's ``sparse`` trainer (TransE L2)."""
    triples = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    return _score(model, np.asarray(entity[triples[:, 0]]), np.asarray(relation[triples[:, 1]]),
                  np.asarray(entity[triples[:, 2]]), norm=2)


def _score(model: str, h: np.ndarray, r: np.ndarray, t: np.ndarray, *, norm: int) -> np.ndarray:
    if model == "distmult":
        return np.einsum("md,md,md->m", h, r, t).astype(np.float32)
    if model == "rotate":
        hc, rc, tc = (x.reshape(len(x), -1, 2) for x in (h, r, t))
        hc, rc, tc = (x[..., 0] + 1j * x[..., 1] for x in (hc, rc, tc))
        return (-np.linalg.norm(hc * rc - tc, axis=1)).astype(np.float32)
    return (-np.linalg.norm(h + r - t, ord=norm, axis=1)).astype(np.float32)


class TransEPathScorer:
    """Scores KagNet paths by the mean (or product) TransE plausibility of their hops.

    Args:
        embeddings: TransE :class:`~kgqa.kge.artifacts.EntityEmbeddings` of the graph the paths
            come from (check it with ``embeddings.check_graph(kg)``).
        aggregate: ``"mean"`` or ``"product"`` (KagNet's) of the hop scores.

    Shapes:
        - **input:** a :class:`~kgqa.retrieval.paths.PathSet` (``nodes (P, K+1)``,
          ``relations (P, K)`` in ``[0, 2R)``, ``lengths (P,)``), or the three arrays.
        - **output:** ``(P,)`` float32 in ``[0, 1]``; a zero-length path (``s == t``) scores 1.
    """

    def __init__(self, embeddings: "EntityEmbeddings", *, aggregate: str = "mean"):
        if embeddings.model != "transe":
            raise KGQAError(Errors.E013.format(kind="path-scoring KGE model", name=embeddings.model, known="transe"))
        if aggregate not in ("mean", "product"):
            raise KGQAError(Errors.E013.format(kind="path score aggregate", name=aggregate, known="mean, product"))
        self.embeddings = embeddings
        self.num_relations = len(embeddings.relation)
        self.aggregate = aggregate

    def with_aggregate(self, aggregate: str) -> "TransEPathScorer":
        """The same scorer with another way of joining the hop scores."""
        return TransEPathScorer(self.embeddings, aggregate=aggregate)

    def __call__(self, paths: "PathSet") -> np.ndarray:
        return self.score_paths(paths)

    def score_paths(self, paths: "PathSet") -> np.ndarray:
        return self.score(paths.nodes, paths.relations, paths.lengths)

    def triple_scores(self, heads, relations, tails) -> np.ndarray:
        """Plausibility of hops ``heads -relations-> tails``, relation ids in ``[0, 2R)``."""
        heads, relations, tails = (np.asarray(x, dtype=np.int64).reshape(-1) for x in (heads, relations, tails))
        if len(relations) and (relations.min() < 0 or relations.max() >= 2 * self.num_relations):
            raise KGQAError(Errors.E006.format(name=int(relations.max()), known=f"ids 0..{2 * self.num_relations - 1}"))
        backwards = relations >= self.num_relations
        h = np.where(backwards, tails, heads)
        t = np.where(backwards, heads, tails)
        r = np.where(backwards, relations - self.num_relations, relations)
        e = self.embeddings
        return transe_cosine_plausibility(e.vectors(h).astype(np.float64), np.asarray(e.relation[r], dtype=np.float64),
                                          e.vectors(t).astype(np.float64)).astype(np.float32)

    def score(self, nodes: np.ndarray, relations: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``(P,)`` mean (or product) hop plausibility of padded paths (see the class docstring)."""
        nodes, relations, lengths = np.asarray(nodes), np.asarray(relations), np.asarray(lengths)
        num_paths = len(lengths)
        if num_paths == 0:
            return np.zeros(0, dtype=np.float32)
        hop = np.arange(relations.shape[1])[None, :] < lengths[:, None]
        rows, cols = np.nonzero(hop)
        per_hop = self.triple_scores(nodes[rows, cols], relations[rows, cols], nodes[rows, cols + 1])
        if self.aggregate == "product":
            out = np.ones(num_paths, dtype=np.float64)
            np.multiply.at(out, rows, per_hop.astype(np.float64))
            return out.astype(np.float32)
        total = np.bincount(rows, weights=per_hop, minlength=num_paths)
        counts = np.maximum(lengths, 1)
        out = total / counts
        out[lengths == 0] = 1.0
        return out.astype(np.float32)

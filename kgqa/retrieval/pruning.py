"""KagNet path pruning: drop paths whose knowledge-graph-embedding plausibility is low.

KagNet scores each hop :math:`(h, r, t)` of a path with TransE and drops the path when its
score is below a threshold (0.15 in the released code):

.. math::
    s(p) = \\frac{1}{L} \\sum_{l=1}^{L} \\frac{1 + \\cos(\\mathbf{r}_l, \\mathbf{t}_l - \\mathbf{h}_l)}{2}

Any scorer with ``score(nodes, relations, lengths) -> (P,)`` plugs in (:class:`PathScorer`);
the TransE one is :class:`kgqa.kge.scoring.TransEPathScorer`. When the graph has no trained
embedding yet, :func:`load_path_scorer` returns ``None``, the paths are kept as found, and a
warning (once per process and graph) plus ``pruned: False`` in the cache statistics say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from kgqa.errors import Warnings, warn

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.paths import PathSet


class PathScorer(Protocol):
    """Scores padded paths: higher = more plausible."""

    def score(self, nodes: np.ndarray, relations: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """``nodes (P, K+1)``, ``relations (P, K)`` (``r + R`` = backwards), ``lengths (P,)`` ->
        ``(P,)`` float scores."""
        ...  # pragma: no cover


@dataclass(frozen=True)
class ScorerInfo:
    """Which scorer pruned the paths (goes into the cache key and statistics).

    Attributes:
        pruned: whether paths were scored and pruned at all.
        name: scorer description (``"transe:<dir name>"``, ``"none"``).
        checksum: checksum of the embedding (empty when none).
        reason: why paths were not pruned (empty when they were).
    """

    pruned: bool
    name: str
    checksum: str = ""
    reason: str = ""

    def to_dict(self) -> dict:
        return {"pruned": self.pruned, "name": self.name, "checksum": self.checksum, "reason": self.reason}


_WARNED: set[str] = set()


def load_path_scorer(kg: "KnowledgeGraph", spec: str = "auto", *, quiet: bool = False
                     ) -> tuple[PathScorer | None, ScorerInfo]:
    """The path scorer a retrieval setting asks for.

    Args:
        kg: the graph the paths come from.
        spec: ``"auto"`` (the graph's newest TransE embedding, or none), ``"none"``, or the
            directory of a TransE embedding of this graph.
        quiet: do not warn when no embedding exists.

    Returns:
        ``(scorer or None, info)``.
    """
    if spec == "none":
        return None, ScorerInfo(False, "none", reason="pruning disabled (path_scorer='none')")
    from kgqa.kge.artifacts import find_embeddings, read_embeddings
    from kgqa.kge.scoring import TransEPathScorer

    if spec == "auto":
        found = find_embeddings(kg, "transe")
        if not found:
            if not quiet and kg.checksum not in _WARNED:
                _WARNED.add(kg.checksum)
                warn(Warnings.W060.format(graph=kg.name))
            return None, ScorerInfo(False, "none", reason=f"no TransE embedding for graph '{kg.name}'")
        directory = found[0]
    else:
        directory = Path(spec)
    embeddings = read_embeddings(directory)
    embeddings.check_graph(kg)
    return TransEPathScorer(embeddings), ScorerInfo(True, f"transe:{Path(directory).name}", embeddings.checksum)


def prune_paths(paths: "PathSet", scorer: PathScorer | None, threshold: float = 0.15
                ) -> tuple["PathSet", np.ndarray]:
    """Drop the paths scoring below ``threshold``; returns ``(kept paths, their scores)``.

    Without a scorer every path is kept and the scores are NaN.
    """
    if scorer is None:
        return paths, np.full(len(paths), np.nan, dtype=np.float32)
    scores = np.asarray(scorer.score(paths.nodes, paths.relations, paths.lengths), dtype=np.float32)
    keep = scores >= threshold
    return paths.select(keep), scores[keep]

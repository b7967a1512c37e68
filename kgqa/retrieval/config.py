"""The settings of retrieval, and the fingerprint that names its cache."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from kgqa.errors import Errors, KGQAError

#: Bumped whenever the cache layout or the meaning of a stored array changes.
CACHE_FORMAT_VERSION = 1

RANKERS = ("relevance", "lm", "degree", "random")
SUBGRAPHS = ("bridging", "qagnn")
PATH_RELATIONS = ("first", "all")
KEEP_PATHS = ("all", "shortest")


@dataclass(frozen=True)
class RetrievalConfig:
    """What :func:`kgqa.retrieval.preprocess.preprocess` computes for each (question, choice).

    Attributes:
        max_hops: longest KagNet path (3; KagNet used up to 4).
        max_paths: paths kept per (question concept, answer concept) pair, shortest first
            (0 = all).
        path_relations: ``first`` (one path per node sequence, each hop with the lowest relation
            id among its parallel edges, as KagNet) or ``all`` (every relation combination is its
            own path, so parallel edges multiply the paths).
        keep_paths: ``all`` (every path found, up to ``max_paths`` per pair, shortest first:
            KagNet's) or ``shortest`` (only the paths of each pair's shortest length, after
            pruning: a pair joined by an edge keeps that edge alone; not the paper's). On the
            CommonsenseQA caches 92% of the paths kept by ``all`` are 3-hop ones, most of them
            through hub concepts; ``shortest`` keeps a median of 3 per pair that has a path.
        subgraph: ``bridging`` (question and answer concepts plus the nodes ``v`` with
            ``d(Q, v) + d(v, A) <= subgraph_hops``) or ``qagnn`` (QA-GNN's: the common neighbours
            of any two distinct question/answer concepts, question-question pairs included); see
            :mod:`kgqa.retrieval.subgraph`.
        subgraph_hops: ``k`` of the ``bridging`` subgraph (2 = adjacent to a question and an
            answer concept); unused by ``qagnn``.
        max_nodes: most subgraph nodes (question and answer concepts always kept).
        ranker: ``relevance`` (cosine of the cached node-name embedding to question + choice),
            ``lm`` (QA-GNN's: a masked LM's likelihood of "question choice. concept." against
            "question choice."; a forward pass per node, slow on a CPU), ``degree`` or ``random``.
        ranker_seed: seed of the ``random`` ranker.
        encoder: sentence encoder of the ``relevance`` ranker.
        relevance_lm: masked LM of the ``lm`` ranker (a short name, directory or hub id).
        node_embeddings: ``auto`` (the default: ``lazy`` for jobs under 2,000 questions,
            ``all`` above), ``all`` (embed every node name once per graph, cached, before the
            job) or ``lazy`` (only the nodes that get ranked, into the same shared cache); it
            changes the time, not the output.
        score_all_nodes: give every node of every choice a ranker score (``node_score``, the
            relevance feature of QA-GNN); ``False`` runs the ranker only where the cap forces a
            choice and leaves ``node_score`` NaN elsewhere (the old default; the shipped default
            model was trained with it).
        path_scorer: ``none`` (keep every path found, the default), ``auto`` (prune with the
            graph's newest TransE embeddings if trained, else keep every path and say so) or the
            path of an embedding directory. Pruning is opt-in so that retrieval output (and the
            models trained on it) does not change when someone trains embeddings for the graph.
        prune_threshold: KagNet's threshold: paths whose plausibility is below it are dropped.
        path_aggregate: how a path's hop plausibilities join: ``mean`` or ``product`` (KagNet's,
            for which its threshold 0.15 was set).
        shard_size: questions per cache shard (the unit of parallel work and of resuming).
    """

    max_hops: int = 3
    max_paths: int = 100
    path_relations: str = "first"
    keep_paths: str = "all"
    subgraph: str = "bridging"
    subgraph_hops: int = 2
    max_nodes: int = 200
    ranker: str = "relevance"
    ranker_seed: int = 0
    encoder: str = "minilm"
    relevance_lm: str = "roberta-large"
    node_embeddings: str = "auto"
    score_all_nodes: bool = True
    path_scorer: str = "none"
    prune_threshold: float = 0.15
    path_aggregate: str = "mean"
    shard_size: int = 500

    def __post_init__(self):
        problems = []
        if not 0 <= self.max_hops <= 8:
            problems.append(f"max_hops={self.max_hops} (0..8)")
        if self.max_paths < 0:
            problems.append(f"max_paths={self.max_paths} (>= 0)")
        if not 0 <= self.subgraph_hops <= 6:
            problems.append(f"subgraph_hops={self.subgraph_hops} (0..6)")
        if self.max_nodes < 1:
            problems.append(f"max_nodes={self.max_nodes} (>= 1)")
        if self.shard_size < 1:
            problems.append(f"shard_size={self.shard_size} (>= 1)")
        if problems:
            raise KGQAError(Errors.E060.format(problem="invalid values: " + ", ".join(problems)))
        if self.ranker not in RANKERS:
            raise KGQAError(Errors.E013.format(kind="node ranker", name=self.ranker, known=", ".join(RANKERS)))
        if self.subgraph not in SUBGRAPHS:
            raise KGQAError(Errors.E013.format(kind="subgraph", name=self.subgraph, known=", ".join(SUBGRAPHS)))
        if self.path_relations not in PATH_RELATIONS:
            raise KGQAError(Errors.E013.format(kind="path_relations", name=self.path_relations,
                                               known=", ".join(PATH_RELATIONS)))
        if self.keep_paths not in KEEP_PATHS:
            raise KGQAError(Errors.E013.format(kind="keep_paths", name=self.keep_paths,
                                               known=", ".join(KEEP_PATHS)))
        if self.path_aggregate not in ("mean", "product"):
            raise KGQAError(Errors.E013.format(kind="path_aggregate", name=self.path_aggregate, known="mean, product"))
        from kgqa.retrieval.ranking import node_embedding_mode

        node_embedding_mode(self.node_embeddings, None)  # checks the name

    @classmethod
    def from_dict(cls, values: dict | None) -> "RetrievalConfig":
        """From a dict (e.g. an experiment config's ``graph.retrieval``); unknown keys are errors."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KGQAError(Errors.E060.format(
                problem=f"unknown retrieval setting(s) {unknown}; known: {sorted(known)}"))
        return cls(**values)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def output_settings(self) -> dict:
        """The settings that change the output (time-only settings left out), for the cache key."""
        out = self.to_dict()
        out.pop("node_embeddings")
        if self.ranker != "random":
            out.pop("ranker_seed")
        if self.ranker != "relevance":
            out.pop("encoder")
        if self.ranker != "lm":
            out.pop("relevance_lm")
        if self.subgraph != "bridging":
            out.pop("subgraph_hops")
        if self.path_scorer == "none":
            out.pop("path_aggregate")
        if self.keep_paths == "all":  # the caches written before the option keep their key
            out.pop("keep_paths")
        return out

    def fingerprint(self, extra: dict | None = None) -> str:
        """sha256 of the output settings, the cache format and ``extra`` (e.g. the scorer's checksum)."""
        from kgqa.utils.io import sha256_bytes

        blob = json.dumps({"format": CACHE_FORMAT_VERSION, "settings": self.output_settings(),
                           "extra": extra or {}}, sort_keys=True)
        return sha256_bytes(blob.encode())

"""Node relevance: the ``node_score`` of every subgraph node, and which nodes the cap keeps.

QA-GNN scores every retrieved node against the question and answer choice with the language
model, keeps the most relevant ones and feeds the score to the GNN as a node feature. Two
rankers compute such a relevance:

* :class:`RelevanceRanker` (``ranker: relevance``, the default, cheap) scores with the
  sentence encoder the models use as their text backbone (MiniLM by default):

  .. math::
      \\mathrm{score}(v) = \\cos\\big(f(\\text{question} \\oplus \\text{choice}),\\;
      f(\\text{name}(v))\\big)

  where ``name(v)`` is the concept name with underscores as spaces (``ice_cream`` -> ``ice
  cream``). The node-name embeddings depend on the graph only, so they are computed once per
  graph and encoder and cached in one shared table (:class:`~kgqa.encoders.node_names.NodeEmbeddingTable`,
  which KGE's name initialisation reads too), either for all nodes up front or lazily for the
  nodes that subgraphs actually rank.
* :class:`LMRelevanceRanker` (``ranker: lm``, QA-GNN's, one masked-LM forward pass per node):

  .. math::
      \\mathrm{score}(v) = \\mathrm{NLL}(\\text{"question choice."}) -
      \\mathrm{NLL}(\\text{"question choice. name}(v)\\text{."})

  with :math:`\\mathrm{NLL}` the summed token negative log-likelihood of the unmasked text
  under the masked LM (RoBERTa-large in QA-GNN), as QA-GNN's ``get_LM_score``: higher when the
  concept adds little surprise to the question-answer statement.

Two cheap rankers exist for ablations: :class:`DegreeRanker` (higher degree first) and
:class:`RandomRanker` (a seeded hash of the node id, the same in every process).

Every ranker has ``score_many(node_lists, queries) -> list of (n_i,) float32`` (higher is kept
first) and a ``name`` used in the preprocessing fingerprint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

from kgqa.encoders.node_names import NodeEmbeddingTable, node_text  # noqa: F401  (re-exported)
from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph


class NodeRanker(Protocol):
    """What :class:`~kgqa.retrieval.subgraph.SubgraphBuilder` needs from a ranker."""

    name: str

    def score_many(self, node_lists: Sequence[np.ndarray], queries: Sequence[str] | None) -> list[np.ndarray]:
        """``(n_i,)`` float32 scores of the nodes of every choice (higher is better)."""
        ...  # pragma: no cover

    def describe(self) -> dict:
        """The settings that change the scores (goes into the cache fingerprint)."""
        ...  # pragma: no cover


class DegreeRanker:
    """Score = ``log(1 + degree)``: hubs first (an ablation baseline)."""

    name = "degree"

    def __init__(self, kg: "KnowledgeGraph"):
        self._score = np.log1p(np.asarray(kg.degree, dtype=np.float64)).astype(np.float32)

    def score_many(self, node_lists, queries=None) -> list[np.ndarray]:
        return [self._score[np.asarray(nodes, dtype=np.int64)] for nodes in node_lists]

    def describe(self) -> dict:
        return {"ranker": self.name}


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


class RandomRanker:
    """Score = a uniform number in ``[0, 1)`` hashed from ``(seed, node id)``.

    The same node gets the same score in every choice, process and run, so the output does not
    depend on how the work was split.
    """

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = int(seed)

    def score_many(self, node_lists, queries=None) -> list[np.ndarray]:
        out = []
        for nodes in node_lists:
            h = _splitmix64(np.asarray(nodes, dtype=np.uint64) ^ _splitmix64(np.array([self.seed], dtype=np.uint64)))
            out.append(((h >> np.uint64(11)).astype(np.float64) / float(1 << 53)).astype(np.float32))
        return out

    def describe(self) -> dict:
        return {"ranker": self.name, "seed": self.seed}


#: ``node_embeddings`` settings: every name up front, only the names a job needs, or by job size.
NODE_EMBEDDING_MODES = ("auto", "all", "lazy")

#: ``"auto"`` embeds every node name up front for jobs of at least this many questions.
AUTO_ALL_QUESTIONS = 2000


def node_embedding_mode(setting: str, num_questions: int | None) -> str:
    """``"all"`` or ``"lazy"``: what ``setting`` means for a job of ``num_questions`` questions.

    ``"auto"`` (the default) is ``"lazy"`` below :data:`AUTO_ALL_QUESTIONS` questions, so a small
    ``kgqa eval`` / ``kgqa preprocess`` in an empty ``KGQA_HOME`` embeds only the names it ranks
    instead of all 247,877 of the default graph (minutes on 2 cores), and ``"all"`` for big
    runs, which touch most nodes anyway and then read one finished table.
    """
    if setting not in NODE_EMBEDDING_MODES:
        raise KGQAError(Errors.E013.format(kind="node_embeddings", name=setting,
                                           known=", ".join(NODE_EMBEDDING_MODES)))
    if setting != "auto":
        return setting
    return "all" if num_questions is not None and num_questions >= AUTO_ALL_QUESTIONS else "lazy"


class QueryMemo:
    """Per-text values of the last call (query vectors, context likelihoods), so that scoring the
    path-only nodes right after a shard's subgraph nodes does not encode the same texts again."""

    def __init__(self):
        self._values: dict[str, np.ndarray] = {}

    def get(self, texts: list[str], compute) -> np.ndarray:
        """``compute(missing texts) -> (n, ...)`` values, stacked in the order of ``texts``."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._values))
        known = {t: self._values[t] for t in texts if t in self._values}
        if missing:
            known.update(zip(missing, compute(missing)))
        self._values = known  # only the last call's texts are kept
        return np.stack([known[t] for t in texts])


class RelevanceRanker:
    """Cosine similarity of the node name to ``question + choice`` (see the module docstring).

    Args:
        kg: the graph.
        encoder: sentence encoder name or object (``encode(texts) -> unit vectors``).
        node_embeddings: ``"all"`` to embed every node name once per graph (cached) before use
            (:meth:`prepare`), ``"lazy"`` or ``"auto"`` to embed only the nodes that get ranked
            (cached as they come; jobs resolve ``"auto"`` by their size first).
        table: a ready :class:`NodeEmbeddingTable` (overrides ``encoder``).
    """

    name = "relevance"

    def __init__(self, kg: "KnowledgeGraph", encoder="minilm", *, node_embeddings: str = "auto",
                 table: NodeEmbeddingTable | None = None, batch_size: int = 128):
        node_embedding_mode(node_embeddings, None)  # checks the name
        self.table = table if table is not None else NodeEmbeddingTable(kg, encoder)
        self.node_embeddings = node_embeddings
        self.batch_size = batch_size
        self._queries = QueryMemo()

    def prepare(self, *, progress: bool = False) -> None:
        """The one-off per-graph work: embed every node name (``"all"`` mode only)."""
        if self.node_embeddings == "all":
            self.table.compute_all(progress=progress)

    def score_many(self, node_lists, queries) -> list[np.ndarray]:
        if queries is None or len(queries) != len(node_lists):
            raise KGQAError(Errors.E060.format(
                problem="the relevance ranker needs one query text (question + choice) per subgraph"))
        need = [i for i, nodes in enumerate(node_lists) if len(nodes)]
        out = [np.zeros(0, dtype=np.float32) for _ in node_lists]
        if not need:
            return out
        # one encoder pass (and one cache commit) for the missing names of every choice
        self.table.ensure(np.concatenate([np.asarray(node_lists[i], dtype=np.int64) for i in need]))
        query_vectors = self._queries.get([queries[i] for i in need], self._encode_queries)
        for row, i in enumerate(need):
            nodes = np.asarray(node_lists[i], dtype=np.int64)
            out[i] = (self.table.get(nodes) @ query_vectors[row]).astype(np.float32)
        return out

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        order = np.argsort([len(t) for t in texts], kind="stable")
        encoded = self.table.encoder.encode([texts[i] for i in order], batch_size=self.batch_size)
        vectors = np.empty_like(encoded)
        vectors[order] = encoded
        return vectors

    def describe(self) -> dict:
        return {"ranker": self.name, "encoder": self.table.encoder_name}


class LMRelevanceRanker:
    """QA-GNN's relevance: how much a concept name adds to the statement's NLL under a masked LM
    (see the module docstring). Slow: one forward pass of the LM per node, batched.

    Args:
        kg: the graph (node names).
        model: masked LM name (short name, directory or hub id; ``roberta-large`` in QA-GNN) or
            ``(model, tokenizer)`` already loaded.
        batch_size: sentences per forward pass (QA-GNN: 50).
        device: where the LM runs (default: CUDA when available).
    """

    name = "lm"

    def __init__(self, kg: "KnowledgeGraph", model="roberta-large", *, batch_size: int = 50, device=None):
        self.kg = kg
        self.model_name = model if isinstance(model, str) else type(model[0]).__name__
        self._model = None if isinstance(model, str) else model
        self.batch_size = int(batch_size)
        self.device = device
        self._contexts = QueryMemo()

    def _load(self):
        if self._model is None:
            import torch
            from transformers import AutoModelForMaskedLM, AutoTokenizer

            from kgqa.backbones.backbone import _quiet_transformers
            from kgqa.backbones.names import resolve_model_path

            try:  # KGQAError (E017: nothing by that name) is a ValueError
                path = resolve_model_path(self.model_name)
                with _quiet_transformers():
                    tokenizer = AutoTokenizer.from_pretrained(path)
                    lm = AutoModelForMaskedLM.from_pretrained(path)
            except (OSError, ValueError, KeyError) as exc:
                raise KGQAError(Errors.E200.format(name=self.model_name, problem=str(exc).splitlines()[0])) from None
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = (lm.to(device).eval(), tokenizer)
        return self._model

    def nll(self, texts: Sequence[str]) -> np.ndarray:
        """``(n,)`` float64 summed token NLL of each text (no token masked: every token, special
        tokens included, is predicted from the whole text, as QA-GNN's ``get_LM_score``)."""
        import torch

        lm, tokenizer = self._load()
        out = np.zeros(len(texts), dtype=np.float64)
        order = np.argsort([len(t) for t in texts], kind="stable")
        device = next(lm.parameters()).device
        for start in range(0, len(texts), self.batch_size):
            rows = order[start:start + self.batch_size]
            enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True, return_tensors="pt")
            ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
            with torch.inference_mode():
                logits = lm(input_ids=ids, attention_mask=mask).logits.float()
                token_nll = -torch.log_softmax(logits, dim=-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
                out[rows] = (token_nll * mask).sum(dim=1).double().cpu().numpy()
        return out

    def score_many(self, node_lists, queries) -> list[np.ndarray]:
        if queries is None or len(queries) != len(node_lists):
            raise KGQAError(Errors.E060.format(
                problem="the lm ranker needs one query text (question + choice) per subgraph"))
        names = self.kg.node_names
        need = [i for i, nodes in enumerate(node_lists) if len(nodes)]
        out = [np.zeros(0, dtype=np.float32) for _ in node_lists]
        if not need:
            return out
        statements = [lm_statement(queries[i]) for i in need]
        context = self._contexts.get(statements, lambda texts: self.nll(texts)[:, None])[:, 0]
        sentences = [f"{statement} {node_text(names[int(v)])}." for statement, i in zip(statements, need)
                     for v in node_lists[i]]
        scores = self.nll(sentences)
        start = 0
        for row, i in enumerate(need):
            n = len(node_lists[i])
            out[i] = (context[row] - scores[start:start + n]).astype(np.float32)
            start += n
        return out

    def describe(self) -> dict:
        return {"ranker": self.name, "model": self.model_name}


def lm_statement(query: str) -> str:
    """QA-GNN's QA context ``"{question} {answer}."``, lower-cased, from ``"question choice"``."""
    return f"{query.strip()}.".lower()


def make_ranker(name: str, kg: "KnowledgeGraph", *, seed: int = 0, encoder: str = "minilm",
                node_embeddings: str = "auto", relevance_lm: str = "roberta-large") -> NodeRanker:
    """A ranker by name: ``relevance``, ``lm``, ``degree`` or ``random``."""
    if name == "degree":
        return DegreeRanker(kg)
    if name == "random":
        return RandomRanker(seed)
    if name == "relevance":
        return RelevanceRanker(kg, encoder, node_embeddings=node_embeddings)
    if name == "lm":
        return LMRelevanceRanker(kg, relevance_lm)
    raise KGQAError(Errors.E013.format(kind="node ranker", name=name, known="relevance, lm, degree, random"))

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
  graph and encoder and cached as ``.npy`` (:class:`NodeEmbeddingTable`), either for all nodes
  up front or lazily for the nodes that subgraphs actually rank.
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

import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence

import numpy as np

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


def node_text(name: str) -> str:
    """The text a concept name is embedded as: ``ice_cream`` -> ``ice cream``."""
    return name.replace("_", " ")


class NodeEmbeddingTable:
    """Node-name embeddings of one graph and encoder, cached as ``.npy`` (float16, unit rows).

    The table lives next to the graph, ``<graph dir>/text_embeddings/<encoder>-<checksum16>.npy``
    (or under ``KGQA_HOME/cache/node_embeddings`` when the graph directory is read-only), with a
    ``.mask.npy`` beside it saying which rows are filled. :meth:`compute_all` fills every row
    (the one-off per-graph work); :meth:`get` fills missing rows on demand (lazy).

    Args:
        kg: the graph.
        encoder: a sentence encoder name (``"minilm"``) or an object with ``encode(texts)`` and
            ``model_name``.
        batch_size: texts per encoder call.
    """

    def __init__(self, kg: "KnowledgeGraph", encoder="minilm", *, batch_size: int = 256):
        self.kg = kg
        self._encoder = encoder
        self.encoder_name = encoder if isinstance(encoder, str) else getattr(encoder, "model_name", type(encoder).__name__)
        self.batch_size = batch_size
        self.path = self._location()
        self._table: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self.computed = 0  # rows this object encoded (for reports)

    def _location(self) -> Path:
        from kgqa.paths import kgqa_home

        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.encoder_name)
        name = f"{slug}-{self.kg.checksum[:16]}.npy"
        folder = Path(self.kg.path) / "text_embeddings"
        try:
            folder.mkdir(exist_ok=True)
            probe = folder / ".write-test"
            probe.touch()
            probe.unlink()
            return folder / name
        except OSError:
            return kgqa_home() / "cache" / "node_embeddings" / name

    @property
    def mask_path(self) -> Path:
        return self.path.with_suffix(".mask.npy")

    @property
    def encoder(self):
        if isinstance(self._encoder, str):
            from kgqa.encoders.sentence import get_sentence_encoder

            self._encoder = get_sentence_encoder(self._encoder)
        return self._encoder

    def _load(self) -> None:
        if self._table is not None:
            return
        if self.path.exists() and self.mask_path.exists():
            try:
                table = np.load(self.path, allow_pickle=False)
                mask = np.load(self.mask_path, allow_pickle=False)
                if table.shape[0] == self.kg.num_nodes and mask.shape == (self.kg.num_nodes,):
                    self._table, self._mask = table, mask
                    return
            except (OSError, ValueError):
                pass
            from kgqa.errors import Warnings, warn

            warn(Warnings.W002.format(problem=f"node embedding cache {self.path} is unreadable; recomputing it"))
        self._table = None
        self._mask = np.zeros(self.kg.num_nodes, dtype=bool)

    @property
    def complete(self) -> bool:
        self._load()
        return bool(self._mask.all())

    def _encode(self, nodes: np.ndarray) -> None:
        names = self.kg.node_names
        texts = [node_text(names[int(v)]) for v in nodes]
        # sorted by length so batches pad little
        order = np.argsort([len(t) for t in texts], kind="stable")
        vectors = self.encoder.encode([texts[i] for i in order], batch_size=self.batch_size)
        if self._table is None:
            self._table = np.zeros((self.kg.num_nodes, vectors.shape[1]), dtype=np.float16)
        self._table[nodes[order]] = vectors.astype(np.float16)
        self._mask[nodes] = True
        self.computed += len(nodes)

    def get(self, nodes) -> np.ndarray:
        """``(len(nodes), D)`` float32 embeddings, encoding the missing rows first."""
        self._load()
        nodes = np.asarray(nodes, dtype=np.int64)
        missing = np.unique(nodes[~self._mask[nodes]])
        if len(missing):
            self._encode(missing)
        return self._table[nodes].astype(np.float32)

    def compute_all(self, *, progress: bool = False, chunk: int = 8192) -> "NodeEmbeddingTable":
        """Encode every node not encoded yet and save the table."""
        self._load()
        missing = np.flatnonzero(~self._mask)
        if len(missing) == 0:
            return self
        from kgqa.utils.progress import progress_bar

        with progress_bar(disable=None if progress else True) as bar:
            task = bar.add_task(f"embedding {self.kg.name} nodes", total=len(missing))
            for i in range(0, len(missing), chunk):
                self._encode(missing[i:i + chunk])
                bar.update(task, advance=len(missing[i:i + chunk]))
        self.save()
        return self

    def save(self) -> None:
        """Write the table and its mask atomically (rows other processes saved are merged in)."""
        import io

        from kgqa.utils.io import atomic_write_bytes

        if self._table is None:
            return
        if self.path.exists() and self.mask_path.exists():
            try:
                other = np.load(self.path, allow_pickle=False)
                other_mask = np.load(self.mask_path, allow_pickle=False)
                if other.shape == self._table.shape and other_mask.shape == self._mask.shape:
                    take = other_mask & ~self._mask
                    self._table[take] = other[take]
                    self._mask |= other_mask
            except (OSError, ValueError):
                pass
        for path, array in ((self.path, self._table), (self.mask_path, self._mask)):
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            atomic_write_bytes(path, buffer.getvalue())


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
        node_embeddings: ``"all"`` to embed every node name once per graph (cached) before use,
            ``"lazy"`` to embed only the nodes that get ranked (cached as they come).
        table: a ready :class:`NodeEmbeddingTable` (overrides ``encoder``/``node_embeddings``).
    """

    name = "relevance"

    def __init__(self, kg: "KnowledgeGraph", encoder="minilm", *, node_embeddings: str = "all",
                 table: NodeEmbeddingTable | None = None, batch_size: int = 128):
        if node_embeddings not in ("all", "lazy"):
            raise KGQAError(Errors.E013.format(kind="node_embeddings", name=node_embeddings, known="all, lazy"))
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
                node_embeddings: str = "all", relevance_lm: str = "roberta-large") -> NodeRanker:
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

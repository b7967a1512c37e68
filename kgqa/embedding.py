"""Embeddings of text that know the graph: ``kgqa.embed()`` and the :class:`Encoder` behind it.

Three kinds, so users can compare:

* ``"fused"``: the knowledge-fused encoder (ERNIE, :mod:`kgqa.models.ernie`): text is linked to
  the graph and each linked concept's KGE vector is fused at the first word piece of its mention;
* ``"lm"``: the plain backbone, the same texts without the graph;
* ``"graph"``: graph only: the KGE vectors (TransE by default) of the linked concepts.

Three levels: ``"sentence"`` (one vector per text: the mean over its tokens, or over its linked
concepts for ``"graph"``; L2-normalised), ``"token"`` (one per word piece) and ``"entity"`` (one
per linked concept, in text order: the fused entity state, the LM state at the mention's first
word piece, or the KGE vector).

A text with no linked concept is encoded token-only (the fusion's entity term is zero) and
flagged: ``has_entities[i]`` is ``False``; its ``"graph"`` sentence vector is zero.

Example (the running example; numbers from ``experiments/embed_example.md``)::

    >>> import kgqa
    >>> enc = kgqa.Encoder("minilm", graph="default")             # keeps models loaded
    >>> out = enc.encode(["A man dug the ground to plant flowers. What tool did he use?",
    ...                   "shovel", "hammer"])
    >>> out.vectors.shape, out.has_entities.tolist()
    ((3, 384), [True, True, True])
    >>> enc.nearest_concepts("dig a hole", k=5)                      # KGE neighbours
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.linking.lazy import LazyLinkerMixin

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph

KINDS = ("fused", "lm", "graph")
LEVELS = ("sentence", "token", "entity")


@dataclass
class Embeddings:
    """What :func:`embed` returns.

    Attributes:
        vectors: ``sentence``: ``(N, D)``; ``token``: ``(N, L, D)``; ``entity``: ``(N, M, D)``
            (numpy, or torch with ``return_tensors="pt"``).
        mask: ``(N, L)`` / ``(N, M)`` bool, which rows are real (``None`` for sentences).
        level: ``"sentence"``, ``"token"`` or ``"entity"``.
        kind: ``"fused"``, ``"lm"`` or ``"graph"``.
        has_entities: ``(N,)`` bool; ``False`` = nothing linked, token-only fusion.
        entities: per text, the linked node names aligned to word pieces, in text order.
        entity_ids: per text, their node ids.
        tokens: per text, its word pieces (``token`` level).
    """

    vectors: Any
    mask: Any
    level: str
    kind: str
    has_entities: np.ndarray
    entities: list[list[str]]
    entity_ids: list[list[int]]
    tokens: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.has_entities)


def _check_choice(kind: str, name: str, known: Sequence[str]) -> None:
    if name not in known:
        raise KGQAError(Errors.E013.format(kind=kind, name=name, known=", ".join(known)))


class Encoder(LazyLinkerMixin):
    """Keeps the models loaded for repeated :meth:`encode` calls.

    Args:
        model: a directory saved by ``save_pretrained`` (e.g. after ``kgqa pretrain``), or a
            backbone name (``"minilm"``): then the aggregators start from the backbone's top
            layers and the entity path is untrained (a warning says so).
        graph: the graph (name, directory or loaded) texts are linked to.
        kind: default kind of :meth:`encode` (``"fused"``, ``"lm"``, ``"graph"``).
        kge_model: KGE model of the entity table (``"transe"``).
        embeddings: an :class:`~kgqa.kge.artifacts.EntityEmbeddings` or embedding directory
            (default: the newest ``kge_model`` embeddings of ``graph``).
        num_aggregators: aggregators of a fused encoder built from a backbone name.
        max_length: tokens per text.
        batch_size: texts per forward pass.
        linker: a linker to use instead of the graph's default.

    Raises:
        KGQAError: an unknown graph, no trained embeddings (``[E051]``), embeddings of another
            graph (``[E050]``).
    """

    def __init__(self, model: str | Path = "minilm", graph: "str | Path | KnowledgeGraph" = "default", *,
                 kind: str = "fused", kge_model: str = "transe", embeddings=None, num_aggregators: int = 2,
                 max_length: int = 128, batch_size: int = 32, linker=None):
        from kgqa.kg.store import KnowledgeGraph

        _check_choice("embedding kind", kind, KINDS)
        self.kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph)
        self.model_name = str(model)
        self.kind = kind
        self.kge_model = kge_model
        self.num_aggregators = num_aggregators
        self.max_length = max_length
        self.batch_size = batch_size
        self._embeddings = embeddings
        self._linker = linker
        self._fused = None
        self._lm = None
        self._builder = None
        self.pretrained = _is_ernie_directory(model)

    # ------------------------------------------------------------------ lazy parts
    @property
    def entity_embeddings(self):
        """The graph's :class:`~kgqa.kge.artifacts.EntityEmbeddings` (checked against the graph).

        The newest table trained with ``kgqa graphs embed`` (or the one ``embeddings`` names);
        without one, the compact TransE table shipped for the default graph
        (``kgqa/kge/default/``, 32-d, int8 rows, sha256-checked), so ``kind="graph"`` and
        ``"fused"`` work on a fresh install with no other command.
        """
        from kgqa.kge.artifacts import EntityEmbeddings, load_embeddings

        if not isinstance(self._embeddings, EntityEmbeddings):
            path = self._embeddings
            if path is None and self.pretrained:
                import json

                path = json.loads((Path(self.model_name) / "config.json").read_text())["config"].get("embeddings")
            self._embeddings = load_embeddings(self.kg, self.kge_model, path=path)
        self._embeddings.check_graph(self.kg)
        return self._embeddings

    @property
    def fused(self):
        """The :class:`~kgqa.models.ernie.KnowledgeFusedEncoder` (eval mode)."""
        if self._fused is None:
            from kgqa.models.ernie import ErnieConfig, KnowledgeFusedEncoder

            if self.pretrained:
                encoder, _, _ = KnowledgeFusedEncoder.from_pretrained(self.model_name,
                                                                      entity_embeddings=self.entity_embeddings)
                if encoder.graph_checksum and encoder.graph_checksum != self.kg.checksum:
                    raise KGQAError(Errors.E050.format(path=self.model_name, trained_for=encoder.config.graph,
                                                       expected=encoder.graph_checksum[:16], graph=self.kg.name,
                                                       found=self.kg.checksum[:16]))
            else:
                from kgqa.backbones.backbone import Backbone

                backbone = Backbone.from_pretrained(self.model_name)
                table = self.entity_embeddings
                config = ErnieConfig(lm_hidden_size=backbone.hidden_size, backbone=self.model_name,
                                     num_aggregators=self.num_aggregators, entity_dim=table.dim,
                                     entity_hidden_size=table.dim, graph=str(self.kg.path),
                                     kge_model=self.kge_model, max_length=self.max_length)
                encoder = KnowledgeFusedEncoder(config, backbone, table)
                warn(Warnings.W002.format(problem=(
                    f"fused embeddings from backbone '{self.model_name}' without knowledge pretraining: "
                    "the entity path is untrained; pretrain one with `kgqa pretrain CONFIG` and pass "
                    "its directory as model=")))
            self._fused = encoder.eval()
        return self._fused

    @property
    def lm(self):
        """The plain backbone (all its layers), for ``kind="lm"``."""
        if self._lm is None:
            from kgqa.backbones.backbone import Backbone

            name = self.model_name
            if self.pretrained:
                import json

                name = json.loads((Path(self.model_name) / "config.json").read_text()).get("backbone_name", name)
            self._lm = Backbone.from_pretrained(name).eval()
        return self._lm

    @property
    def tokenizer(self):
        if self._fused is not None:
            return self._fused.backbone.tokenizer
        return self.fused.backbone.tokenizer if self.kind == "fused" else self.lm.tokenizer

    def input_builder(self, tokenizer=None):
        from kgqa.models.ernie_inputs import ErnieInputBuilder

        tokenizer = tokenizer or self.tokenizer
        if self._builder is None or self._builder.tokenizer is not tokenizer:
            self._builder = ErnieInputBuilder(tokenizer, self.linker, max_length=self.max_length)
        return self._builder

    # ------------------------------------------------------------------ encoding
    def encode(self, texts: str | Sequence[str], *, level: str = "sentence", kind: str | None = None,
               return_tensors: str = "np", normalize: bool = True) -> Embeddings:
        """Embed texts in batches (linking done inside).

        Args:
            texts: one text or a list.
            level: ``"sentence"``, ``"token"`` or ``"entity"``.
            kind: ``"fused"``, ``"lm"`` or ``"graph"`` (default: the encoder's).
            return_tensors: ``"np"`` or ``"pt"``.
            normalize: L2-normalise sentence vectors.

        Returns:
            :class:`Embeddings`.

        Raises:
            KGQAError: ``[E141]`` when ``texts`` is not a text or a list of texts (``None``, a
                number in the list), ``[E140]`` for a text that is not valid Unicode (a lone
                surrogate), ``[E015]`` for no texts.
        """
        import torch

        kind = kind or self.kind
        _check_choice("embedding kind", kind, KINDS)
        _check_choice("embedding level", level, LEVELS)
        _check_choice("return_tensors", return_tensors, ("np", "pt"))
        texts = _checked_texts(texts)
        tokenizer = self.lm.tokenizer if kind == "lm" else self.tokenizer if kind == "fused" else None
        if kind == "graph":
            tokenizer = self._fused.backbone.tokenizer if self._fused is not None else self.lm.tokenizer
        builder = self.input_builder(tokenizer)
        parts: list[dict] = []
        for start in range(0, len(texts), self.batch_size):
            batch_texts = texts[start:start + self.batch_size]
            enc = builder.encode(batch_texts)
            with torch.inference_mode():
                parts.append(self._encode_batch(enc, kind, level, normalize))
        out = _concatenate(parts, level)
        if return_tensors == "pt":
            out.vectors = torch.from_numpy(out.vectors)
            out.mask = torch.from_numpy(out.mask) if out.mask is not None else None
        return out

    def _encode_batch(self, enc: dict, kind: str, level: str, normalize: bool) -> dict:
        import torch

        entity_ids = enc["entity_ids"]
        aligned = entity_ids >= 0
        names = [[self.kg.node_name(i) for i in row[row >= 0].tolist()] for row in entity_ids]
        ids = [row[row >= 0].tolist() for row in entity_ids]
        attention = enc["attention_mask"].to(torch.bool)
        result = {"has_entities": aligned.any(dim=1).numpy(), "entities": names, "entity_ids": ids}
        if level == "token":
            tokenizer = self._builder.tokenizer
            result["tokens"] = [tokenizer.convert_ids_to_tokens(row[mask].tolist())
                                for row, mask in zip(enc["input_ids"], attention)]
        if kind == "graph":
            table = self.entity_embeddings
            vectors = torch.zeros(entity_ids.shape + (table.dim,))
            if aligned.any():
                vectors[aligned] = torch.from_numpy(table.vectors(entity_ids[aligned].numpy()).astype(np.float32))
            states, entity_states, mask = vectors, vectors, aligned
            token_mask = aligned if level != "token" else attention
        else:
            if kind == "fused":
                out = self.fused(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"), entity_ids)
                states, entity_states = out.hidden_states, out.entity_states
            else:
                states = self.lm(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids")).hidden_states
                entity_states = states
            mask, token_mask = aligned, attention
        if level == "sentence":
            weights = token_mask.unsqueeze(-1).to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
            if normalize:
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            result["vectors"] = pooled.float().numpy()
            result["mask"] = None
        elif level == "token":
            result["vectors"] = states.float().numpy()
            result["mask"] = token_mask.numpy()
        else:
            width = max(int(mask.sum(1).max()), 1)
            vectors = torch.zeros(len(states), width, entity_states.shape[-1])
            entity_mask = torch.zeros(len(states), width, dtype=torch.bool)
            for row in range(len(states)):
                picked = entity_states[row][mask[row]]
                vectors[row, :len(picked)] = picked
                entity_mask[row, :len(picked)] = True
            result["vectors"] = vectors.float().numpy()
            result["mask"] = entity_mask.numpy()
        return result

    # ------------------------------------------------------------------ graph-only helpers
    def concept_vectors(self, concepts: Sequence[str | int]) -> np.ndarray:
        """KGE vectors of concepts given by name or node id, ``(len(concepts), D)``.

        Raises:
            KGQAError: an unknown name (``[E005]``) or id (``[E054]``).
        """
        ids = [self.kg.node_id(c) if isinstance(c, str) else int(c) for c in concepts]
        return np.asarray(self.entity_embeddings.vectors(ids), dtype=np.float32)

    def nearest_concepts(self, query: str | np.ndarray, k: int = 10, *, exclude_query: bool = True
                         ) -> list[tuple[str, float]]:
        """Concepts whose KGE vectors are closest (cosine) to a text's linked concepts' mean vector.

        Args:
            query: a text (linked here) or a ``(D,)`` vector.
            k: how many neighbours.
            exclude_query: leave out the query's own concepts.

        Returns:
            ``[(concept name, cosine), ...]``, best first; empty when nothing links.
        """
        skip: list[int] = []
        if isinstance(query, str):
            link = self.linker.link(query)
            skip = link.node_ids if exclude_query else []
            if not link.node_ids:
                return []
            query = self.concept_vectors(link.node_ids).mean(axis=0)
        table = np.asarray(self.entity_embeddings.entity, dtype=np.float32)
        norms = np.linalg.norm(table, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        cosine = (table @ np.asarray(query, dtype=np.float32)) / np.maximum(norms, 1e-12)
        cosine[skip] = -np.inf
        top = np.argpartition(-cosine, min(k, len(cosine) - 1))[:k]
        top = top[np.argsort(-cosine[top], kind="stable")]
        return [(self.kg.node_name(int(i)), round(float(cosine[i]), 4)) for i in top]


def _checked_texts(texts) -> list[str]:
    """One text or a list of texts as a non-empty list of valid ``str``."""
    from kgqa.linking.checks import require_valid_text, text_list

    texts = [texts] if isinstance(texts, str) else text_list(texts, function="embed()")
    if not texts:
        raise KGQAError(Errors.E015.format(problem="embed() got no texts"))
    for i, text in enumerate(texts):
        require_valid_text(text, f"text {i + 1}" if len(texts) > 1 else "the text")
    return texts


def _is_ernie_directory(model: str | Path) -> bool:
    """A directory written by ``KnowledgeFusedEncoder.save_pretrained`` (not a plain backbone)."""
    import json

    config = Path(model) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model") == "ernie"
    except (OSError, ValueError):
        return False


def _concatenate(parts: list[dict], level: str) -> Embeddings:
    def flat(key):
        return [x for p in parts for x in p[key]]

    if level == "sentence":
        vectors, mask = np.concatenate([p["vectors"] for p in parts]), None
    else:
        width = max(p["vectors"].shape[1] for p in parts)
        dim = parts[0]["vectors"].shape[2]
        total = sum(len(p["vectors"]) for p in parts)
        vectors = np.zeros((total, width, dim), dtype=np.float32)
        mask = np.zeros((total, width), dtype=bool)
        row = 0
        for p in parts:
            n, w = p["vectors"].shape[:2]
            vectors[row:row + n, :w] = p["vectors"]
            mask[row:row + n, :w] = p["mask"]
            row += n
    return Embeddings(vectors=vectors, mask=mask, level=level, kind="", has_entities=np.concatenate(
        [p["has_entities"] for p in parts]), entities=flat("entities"), entity_ids=flat("entity_ids"),
        tokens=flat("tokens") if "tokens" in parts[0] else None)


_ENCODERS: dict[tuple, Encoder] = {}


def embed(texts: str | Sequence[str], model: str | Path = "minilm", graph: "str | Path | KnowledgeGraph" = "default", *,
          level: str = "sentence", kind: str = "fused", return_tensors: str = "np", normalize: bool = True,
          **options) -> Embeddings:
    """Embed texts with the knowledge-fused encoder (or the LM alone, or the graph alone).

    Args:
        texts: one text or a list; batched inside.
        model: a pretrained ERNIE directory (``kgqa pretrain``) or a backbone name.
        graph: the graph texts are linked to.
        level: ``"sentence"``, ``"token"`` or ``"entity"``.
        kind: ``"fused"``, ``"lm"`` or ``"graph"``.
        return_tensors: ``"np"`` or ``"pt"``.
        normalize: L2-normalise sentence vectors.
        **options: :class:`Encoder` options (``kge_model``, ``embeddings``, ``batch_size``...).

    Returns:
        :class:`Embeddings` (``vectors``, ``mask``, ``has_entities``, ``entities``...).

    The :class:`Encoder` is kept per (model, graph, options), so repeated calls load nothing.

    Works on a fresh install with no other command: for the default graph, without a table
    trained by ``kgqa graphs embed default``, the entity vectors come from the compact 32-d TransE
    table shipped in ``kgqa/kge/default/transe-32`` (int8 rows, 7.7 MiB, sha256-checked; its
    training manifest and held-out metrics beside the popularity baseline are in its
    ``manifest.json``). A trained table of the graph is used first. Other graphs need
    ``kgqa graphs embed <graph>`` for ``kind="graph"`` / ``"fused"``.

    Raises:
        KGQAError: ``[E141]`` for ``texts`` that are not a text or a list of texts, ``[E140]``
            for a text that is not valid Unicode; see also :class:`Encoder`.
    """
    from kgqa.kg.store import KnowledgeGraph

    texts = _checked_texts(texts)  # before anything loads
    graph_key = str(graph.path) if isinstance(graph, KnowledgeGraph) else str(graph)
    key = (str(model), graph_key, repr(sorted((k, repr(v)) for k, v in options.items())))
    encoder = _ENCODERS.get(key)
    if encoder is None:
        encoder = _ENCODERS[key] = Encoder(model, graph, kind=kind, **options)
    out = encoder.encode(texts, level=level, kind=kind, return_tensors=return_tensors, normalize=normalize)
    out.kind = kind
    return out

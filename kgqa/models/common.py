"""What every kgqa model shares: the LM statement vector, the graph inputs and the output.

:class:`QAModel` handles the two regimes of the runner: ``finetune`` (the batch carries
``input_ids``/``attention_mask`` of shape ``(B, C, L)``; the backbone runs and the first token's
last hidden state is the statement vector) and ``frozen`` (the batch carries ``lm_states``
``(B, C, H)``, cached pooled states; the backbone is not run and may be ``None``).
:class:`GraphQAModel` adds the per-choice graph: concept vectors looked up by global node id
(:class:`~kgqa.nn.ConceptEmbedding`) and checks of the graph fields.

The per-choice graph (retrieval's :class:`~kgqa.retrieval.data.ChoiceGraph`, one PyG ``Data``
per choice, batched question-major by ``Batch.from_data_list``) carries ``node_ids`` (global
concept ids; ``-1`` for a context node), ``node_type`` (0 question concept, 1 answer concept,
2 other, 3 LM context node), ``node_score`` (relevance), ``edge_index``, ``edge_type`` and, for
KagNet, ``path_nodes`` (batch-level node indices), ``path_relations``, ``path_lengths`` and
``path_graph``. A choice without linked concepts is a graph with no node (or only a context
node); every model then scores it from the LM part.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from kgqa.errors import Errors, KGQAError
from kgqa.models.base import QABatch, QAModelOutput, multiple_choice_loss
from kgqa.nn.concept_embedding import NODE_EMBEDDINGS, ConceptEmbedding

#: Node types written by retrieval (QA-GNN's convention).
QUESTION_CONCEPT, ANSWER_CONCEPT, OTHER_CONCEPT, CONTEXT_NODE = 0, 1, 2, 3


def model_error(model: str, problem: str) -> KGQAError:
    return KGQAError(Errors.E040.format(model=model, problem=problem))


PRIORS = ("none", "cosine")


@dataclass
class PriorConfig:
    r"""The zero-shot prior every model can add to its scores (:class:`~kgqa.nn.ZeroShotPrior`).

    Attributes:
        prior: ``"cosine"``: add the learned-scale cosine of the question's and the choice's
            sentence embeddings (cached by the frozen regime) plus an interaction head, and
            zero-initialise the model's own scorer, so training starts at the zero-shot
            baseline; ``"none"``: the model's scorer alone. The runner sets ``"cosine"`` for the
            frozen regime unless the experiment sets it.
        prior_hidden: hidden width of the interaction head when ``prior_interaction`` is
            ``"mlp"`` (0: none).
        prior_interaction: the interaction head: ``"mlp"``, ``"linear"`` or ``"none"``.
        prior_features: its features: ``"product"`` (:math:`[q \odot a, |q - a|]`) or
            ``"infersent"`` (:math:`[q, a, q \odot a, |q - a|]`).
        prior_adapter: hidden width of the residual adapter on the sentence embeddings (0: none).
        prior_scale: initial scale of the cosine.
        prior_dim: width of the sentence embeddings (0: ``lm_hidden_size``; the frozen regime
            sets it when its pair states concatenate several layers and are wider).
    """

    prior: str = "none"
    prior_hidden: int = 256
    prior_interaction: str = "mlp"
    prior_features: str = "product"
    prior_adapter: int = 0
    prior_scale: float = 20.0
    prior_dim: int = 0


@dataclass
class GraphModelConfig(PriorConfig):
    """Settings shared by the graph models (each model's config extends it).

    Attributes:
        lm_hidden_size: width :math:`H` of the LM statement vector (the backbone's hidden size;
            set from the backbone when one is given).
        num_relations: number of edge types in ``edge_type`` / ``path_relations``: the graph's
            relations, their inverses (``r + R``) and any extra types retrieval gives edges of the
            context node. 64 = the default graph's 2 x 30 relations + 4.
        num_node_types: node types (question, answer, other, context).
        node_embedding: ``"text"`` (frozen name embeddings, projected), ``"learned"`` or
            ``"none"``; see :class:`~kgqa.nn.ConceptEmbedding`.
        node_feature_dim: width of the ``"text"`` table (384 for MiniLM).
        num_nodes: rows of a ``"learned"`` table (the graph's node count) without hashing.
        num_buckets: hashed rows of a ``"learned"`` table (0: one row per node).
        hidden_size: width of the graph part (QA-GNN uses 200 beside RoBERTa-large; 64 keeps
            the CPU cost of the graph part small beside MiniLM, see ``benchmarks/models.py``).
        dropout: dropout in the graph part and before the scorer.
        lm_dropout: dropout on the LM statement vector.
    """

    lm_hidden_size: int = 384
    num_relations: int = 64
    num_node_types: int = 4
    node_embedding: str = "text"
    node_feature_dim: int = 384
    num_nodes: int = 0
    num_buckets: int = 0
    hidden_size: int = 64
    dropout: float = 0.2
    lm_dropout: float = 0.1


class QAModel(nn.Module):
    """Base class: statement vectors in both regimes, loss and output assembly.

    Subclasses set ``config_class`` (a dataclass with defaults) and implement ``forward``.
    Build with ``Model(config, backbone=None)``; ``config`` may be the dataclass, a dict of its
    fields, or ``None`` for the defaults.
    """

    config_class: ClassVar[type]
    model_name: ClassVar[str]

    def __init__(self, config: Any = None, backbone: nn.Module | None = None):
        super().__init__()
        config = self.make_config(config)
        if backbone is not None:
            width = _backbone_width(backbone)
            if width is not None and width != config.lm_hidden_size:
                config = dataclasses.replace(config, lm_hidden_size=width)
        self.config = config
        self.backbone = backbone
        self.prior = None
        kind = getattr(config, "prior", "none")
        if kind not in PRIORS:
            raise model_error(self.model_name, f"prior='{kind}'; choose one of {', '.join(PRIORS)}")
        if kind == "cosine":
            from kgqa.nn.zero_shot_prior import ZeroShotPrior

            for field, allowed in (("prior_interaction", ZeroShotPrior.INTERACTIONS),
                                   ("prior_features", ZeroShotPrior.FEATURES)):
                if getattr(config, field) not in allowed:
                    raise model_error(self.model_name, (
                        f"{field}='{getattr(config, field)}'; choose one of {', '.join(allowed)}"))
            self.prior = ZeroShotPrior(config.prior_dim or config.lm_hidden_size,
                                       hidden=config.prior_hidden,
                                       adapter=config.prior_adapter, scale=config.prior_scale,
                                       dropout=getattr(config, "dropout", 0.1),
                                       interaction=config.prior_interaction,
                                       features=config.prior_features)

    def start_at_prior(self, scorer: nn.Module) -> None:
        """With a prior, zero the last layer of the model's own ``scorer`` so the first
        predictions are the prior's (the zero-shot baseline's); call at the end of ``__init__``."""
        if self.prior is not None:
            from kgqa.nn.zero_shot_prior import zero_last_linear

            zero_last_linear(scorer)

    # ------------------------------------------------------------------ config
    @classmethod
    def make_config(cls, config: Any = None):
        """The model's config dataclass from an instance, a dict or ``None`` (defaults).

        Raises:
            KGQAError: ``[E040]`` for an unknown key or a config of another model.
        """
        if config is None:
            return cls.config_class()
        if isinstance(config, cls.config_class):
            return dataclasses.replace(config)
        if isinstance(config, dict):
            known = {f.name for f in dataclasses.fields(cls.config_class)}
            unknown = sorted(set(config) - known)
            if unknown:
                raise model_error(cls.model_name, (
                    f"unknown config key(s) {unknown}; known: {sorted(known)}"))
            return cls.config_class(**config)
        raise model_error(cls.model_name, (
            f"config must be a {cls.config_class.__name__} or a dict, not {type(config).__name__}"))

    def config_dict(self) -> dict[str, Any]:
        """The config as a plain dict (what a checkpoint stores to rebuild the model)."""
        return dataclasses.asdict(self.config)

    # ------------------------------------------------------------------ parameters
    def lm_module(self) -> nn.Module | None:
        """The module whose parameters form the ``backbone`` learning-rate group."""
        return self.backbone

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters split into ``backbone`` and ``head`` (the rest), so the runner can
        give the LM a smaller learning rate (as QA-GNN does)."""
        lm = self.lm_module()
        backbone = {id(p) for p in lm.parameters()} if lm is not None else set()
        groups: dict[str, list[nn.Parameter]] = {"backbone": [], "head": []}
        for param in self.parameters():
            if param.requires_grad:
                groups["backbone" if id(param) in backbone else "head"].append(param)
        return groups

    # ------------------------------------------------------------------ LM part
    def statement_vectors(self, batch: QABatch) -> Tensor:
        """The LM's pooled vector of every (question, choice) pair, ``(B * C, H)``.

        ``frozen``: ``batch.lm_states`` ``(B, C, H)``; ``partial``: the top layers on
        ``batch.lower_states`` ``(B, C, L, H)``; ``finetune``: the backbone on
        ``batch.input_ids`` ``(B, C, L)``; pooled as the backbone's ``pooling`` says.

        Raises:
            KGQAError: ``[E040]`` when the batch has neither input, shapes disagree, or a
                finetune batch meets a model without backbone.
        """
        num_questions, num_choices = batch.batch_size, batch.num_choices
        width = self.config.lm_hidden_size
        if batch.lower_states is not None:  # partial regime: the top layers on cached states
            states = batch.lower_states
            if states.dim() != 4 or tuple(states.shape[:2]) != (num_questions, num_choices):
                raise model_error(self.model_name, (
                    f"lower_states have shape {tuple(states.shape)}; expected ({num_questions}, "
                    f"{num_choices}, L, H)"))
            if self.backbone is None:
                raise model_error(self.model_name, "a partial-regime batch needs the top layers "
                                                   "(kgqa.backbones.split.TopLayers) as backbone")
            flat = num_questions * num_choices
            out = self.backbone(states.reshape(flat, states.size(2), states.size(3)),
                                batch.attention_mask.reshape(flat, -1))
            return out.pooled
        if batch.lm_states is not None:
            states = batch.lm_states
            if tuple(states.shape) != (num_questions, num_choices, width):
                raise model_error(self.model_name, (
                    f"lm_states have shape {tuple(states.shape)}; expected ({num_questions}, "
                    f"{num_choices}, {width}) (questions, choices, lm_hidden_size)"))
            return states.reshape(num_questions * num_choices, width).float()
        if batch.input_ids is None:
            raise model_error(self.model_name, (
                "the batch has neither lm_states (frozen regime) nor input_ids (finetune regime)"))
        if self.backbone is None:
            raise model_error(self.model_name, (
                "a finetune batch (input_ids) needs a backbone: build the model with "
                "backbone=Backbone.from_pretrained(...), or give cached lm_states"))
        ids = batch.input_ids
        if ids.dim() != 3 or ids.shape[:2] != (num_questions, num_choices):
            raise model_error(self.model_name, (
                f"input_ids have shape {tuple(ids.shape)}; expected ({num_questions}, "
                f"{num_choices}, L)"))
        flat = num_questions * num_choices

        def _flat(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.reshape(flat, t.size(-1))

        attention_mask = _flat(batch.attention_mask)
        if attention_mask is None:
            attention_mask = torch.ones_like(_flat(ids))
        out = self.backbone(_flat(ids), attention_mask, _flat(batch.token_type_ids))
        pooled = out.pooled if hasattr(out, "pooled") else out.last_hidden_state[:, 0]
        return pooled

    # ------------------------------------------------------------------ output
    def make_output(self, batch: QABatch, scores: Tensor, **fields: Any) -> QAModelOutput:
        """``(B * C,)`` scores (+ the zero-shot prior, if the model has one) ->
        :class:`QAModelOutput` with ``(B, C)`` logits and the loss."""
        if self.prior is not None:
            if batch.question_vectors is None or batch.choice_vectors is None:
                raise model_error(self.model_name, (
                    "prior='cosine' needs the question and choice sentence vectors in the batch "
                    "(the frozen regime caches them); set model.kwargs.prior: none otherwise"))
            scores = scores.float() + self.prior(batch.question_vectors, batch.choice_vectors)
        logits = scores.view(batch.batch_size, batch.num_choices)
        labels = batch.labels
        if labels is not None:
            labels = labels.to(logits.device)
            if labels.shape != (batch.batch_size,) or bool(
                    ((labels < 0) | (labels >= batch.num_choices)).any()):
                raise model_error(self.model_name, (
                    f"labels {labels.tolist()} must be ({batch.batch_size},) choice indices in "
                    f"[0, {batch.num_choices})"))
        return QAModelOutput(logits=logits, loss=multiple_choice_loss(logits, labels), **fields)


class GraphQAModel(QAModel):
    """Base class of the graph models: concept vectors and graph-field checks."""

    def __init__(self, config: Any = None, backbone: nn.Module | None = None, *,
                 node_features=None):
        super().__init__(config, backbone)
        cfg = self.config
        if cfg.node_embedding not in NODE_EMBEDDINGS:
            raise model_error(self.model_name, (
                f"node_embedding='{cfg.node_embedding}'; choose one of {', '.join(NODE_EMBEDDINGS)}"))
        self.concepts = ConceptEmbedding(cfg.hidden_size, mode=cfg.node_embedding,
                                         table=node_features, in_channels=cfg.node_feature_dim,
                                         num_nodes=cfg.num_nodes, num_buckets=cfg.num_buckets)

    def set_node_features(self, table) -> GraphQAModel:
        """Attach the frozen ``(num_nodes, node_feature_dim)`` concept table (``"text"`` mode);
        it is not part of the state dict, so attach it again after loading a checkpoint."""
        self.concepts.set_table(table)
        return self

    def concept_vectors(self, graphs: GraphInputs) -> Tensor:
        """Concept vectors of every node, ``(N, hidden_size)``; zeros for context nodes (type 3,
        node id ``-1`` in retrieval's graphs), which have no concept to look up."""
        concept = (graphs.node_type != CONTEXT_NODE) & (graphs.node_ids >= 0)
        if bool(concept.all()):
            return self.concepts(graphs.node_ids)
        rows = concept.nonzero().view(-1)
        vectors = self.concepts(graphs.node_ids[rows])
        out = vectors.new_zeros((graphs.num_nodes, vectors.size(-1)))
        return out.index_copy(0, rows, vectors)

    def graph_inputs(self, batch: QABatch) -> GraphInputs:
        """The batch's graphs as typed tensors, checked against ``B * C``.

        Raises:
            KGQAError: ``[E040]`` without graphs, with the wrong number of graphs, or with a
                missing field.
        """
        graphs = batch.graphs
        expected = batch.batch_size * batch.num_choices
        if graphs is None:
            raise model_error(self.model_name, (
                "the batch has no graphs; a graph model needs the per-choice subgraphs "
                "(retrieval) in batch.graphs (use model 'lm' for the LM alone)"))
        if graphs.num_graphs != expected:
            raise model_error(self.model_name, (
                f"the batch has {graphs.num_graphs} graphs for {batch.batch_size} questions x "
                f"{batch.num_choices} choices; expected one graph per choice ({expected})"))
        num_nodes = int(graphs.num_nodes or 0)
        device = self._device(batch)
        batch_vector = getattr(graphs, "batch", None)
        if batch_vector is None:
            batch_vector = torch.zeros(num_nodes, dtype=torch.long, device=device)
        node_ids = getattr(graphs, "node_ids", None)
        if node_ids is None:
            if self.config.node_embedding != "none":
                raise model_error(self.model_name, (
                    "the graphs have no node_ids (global concept ids), which "
                    f"node_embedding='{self.config.node_embedding}' needs"))
            node_ids = torch.zeros(num_nodes, dtype=torch.long, device=device)
        node_type = getattr(graphs, "node_type", None)
        if node_type is None:
            node_type = torch.full((num_nodes,), OTHER_CONCEPT, dtype=torch.long, device=device)
        node_score = getattr(graphs, "node_score", None)
        if node_score is None:
            node_score = torch.zeros(num_nodes, device=device)
        # retrieval writes NaN where its ranker gave no score: treat it as neutral
        node_score = torch.nan_to_num(node_score.float(), nan=0.0)
        edge_index = graphs.edge_index if getattr(graphs, "edge_index", None) is not None else \
            torch.zeros(2, 0, dtype=torch.long, device=device)
        edge_type = getattr(graphs, "edge_type", None)
        if edge_type is None:
            edge_type = torch.zeros(edge_index.size(1), dtype=torch.long, device=device)
        edge_type = edge_type.long().view(-1)
        if edge_type.numel() and (int(edge_type.min()) < 0
                                  or int(edge_type.max()) >= self.config.num_relations):
            raise model_error(self.model_name, (
                f"edge_type {int(edge_type.max())} outside [0, {self.config.num_relations}); set "
                "num_relations in the model config to the retrieval's number of edge types"))
        return GraphInputs(num_graphs=expected, num_nodes=num_nodes, batch=batch_vector.long(),
                           node_ids=node_ids.long().view(-1), node_type=node_type.long().view(-1),
                           node_score=node_score.float().view(-1), edge_index=edge_index.long(),
                           edge_type=edge_type, data=graphs)

    def _device(self, batch: QABatch) -> torch.device:
        for t in (batch.lm_states, batch.input_ids):
            if t is not None:
                return t.device
        return next(self.parameters()).device


@dataclass
class GraphInputs:
    """The batched per-choice graphs, as the models read them (``N`` nodes, ``E`` edges).

    Attributes:
        num_graphs: ``G = B * C``.
        num_nodes: ``N``.
        batch: ``(N,)`` graph of each node.
        node_ids: ``(N,)`` global concept ids.
        node_type: ``(N,)`` 0 question, 1 answer, 2 other, 3 context.
        node_score: ``(N,)`` relevance (NaN read as 0).
        edge_index: ``(2, E)``; edge_type: ``(E,)``.
        data: the PyG batch itself (for model-specific fields such as paths).
    """

    num_graphs: int
    num_nodes: int
    batch: Tensor
    node_ids: Tensor
    node_type: Tensor
    node_score: Tensor
    edge_index: Tensor
    edge_type: Tensor
    data: Any


def _backbone_width(backbone: nn.Module) -> int | None:
    width = getattr(backbone, "hidden_size", None)
    if isinstance(width, int):
        return width
    config = getattr(backbone, "config", None)
    return getattr(config, "hidden_size", None)

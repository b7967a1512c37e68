"""``qagnn``: QA-GNN (Yasunaga et al., NAACL 2021), LM context node + attention message passing."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kgqa.models.base import QABatch, QAModelOutput
from kgqa.models.common import (ANSWER_CONCEPT, CONTEXT_NODE, QUESTION_CONCEPT, GraphInputs,
                                GraphModelConfig, GraphQAModel, model_error)
from kgqa.models.registry import register_model
from kgqa.nn.attention_pool import AttentionPool
from kgqa.nn.mlp import MLP
from kgqa.nn.node_type_score import NodeTypeScoreEncoder
from kgqa.nn.qagnn_conv import QAGNNConv

#: Edge types of the context-node edges, counted from the first of the last four edge-type ids
#: (``num_relations - 4``): the ids retrieval gives its own context edges (2R .. 2R + 3 of
#: :func:`kgqa.retrieval.data.num_edge_types`), so both kinds share one set of embeddings.
CONTEXT_TO_QUESTION, CONTEXT_TO_ANSWER, QUESTION_TO_CONTEXT, ANSWER_TO_CONTEXT = range(4)
NUM_CONTEXT_RELATIONS = 4
ATTENTIONS = ("target", "source")


@dataclass
class QAGNNConfig(GraphModelConfig):
    """Settings of :class:`QAGNN` (the shared ones are in :class:`GraphModelConfig`).

    Attributes:
        num_layers: message-passing layers (QA-GNN: 5).
        heads: attention heads of each layer (QA-GNN: 4, ``GATConvE``'s ``head_count``).
        pool_heads: heads of the LM-conditioned attention pooling (QA-GNN: 2, ``--att_head_num``).
        scorer_hidden: hidden width of the scoring MLP (QA-GNN: 200).
        scorer_layers: linear maps in the scoring MLP (QA-GNN: 1, ``--fc_layer_num 0``).
        attention: how each layer normalises its attention (:class:`~kgqa.nn.QAGNNConv`):
            ``"source"`` (QA-GNN's: softmax over a source's outgoing edges, times its
            out-degree) or ``"target"`` (over a target's incoming edges, GAT's; the default,
            which the shipped default model was trained with).
    """

    num_layers: int = 5
    heads: int = 4
    pool_heads: int = 2
    scorer_hidden: int = 200
    scorer_layers: int = 2
    attention: str = "target"


@dataclass
class JoinedGraph:
    """The batched graphs with one LM context node per graph (``N'`` nodes, ``E'`` edges).

    Attributes:
        batch, node_type, node_score: ``(N',)``; nodes ``[0, N)`` are the batch's own, added
            context nodes follow.
        edge_index: ``(2, E')``, edge_type ``(E',)``: the batch's ``E`` edges first.
        context_index: ``(G,)`` node index of each graph's context node.
        is_context: ``(N',)`` bool.
    """

    batch: Tensor
    node_type: Tensor
    node_score: Tensor
    edge_index: Tensor
    edge_type: Tensor
    context_index: Tensor
    is_context: Tensor


def join_context_nodes(graphs: GraphInputs, num_relations: int) -> JoinedGraph:
    """Give every graph an LM context node linked to its question and answer concepts.

    Graphs whose retrieval already added a context node (``node_type == 3``) keep it (the first
    one if several); the others get a new node appended after the batch's nodes, with edges
    context -> question concept (type ``num_relations - 4``), context -> answer concept
    (``- 3``) and the reverse edges (``- 2``, ``- 1``), as QA-GNN connects its context node
    :math:`z`: the last four of the ``num_relations`` edge types, which retrieval gives its own
    context edges too.
    """
    if num_relations < NUM_CONTEXT_RELATIONS:
        raise model_error("qagnn", (
            f"num_relations={num_relations} leaves no room for the {NUM_CONTEXT_RELATIONS} context-edge "
            "types; set it to retrieval's number of edge types (2 x relations + 4)"))
    base = num_relations - NUM_CONTEXT_RELATIONS
    num_nodes, num_graphs = graphs.num_nodes, graphs.num_graphs
    device = graphs.batch.device
    nodes = torch.arange(num_nodes, device=device)
    is_context = graphs.node_type == CONTEXT_NODE
    sentinel = num_nodes + num_graphs
    # first context node of each graph; `sentinel` where a graph has none (or no nodes at all)
    first = torch.full((num_graphs,), sentinel, dtype=torch.long, device=device).scatter_reduce(
        0, graphs.batch, torch.where(is_context, nodes, torch.full_like(nodes, sentinel)),
        reduce="amin", include_self=True)
    missing = first >= sentinel
    missing_graphs = missing.nonzero().view(-1)
    added = num_nodes + torch.arange(missing_graphs.numel(), device=device)
    context_index = first.clone()
    context_index[missing_graphs] = added

    concept_type = graphs.node_type
    linked = ((concept_type == QUESTION_CONCEPT) | (concept_type == ANSWER_CONCEPT)) & \
        missing[graphs.batch] if num_nodes else torch.zeros(0, dtype=torch.bool, device=device)
    linked_nodes = linked.nonzero().view(-1)
    hubs = context_index[graphs.batch[linked_nodes]]
    is_answer = (concept_type[linked_nodes] == ANSWER_CONCEPT).long()
    out_type = base + CONTEXT_TO_QUESTION + is_answer * (CONTEXT_TO_ANSWER - CONTEXT_TO_QUESTION)
    in_type = base + QUESTION_TO_CONTEXT + is_answer * (ANSWER_TO_CONTEXT - QUESTION_TO_CONTEXT)
    edge_index = torch.cat([graphs.edge_index, torch.stack([hubs, linked_nodes]),
                            torch.stack([linked_nodes, hubs])], dim=1)
    edge_type = torch.cat([graphs.edge_type, out_type, in_type])
    new = missing_graphs.numel()
    return JoinedGraph(
        batch=torch.cat([graphs.batch, missing_graphs]),
        node_type=torch.cat([graphs.node_type, graphs.node_type.new_full((new,), CONTEXT_NODE)]),
        node_score=torch.cat([graphs.node_score, graphs.node_score.new_zeros(new)]),
        edge_index=edge_index, edge_type=edge_type, context_index=context_index,
        is_context=torch.cat([is_context, torch.ones(new, dtype=torch.bool, device=device)]))


@register_model("qagnn")
class QAGNN(GraphQAModel):
    r"""`"QA-GNN: Reasoning with Language Models and Knowledge Graphs for Question Answering"
    <https://arxiv.org/abs/2104.06378>`_ (Yasunaga et al., NAACL 2021).

    For each (question, choice) statement with LM vector :math:`\mathbf{s}`:

    1. **Joint graph** (Sec. 3.1): a context node :math:`z` joins the retrieved subgraph, linked
       to every question and answer concept (:func:`join_context_nodes`; retrieval's own context
       node is used when it is there). Its initial vector is
       :math:`\mathbf{h}^{(0)}_z = \mathrm{GELU}(\mathbf{W}_z \mathbf{s})`; concept nodes start
       from their concept vectors :math:`\mathbf{x}_v` (:class:`~kgqa.nn.ConceptEmbedding`).
    2. **Relevance and type features** (Sec. 3.2): :math:`[\mathbf{u}_v; \boldsymbol{\rho}_v]`
       from the node type and the relevance score (:class:`~kgqa.nn.NodeTypeScoreEncoder`).
    3. **Message passing** (Sec. 3.3): ``num_layers`` :class:`~kgqa.nn.QAGNNConv` layers
       (relation- and node-type-aware multi-head attention), each followed by GELU and dropout,
       then :math:`\mathbf{h}_v = \mathrm{GELU}(\mathbf{V}_h \mathbf{h}^{(0)}_v +
       \mathbf{V}_x \mathbf{h}^{(L)}_v)`.
    4. **Scoring** (Sec. 3.4): the statement attends over the concept nodes
       (:class:`~kgqa.nn.AttentionPool`, context node excluded) to give :math:`\mathbf{g}`, and
       :math:`\mathrm{logit} = \mathrm{MLP}([\mathbf{s}; \mathbf{g}; \mathbf{h}_z])`.

    An empty subgraph leaves the context node alone: :math:`\mathbf{g} = \mathbf{0}` and the
    score comes from :math:`\mathbf{s}` and :math:`\mathbf{h}_z`.

    Args:
        config: :class:`QAGNNConfig` (or a dict of its fields).
        backbone: the LM (``finetune``); ``None`` for ``frozen`` batches with ``lm_states``.
        node_features: the frozen concept table of ``node_embedding='text'``.

    Shapes:
        - **input:** :class:`~kgqa.models.base.QABatch` whose ``graphs`` hold ``B * C`` graphs
          with ``node_ids``, ``node_type``, ``node_score``, ``edge_index``, ``edge_type``
        - **output:** ``logits`` :math:`(B, C)`; ``node_attention`` :math:`(N,)` pooling weights
          (mean over heads; sum to 1 over each graph's concept nodes, 0 for context nodes);
          ``edge_attention`` :math:`(E, K)` attention of the last layer on the batch's edges
          (``"target"``: each target's incoming weights, self-loop and context edges included,
          sum to 1; ``"source"``: each source's outgoing weights sum to its out-degree);
          ``graph_vectors`` :math:`(B, C, F)` the pooled vectors
    """

    config_class = QAGNNConfig
    #: the retrieval view it reads (kgqa.retrieval.data.build_choice_graph); the model joins
    #: its own context node (or uses retrieval's, when there)
    graph_view = {"paths": False, "add_inverse": True, "context_node": False}

    def __init__(self, config: QAGNNConfig | dict | None = None,
                 backbone: nn.Module | None = None, *, node_features=None):
        super().__init__(config, backbone, node_features=node_features)
        cfg = self.config
        dim = cfg.hidden_size
        self.context_projection = nn.Linear(cfg.lm_hidden_size, dim)
        self.node_features = NodeTypeScoreEncoder(cfg.num_node_types, dim,
                                                  context_type=CONTEXT_NODE)
        if cfg.attention not in ATTENTIONS:
            raise model_error(self.model_name, f"attention='{cfg.attention}'; choose one of {', '.join(ATTENTIONS)}")
        self.convs = nn.ModuleList(
            QAGNNConv(dim, cfg.num_relations, cfg.num_node_types, extra_channels=dim, heads=cfg.heads,
                      attention=cfg.attention)
            for _ in range(cfg.num_layers))
        self.skip_input = nn.Linear(dim, dim)   # V_h
        self.skip_output = nn.Linear(dim, dim)  # V_x
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(cfg.dropout)
        self.lm_dropout = nn.Dropout(cfg.lm_dropout)
        self.pool = AttentionPool(cfg.lm_hidden_size, dim, heads=cfg.pool_heads)
        self.scorer = MLP(cfg.lm_hidden_size + 2 * dim, cfg.scorer_hidden, 1,
                          num_layers=cfg.scorer_layers, dropout=cfg.dropout, layer_norm=True)
        self.start_at_prior(self.scorer)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # checkpoints from before the context edges shared retrieval's ids have 4 more relation
        # rows: [graph relations, 4 never-used rows, 4 model context rows, self-loop]
        rows = self.config.num_relations + 1
        for i in range(len(self.convs)):
            key = f"{prefix}convs.{i}.relation_embedding.weight"
            weight = state_dict.get(key)
            if weight is not None and weight.shape[0] == rows + NUM_CONTEXT_RELATIONS:
                base = self.config.num_relations - NUM_CONTEXT_RELATIONS
                state_dict[key] = torch.cat([weight[:base], weight[base + NUM_CONTEXT_RELATIONS:]])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, batch: QABatch) -> QAModelOutput:
        statements = self.statement_vectors(batch)
        graphs = self.graph_inputs(batch)
        joined = join_context_nodes(graphs, self.config.num_relations)
        lm = self.lm_dropout(statements)

        initial = lm.new_zeros((joined.batch.numel(), self.config.hidden_size))
        initial[:graphs.num_nodes] = self.concept_vectors(graphs)
        context_rows = joined.is_context.nonzero().view(-1)
        initial[context_rows] = self.activation(
            self.context_projection(lm.index_select(0, joined.batch[context_rows]))).to(initial.dtype)
        initial = self.dropout(initial)
        extra = self.node_features(joined.node_type, joined.node_score, joined.batch,
                                   graphs.num_graphs)

        hidden, alpha = initial, None
        for conv in self.convs:
            hidden, (_, alpha) = conv(hidden, joined.edge_index, joined.edge_type,
                                      joined.node_type, extra, return_attention_weights=True)
            hidden = self.dropout(self.activation(hidden))
        hidden = self.dropout(self.activation(self.skip_input(initial) + self.skip_output(hidden)))

        pooled, attention = self.pool(hidden, lm, joined.batch, node_mask=~joined.is_context)
        context = hidden.index_select(0, joined.context_index)
        scores = self.scorer(self.dropout(torch.cat([lm, pooled, context], dim=-1)))
        num_edges = graphs.edge_index.size(1)
        edge_attention = alpha[:num_edges] if alpha is not None else None
        return self.make_output(
            batch, scores.squeeze(-1),
            node_attention=attention[:graphs.num_nodes].mean(dim=-1),
            edge_attention=edge_attention,
            graph_vectors=pooled.view(batch.batch_size, batch.num_choices, -1))

"""``rgcn``: a relational GCN over the per-choice subgraph, pooled and joined to the LM vector."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.nn import RGCNConv
from torch_geometric.utils import scatter

from kgqa.models.base import QABatch, QAModelOutput
from kgqa.models.common import CONTEXT_NODE, GraphModelConfig, GraphQAModel, model_error
from kgqa.models.registry import register_model
from kgqa.nn.attention_pool import AttentionPool
from kgqa.nn.mlp import MLP
from kgqa.nn.node_type_score import NodeTypeScoreEncoder

POOLINGS = ("attention", "mean")


@dataclass
class RGCNConfig(GraphModelConfig):
    """Settings of :class:`RGCN` (the shared ones are in :class:`GraphModelConfig`).

    Attributes:
        num_layers: R-GCN layers.
        num_bases: basis decomposition of the relation weights (0: one full matrix per
            relation).
        pooling: ``"attention"`` (LM-conditioned, :class:`~kgqa.nn.AttentionPool`) or ``"mean"``.
        pool_heads: heads of the attention pooling.
        scorer_hidden: hidden width of the scoring MLP.
    """

    num_layers: int = 2
    num_bases: int = 8
    pooling: str = "attention"
    pool_heads: int = 2
    scorer_hidden: int = 128


@register_model("rgcn")
class RGCN(GraphQAModel):
    r"""Relational GCN (`"Modeling Relational Data with Graph Convolutional Networks"
    <https://arxiv.org/abs/1703.06103>`_, Schlichtkrull et al., ESWC 2018) over the retrieved
    subgraph, the GNN baseline of KagNet's and QA-GNN's comparisons.

    Node inputs are concept vectors plus type and relevance features
    (:class:`~kgqa.nn.NodeTypeScoreEncoder`), :math:`\mathbf{h}^{(0)}_v = \mathbf{x}_v +
    [\mathbf{u}_v; \boldsymbol{\rho}_v]`; then ``num_layers`` layers of PyG's ``RGCNConv``,

    .. math::
        \mathbf{h}^{(l+1)}_v = \mathrm{ReLU}\Big(\mathbf{W}^{(l)}_0 \mathbf{h}^{(l)}_v +
        \sum_{r} \sum_{u \in \mathcal{N}_r(v)} \frac{1}{|\mathcal{N}_r(v)|}
        \mathbf{W}^{(l)}_r \mathbf{h}^{(l)}_u\Big), \quad
        \mathbf{W}_r = \textstyle\sum_b a_{rb} \mathbf{V}_b \ (\text{with } \texttt{num\_bases}),

    pooled per graph (mean, or attention with the statement vector :math:`\mathbf{s}` as query)
    to :math:`\mathbf{g}`, and scored by :math:`\mathrm{MLP}([\mathbf{s}; \mathbf{g}])`. An empty
    graph pools to zeros, so its score comes from the LM part. A context node from retrieval
    (type 3) starts from zeros and is not pooled.

    Args:
        config: :class:`RGCNConfig` (or a dict of its fields).
        backbone: the LM (``finetune``); ``None`` for ``frozen`` batches with ``lm_states``.
        node_features: the frozen concept table of ``node_embedding='text'``.

    Shapes:
        - **input:** :class:`~kgqa.models.base.QABatch` whose ``graphs`` hold ``B * C`` graphs
          with ``node_ids``, ``node_type``, ``node_score``, ``edge_index``, ``edge_type``
        - **output:** ``logits`` :math:`(B, C)`; ``node_attention`` :math:`(N,)` (pooling
          weights averaged over heads; ``None`` with mean pooling); ``graph_vectors``
          :math:`(B, C, F)`
    """

    config_class = RGCNConfig
    #: the retrieval view it reads (kgqa.retrieval.data.build_choice_graph)
    graph_view = {"paths": False, "add_inverse": True, "context_node": False}

    def __init__(self, config: RGCNConfig | dict | None = None, backbone: nn.Module | None = None,
                 *, node_features=None):
        super().__init__(config, backbone, node_features=node_features)
        cfg = self.config
        if cfg.pooling not in POOLINGS:
            raise model_error(self.model_name, (
                f"pooling='{cfg.pooling}'; choose one of {', '.join(POOLINGS)}"))
        dim = cfg.hidden_size
        self.node_features = NodeTypeScoreEncoder(cfg.num_node_types, dim)
        self.convs = nn.ModuleList(
            RGCNConv(dim, dim, cfg.num_relations, num_bases=cfg.num_bases or None)
            for _ in range(cfg.num_layers))
        self.pool = AttentionPool(cfg.lm_hidden_size, dim, heads=cfg.pool_heads,
                                  dropout=0.0) if cfg.pooling == "attention" else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.lm_dropout = nn.Dropout(cfg.lm_dropout)
        self.scorer = MLP(cfg.lm_hidden_size + dim, cfg.scorer_hidden, 1, num_layers=2,
                          dropout=cfg.dropout)
        self.start_at_prior(self.scorer)

    def forward(self, batch: QABatch) -> QAModelOutput:
        statements = self.statement_vectors(batch)
        graphs = self.graph_inputs(batch)
        hidden = self.concept_vectors(graphs) + self.node_features(
            graphs.node_type, graphs.node_score, graphs.batch, graphs.num_graphs)
        hidden = self.dropout(hidden)
        for conv in self.convs:
            hidden = self.dropout(torch.relu(conv(hidden, graphs.edge_index, graphs.edge_type)))
        lm = self.lm_dropout(statements)
        concept = graphs.node_type != CONTEXT_NODE  # a context node from retrieval is not pooled
        node_attention = None
        if self.pool is not None:
            pooled, attention = self.pool(hidden, lm, graphs.batch, node_mask=concept)
            node_attention = attention.mean(dim=-1)
        else:
            rows = concept.nonzero().view(-1)
            pooled = scatter(hidden[rows], graphs.batch[rows], dim=0, dim_size=graphs.num_graphs,
                             reduce="mean")
        scores = self.scorer(torch.cat([lm, self.dropout(pooled)], dim=-1))
        vectors = pooled.view(batch.batch_size, batch.num_choices, -1)
        return self.make_output(batch, scores.squeeze(-1), node_attention=node_attention,
                                graph_vectors=vectors)

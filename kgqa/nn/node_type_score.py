"""QA-GNN's node-type and relevance-score features."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.utils import scatter


class NodeTypeScoreEncoder(nn.Module):
    r"""Embeds each node's type and relevance score, as QA-GNN does.

    From "QA-GNN: Reasoning with Language Models and Knowledge Graphs for Question Answering"
    (Yasunaga et al., NAACL 2021), Sec. 3.2-3.3: a node :math:`v` of type
    :math:`t_v \in \{0: \text{question concept}, 1: \text{answer concept}, 2: \text{other},
    3: \text{context}\}` with relevance score :math:`\rho_v` gets

    .. math::
        \mathbf{u}_v = \mathrm{GELU}(\mathbf{W}_u\, \mathrm{onehot}(t_v)), \qquad
        \boldsymbol{\rho}_v = \mathrm{GELU}\big(\mathbf{W}_\rho \sin(\mathbf{j}\, \rho_v)\big),
        \quad \mathbf{j} = (1.1^0, 1.1^1, \dots, 1.1^{F/2 - 1}),

    and returns :math:`[\mathbf{u}_v; \boldsymbol{\rho}_v] \in \mathbb{R}^{F}` (the sine basis
    makes a scalar score usable by linear layers). With ``normalize_scores``, scores are first
    standardised per graph over its non-context nodes,
    :math:`\rho_v \leftarrow (\rho_v - \bar\rho_g) / (\overline{|\rho - \bar\rho_g|} + 10^{-5})`
    (QA-GNN divides by the mean absolute score likewise), and context nodes get :math:`0`.

    Args:
        num_node_types: number of node types :math:`T`.
        out_channels: output width :math:`F` (even).
        context_type: the node type of the LM context node.
        normalize_scores: standardise scores per graph (needs ``batch``).

    Shapes:
        - **input:** ``node_type`` :math:`(N,)` long, ``node_score`` :math:`(N,)` float,
          ``batch`` :math:`(N,)` graph index *(optional)*
        - **output:** :math:`(N, F)`
    """

    def __init__(self, num_node_types: int, out_channels: int, *, context_type: int = 3,
                 normalize_scores: bool = True):
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"out_channels must be even, got {out_channels}")
        self.num_node_types = num_node_types
        self.out_channels = out_channels
        self.context_type = context_type
        self.normalize_scores = normalize_scores
        half = out_channels // 2
        self.type_embedding = nn.Embedding(num_node_types, half)  # = a linear map of the one-hot
        self.score_projection = nn.Linear(half, half)
        self.register_buffer("frequencies", torch.pow(1.1, torch.arange(half, dtype=torch.float)),
                             persistent=False)
        self.activation = nn.GELU()

    def normalized_scores(self, node_type: Tensor, node_score: Tensor, batch: Tensor | None,
                          num_graphs: int | None = None) -> Tensor:
        """Per-graph standardised scores (context nodes 0); unchanged without ``batch``."""
        score = node_score.float()
        if batch is None or not self.normalize_scores or score.numel() == 0:
            return score
        keep = (node_type != self.context_type).float()
        size = num_graphs if num_graphs is not None else int(batch.max()) + 1
        count = scatter(keep, batch, dim=0, dim_size=size, reduce="sum").clamp(min=1)
        mean = scatter(score * keep, batch, dim=0, dim_size=size, reduce="sum") / count
        centred = (score - mean[batch]) * keep
        spread = scatter(centred.abs(), batch, dim=0, dim_size=size, reduce="sum") / count
        return centred / (spread[batch] + 1e-5)

    def forward(self, node_type: Tensor, node_score: Tensor, batch: Tensor | None = None,
                num_graphs: int | None = None) -> Tensor:
        score = self.normalized_scores(node_type, node_score, batch, num_graphs)
        types = self.activation(self.type_embedding(node_type.long()))
        basis = torch.sin(score.unsqueeze(-1) * self.frequencies)
        scores = self.activation(self.score_projection(basis))
        return torch.cat([types, scores], dim=-1)

    def extra_repr(self) -> str:
        return (f"num_node_types={self.num_node_types}, out_channels={self.out_channels}, "
                f"normalize_scores={self.normalize_scores}")

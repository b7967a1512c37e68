"""Attention pooling of a graph's nodes, with the query coming from the language model."""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch_geometric.utils import scatter, softmax


class AttentionPool(nn.Module):
    r"""Multi-head attention pooling conditioned on a per-graph query vector.

    QA-GNN's ``MultiheadAttPoolLayer`` (Yasunaga et al., NAACL 2021, Sec. 3.4): the LM's
    statement vector :math:`\mathbf{s}_g` of graph :math:`g` attends over the graph's nodes. Per
    head :math:`k` (width :math:`d = F/K`),

    .. math::
        \beta^{k}_{v} = \frac{\exp\big((\mathbf{W}^k_q \mathbf{s}_g)^\top
        \mathbf{W}^k_k \mathbf{h}_v / \sqrt{d}\big)}
        {\sum_{w \in \mathcal{V}_g} \exp\big((\mathbf{W}^k_q \mathbf{s}_g)^\top
        \mathbf{W}^k_k \mathbf{h}_w / \sqrt{d}\big)}, \qquad
        \mathbf{g} = \big\Vert_{k=1}^{K} \sum_{v \in \mathcal{V}_g} \beta^k_v\,
        \mathbf{W}^k_v \mathbf{h}_v,

    where :math:`\mathcal{V}_g` are the graph's nodes allowed by ``node_mask`` (QA-GNN excludes
    the context node). A graph with no allowed node pools to the zero vector, its nodes get zero
    weight.

    Args:
        query_channels: width :math:`Q` of the query vectors.
        in_channels: node width :math:`F` (divisible by ``heads``); also the output width.
        heads: number of heads :math:`K`.
        dropout: dropout on :math:`\beta` in training.

    Shapes:
        - **input:** ``x`` :math:`(N, F)`, ``query`` :math:`(G, Q)`, ``batch`` :math:`(N,)`
          graph index of every node, ``node_mask`` :math:`(N,)` bool *(optional)*
        - **output:** pooled :math:`(G, F)` and attention :math:`(N, K)` (per graph and head,
          summing to 1 over allowed nodes; 0 for masked nodes)
    """

    def __init__(self, query_channels: int, in_channels: int, *, heads: int = 2,
                 dropout: float = 0.0):
        super().__init__()
        if in_channels % heads:
            raise ValueError(f"in_channels ({in_channels}) must be divisible by heads ({heads})")
        self.query_channels = query_channels
        self.in_channels = in_channels
        self.heads = heads
        self.head_channels = in_channels // heads
        self.dropout = dropout
        self.query = nn.Linear(query_channels, in_channels)
        self.key = nn.Linear(in_channels, in_channels)
        self.value = nn.Linear(in_channels, in_channels)

    def forward(self, x: Tensor, query: Tensor, batch: Tensor,
                node_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        num_graphs = query.size(0)
        shape = (-1, self.heads, self.head_channels)
        if node_mask is not None:
            # pool over the allowed nodes only; the others get exactly zero weight
            keep = node_mask.nonzero().view(-1)
            pooled, weights = self._pool(x[keep], query, batch[keep], num_graphs, shape)
            attention = weights.new_zeros((x.size(0), self.heads))
            attention[keep] = weights
            return pooled, attention
        return self._pool(x, query, batch, num_graphs, shape)

    def _pool(self, x: Tensor, query: Tensor, batch: Tensor, num_graphs: int,
              shape: tuple[int, int, int]) -> tuple[Tensor, Tensor]:
        q = self.query(query).view(shape).index_select(0, batch)  # (N, K, d)
        k = self.key(x).view(shape)
        v = self.value(x).view(shape)
        scores = (q * k).sum(dim=-1) / math.sqrt(self.head_channels)  # (N, K)
        attention = softmax(scores, batch, num_nodes=num_graphs)
        weights = nn.functional.dropout(attention, p=self.dropout, training=self.training)
        pooled = scatter(v * weights.unsqueeze(-1), batch, dim=0, dim_size=num_graphs, reduce="sum")
        return pooled.reshape(num_graphs, self.in_channels), attention

    def extra_repr(self) -> str:
        return f"query={self.query_channels}, in={self.in_channels}, heads={self.heads}"


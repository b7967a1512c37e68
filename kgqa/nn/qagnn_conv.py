"""QA-GNN's relation- and node-type-aware attention message passing."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import scatter, softmax

from kgqa.errors import Errors, KGQAError


class QAGNNConv(MessagePassing):
    r"""The attention message passing of `"QA-GNN: Reasoning with Language Models and Knowledge
    Graphs for Question Answering" <https://arxiv.org/abs/2104.06378>`_ (Yasunaga et al.,
    NAACL 2021), Sec. 3.3.

    Every node :math:`v` carries a hidden state :math:`\mathbf{h}_v \in \mathbb{R}^F` and a
    type/score feature :math:`\mathbf{u}_v` (see :class:`~kgqa.nn.NodeTypeScoreEncoder`); write
    :math:`\mathbf{z}_v = [\mathbf{h}_v; \mathbf{u}_v]`. An edge :math:`s \to t` of relation
    :math:`e_{st}` gets a relation embedding that also knows both end types,

    .. math::
        \mathbf{r}_{st} = f_r\big([\mathrm{onehot}(e_{st}); \mathrm{onehot}(t_s);
        \mathrm{onehot}(t_t)]\big),

    and, per head :math:`k` (width :math:`d = F / K`), a message, a key from the source and a query
    from the target,

    .. math::
        \mathbf{m}_{st} = \mathbf{W}_m [\mathbf{z}_s; \mathbf{r}_{st}], \quad
        \mathbf{k}_{st} = \mathbf{W}_k [\mathbf{z}_s; \mathbf{r}_{st}], \quad
        \mathbf{q}_t = \mathbf{W}_q \mathbf{z}_t, \quad
        \alpha_{st} = \frac{\exp(\mathbf{q}_t^\top \mathbf{k}_{st} / \sqrt{d})}
        {\sum_{s' \in \mathcal{N}(t) \cup \{t\}} \exp(\mathbf{q}_t^\top \mathbf{k}_{s't} / \sqrt{d})},

    and the update (heads concatenated, residual as in the paper's Eq. 5)

    .. math::
        \mathbf{h}'_t = f_n\Big(\big\Vert_{k=1}^{K} \sum_{s \in \mathcal{N}(t) \cup \{t\}}
        \alpha^{k}_{st}\, \mathbf{m}^{k}_{st}\Big) + \mathbf{h}_t .

    Self-loops get their own relation id (``num_relations``). :math:`f_r` and :math:`f_n` are
    two-layer MLPs. Because :math:`\mathbf{r}_{st}` depends only on the triple
    :math:`(e_{st}, t_s, t_t)`, :math:`f_r` and the relation halves of :math:`\mathbf{W}_m,
    \mathbf{W}_k` are evaluated once per distinct triple (at most :math:`(R+1)T^2` rows), and the
    node halves once per node; the per-edge work is gathers, a dot product and a scatter.

    ``attention="source"`` is the paper's (Sec. 3.3) and the released ``GATConvE``'s: the *source*
    asks (query :math:`\mathbf{q}_s = \mathbf{W}_q \mathbf{z}_s`, key
    :math:`\mathbf{k}_{st} = \mathbf{W}_k [\mathbf{z}_t; \mathbf{r}_{st}]` from the target), the
    softmax runs over each source's *outgoing* edges and is rescaled by the source's out-degree
    :math:`|\mathcal{N}^{out}(s) \cup \{s\}|`, so each source spreads a total weight equal to its
    out-degree and a target receives an unnormalised sum:

    .. math::
        \alpha_{st} = |\mathcal{N}^{out}(s) \cup \{s\}| \cdot
        \frac{\exp(\mathbf{q}_s^\top \mathbf{k}_{st} / \sqrt{d})}
        {\sum_{t' \in \mathcal{N}^{out}(s) \cup \{s\}} \exp(\mathbf{q}_s^\top \mathbf{k}_{st'} / \sqrt{d})}.

    ``attention="target"`` (the default above, GAT's convention) normalises over each target's
    incoming edges instead. Either way :math:`f_r, f_n` use no batch norm (the released code
    has it; it would make a node's output depend on the batch).

    Args:
        channels: hidden width :math:`F` (divisible by ``heads``).
        num_relations: number of edge types :math:`R` in ``edge_type`` (inverse relations and
            context-node edges included).
        num_node_types: number of node types :math:`T`.
        extra_channels: width of :math:`\mathbf{u}_v` (``0``: no extra features).
        heads: number of attention heads :math:`K`.
        attention_dropout: dropout on :math:`\alpha` in training.
        add_self_loops: add :math:`t \to t` edges so every node keeps its own state.
        residual: add :math:`\mathbf{h}_t` to the output.
        attention: ``"target"`` (softmax over each target's incoming edges) or ``"source"``
            (the paper's: over each source's outgoing edges, times its out-degree).

    Shapes:
        - **input:** node states ``x`` :math:`(N, F)`, ``edge_index`` :math:`(2, E)`,
          ``edge_type`` :math:`(E,)`, ``node_type`` :math:`(N,)`, ``node_extra``
          :math:`(N, F_u)` *(optional)*
        - **output:** :math:`(N, F)`; with ``return_attention_weights=True`` also
          ``(edge_index, alpha)`` with ``edge_index`` :math:`(2, E + N)` (the self-loops appended
          last) and ``alpha`` :math:`(E + N, K)`: per head, each target's incoming weights sum to
          1 (``"target"``), or each source's outgoing weights sum to its out-degree, self-loop
          included (``"source"``).
    """

    def __init__(self, channels: int, num_relations: int, num_node_types: int, *,
                 extra_channels: int = 0, heads: int = 4, attention_dropout: float = 0.0,
                 add_self_loops: bool = True, residual: bool = True, attention: str = "target"):
        super().__init__(aggr="add", node_dim=0)
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        if attention not in ("target", "source"):
            raise ValueError(f"attention must be 'target' or 'source', got {attention!r}")
        self.attention = attention
        self.channels = channels
        self.num_relations = num_relations
        self.num_node_types = num_node_types
        self.extra_channels = extra_channels
        self.heads = heads
        self.head_channels = channels // heads
        self.attention_dropout = attention_dropout
        self.add_self_loops = add_self_loops
        self.residual = residual
        # f_r on the one-hot triple == a sum of three embeddings, then ReLU and a linear map
        self.relation_embedding = nn.Embedding(num_relations + 1, channels)
        self.source_type_embedding = nn.Embedding(num_node_types, channels)
        self.target_type_embedding = nn.Embedding(num_node_types, channels)
        self.relation_output = nn.Linear(channels, channels)
        node_in = channels + extra_channels
        self.query = nn.Linear(node_in, channels)
        # key and message share their inputs: one map for both, [W_k; W_m], split per head
        self.key_message_node = nn.Linear(node_in, 2 * channels)
        self.key_message_relation = nn.Linear(channels, 2 * channels, bias=False)
        self.update_mlp = nn.Sequential(nn.Linear(channels, channels), nn.LayerNorm(channels),
                                        nn.ReLU(), nn.Linear(channels, channels))
        self._alpha: Tensor | None = None

    def reset_parameters(self):
        super().reset_parameters()
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def relation_table(self) -> Tensor:
        """:math:`\\mathbf{r}` of every (relation, source type, target type): ``(R + 1, T, T, F)``."""
        rel = self.relation_embedding.weight[:, None, None, :]
        src = self.source_type_embedding.weight[None, :, None, :]
        tgt = self.target_type_embedding.weight[None, None, :, :]
        return self.relation_output(torch.relu(rel + src + tgt))

    def forward(self, x: Tensor, edge_index: Tensor, edge_type: Tensor, node_type: Tensor,
                node_extra: Tensor | None = None, return_attention_weights: bool = False):
        num_nodes = x.size(0)
        self._check(edge_type, node_type, node_extra, num_nodes)
        edge_type = edge_type.long()
        node_type = node_type.long()
        if self.add_self_loops:
            loops = torch.arange(num_nodes, device=x.device)
            edge_index = torch.cat([edge_index, loops.unsqueeze(0).repeat(2, 1)], dim=1)
            edge_type = torch.cat([edge_type, edge_type.new_full((num_nodes,), self.num_relations)])
        z = x if node_extra is None else torch.cat([x, node_extra], dim=-1)
        heads, width = self.heads, self.head_channels
        query = (self.query(z) / math.sqrt(width)).view(-1, heads, width)
        # [key; message] rows, so one gather serves both (each half stays contiguous)
        key_message = self.key_message_node(z).view(-1, 2, self.channels)
        table = self.relation_table().view(-1, self.channels)
        types = self.num_node_types
        triple = (edge_type * types + node_type[edge_index[0]]) * types + node_type[edge_index[1]]
        # project the whole (small) triple table, then gather one row per edge (index_select:
        # its backward is an index_add, far faster than advanced indexing's index_put on CPU)
        relation = self.key_message_relation(table).view(-1, 2, self.channels).index_select(0, triple)
        if self.attention == "source":
            out = self._source_attention(edge_index, query, key_message, relation, num_nodes)
        else:
            out = self.propagate(edge_index, query=query, key_message=key_message, relation=relation,
                                 size=(num_nodes, num_nodes))
        out = self.update_mlp(out.reshape(num_nodes, self.channels))
        if self.residual:
            out = out + x
        alpha, self._alpha = self._alpha, None
        if return_attention_weights:
            return out, (edge_index, alpha)
        return out

    def message(self, query_i: Tensor, key_message_j: Tensor, relation: Tensor, index: Tensor,
                ptr: Tensor | None, size_i: int | None) -> Tensor:
        shape = (-1, self.heads, self.head_channels)
        key_message = key_message_j + relation  # (E, 2, F)
        key, message = key_message[:, 0].view(shape), key_message[:, 1].view(shape)
        scores = (query_i * key).sum(dim=-1)  # (E, K); the query carries 1/sqrt(d)
        alpha = softmax(scores, index, ptr, size_i)
        self._alpha = alpha
        if self.training and self.attention_dropout > 0:
            alpha = nn.functional.dropout(alpha, p=self.attention_dropout)
        return message * alpha.unsqueeze(-1)

    def _source_attention(self, edge_index: Tensor, query: Tensor, key_message: Tensor,
                          relation: Tensor, num_nodes: int) -> Tensor:
        """The released code's attention: query of the source, key of the target, softmax per
        source times its out-degree; returns the ``(N, K, d)`` summed messages."""
        source, target = edge_index[0], edge_index[1]
        shape = (-1, self.heads, self.head_channels)
        key = (key_message[:, 0].index_select(0, target) + relation[:, 0]).view(shape)
        message = (key_message[:, 1].index_select(0, source) + relation[:, 1]).view(shape)
        scores = (query.index_select(0, source) * key).sum(dim=-1)  # (E, K)
        out_degree = scatter(torch.ones_like(source, dtype=scores.dtype), source, dim=0,
                             dim_size=num_nodes, reduce="sum")
        alpha = softmax(scores, source, num_nodes=num_nodes) * out_degree.index_select(0, source).unsqueeze(-1)
        self._alpha = alpha
        if self.training and self.attention_dropout > 0:
            alpha = nn.functional.dropout(alpha, p=self.attention_dropout)
        return scatter(message * alpha.unsqueeze(-1), target, dim=0, dim_size=num_nodes, reduce="sum")

    def _check(self, edge_type: Tensor, node_type: Tensor, node_extra: Tensor | None,
               num_nodes: int) -> None:
        if edge_type.numel() and (int(edge_type.max()) >= self.num_relations or int(edge_type.min()) < 0):
            raise KGQAError(Errors.E015.format(problem=(
                f"QAGNNConv: edge_type {int(edge_type.max())} outside [0, {self.num_relations}); "
                "set num_relations in the model config to the retrieval's number of edge types")))
        if node_type.numel() and (int(node_type.max()) >= self.num_node_types or int(node_type.min()) < 0):
            raise KGQAError(Errors.E015.format(problem=(
                f"QAGNNConv: node_type {int(node_type.max())} outside [0, {self.num_node_types})")))
        if node_type.numel() != num_nodes:
            raise KGQAError(Errors.E015.format(problem=(
                f"QAGNNConv: {node_type.numel()} node types for {num_nodes} nodes")))
        if (node_extra is None) != (self.extra_channels == 0) or (
                node_extra is not None and node_extra.shape != (num_nodes, self.extra_channels)):
            got = None if node_extra is None else tuple(node_extra.shape)
            raise KGQAError(Errors.E015.format(problem=(
                f"QAGNNConv: node_extra has shape {got}; expected ({num_nodes}, "
                f"{self.extra_channels})" if self.extra_channels else
                "QAGNNConv was built with extra_channels=0 but got node_extra")))

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, num_relations={self.num_relations}, "
                f"num_node_types={self.num_node_types}, heads={self.heads}, "
                f"extra_channels={self.extra_channels}, attention={self.attention}")

"""KagNet's path encoder: an LSTM over relational paths and hierarchical path attention."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence
from torch_geometric.utils import scatter, softmax

from kgqa.errors import Errors, KGQAError
from kgqa.nn.mlp import MLP


@dataclass
class PathEncoderOutput:
    """What :class:`PathEncoder` returns.

    Attributes:
        graph_vectors: ``(G, F_out)`` one vector per graph (the no-path vector where a graph has
            no path).
        path_attention: ``(P,)`` weight of each path in its graph's vector,
            :math:`\\alpha_{k} \\beta_{ij}`; sums to 1 over a graph's paths, 0 for padding rows.
        path_in_pair_attention: ``(P,)`` :math:`\\alpha_k`, summing to 1 within each pair.
        pair_attention: ``(Q,)`` :math:`\\beta_{ij}` of each (question, answer) concept pair,
            summing to 1 within each graph.
        pair_index: ``(P,)`` pair of each path (``-1`` for padding rows and, in training,
            paths left out by ``train_paths_per_pair``).
        pair_graph: ``(Q,)`` graph of each pair.
        has_paths: ``(G,)`` whether the graph has at least one path.
    """

    graph_vectors: Tensor
    path_attention: Tensor
    path_in_pair_attention: Tensor
    pair_attention: Tensor
    pair_index: Tensor
    pair_graph: Tensor
    has_paths: Tensor


class PathEncoder(nn.Module):
    r"""The path encoder and hierarchical path attention of `"KagNet: Knowledge-Aware Graph
    Networks for Commonsense Reasoning" <https://arxiv.org/abs/1909.02151>`_ (Lin et al.,
    EMNLP 2019), Sec. 3.3-3.4.

    A path from question concept :math:`c^{(q)}_i` to answer concept :math:`c^{(a)}_j`,
    :math:`p = (v_0, r_1, v_1, \dots, r_L, v_L)`, is read by an LSTM as the sequence of its
    :math:`L` triples :math:`[\mathbf{x}_{v_{l-1}}; \mathbf{e}_{r_l}; \mathbf{x}_{v_l}]`
    (KagNet's "[concept; relation; concept]" steps; a zero-hop path, question concept = answer
    concept, is the one triple :math:`[\mathbf{x}_{v_0}; \mathbf{e}_{\mathrm{self}};
    \mathbf{x}_{v_0}]` with a learned *self* relation). Inverse relations (:math:`r + R`) have
    their own embeddings. The path vector :math:`\mathbf{R}_p` is the LSTM's last hidden state
    (both directions when bidirectional).

    For each concept pair :math:`(i, j)` of graph :math:`g` with statement vector
    :math:`\mathbf{s}`, KagNet builds :math:`\mathbf{T}_{ij} =
    \mathrm{MLP}([\mathbf{x}_{c_i}; \mathbf{x}_{c_j}; \mathbf{s}])` and attends first over the
    pair's paths, then over the graph's pairs:

    .. math::
        \alpha_{p} = \operatorname*{softmax}_{p \in P_{ij}}\big(\mathbf{R}_p^\top
        \mathbf{W}_1 \mathbf{T}_{ij}\big), \qquad
        \hat{\mathbf{R}}_{ij} = \sum_{p \in P_{ij}} \alpha_p \mathbf{R}_p,

    .. math::
        \beta_{ij} = \operatorname*{softmax}_{(i,j) \in g}\big(\mathbf{T}_{ij}^\top
        \mathbf{W}_2 \mathbf{s}\big), \qquad
        \mathbf{g} = \sum_{(i,j)} \beta_{ij} [\mathbf{T}_{ij}; \hat{\mathbf{R}}_{ij}].

    A graph without paths gets a learned vector :math:`\mathbf{g}_\varnothing`. Pairs are
    recovered from the paths themselves (first and last node of each path), so only the
    padded path tensors are needed. With ``train_paths_per_pair = k > 0`` a training forward
    keeps ``k`` random paths of each pair (KagNet's ``num_random_paths``; the others get zero
    attention); evaluation uses all.

    Args:
        node_channels: width of the concept vectors :math:`\mathbf{x}_v`.
        statement_channels: width of :math:`\mathbf{s}`.
        num_relations: number of relation ids in ``path_relations`` (inverses included).
        relation_channels: width of the relation embeddings.
        hidden_channels: LSTM hidden width (per direction).
        pair_channels: width of :math:`\mathbf{T}_{ij}`.
        num_layers: LSTM layers.
        bidirectional: run the LSTM both ways.
        dropout: dropout on the LSTM inputs and inside the pair MLP.
        train_paths_per_pair: paths sampled per pair in training (``0``: all).

    Shapes:
        - **input:** ``x`` :math:`(N, F)`, ``path_nodes`` :math:`(P, K+1)` node indices into
          ``x``, ``path_relations`` :math:`(P, K)`, ``path_lengths`` :math:`(P,)` hops (entries
          after a path's end are ignored; a negative length marks a padding row),
          ``statement`` :math:`(G, S)`, ``path_graph`` :math:`(P,)` graph of each path
        - **output:** :class:`PathEncoderOutput`, ``graph_vectors``
          :math:`(G, F_{out})` with :math:`F_{out}` = ``pair_channels`` + path width
    """

    def __init__(self, node_channels: int, statement_channels: int, num_relations: int, *,
                 relation_channels: int = 64, hidden_channels: int = 64, pair_channels: int = 64,
                 num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
                 train_paths_per_pair: int = 0):
        super().__init__()
        self.node_channels = node_channels
        self.num_relations = num_relations
        self.self_relation = num_relations
        self.train_paths_per_pair = train_paths_per_pair
        self.relation_embedding = nn.Embedding(num_relations + 1, relation_channels)
        self.lstm = nn.LSTM(2 * node_channels + relation_channels, hidden_channels,
                            num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.path_channels = hidden_channels * (2 if bidirectional else 1)
        self.pair_channels = pair_channels
        self.out_channels = pair_channels + self.path_channels
        self.pair_mlp = MLP(2 * node_channels + statement_channels, 2 * pair_channels,
                            pair_channels, num_layers=2, dropout=dropout)
        self.path_query = nn.Linear(pair_channels, self.path_channels, bias=False)  # W_1
        self.pair_query = nn.Linear(statement_channels, pair_channels, bias=False)  # W_2
        self.no_path = nn.Parameter(torch.zeros(self.out_channels))
        self.input_dropout = nn.Dropout(dropout)

    def encode_paths(self, x: Tensor, path_nodes: Tensor, path_relations: Tensor,
                     path_lengths: Tensor, *, packed: bool = False) -> Tensor:
        """LSTM path vectors :math:`\\mathbf{R}_p`, ``(P, path_channels)``, of valid rows only.

        A one-layer LSTM runs as a loop over the (at most ``K``) triples whose input gates are
        gathered from per-node and per-relation projections, :math:`\\mathbf{W}_{ih}
        [\\mathbf{x}_h; \\mathbf{e}_r; \\mathbf{x}_t] = \\mathbf{W}_h \\mathbf{x}_h +
        \\mathbf{W}_r \\mathbf{e}_r + \\mathbf{W}_t \\mathbf{x}_t`, computed once per node and
        relation instead of once per path step (paths share their nodes); it equals ``nn.LSTM``
        on the packed triple sequences (``packed=True``, also the route of deeper LSTMs).
        """
        heads, relations, tails, steps = self.triples(path_nodes, path_relations, path_lengths)
        if not packed and self.lstm.num_layers == 1:
            return self._one_layer_lstm(x, heads, relations, tails, steps)
        sequence = torch.cat([x[heads], self.relation_embedding(relations), x[tails]], dim=-1)
        sequence = self.input_dropout(sequence)
        packed_seq = pack_padded_sequence(sequence, steps.cpu(), batch_first=True,
                                          enforce_sorted=False)
        _, (hidden, _) = self.lstm(packed_seq)
        directions = 2 if self.lstm.bidirectional else 1
        last = hidden[-directions:]  # (dirs, P, H) of the top layer
        return last.transpose(0, 1).reshape(path_nodes.size(0), self.path_channels)

    def triples(self, path_nodes: Tensor, path_relations: Tensor,
                path_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Head nodes, relations and tail nodes ``(P, S)`` of each path's triples and the number
        of triples ``(P,)`` (``max(L, 1)``); entries past a path's end are valid filler."""
        num_paths = path_nodes.size(0)
        width = max(path_relations.size(1), 1)
        position = torch.arange(width, device=path_nodes.device)
        inside = position.unsqueeze(0) < path_lengths.unsqueeze(1)  # (P, S)
        first = path_nodes[:, :1].expand(num_paths, width)
        heads = torch.where(inside, path_nodes[:, :width], first)
        tails = torch.where(inside, path_nodes[:, 1:width + 1], first) if path_nodes.size(1) > 1 \
            else first
        relations = torch.full_like(heads, self.self_relation)
        if path_relations.size(1):
            relations = torch.where(inside, path_relations, relations)
        return heads, relations, tails, path_lengths.clamp(min=1)

    def _one_layer_lstm(self, x: Tensor, heads: Tensor, relations: Tensor, tails: Tensor,
                        steps: Tensor) -> Tensor:
        lstm = self.lstm
        x = self.input_dropout(x)
        rel_vectors = self.input_dropout(self.relation_embedding.weight)
        node_in, rel_in = self.node_channels, self.relation_embedding.embedding_dim
        finals = []
        for suffix in ("", "_reverse") if lstm.bidirectional else ("",):
            w_ih = getattr(lstm, f"weight_ih_l0{suffix}")
            w_hh = getattr(lstm, f"weight_hh_l0{suffix}")
            bias = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
            # one table of input-gate rows: heads, then relations (+ biases), then tails
            table = torch.cat([x @ w_ih[:, :node_in].t(),
                               rel_vectors @ w_ih[:, node_in:node_in + rel_in].t() + bias,
                               x @ w_ih[:, node_in + rel_in:].t()])  # (2N + R + 1, 4H)
            offsets = torch.tensor([0, x.size(0), x.size(0) + rel_vectors.size(0)],
                                   device=x.device)
            rows = torch.stack([heads, relations, tails], dim=-1) + offsets  # (P, S, 3)
            hidden = x.new_zeros((heads.size(0), lstm.hidden_size))
            cell = torch.zeros_like(hidden)
            for t in range(int(steps.max()) if steps.numel() else 0):
                active = (t < steps).unsqueeze(-1)
                # the reverse direction reads each path from its own last triple backwards
                pos = (steps - 1 - t).clamp(min=0) if suffix else torch.full_like(steps, t)
                step_rows = rows.gather(1, pos.view(-1, 1, 1).expand(-1, 1, 3)).squeeze(1)
                # gather-and-sum of the three rows in one op (its backward is an index_add)
                gates = nn.functional.embedding_bag(step_rows, table, mode="sum") + hidden @ w_hh.t()
                i, f, g, o = gates.chunk(4, dim=-1)
                new_cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
                new_hidden = torch.sigmoid(o) * torch.tanh(new_cell)
                cell = torch.where(active, new_cell, cell) if t else new_cell
                hidden = torch.where(active, new_hidden, hidden) if t else new_hidden
            finals.append(hidden)
        return torch.cat(finals, dim=-1)

    def sample_paths(self, pair: Tensor, num_pairs: int) -> Tensor:
        """Indices (into the valid paths) of at most ``train_paths_per_pair`` random paths per
        pair: a random key per path, then the ``k`` lowest ranks within each pair."""
        k = self.train_paths_per_pair
        keys = torch.rand(pair.numel(), device=pair.device)
        order = torch.argsort(pair.double() * 2 + keys.double())  # by pair, random within
        counts = torch.bincount(pair, minlength=num_pairs)
        starts = torch.cumsum(counts, 0) - counts
        sorted_pair = pair[order]
        rank = torch.arange(pair.numel(), device=pair.device) - starts[sorted_pair]
        return order[rank < k].sort().values

    def forward(self, x: Tensor, path_nodes: Tensor, path_relations: Tensor,
                path_lengths: Tensor, statement: Tensor, path_graph: Tensor) -> PathEncoderOutput:
        num_graphs = statement.size(0)
        total = path_lengths.numel()
        device = statement.device
        self._check(x, path_nodes, path_relations, path_lengths, path_graph)
        path_lengths = path_lengths.long()
        valid = (path_lengths >= 0).nonzero().view(-1)
        path_attention = statement.new_zeros(total)
        in_pair = statement.new_zeros(total)
        pair_index = torch.full((total,), -1, dtype=torch.long, device=device)
        graph_vectors = self.no_path.unsqueeze(0).expand(num_graphs, -1)
        if valid.numel() == 0:
            empty = statement.new_zeros(0)
            return PathEncoderOutput(graph_vectors.clone(), path_attention, in_pair, empty,
                                     pair_index, pair_index.new_zeros(0),
                                     torch.zeros(num_graphs, dtype=torch.bool, device=device))
        nodes = path_nodes[valid].long()
        lengths = path_lengths[valid]
        # pairs = distinct (first node, last node); node indices are unique across the batch
        source = nodes[:, 0]
        target = nodes.gather(1, lengths.unsqueeze(1)).squeeze(1)
        pair_key, inverse = torch.unique(source * max(x.size(0), 1) + target, return_inverse=True)
        num_pairs = pair_key.numel()
        pair_source = torch.zeros(num_pairs, dtype=torch.long, device=device).index_copy(
            0, inverse, source)
        pair_target = torch.zeros_like(pair_source).index_copy(0, inverse, target)
        pair_graph = torch.zeros_like(pair_source).index_copy(0, inverse, path_graph[valid].long())
        if self.training and self.train_paths_per_pair > 0:
            keep = self.sample_paths(inverse, num_pairs)
            valid, nodes, lengths, inverse = valid[keep], nodes[keep], lengths[keep], inverse[keep]
        paths = self.encode_paths(x, nodes, path_relations[valid].long(), lengths)

        pair_vectors = self.pair_mlp(torch.cat([  # T_ij
            x.index_select(0, pair_source), x.index_select(0, pair_target),
            statement.index_select(0, pair_graph)], dim=-1))
        path_query = self.path_query(pair_vectors).index_select(0, inverse)
        alpha = softmax((paths * path_query).sum(-1), inverse, num_nodes=num_pairs)
        pooled_paths = scatter(paths * alpha.unsqueeze(-1), inverse, dim=0, dim_size=num_pairs,
                               reduce="sum")
        pair_query = self.pair_query(statement).index_select(0, pair_graph)
        beta = softmax((pair_vectors * pair_query).sum(-1), pair_graph, num_nodes=num_graphs)
        pairs = torch.cat([pair_vectors, pooled_paths], dim=-1) * beta.unsqueeze(-1)
        pooled = scatter(pairs, pair_graph, dim=0, dim_size=num_graphs, reduce="sum")
        has_paths = torch.zeros(num_graphs, dtype=torch.bool, device=device)
        has_paths[pair_graph] = True
        graph_vectors = torch.where(has_paths.unsqueeze(-1), pooled, graph_vectors)

        path_attention = path_attention.index_put((valid,), alpha * beta.index_select(0, inverse))
        in_pair = in_pair.index_put((valid,), alpha)
        pair_index[valid] = inverse
        return PathEncoderOutput(graph_vectors, path_attention, in_pair, beta, pair_index,
                                 pair_graph, has_paths)

    def _check(self, x: Tensor, path_nodes: Tensor, path_relations: Tensor, path_lengths: Tensor,
               path_graph: Tensor) -> None:
        num_paths = path_lengths.numel()
        hops = path_nodes.size(1) - 1 if path_nodes.dim() == 2 else -1
        if (path_nodes.dim() != 2 or path_nodes.size(0) != num_paths or path_graph.numel() != num_paths
                or path_relations.shape != (num_paths, max(hops, 0))):
            raise KGQAError(Errors.E015.format(problem=(
                f"PathEncoder: path tensors disagree: path_nodes {tuple(path_nodes.shape)}, "
                f"path_relations {tuple(path_relations.shape)}, path_lengths ({num_paths},), "
                f"path_graph {tuple(path_graph.shape)}; expected (P, K+1), (P, K), (P,), (P,)")))
        if num_paths == 0:
            return
        valid = path_lengths >= 0
        if bool((path_lengths[valid] > hops).any()):
            raise KGQAError(Errors.E015.format(problem=(
                f"PathEncoder: a path length exceeds the {hops} hops of path_nodes")))
        steps = torch.arange(hops + 1, device=path_nodes.device) <= path_lengths[valid].unsqueeze(1)
        used = path_nodes[valid][steps]
        if used.numel() and (int(used.min()) < 0 or int(used.max()) >= x.size(0)):
            raise KGQAError(Errors.E015.format(problem=(
                f"PathEncoder: path node index outside [0, {x.size(0)}) (padding rows need a "
                "negative path_lengths)")))
        rel = path_relations[valid]
        if rel.numel():
            inside = torch.arange(rel.size(1), device=rel.device) < path_lengths[valid].unsqueeze(1)
            inside_rel = rel[inside]
            if inside_rel.numel() and (int(inside_rel.min()) < 0
                                       or int(inside_rel.max()) >= self.num_relations):
                raise KGQAError(Errors.E015.format(problem=(
                    f"PathEncoder: relation id outside [0, {self.num_relations}); set "
                    "num_relations in the model config to the retrieval's number of edge types")))

    def extra_repr(self) -> str:
        return (f"node_channels={self.node_channels}, num_relations={self.num_relations}, "
                f"out_channels={self.out_channels}")

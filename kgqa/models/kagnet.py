"""``kagnet``: KagNet (Lin et al., EMNLP 2019), GCN + path LSTM + hierarchical path attention."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import to_undirected

from kgqa.models.base import QABatch, QAModelOutput
from kgqa.models.common import GraphInputs, GraphModelConfig, GraphQAModel, model_error
from kgqa.models.registry import register_model
from kgqa.nn.mlp import MLP
from kgqa.nn.path_encoder import PathEncoder

#: The per-choice graph fields KagNet reads besides the nodes and edges.
PATH_FIELDS = ("path_nodes", "path_relations", "path_lengths")


@dataclass
class KagNetConfig(GraphModelConfig):
    """Settings of :class:`KagNet` (the shared ones are in :class:`GraphModelConfig`).

    Attributes:
        gcn_layers: GCN layers over the schema graph (KagNet: 2).
        gcn_dim: width of the GCN layers (KagNet's code: 50 hidden, 25 output).
        relation_dim: width of the relation embeddings in the path LSTM.
        lstm_hidden: LSTM hidden width per direction.
        lstm_layers: LSTM layers.
        bidirectional: bidirectional LSTM (off by default, as ``--bidirect`` in KagNet's code).
        pair_dim: width of the concept-pair vector :math:`\\mathbf{T}_{ij}`.
        train_paths_per_pair: ``0`` (the default): training reads every path, as evaluation
            does, so the attention-pooled vector is the same function in both; ``k > 0`` samples
            ``k`` paths per concept pair in each training forward (saves memory on long path
            lists; evaluation still reads all, so the pooled vector shifts at evaluation).
        scorer_hidden: hidden width of the scoring MLP.
    """

    gcn_layers: int = 2
    gcn_dim: int = 32
    relation_dim: int = 32
    lstm_hidden: int = 64
    lstm_layers: int = 1
    bidirectional: bool = False
    pair_dim: int = 64
    train_paths_per_pair: int = 0
    scorer_hidden: int = 128


@register_model("kagnet")
class KagNet(GraphQAModel):
    r"""`"KagNet: Knowledge-Aware Graph Networks for Commonsense Reasoning"
    <https://arxiv.org/abs/1909.02151>`_ (Lin et al., EMNLP 2019).

    For each (question, choice) statement with LM vector :math:`\mathbf{s}` and schema graph
    :math:`g` (the retrieved concepts and the edges among them):

    1. **Graph convolution** (Sec. 3.2): concept vectors :math:`\mathbf{x}^{(0)}_v` (see
       :class:`~kgqa.nn.ConceptEmbedding`) are refined by ``gcn_layers`` GCN layers on the
       undirected schema graph, :math:`\mathbf{x}^{(l+1)} = \mathrm{ReLU}(\hat{\mathbf{A}}
       \mathbf{x}^{(l)} \mathbf{W}^{(l)})`, and each concept is represented by
       :math:`\mathbf{c}_v = [\mathbf{x}^{(0)}_v; \mathbf{x}^{(L)}_v]` (KagNet concatenates the
       initial and the GCN vectors).
    2. **Path encoding and hierarchical path attention** (Sec. 3.3-3.4,
       :class:`~kgqa.nn.PathEncoder`): an LSTM over each path's
       :math:`[\mathbf{c}_{v_{l-1}}; \mathbf{e}_{r_l}; \mathbf{c}_{v_l}]` triples, attention
       over the paths of each (question concept, answer concept) pair with a pair-specific
       query, then over the pairs with the statement as query, giving :math:`\mathbf{g}` (a
       learned no-path vector for a statement without paths). Training and evaluation read
       the same paths (all retrieved, after pruning); ``train_paths_per_pair`` optionally
       samples some per pair in training to save memory.
    3. **Scoring**: :math:`\mathrm{logit} = \mathrm{MLP}([\mathbf{s}; \mathbf{g}])`.

    Args:
        config: :class:`KagNetConfig` (or a dict of its fields).
        backbone: the LM (``finetune``); ``None`` for ``frozen`` batches with ``lm_states``.
        node_features: the frozen concept table of ``node_embedding='text'``
            (``(num_nodes, node_feature_dim)``), or attach it later with
            :meth:`set_node_features`.

    Shapes:
        - **input:** :class:`~kgqa.models.base.QABatch` whose ``graphs`` hold ``B * C`` graphs
          with ``node_ids``, ``edge_index`` and the paths: ``path_nodes`` :math:`(P, K+1)`
          batch-level node indices, ``path_relations`` :math:`(P, K)` (inverse relations
          :math:`r + R`), ``path_lengths`` :math:`(P,)` (negative = padding row) and optionally
          ``path_graph`` :math:`(P,)` (else the graph of each path's first node); the fields of
          :class:`kgqa.retrieval.data.ChoiceGraph`
        - **output:** ``logits`` :math:`(B, C)`, ``path_attention`` :math:`(P,)` (the weight
          :math:`\alpha_p \beta_{ij}` of each path in its statement's vector; sums to 1 over a
          statement's paths; 0 for the paths left out by ``train_paths_per_pair`` in training),
          ``graph_vectors`` :math:`(B, C, F_{out})`
    """

    config_class = KagNetConfig
    #: the retrieval view it reads (kgqa.retrieval.data.build_choice_graph): paths and the
    #: schema graph they run through
    graph_view = {"paths": True, "add_inverse": True, "context_node": False}

    def __init__(self, config: KagNetConfig | dict | None = None,
                 backbone: nn.Module | None = None, *, node_features=None):
        super().__init__(config, backbone, node_features=node_features)
        cfg = self.config
        dim = cfg.hidden_size
        widths = [dim] + [cfg.gcn_dim] * cfg.gcn_layers
        # the normalised adjacency is computed once per batch, not once per layer
        self.gcn = nn.ModuleList(GCNConv(a, b, normalize=False) for a, b in zip(widths, widths[1:]))
        self.dropout = nn.Dropout(cfg.dropout)
        self.lm_dropout = nn.Dropout(cfg.lm_dropout)
        self.paths = PathEncoder(dim + widths[-1], cfg.lm_hidden_size, cfg.num_relations,
                                 relation_channels=cfg.relation_dim, hidden_channels=cfg.lstm_hidden,
                                 pair_channels=cfg.pair_dim, num_layers=cfg.lstm_layers,
                                 bidirectional=cfg.bidirectional, dropout=cfg.dropout,
                                 train_paths_per_pair=cfg.train_paths_per_pair)
        self.scorer = MLP(cfg.lm_hidden_size + self.paths.out_channels, cfg.scorer_hidden, 1,
                          num_layers=2, dropout=cfg.dropout)
        self.start_at_prior(self.scorer)

    def refined_concepts(self, graphs: GraphInputs) -> Tensor:
        """:math:`[\\mathbf{x}^{(0)}; \\mathbf{x}^{(L)}]` of every node, ``(N, hidden + gcn_dim)``."""
        initial = self.dropout(self.concept_vectors(graphs))
        edge_index = graphs.edge_index
        if edge_index.numel():  # relations and parallel edges do not matter to the GCN
            edge_index = to_undirected(edge_index, num_nodes=graphs.num_nodes)
        edge_index, edge_weight = gcn_norm(edge_index, None, graphs.num_nodes, add_self_loops=True,
                                           dtype=initial.dtype)
        hidden = initial
        for conv in self.gcn:
            hidden = self.dropout(torch.relu(conv(hidden, edge_index, edge_weight)))
        return torch.cat([initial, hidden], dim=-1)

    def forward(self, batch: QABatch) -> QAModelOutput:
        statements = self.statement_vectors(batch)
        graphs = self.graph_inputs(batch)
        data = graphs.data
        missing = [f for f in PATH_FIELDS if getattr(data, f, None) is None]
        if missing:
            raise model_error(self.model_name, (
                f"the graphs have no {', '.join(missing)}; KagNet needs the question-answer paths "
                "(retrieval with paths enabled)"))
        concepts = self.refined_concepts(graphs)
        path_nodes = data.path_nodes.long()
        path_lengths = data.path_lengths.long().view(-1)
        path_graph = getattr(data, "path_graph", None)
        if path_graph is None:  # the graph of a path is the graph of its first node
            start = path_nodes[:, 0].clamp(min=0, max=max(graphs.num_nodes - 1, 0))
            valid = path_lengths >= 0
            path_graph = torch.where(valid, graphs.batch[start], torch.zeros_like(start)) \
                if graphs.num_nodes else torch.zeros_like(path_lengths)
        path_graph = path_graph.long().view(-1)
        lm = self.lm_dropout(statements)
        encoded = self.paths(concepts, path_nodes, data.path_relations.long(), path_lengths, lm,
                             path_graph)
        scores = self.scorer(torch.cat([lm, self.dropout(encoded.graph_vectors)], dim=-1))
        vectors = encoded.graph_vectors.view(batch.batch_size, batch.num_choices, -1)
        return self.make_output(batch, scores.squeeze(-1), path_attention=encoded.path_attention,
                                graph_vectors=vectors)

"""Concept vectors for subgraph nodes, looked up by their global knowledge-graph ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kgqa.errors import Errors, KGQAError

#: How node vectors are made: a frozen text-embedding table (projected), a learned table, or none.
NODE_EMBEDDINGS = ("text", "learned", "none")

#: Knuth's multiplicative hash: spreads consecutive ids over the buckets of a hashed table.
_HASH_MULTIPLIER = 2654435761


class ConceptEmbedding(nn.Module):
    r"""Maps global concept ids to vectors: :math:`\mathbf{x}_v = f(\mathrm{id}(v))`.

    KagNet (Lin et al., EMNLP 2019) and QA-GNN (Yasunaga et al., NAACL 2021) start from
    pretrained, frozen concept embeddings (TransE / BERT-based) projected to the GNN width. Three
    modes:

    - ``"text"`` (default): a frozen table :math:`\mathbf{T} \in \mathbb{R}^{|V| \times D_{in}}`
      (e.g. the MiniLM sentence embedding of each concept's name, written by retrieval's
      node-relevance cache), projected by a learned linear map,
      :math:`\mathbf{x}_v = \mathbf{W}\mathbf{T}_{\mathrm{id}(v)} + \mathbf{b}`. It works for any
      concept with a name, costs no parameters per concept, and is never stored in checkpoints
      (attach it again with :meth:`set_table` after loading). The table may be a ``numpy``
      memmap: only the rows of a batch are read.
    - ``"learned"``: a trainable table. With ``num_buckets > 0`` the ids are hashed into that many
      rows, :math:`\mathbf{x}_v = \mathbf{E}_{h(\mathrm{id}(v))}` with
      :math:`h(i) = (2654435761\, i) \bmod B`, so a 250k-concept graph needs no 250k-row table
      (colliding concepts share a vector); ``num_buckets = 0`` keeps one row per concept.
    - ``"none"``: zeros; the models then see only node types, relevance scores and structure
      (an ablation).

    Args:
        out_channels: output width :math:`F`.
        mode: one of :data:`NODE_EMBEDDINGS`.
        table: ``"text"`` mode's frozen table :math:`(|V|, D_{in})` (tensor, array or memmap);
            may be given later with :meth:`set_table`.
        in_channels: :math:`D_{in}` of the text table (needed to build the projection before the
            table is attached).
        num_nodes: rows of the ``"learned"`` table when ``num_buckets == 0``.
        num_buckets: hashed rows of the ``"learned"`` table (``0``: one per concept).

    Shapes:
        - **input:** ``node_ids`` :math:`(N,)` long, global concept ids
        - **output:** :math:`(N, F)`
    """

    def __init__(self, out_channels: int, *, mode: str = "text", table=None,
                 in_channels: int | None = None, num_nodes: int = 0, num_buckets: int = 0):
        super().__init__()
        if mode not in NODE_EMBEDDINGS:
            raise KGQAError(Errors.E013.format(kind="node embedding", name=mode,
                                               known=", ".join(NODE_EMBEDDINGS)))
        self.mode = mode
        self.out_channels = out_channels
        self.table = None
        self.projection: nn.Linear | None = None
        self.embedding: nn.Embedding | None = None
        self.num_buckets = int(num_buckets)
        if mode == "text":
            if in_channels is None:
                if table is None:
                    raise KGQAError(Errors.E015.format(problem=(
                        "node_embedding='text' needs the width of the text table "
                        "(node_feature_dim) or the table itself")))
                in_channels = int(table.shape[1])
            self.in_channels = int(in_channels)
            self.projection = nn.Linear(self.in_channels, out_channels)
            if table is not None:
                self.set_table(table)
        elif mode == "learned":
            rows = self.num_buckets or int(num_nodes)
            if rows <= 0:
                raise KGQAError(Errors.E015.format(problem=(
                    "node_embedding='learned' needs num_nodes (one row per concept) or "
                    "num_buckets (a hashed table) > 0")))
            self.embedding = nn.Embedding(rows, out_channels)
            nn.init.normal_(self.embedding.weight, std=0.02)

    # ------------------------------------------------------------------ the text table
    def set_table(self, table) -> ConceptEmbedding:
        """Attach the frozen ``(|V|, D_in)`` text table: a tensor, an ndarray or memmap, or a
        provider with ``get(node_ids) -> (n, D_in)`` array (``kgqa.encoders.node_names.NodeEmbeddingTable``,
        which encodes missing rows on demand).

        Raises:
            KGQAError: the table is not 2-d or its width is not ``in_channels``.
        """
        if self.mode != "text":
            raise KGQAError(Errors.E015.format(problem=(
                f"a node-feature table is only used with node_embedding='text', not '{self.mode}'")))
        if not hasattr(table, "shape") and callable(getattr(table, "get", None)):
            self.table = table  # a provider, e.g. the shared NodeEmbeddingTable
            return self
        shape = tuple(table.shape)
        if len(shape) != 2 or shape[1] != self.in_channels:
            raise KGQAError(Errors.E015.format(problem=(
                f"node-feature table has shape {shape}; expected (num_nodes, {self.in_channels}) "
                "(node_feature_dim in the model config)")))
        self.table = table
        return self

    @classmethod
    def load_table(cls, path: str | Path) -> np.ndarray:
        """Memory-map a ``.npy`` table of node vectors (rows are read only when looked up)."""
        path = Path(path)
        if not path.is_file():
            raise KGQAError(Errors.E015.format(problem=(
                f"node-feature table not found: {path}. Build the node-relevance cache of the "
                "graph first (retrieval), or use node_embedding='learned'")))
        return np.load(path, mmap_mode="r", allow_pickle=False)

    @property
    def num_table_rows(self) -> int | None:
        if self.table is None:
            return None
        if hasattr(self.table, "shape"):
            return int(self.table.shape[0])
        kg = getattr(self.table, "kg", None)
        return int(kg.num_nodes) if kg is not None else None

    # ------------------------------------------------------------------ forward
    def forward(self, node_ids: Tensor) -> Tensor:
        node_ids = node_ids.long()
        if self.mode == "none":
            return self._zeros(node_ids)
        if self.mode == "learned":
            assert self.embedding is not None
            if self.num_buckets:
                node_ids = (node_ids * _HASH_MULTIPLIER) % self.num_buckets
            elif node_ids.numel() and int(node_ids.max()) >= self.embedding.num_embeddings:
                raise KGQAError(Errors.E007.format(
                    node_id=int(node_ids.max()), graph="(learned concept table)",
                    num_nodes=self.embedding.num_embeddings))
            return self.embedding(node_ids)
        assert self.projection is not None
        raw = self.lookup(node_ids)
        return self.projection(raw)

    def lookup(self, node_ids: Tensor) -> Tensor:
        """The frozen text-table rows of ``node_ids``, ``(N, D_in)``, on the ids' device."""
        if self.table is None:
            raise KGQAError(Errors.E015.format(problem=(
                "node_embedding='text' but no node-feature table is attached: call "
                "model.set_node_features(table) (retrieval writes it next to the graph)")))
        weight = self.projection.weight
        if node_ids.numel() == 0:
            return weight.new_zeros((0, self.in_channels))
        rows = self.num_table_rows
        top, bottom = int(node_ids.max()), int(node_ids.min())
        if bottom < 0 or (rows is not None and top >= rows):
            raise KGQAError(Errors.E007.format(node_id=bottom if bottom < 0 else top,
                                               graph="(node-feature table)", num_nodes=rows))
        if not hasattr(self.table, "shape"):
            raw = torch.from_numpy(np.asarray(self.table.get(node_ids.cpu().numpy()), dtype=np.float32))
            raw = raw.to(node_ids.device)
        elif isinstance(self.table, Tensor):
            table = self.table
            if table.device != node_ids.device:
                table = self.table = table.to(node_ids.device)
            raw = table[node_ids]
        else:  # numpy array or memmap: gather only the rows needed
            raw = torch.from_numpy(np.ascontiguousarray(self.table[node_ids.cpu().numpy()]))
            raw = raw.to(node_ids.device)
        return raw.to(weight.dtype)

    def _zeros(self, node_ids: Tensor) -> Tensor:
        return torch.zeros(node_ids.numel(), self.out_channels, device=node_ids.device)

    def extra_repr(self) -> str:
        extra = f"mode={self.mode!r}, out_channels={self.out_channels}"
        if self.mode == "text":
            extra += f", in_channels={self.in_channels}, table_rows={self.num_table_rows}"
        if self.embedding is not None:
            extra += f", rows={self.embedding.num_embeddings}, hashed={bool(self.num_buckets)}"
        return extra

"""The attention of every message-passing layer, read while the model runs, relative to uniform.

A model reports only its last layer's attention (``QAModelOutput.edge_attention``), but a path
of ``n`` hops reaches the answer concept through ``n`` layers: its first hop is taken at layer
``L - n``, its last at layer ``L - 1`` (the layer where it reaches the answer). So the answerer
runs the model inside :func:`record_layer_attention`, which keeps what each attention layer
returns, in call order.

A layer counts as an attention layer when it is a PyG ``MessagePassing`` module that returns
``(out, (edge_index, alpha))``: what PyG's ``GATConv``/``TransformerConv`` and kgqa's
:class:`~kgqa.nn.QAGNNConv` return with ``return_attention_weights=True`` (QA-GNN asks for it in
every layer). It is read from the layer's return value rather than from PyG's message hooks
(``AttentionExplainer``'s way), because QA-GNN's per-source attention does not run
``propagate`` and so never fires them.

**Relative to uniform.** Raw attention is normalised over a group of edges: each target's
incoming edges (GAT's convention, ``alpha`` sums to 1 per target) or each source's outgoing edges
(QA-GNN's released code: a softmax per source, times its out-degree). A raw weight mostly says
how large that group is: a leaf node's single edge gets 1/2 (itself and its self-loop), a hub's
edges 1/30. :func:`relative_to_uniform` divides every weight by the uniform value of its group
(the group's sum over its size), so 1 means "as much as uniform attention would give", under
either convention and whatever a node's degree.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

#: How close to 1 every group's sum must be to read the attention as normalised per target.
_SUM_TOLERANCE = 1e-3


@dataclass
class LayerAttention:
    """One attention layer's weights on one forward pass.

    Attributes:
        edge_index: ``(2, E')`` the edges the layer attended over (the model's edges, then any
            it added: self-loops, context-node edges).
        alpha: ``(E', K)`` raw weights per head.
        relative: ``(E',)`` weight over the uniform value of its group, mean over heads (1 =
            uniform).
        normalisation: ``"target"`` or ``"source"``: the group the layer normalised over.
    """

    edge_index: np.ndarray
    alpha: np.ndarray
    relative: np.ndarray
    normalisation: str


def relative_to_uniform(edge_index: np.ndarray, alpha: np.ndarray, num_nodes: int | None = None
                        ) -> tuple[np.ndarray, str]:
    """Attention weights divided by the uniform value of their normalisation group.

    The group is each edge's target when every target's weights sum to 1 (per head), else its
    source. Uniform attention over a group of size ``d`` with total ``s`` is ``s / d``; so a
    softmax per target (``s = 1``), a softmax per source (``s = 1``) and a softmax per source
    rescaled by the out-degree (``s = d``) all give exactly 1 for uniform weights.

    Args:
        edge_index: ``(2, E)`` source and target of each weight.
        alpha: ``(E,)`` or ``(E, K)`` weights.
        num_nodes: number of nodes (default: the largest index + 1).

    Returns:
        ``(relative, normalisation)``: ``(E,)`` the mean over heads of ``alpha / (s / d)``, and
        ``"target"`` or ``"source"``.

    Example::

        >>> ei = np.array([[0, 1, 2, 2], [2, 2, 2, 0]])       # 3 edges into node 2, 1 into 0
        >>> relative_to_uniform(ei, np.array([0.5, 0.25, 0.25, 1.0]))[0]
        array([1.5 , 0.75, 0.75, 1.  ])
    """
    edge_index = np.asarray(edge_index, dtype=np.int64).reshape(2, -1)
    alpha = np.asarray(alpha, dtype=np.float64)
    alpha = alpha.reshape(alpha.shape[0], -1) if alpha.ndim else alpha.reshape(0, 1)
    if alpha.shape[0] == 0:
        return np.zeros(0), "target"
    n = int(num_nodes if num_nodes is not None else edge_index.max() + 1)
    normalisation = "target"
    group = edge_index[1]
    sums = np.zeros((n, alpha.shape[1]))
    np.add.at(sums, group, alpha)
    present = np.bincount(group, minlength=n) > 0
    if not np.allclose(sums[present], 1.0, atol=_SUM_TOLERANCE):
        normalisation, group = "source", edge_index[0]
        sums = np.zeros((n, alpha.shape[1]))
        np.add.at(sums, group, alpha)
    counts = np.bincount(group, minlength=n).astype(np.float64)
    uniform = sums[group] / counts[group][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(uniform > 0, alpha / uniform, 0.0)
    return relative.mean(axis=1), normalisation


@contextmanager
def record_layer_attention(model: torch.nn.Module):
    """Keep the attention of every attention layer of ``model`` while the block runs.

    Yields a list that is filled when the block ends: one :class:`LayerAttention` per layer
    call, in call order (a layer called twice appears twice). Nothing is recorded for models
    without attention layers (KagNet's GCN, R-GCN, the LM), and the model's outputs are
    unchanged.

    Example::

        with record_layer_attention(model) as layers:
            output = model(batch)
        layers[-1].relative        # the last layer, relative to uniform
    """
    from torch_geometric.nn import MessagePassing

    raw: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def hook(module, args, output):
        if not (isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], tuple)
                and len(output[1]) == 2):
            return
        edge_index, alpha = output[1]
        if not (torch.is_tensor(edge_index) and torch.is_tensor(alpha) and edge_index.dim() == 2
                and edge_index.size(0) == 2 and alpha.size(0) == edge_index.size(1)):
            return
        raw.append((edge_index.detach(), alpha.detach(), int(output[0].size(0))))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, MessagePassing)]
    layers: list[LayerAttention] = []
    try:
        yield layers
    finally:
        for handle in handles:
            handle.remove()
        for edge_index, alpha, num_nodes in raw:
            ei = edge_index.cpu().numpy().astype(np.int64)
            a = alpha.float().cpu().numpy()
            relative, normalisation = relative_to_uniform(ei, a, num_nodes)
            layers.append(LayerAttention(edge_index=ei, alpha=a.reshape(a.shape[0], -1),
                                         relative=relative, normalisation=normalisation))

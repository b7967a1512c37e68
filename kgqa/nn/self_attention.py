"""Multi-head self-attention with a residual connection and LayerNorm (a BERT attention block)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttentionBlock(nn.Module):
    r"""Post-LayerNorm multi-head self-attention, as in BERT (Vaswani et al., NeurIPS 2017):

    .. math::
        \mathrm{head}_i = \operatorname{softmax}\Big(\frac{(XW^Q_i)(XW^K_i)^\top}{\sqrt{d}}
        + M\Big) XW^V_i, \qquad
        Y = \mathrm{LayerNorm}\big(X + \mathrm{Dropout}([\mathrm{head}_1; \dots; \mathrm{head}_h] W^O)\big)

    where :math:`M` is :math:`-\infty` at masked keys. A row whose keys are all masked attends to
    nothing: its attention output is zero (so :math:`Y = \mathrm{LayerNorm}(X)`), never NaN.

    Args:
        hidden_size: width :math:`D` of the states.
        num_heads: heads :math:`h` (:math:`D` must be divisible by :math:`h`).
        dropout: dropout on the attention probabilities and on the output.
        layer_norm_eps: LayerNorm epsilon.

    Shapes:
        - **input:** ``states`` :math:`(N, L, D)`, ``mask`` :math:`(N, L)` (1/True = attend)
        - **output:** :math:`(N, L, D)`
    """

    def __init__(self, hidden_size: int, num_heads: int, *, dropout: float = 0.1, layer_norm_eps: float = 1e-12):
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden size {hidden_size} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)
        self.layer_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.attention_dropout = dropout

    def _heads(self, x: Tensor) -> Tensor:
        n, length, _ = x.shape
        return x.view(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, states: Tensor, mask: Tensor) -> Tensor:
        n, length, width = states.shape
        keys = mask.to(torch.bool)
        has_key = keys.any(dim=1)
        # a row with no key at all would give NaN; let it attend everywhere, then zero it below
        safe = keys | ~has_key[:, None]
        attended = F.scaled_dot_product_attention(
            self._heads(self.query(states)), self._heads(self.key(states)), self._heads(self.value(states)),
            attn_mask=safe[:, None, None, :], dropout_p=self.attention_dropout if self.training else 0.0)
        attended = attended.transpose(1, 2).reshape(n, length, width)
        update = self.dropout(self.output(attended)) * has_key[:, None, None].to(states.dtype)
        return self.layer_norm(states + update)

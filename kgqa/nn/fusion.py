"""ERNIE's aggregator: one knowledge-fusion layer of the K-encoder."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kgqa.nn.self_attention import SelfAttentionBlock


@dataclass
class FusionOutput:
    """Output of :class:`KnowledgeFusionLayer`.

    Attributes:
        tokens: new token states :math:`(N, L, H)`.
        entities: new entity states :math:`(N, L, D_e)`, zero where a token has no entity.
    """

    tokens: Tensor
    entities: Tensor


def _activation(name: str):
    from transformers.activations import ACT2FN

    return ACT2FN[name]


class KnowledgeFusionLayer(nn.Module):
    r"""The aggregator of ERNIE (Zhang et al., "ERNIE: Enhanced Language Representation with
    Informative Entities", ACL 2019), one layer of the knowledge encoder (K-encoder).

    Tokens :math:`\{w_j\}` and the entities aligned to them :math:`\{e_k\}` (entity :math:`e_k`
    sits at the first word piece :math:`j` of its mention) first attend within their own
    sequence, with separate multi-head self-attention:

    .. math::
        \tilde{w}_j = \mathrm{MH\text{-}ATT}(\{w\})_j, \qquad
        \tilde{e}_k = \mathrm{MH\text{-}ATT}(\{e\})_k \ \text{(over the sequence's entities)}.

    The information fusion mixes the two at every aligned token,

    .. math::
        h_j = \sigma(W_t \tilde{w}_j + W_e \tilde{e}_k + b), \quad
        w'_j = \mathrm{LN}\big(\tilde{w}_j + \phi(W'_t h_j + b'_t)\big), \quad
        e'_k = \mathrm{LN}\big(\tilde{e}_k + \phi(W'_e h_j + b'_e)\big),

    and a token without an entity uses the token part only,
    :math:`h_j = \sigma(W_t \tilde{w}_j + b)` (the entity term is multiplied by the entity mask,
    so it contributes exactly zero). :math:`\sigma` is the backbone's activation (GELU);
    :math:`\phi` is the identity by default, as in ERNIE's released code, so that a layer
    initialised from a backbone layer (:math:`W_t, b, W'_t` = its feed-forward weights) computes
    exactly that layer on a text without entities; ``output_activation="gelu"`` applies GELU as
    the paper's equation writes it.

    Args:
        hidden_size: token width :math:`H`.
        num_heads: token attention heads.
        intermediate_size: width of :math:`h` (the backbone's feed-forward width).
        entity_size: entity width :math:`D_e` (100 for ERNIE's TransE vectors).
        entity_heads: entity attention heads (:math:`D_e` divisible by it).
        activation: :math:`\sigma`, a ``transformers`` activation name (``"gelu"``, ``"gelu_new"``).
        output_activation: :math:`\phi`: ``"none"`` or an activation name.
        dropout: dropout on attention and outputs.
        layer_norm_eps: LayerNorm epsilon.

    Shapes:
        - **input:** ``tokens`` :math:`(N, L, H)`, ``attention_mask`` :math:`(N, L)`,
          ``entities`` :math:`(N, L, D_e)` (row :math:`j` = the entity aligned to token :math:`j`,
          anything where there is none), ``entity_mask`` :math:`(N, L)` (1 = token :math:`j`
          has an entity)
        - **output:** :class:`FusionOutput` with ``tokens`` :math:`(N, L, H)` and ``entities``
          :math:`(N, L, D_e)`
    """

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, entity_size: int = 100,
                 entity_heads: int = 4, *, activation: str = "gelu", output_activation: str = "none",
                 dropout: float = 0.1, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.token_attention = SelfAttentionBlock(hidden_size, num_heads, dropout=dropout,
                                                  layer_norm_eps=layer_norm_eps)
        self.entity_attention = SelfAttentionBlock(entity_size, entity_heads, dropout=dropout,
                                                   layer_norm_eps=layer_norm_eps)
        self.token_in = nn.Linear(hidden_size, intermediate_size)               # W_t, b
        self.entity_in = nn.Linear(entity_size, intermediate_size, bias=False)  # W_e
        self.token_out = nn.Linear(intermediate_size, hidden_size)              # W'_t, b'_t
        self.entity_out = nn.Linear(intermediate_size, entity_size)             # W'_e, b'_e
        self.token_norm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.entity_norm = nn.LayerNorm(entity_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.activation = _activation(activation)
        self.output_activation = nn.Identity() if output_activation in ("none", "identity", None) \
            else _activation(output_activation)
        self.output_activation_name = output_activation or "none"
        nn.init.normal_(self.entity_in.weight, std=0.02)

    def forward(self, tokens: Tensor, attention_mask: Tensor, entities: Tensor, entity_mask: Tensor) -> FusionOutput:
        token_keys = attention_mask.to(torch.bool)
        has_entity = entity_mask.to(torch.bool) & token_keys
        w = self.token_attention(tokens, token_keys)
        e = self.entity_attention(entities, has_entity)
        gate = has_entity.unsqueeze(-1).to(w.dtype)
        h = self.activation(self.token_in(w) + gate * self.entity_in(e))
        new_tokens = self.token_norm(w + self.dropout(self.output_activation(self.token_out(h))))
        new_entities = self.entity_norm(e + self.dropout(self.output_activation(self.entity_out(h)))) * gate
        return FusionOutput(tokens=new_tokens, entities=new_entities)

    def extra_repr(self) -> str:
        return f"output_activation={self.output_activation_name!r}"

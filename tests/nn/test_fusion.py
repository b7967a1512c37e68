"""ERNIE's aggregator (KnowledgeFusionLayer) and its attention block, on hand-sized tensors."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kgqa.nn.fusion import KnowledgeFusionLayer
from kgqa.nn.self_attention import SelfAttentionBlock


def _layer(seed=0, **kw) -> KnowledgeFusionLayer:
    torch.manual_seed(seed)
    layer = KnowledgeFusionLayer(hidden_size=8, num_heads=2, intermediate_size=12, entity_size=4,
                                 entity_heads=2, dropout=0.0, **kw)
    return layer.eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    tokens = torch.randn(2, 5, 8, generator=g)
    entities = torch.randn(2, 5, 4, generator=g)
    attention = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    entity_mask = torch.tensor([[0, 1, 0, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    return tokens, attention, entities, entity_mask


def test_shapes_and_zero_entity_states_without_entity():
    tokens, attention, entities, entity_mask = _inputs()
    out = _layer()(tokens, attention, entities, entity_mask)
    assert out.tokens.shape == (2, 5, 8) and out.entities.shape == (2, 5, 4)
    assert torch.equal(out.entities[~entity_mask], torch.zeros(8, 4))
    assert out.entities[entity_mask].abs().sum() > 0


def test_tokens_without_entity_are_untouched_by_the_entity_path():
    tokens, attention, entities, entity_mask = _inputs()
    layer = _layer()
    fused = layer(tokens, attention, entities, entity_mask).tokens
    plain = layer(tokens, attention, entities, torch.zeros_like(entity_mask)).tokens
    other_entities = layer(tokens, attention, entities * 7 + 3, entity_mask).tokens
    # exact equality: the entity term is multiplied by the mask before the sum
    assert torch.equal(fused[~entity_mask], plain[~entity_mask])
    assert torch.equal(fused[~entity_mask], other_entities[~entity_mask])
    assert not torch.allclose(fused[entity_mask], plain[entity_mask])
    # the second text has no entity at all: its tokens are token-only
    assert torch.equal(fused[1], plain[1])


def test_fusion_equation_by_hand():
    tokens, attention, entities, entity_mask = _inputs()
    layer = _layer(output_activation="gelu")
    out = layer(tokens, attention, entities, entity_mask)
    w = layer.token_attention(tokens, attention.bool())
    e = layer.entity_attention(entities, entity_mask)
    j = (0, 1)  # a token with an entity
    h = F.gelu(layer.token_in.weight @ w[j] + layer.token_in.bias + layer.entity_in.weight @ e[j])
    w_new = F.layer_norm(w[j] + F.gelu(layer.token_out.weight @ h + layer.token_out.bias), (8,),
                         layer.token_norm.weight, layer.token_norm.bias, 1e-12)
    e_new = F.layer_norm(e[j] + F.gelu(layer.entity_out.weight @ h + layer.entity_out.bias), (4,),
                         layer.entity_norm.weight, layer.entity_norm.bias, 1e-12)
    torch.testing.assert_close(out.tokens[j], w_new)
    torch.testing.assert_close(out.entities[j], e_new)
    k = (0, 0)  # no entity: h = GELU(W_t w + b)
    h = F.gelu(layer.token_in.weight @ w[k] + layer.token_in.bias)
    w_new = F.layer_norm(w[k] + F.gelu(layer.token_out.weight @ h + layer.token_out.bias), (8,),
                         layer.token_norm.weight, layer.token_norm.bias, 1e-12)
    torch.testing.assert_close(out.tokens[k], w_new)


def test_attention_block_ignores_masked_keys_and_empty_rows():
    torch.manual_seed(0)
    block = SelfAttentionBlock(4, 2, dropout=0.0).eval()
    x = torch.randn(2, 3, 4)
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    y = block(x, mask)
    changed = x.clone()
    changed[0, 2] = 100.0  # a masked key: rows 0 and 1 of text 0 do not see it
    torch.testing.assert_close(block(changed, mask)[0, :2], y[0, :2])
    # no key at all: no NaN, output = LayerNorm(x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y[1], block.layer_norm(x[1]))

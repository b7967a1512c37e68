import pytest

from kgqa.backbones import Backbone
from kgqa.errors import KGQAError

# One tiny BERT layer: q, k, v, output (32x32 + 32 each), 2 LayerNorms (2x32 each),
# intermediate 32x37 + 37, output 37x32 + 32.
BERT_LAYER = 4 * (32 * 32 + 32) + 2 * 64 + (32 * 37 + 37) + (37 * 32 + 32)


def trainable(backbone):
    return backbone.num_parameters(trainable=True)


def test_layer_size_by_hand(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    assert BERT_LAYER == 6789
    assert sum(p.numel() for p in backbone.model.encoder.layer[1].parameters()) == BERT_LAYER


@pytest.mark.parametrize("arch, stack", [("bert", "encoder.layer"), ("electra", "encoder.layer"),
                                         ("roberta", "encoder.layer"),
                                         ("distilbert", "transformer.layer")])
def test_freeze_lower_layers(tiny_backbone_dirs, arch, stack):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs[arch])
    layers = backbone.model.get_submodule(stack)
    per_layer = [sum(p.numel() for p in layer.parameters()) for layer in layers]
    total = backbone.num_parameters()
    assert trainable(backbone) == total
    assert trainable(Backbone.from_pretrained(tiny_backbone_dirs[arch], freeze=1)) == per_layer[1]
    assert trainable(backbone.freeze(2)) == 0
    assert trainable(backbone.freeze("all")) == 0
    assert trainable(backbone.freeze("none")) == total  # freezing is undone, not only added
    assert trainable(backbone.freeze(0)) == total
    backbone.freeze("1")  # config files give strings
    assert backbone.freeze_spec == 1
    frozen = {n.split(".")[0] for n, p in backbone.model.named_parameters() if not p.requires_grad}
    assert frozen == {"embeddings", stack.split(".")[0]} | (
        {"embeddings_project"} if hasattr(backbone.model, "embeddings_project") else set())
    if arch == "bert":
        assert per_layer == [BERT_LAYER, BERT_LAYER]


def test_albert_shares_layers(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["albert"])
    groups, per_group = backbone.layer_groups()
    assert (len(groups), per_group) == (1, 2)
    with pytest.raises(KGQAError, match=r"\[E018\].*freeze=1: AlbertModel shares weights across "
                                        r"layers \(1 group\(s\) for 2 layers\).*multiple of 2"):
        backbone.freeze(1)
    assert trainable(backbone.freeze(2)) == 0
    assert trainable(backbone.freeze("none")) == backbone.num_parameters()


def test_bad_freeze_specs(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["bert"])
    for spec, problem in [(3, r"freeze=3: it has 2 layers"), (-1, r"freeze=-1"),
                          ("half", r"freeze='half': use 'none', 'all'"), (True, r"freeze=True")]:
        with pytest.raises(KGQAError, match=problem):
            backbone.freeze(spec)


def forward_calls(backbone, layer):
    calls = []
    handle = layer.register_forward_hook(lambda *args: calls.append(1))
    batch = backbone.encode_choices(["where is the dog?"], [["home", "garden"]])
    backbone.train()
    backbone(**batch).pooled.sum().backward()
    handle.remove()
    return len(calls)


@pytest.mark.parametrize("arch, stack", [("bert", "encoder.layer"),
                                         ("distilbert", "transformer.layer")])
def test_gradient_checkpointing_recomputes_layers(tiny_backbone_dirs, arch, stack):
    plain = Backbone.from_pretrained(tiny_backbone_dirs[arch])
    assert not plain.gradient_checkpointing
    # transformers checkpoints a layer's forward (its own hooks stay outside): watch a sub-module
    assert forward_calls(plain, plain.model.get_submodule(stack)[0].attention) == 1
    ckpt = Backbone.from_pretrained(tiny_backbone_dirs[arch], gradient_checkpointing=True, freeze=1)
    assert ckpt.gradient_checkpointing
    layers = ckpt.model.get_submodule(stack)
    assert forward_calls(ckpt, layers[1].attention) == 2  # forward, then recomputed in backward
    assert all(p.grad is not None for p in layers[1].parameters())
    assert all(p.grad is None for p in layers[0].parameters())  # frozen
    assert not ckpt.set_gradient_checkpointing(False).gradient_checkpointing


def test_albert_gradient_checkpointing_is_a_clear_error(tiny_backbone_dirs):
    with pytest.raises(KGQAError, match=r"\[E018\].*AlbertModel does not support gradient "
                                        r"checkpointing"):
        Backbone.from_pretrained(tiny_backbone_dirs["albert"], gradient_checkpointing=True)


def test_gradients_reach_the_embeddings_when_not_frozen(tiny_backbone_dirs):
    backbone = Backbone.from_pretrained(tiny_backbone_dirs["electra"])
    batch = backbone.encode_choices(["the cat"], [["home", "store"]])
    backbone(**batch).pooled.pow(2).sum().backward()
    assert backbone.model.embeddings.word_embeddings.weight.grad.abs().sum() > 0

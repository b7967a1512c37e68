"""A backbone cut in two: lower layers run once (their token states cached), top layers trained.

Partial freezing (the ``partial`` regime) trains only the top ``N`` transformer layers of a
backbone. Everything below them never changes, so the token states that enter layer
``L - N`` are computed once per dataset and cached (:mod:`kgqa.training.lower_states`); a
training step then runs ``N`` layers instead of ``L``. That is what makes a 12-layer encoder
trainable on a CPU.

Both halves are *views* of the loaded Hugging Face model that share its parameters: the model's
own ``forward`` runs (its attention-mask construction, MPNet's relative position bias), with the
layer list cut, and for the top half the embedding module replaced by a pass-through of the
given states. So ``top(lower(x)) == model(x)`` exactly (tested to 1e-5 in fp32) for every
architecture with one layer list (BERT, RoBERTa, ELECTRA, DistilBERT, MiniLM, MPNet). ALBERT,
whose layers share one set of weights, cannot be cut.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from kgqa.backbones.backbone import LAYER_STACK_PATHS, Backbone, BackboneOutput, Pooling, pool
from kgqa.errors import Errors, KGQAError


class _GivenStates(nn.Module):
    """Stands in for the embedding module of the top half: returns the states it is given
    (``inputs_embeds``), whatever else the model's ``forward`` passes."""

    def forward(self, *args, **kwargs) -> Tensor:
        if kwargs.get("inputs_embeds") is not None:
            return kwargs["inputs_embeds"]
        for value in args:
            if isinstance(value, Tensor) and value.is_floating_point() and value.dim() == 3:
                return value
        raise RuntimeError("the top layers were called without hidden states (inputs_embeds)")


def _shallow(module: nn.Module) -> nn.Module:
    clone = copy.copy(module)
    clone._modules = dict(module._modules)
    return clone


def _layer_path(backbone: Backbone) -> str:
    stack, per_entry = backbone.layer_groups()
    if per_entry != 1:
        raise KGQAError(Errors.E018.format(name=backbone.name, problem=(
            f"{type(backbone.model).__name__} shares weights across layers, so it cannot be cut "
            "into cached lower layers and trained top layers; use regime finetune or frozen")))
    for dotted in LAYER_STACK_PATHS:
        module = backbone.model
        for part in dotted.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if module is stack:
            return dotted
    raise KGQAError(Errors.E018.format(name=backbone.name, problem=(
        "its layer list is not at a known attribute path; it cannot be cut")))


def _view(model: nn.Module, layer_path: str, layers: list[nn.Module],
          replace: dict[str, nn.Module]) -> nn.Module:
    """A shallow copy of ``model`` sharing every parameter, with the layer list at
    ``layer_path`` replaced by ``layers`` and the root-level modules in ``replace`` swapped."""
    root = _shallow(model)
    parent, parts = root, layer_path.split(".")
    for part in parts[:-1]:
        child = _shallow(parent._modules[part])
        parent._modules[part] = child
        parent = child
    parent._modules[parts[-1]] = nn.ModuleList(layers)
    for name, module in replace.items():
        if name in root._modules:
            root._modules[name] = module
    return root


def num_lower_layers(backbone: Backbone, train_layers: int) -> int:
    """``L - N``: how many layers run once and are cached when the top ``train_layers`` train.

    Raises:
        KGQAError: ``[E018]`` when ``train_layers`` is not in ``1..L``.
    """
    if not 1 <= int(train_layers) <= backbone.num_layers:
        raise KGQAError(Errors.E018.format(name=backbone.name, problem=(
            f"train_layers={train_layers}: it has {backbone.num_layers} layers; use "
            f"1..{backbone.num_layers}")))
    return backbone.num_layers - int(train_layers)


class LowerLayers(nn.Module):
    """The embeddings and the lower ``num_lower`` layers of a backbone (frozen, eval mode).

    Shapes:
        - **input:** ``input_ids``, ``attention_mask`` (, ``token_type_ids``): ``(N, L)``
        - **output:** token states entering layer ``num_lower``, ``(N, L, H)``
    """

    def __init__(self, backbone: Backbone, num_lower: int):
        super().__init__()
        path = _layer_path(backbone)
        stack = backbone.layer_groups()[0]
        self.num_lower = num_lower
        self.uses_token_type_ids = backbone.uses_token_type_ids
        self.model = _view(backbone.model, path, list(stack)[:num_lower], {})

    @torch.no_grad()
    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None) -> Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.uses_token_type_ids:
            inputs["token_type_ids"] = token_type_ids
        return self.model(**inputs).last_hidden_state


class TopLayers(nn.Module):
    r"""The top ``L - num_lower`` layers of a backbone, run on cached lower states.

    Only the parameters of these layers are trainable (MPNet's shared relative-position bias and
    everything else outside the layers stays frozen). Pooling as the backbone's.

    Args:
        backbone: the loaded backbone (its weights are shared, not copied).
        num_lower: layers below (run once, cached).

    Shapes:
        - **input:** ``states`` :math:`(N, L, H)` from :class:`LowerLayers`, ``attention_mask``
          :math:`(N, L)`
        - **output:** :class:`~kgqa.backbones.backbone.BackboneOutput`
    """

    def __init__(self, backbone: Backbone, num_lower: int, *, pooling: Pooling | None = None):
        super().__init__()
        path = _layer_path(backbone)
        stack = backbone.layer_groups()[0]
        top = list(stack)[num_lower:]
        replace = {"embeddings": _GivenStates()}
        if hasattr(backbone.model, "embeddings_project"):  # ELECTRA: the cache is projected already
            replace["embeddings_project"] = nn.Identity()
        self.model = _view(backbone.model, path, top, replace)
        in_top = {id(p) for layer in top for p in layer.parameters()}
        for param in self.model.parameters():
            param.requires_grad_(id(param) in in_top)
        self.name = backbone.name
        self.num_lower = num_lower
        self.num_layers = len(top)
        self.hidden_size = backbone.hidden_size
        self.pooling = pooling or backbone.pooling
        if self.pooling == "choice":  # it needs token ids, which the cached states no longer have
            raise KGQAError(Errors.E018.format(name=backbone.name, problem=(
                "pooling='choice' needs token ids; the top layers over cached states pool "
                "'first' or 'mean'")))

    def forward(self, states: Tensor, attention_mask: Tensor) -> BackboneOutput:
        hidden = self.model(inputs_embeds=states, attention_mask=attention_mask).last_hidden_state
        return BackboneOutput(pooled=pool(hidden, attention_mask, self.pooling), hidden_states=hidden)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, layers {self.num_lower}..{self.num_lower + self.num_layers - 1}"

"""``lora``: the pretrained weights stay fixed; LoRA adapters (``backbone.lora``) train.

Two kinds of model use it:

- **causal LMs** (model ``llm``): the backbone is the causal LM named by ``backbone.name`` (a
  hub id, directory, ``.gguf`` file or installed short name such as ``gemma-3-270m``); the
  collator hands the model the question and choice texts (``batch.extras``), the model scores
  each choice by its likelihood and the loss is the cross-entropy over the choices. Prompts are
  zero-shot without knowledge: the adapters learn the task the shots would show.
- **encoders** (``lm``, ``qagnn``, ...): as ``finetune``, but only the adapters of the backbone
  train (at ``training.lm_lr``) beside the head and graph part.

Checkpoints hold only the trainable tensors (adapters, head, graph part): the frozen weights
come from the backbone's own files when the checkpoint is loaded.
"""

from __future__ import annotations

from torch import nn

from kgqa.training.regimes.base import RegimeInputs


class CausalLMBackbone(nn.Module):
    """A causal LM and its tokenizer, handed to model ``llm`` as its backbone.

    Args:
        lm: a Hugging Face causal LM.
        tokenizer: its tokenizer.
        name: what it was loaded from (recorded in results and checkpoints).
    """

    def __init__(self, lm: nn.Module, tokenizer, *, name: str = ""):
        super().__init__()
        self.lm = lm
        self.tokenizer = tokenizer
        self.name = name
        self.hidden_size = int(getattr(lm.config, "hidden_size", 0) or getattr(lm.config, "n_embd", 0))


def is_causal(cfg) -> bool:
    """Whether the experiment's model scores choices with a causal LM (model ``llm``)."""
    from kgqa.models.registry import get_model_class

    return bool(getattr(get_model_class(cfg.model.name), "reads_texts", False))


def prepare(cfg, splits, *, backbone=None, cache_dir=None, progress=None, accelerator=None
            ) -> RegimeInputs:
    """The backbone with LoRA adapters injected (only they train), and the collator inputs."""
    from kgqa.backbones.lora import add_lora_adapters

    lora = cfg.backbone.lora
    settings = dict(r=lora.r, alpha=lora.alpha, dropout=lora.dropout, target_modules=lora.target_modules)
    if is_causal(cfg):
        if isinstance(backbone, CausalLMBackbone):
            loaded = backbone
        else:
            from kgqa.models.llm import load_causal_lm

            lm, tokenizer = load_causal_lm(cfg.backbone.name)
            loaded = CausalLMBackbone(lm, tokenizer, name=cfg.backbone.name)
        add_lora_adapters(loaded.lm, task_type="CAUSAL_LM", **settings)
        return RegimeInputs(backbone=loaded, lm_hidden=loaded.hidden_size,
                            collate={role: {"texts": True} for role in splits},
                            derived={"model": cfg.backbone.name}, checkpoint_weights="trainable")
    from kgqa.backbones.backbone import Backbone

    if isinstance(backbone, nn.Module):
        loaded = backbone
    else:
        loaded = Backbone.from_pretrained(cfg.backbone.name, freeze="none",
                                          gradient_checkpointing=cfg.backbone.gradient_checkpointing,
                                          pooling=cfg.backbone.pooling)
    add_lora_adapters(loaded.model, **settings)
    return RegimeInputs(backbone=loaded, lm_hidden=loaded.hidden_size,
                        collate={role: {} for role in splits}, tokenized=True,
                        checkpoint_weights="trainable")


def checkpoint_lm(backbone, backbone_cfg: dict):
    """The LM an encoder model of this regime holds when its checkpoint is loaded over
    ``backbone``: the backbone with the experiment's LoRA adapters added (the checkpoint holds the
    adapters; the rest comes from the backbone's files). Causal LMs load through
    :func:`kgqa.llm.answer.load_llm_answerer`."""
    from kgqa.backbones.lora import add_lora_adapters

    backbone.freeze("none")
    add_lora_adapters(backbone.model, **(backbone_cfg.get("lora") or {}))
    return backbone

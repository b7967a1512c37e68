"""``finetune``: the whole backbone trains with the head (``training.lm_lr`` for the backbone).

With ``training.freeze_lm_steps`` (or ``freeze_lm_epochs``) the backbone is held fixed for the
first steps, as QA-GNN does, so the new head and graph part warm up before their gradients reach
the pretrained weights (:func:`kgqa.training.loop.train`).
"""

from __future__ import annotations

from kgqa.training.regimes.base import RegimeInputs


def prepare(cfg, splits, *, backbone=None, cache_dir=None, progress=None, accelerator=None
            ) -> RegimeInputs:
    """The backbone, loaded with the experiment's freezing, checkpointing and pooling."""
    from torch import nn

    from kgqa.backbones.backbone import Backbone

    if isinstance(backbone, nn.Module):
        loaded = backbone
    else:
        loaded = Backbone.from_pretrained(cfg.backbone.name, freeze=cfg.backbone.freeze,
                                          gradient_checkpointing=cfg.backbone.gradient_checkpointing,
                                          pooling=cfg.backbone.pooling)
    return RegimeInputs(backbone=loaded, lm_hidden=loaded.hidden_size,
                        collate={role: {} for role in splits}, tokenized=True)


def checkpoint_lm(backbone, backbone_cfg: dict):
    """The LM a model of this regime holds when its checkpoint is loaded over ``backbone``: the
    backbone itself (the checkpoint holds all its weights)."""
    return backbone

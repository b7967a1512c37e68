"""Training regimes: how the language model takes part in a run, one module each.

A regime turns the experiment's backbone settings and the splits into :class:`RegimeInputs`:
the module the model holds as its backbone (or none), the per-split inputs of the collator, and
the model settings it implies. The runner (:mod:`kgqa.training.runner`) calls
``get_regime(cfg.regime).prepare(...)`` and knows nothing else about regimes; loading a checkpoint
(:func:`kgqa.explain.loading.load_answerer`) calls ``get_regime(regime).checkpoint_lm(backbone,
backbone_cfg)`` for the LM the model holds.

========== ============================================================================
``frozen``    cached pooled pair states + question/choice sentence vectors; the head and graph
              part train, starting at the zero-shot baseline (:mod:`.frozen`)
``partial``   cached token states below the top ``train_layers`` layers; those layers train
              with the head and graph part (:mod:`.partial`)
``finetune``  the whole backbone trains (``lm_lr``), optionally frozen for the first steps
              (:mod:`.finetune`)
``lora``      the pretrained weights stay fixed, LoRA adapters train (``backbone.lora``):
              encoders, and causal LMs (model ``llm``) scoring choices by likelihood (:mod:`.lora`)
========== ============================================================================
"""

from __future__ import annotations

import importlib

from kgqa.training.regimes.base import RegimeInputs

REGIME_MODULES = {"frozen": "kgqa.training.regimes.frozen",
                  "partial": "kgqa.training.regimes.partial",
                  "finetune": "kgqa.training.regimes.finetune",
                  "lora": "kgqa.training.regimes.lora"}

__all__ = ["REGIME_MODULES", "RegimeInputs", "checkpoint_backbone", "get_regime", "pretrained_weights"]


def get_regime(name: str):
    """The regime module (with ``prepare(cfg, splits, ...) -> RegimeInputs`` and
    ``checkpoint_lm(backbone, backbone_cfg)``) called ``name``."""
    from kgqa.errors import Errors, KGQAError

    if name not in REGIME_MODULES:
        raise KGQAError(Errors.E030.format(location="regime", problem=(
            f"unknown regime '{name}'; choose one of {', '.join(sorted(REGIME_MODULES))}")))
    return importlib.import_module(REGIME_MODULES[name])


def checkpoint_backbone(meta: dict):
    """The packaged backbone a model of checkpoint ``meta`` (its ``config.json``) is loaded
    over, frozen, with the experiment's pooling; the regime's ``checkpoint_lm`` then builds the
    LM the model holds from it."""
    from kgqa.backbones.backbone import Backbone

    backbone_cfg = (meta.get("experiment") or {}).get("backbone") or {}
    name = meta.get("backbone") or backbone_cfg.get("name") or "minilm"
    return Backbone.from_pretrained(name, freeze="all", pooling=backbone_cfg.get("pooling") or "first")


def pretrained_weights(meta: dict) -> tuple[dict, str] | None:
    """The pretrained backbone weights a model of checkpoint ``meta`` (its ``config.json``) holds
    before its weights load, as (state-dict name -> tensor, a description), or ``None`` when it
    holds none (frozen regime, ERNIE, causal LMs).

    Built as :func:`kgqa.explain.loading.load_answerer` builds it: :func:`checkpoint_backbone`,
    then the regime's ``checkpoint_lm``, held by the model as ``backbone``. Only tensors sharing
    storage with the packaged backbone count (not, say, freshly initialised LoRA adapters).
    ``kgqa export --dtype int8`` stores the trained matrices as differences from these.
    """
    experiment = meta.get("experiment") or {}
    regime = meta.get("regime") or experiment.get("regime") or "frozen"
    if meta.get("model_name") in ("ernie", "llm") or regime not in REGIME_MODULES or regime == "frozen":
        return None  # frozen models hold no LM (checkpoint_lm is None): no backbone to load
    backbone = checkpoint_backbone(meta)
    packaged = {t.untyped_storage().data_ptr() for t in backbone.model.state_dict().values()}
    lm = get_regime(regime).checkpoint_lm(backbone, experiment.get("backbone") or {})
    if lm is None:
        return None
    weights = {f"backbone.{key}": value.detach().clone() for key, value in lm.state_dict().items()
               if value.untyped_storage().data_ptr() in packaged}
    return weights, f"backbone '{backbone.name}' as its package ships it"

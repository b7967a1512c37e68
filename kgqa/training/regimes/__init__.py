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

__all__ = ["REGIME_MODULES", "RegimeInputs", "get_regime"]


def get_regime(name: str):
    """The regime module (with ``prepare(cfg, splits, ...) -> RegimeInputs`` and
    ``checkpoint_lm(backbone, backbone_cfg)``) called ``name``."""
    from kgqa.errors import Errors, KGQAError

    if name not in REGIME_MODULES:
        raise KGQAError(Errors.E030.format(location="regime", problem=(
            f"unknown regime '{name}'; choose one of {', '.join(sorted(REGIME_MODULES))}")))
    return importlib.import_module(REGIME_MODULES[name])

"""What a training regime hands the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass
class RegimeInputs:
    """A regime's part of a run.

    Attributes:
        backbone: the module a model holds as its backbone: a
            :class:`~kgqa.backbones.Backbone` (finetune), the trainable
            :class:`~kgqa.backbones.split.TopLayers` (partial) or ``None`` (frozen).
        lm_hidden: width of the LM statement vector.
        collate: per role (``train``, ``dev``, ``test``, ...), keyword arguments of
            :class:`~kgqa.training.collate.QACollator` (cached states).
        tokenized: the collator tokenises "question [SEP] choice" pairs (with the model's
            ``encode_choices``).
        derived: model settings the regime implies, used unless the experiment sets them.
        info: what was cached where, recorded in ``results.json``.
        checkpoint_weights: ``all`` (every tensor of the model) or ``trainable`` (only those that
            train: LoRA adapters, head, graph part; the frozen rest comes from the backbone's
            files on loading).
    """

    backbone: nn.Module | None
    lm_hidden: int
    collate: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokenized: bool = False
    derived: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    checkpoint_weights: str = "all"

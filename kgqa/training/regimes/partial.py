"""``partial``: only the top ``backbone.train_layers`` layers of the backbone train.

The states entering those layers are computed once per split and cached
(:mod:`kgqa.training.lower_states`, float16 by default, memory-mapped); each training step runs
the top layers on them (:class:`~kgqa.backbones.split.TopLayers`), the head and the graph part.
A training step then runs ``N`` of the ``L`` layers (``benchmarks/training.py`` measures the
epoch minutes per ``N``).
"""

from __future__ import annotations

from kgqa.training.regimes.base import RegimeInputs


def prepare(cfg, splits, *, backbone=None, cache_dir=None, progress=None, accelerator=None
            ) -> RegimeInputs:
    """The top layers (trainable) and the cached lower states of every split."""
    import contextlib

    from torch import nn

    from kgqa.backbones.backbone import Backbone
    from kgqa.backbones.split import TopLayers, num_lower_layers
    from kgqa.errors import Errors, KGQAError
    from kgqa.training.lower_states import load_or_compute_lower_states

    if cfg.backbone.train_layers is None:
        raise KGQAError(Errors.E030.format(location="backbone.train_layers", problem=(
            "regime 'partial' needs backbone.train_layers: how many top layers train")))
    if isinstance(backbone, nn.Module):
        loaded = backbone
    else:
        loaded = Backbone.from_pretrained(cfg.backbone.name, freeze="all", pooling=cfg.backbone.pooling)
    num_lower = num_lower_layers(loaded, cfg.backbone.train_layers)
    collate, info = {}, {}
    first = accelerator.main_process_first() if accelerator is not None else contextlib.nullcontext()
    with first:
        for role, split in splits.items():
            cached = load_or_compute_lower_states(
                loaded, split, num_lower=num_lower, max_length=cfg.backbone.max_length,
                dtype=cfg.backbone.lower_states_dtype, batch_size=cfg.backbone.feature_batch_size,
                cache_dir=cache_dir, progress=progress)
            collate[role] = {"lower_states": cached}
            info[role] = {"path": str(cached.path), "hit": cached.hit, "seconds": cached.seconds,
                          "num_lower": num_lower}
    top = TopLayers(loaded, num_lower)
    return RegimeInputs(backbone=top, lm_hidden=loaded.hidden_size, collate=collate, info=info)


def checkpoint_lm(backbone, backbone_cfg: dict):
    """The LM a model of this regime holds when its checkpoint is loaded over ``backbone``: the
    top ``train_layers`` layers, views of the backbone's own (the checkpoint holds their weights)."""
    from kgqa.backbones.split import TopLayers, num_lower_layers

    return TopLayers(backbone, num_lower_layers(backbone, backbone_cfg.get("train_layers") or 1))

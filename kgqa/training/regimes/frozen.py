"""``frozen``: the backbone never trains; its states are cached once and only the head (and
graph part) train, starting exactly at the zero-shot baseline.

The cache (:mod:`kgqa.training.features`) holds per split the pooled pair states (of the last
layer, or of the top ``backbone.state_layers`` hidden states concatenated) and the
sentence embeddings of each question and choice alone; models get ``prior: cosine``
(:class:`~kgqa.nn.ZeroShotPrior`) unless the experiment says otherwise.
"""

from __future__ import annotations

from kgqa.training.regimes.base import RegimeInputs


def prepare(cfg, splits, *, backbone=None, cache_dir=None, progress=None, accelerator=None
            ) -> RegimeInputs:
    """Cached states of every split (computed on a miss with every core)."""
    import contextlib

    from kgqa.training.features import load_or_compute_states

    source = backbone if backbone is not None and not isinstance(backbone, str) else cfg.backbone.name
    collate, info = {}, {}
    first = accelerator.main_process_first() if accelerator is not None else contextlib.nullcontext()
    with first:  # one process computes, the others read the cache
        for role, split in splits.items():
            cached = load_or_compute_states(source, split, max_length=cfg.backbone.max_length,
                                            pooling=cfg.backbone.pooling,
                                            batch_size=cfg.backbone.feature_batch_size,
                                            state_layers=cfg.backbone.state_layers,
                                            cache_dir=cache_dir, progress=progress)
            collate[role] = {"lm_states": cached.states, "sentence_vectors": cached.sentence_vectors()}
            info[role] = {"path": str(cached.path), "hit": cached.hit,
                          "pairs_per_second": round(cached.pairs_per_second, 1)}
    first = next(iter(collate.values()))
    lm_hidden = first["lm_states"].shape[-1]
    derived = {"prior": "cosine"}
    vectors = first["sentence_vectors"]
    if vectors is not None and vectors[0].shape[-1] != lm_hidden:  # several layers per pair state
        derived["prior_dim"] = int(vectors[0].shape[-1])
    return RegimeInputs(backbone=None, lm_hidden=lm_hidden, collate=collate, derived=derived, info=info)


def checkpoint_lm(backbone, backbone_cfg: dict):
    """The LM a model of this regime holds when its checkpoint is loaded over ``backbone`` (a
    frozen :class:`~kgqa.backbones.Backbone`): none, the model reads cached states."""
    return None

"""Weight-only int8 storage for exported checkpoints (``kgqa export --dtype int8``).

Each weight matrix of at least ``min_elements`` entries is stored as int8 rows with one float32
scale per row (:func:`kgqa.utils.quantize.quantize_rows`: symmetric absmax,
:math:`\\hat W_{ij} = s_i Q_{ij}`, every entry within :math:`s_i / 2`). This is the
per-output-channel weight path of LLM.int8() (Dettmers et al., 2022) without its outlier
decomposition: the file is about a quarter of float32 and half of float16, and loading
dequantises into the model's float32 parameters, so inference code is unchanged. Vectors
(biases, LayerNorm) and small matrices stay float16. Shapes: ``Q`` (r, c) int8 under the
parameter's name, ``s`` (r,) float32 under the name + :data:`SCALE_SUFFIX`.

**Differences from a base.** A matrix that also exists in ``base`` (the weights the model is
built with before the checkpoint loads: a pretrained backbone's, which come from its package)
is stored as the int8 difference :math:`W - W_0`, scales under the name +
:data:`DELTA_SCALE_SUFFIX`, and loads as :math:`W_0 + s_i Q_{ij}`. Fine-tuning moves weights
little (the trained MiniLM layers of the default model differ from the pretrained ones by 3.2%
of their norm), so the step :math:`s_i` shrinks to 2-5% of the weights' own at the same size.
:func:`base_digest` fingerprints the base, so loading over other weights is caught.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import torch

from kgqa.utils.quantize import dequantize_rows, quantize_rows

SCALE_SUFFIX = ".__int8_scale__"
"""Key suffix of a quantised matrix's per-row scales in the safetensors file."""

DELTA_SCALE_SUFFIX = ".__int8_delta_scale__"
"""Key suffix of the per-row scales of a matrix stored as its int8 difference from the base."""


def base_digest(base: Mapping[str, torch.Tensor], names) -> str:
    """sha256 over ``names`` (sorted) and the float32 bytes of their ``base`` tensors."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0")
        digest.update(base[name].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def quantize_int8(tensors: dict[str, torch.Tensor], *, min_elements: int = 4096,
                  base: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Per-row int8 copies of the floating matrices of ``tensors`` (see the module docstring).

    Args:
        tensors: a state dict (name -> tensor).
        min_elements: matrices with fewer entries (and all vectors) are stored as float16.
        base: weights the loader's model already holds; a quantised matrix with a same-shaped
            entry here is stored as its difference from it.

    Returns:
        A new dict: int8 matrices with their ``SCALE_SUFFIX`` (or ``DELTA_SCALE_SUFFIX``)
        scales, float16 for the other floating tensors, non-floating tensors unchanged.
    """
    base = base or {}
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if not value.is_floating_point():
            out[name] = value
        elif value.dim() == 2 and value.numel() >= min_elements:
            table = value.detach().float().cpu()
            suffix = SCALE_SUFFIX
            start = base.get(name)
            if start is not None and tuple(start.shape) == tuple(table.shape):
                table, suffix = table - start.detach().float().cpu(), DELTA_SCALE_SUFFIX
            rows, scale = quantize_rows(table.numpy(), scale_dtype=np.float32)
            out[name] = torch.from_numpy(rows)
            out[name + suffix] = torch.from_numpy(scale)
        else:
            out[name] = value.to(torch.float16)
    return out


def delta_names(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    """The names of the matrices ``tensors`` stores as differences from a base."""
    return [key[: -len(DELTA_SCALE_SUFFIX)] for key in tensors if key.endswith(DELTA_SCALE_SUFFIX)]


def dequantize_int8(tensors: dict[str, torch.Tensor], *,
                    base: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Undo :func:`quantize_int8`: float32 matrices for the quantised ones, the rest unchanged.

    A file without scale entries is returned as it is, so every export loads through here.

    Args:
        tensors: the file's tensors.
        base: the weights differences were taken from (needed only when the file has some).

    Raises:
        ValueError: a scale without its int8 matrix, or one whose length is not its row count;
            a difference whose base is not given or has another shape.
    """
    out = {name: value for name, value in tensors.items()
           if not name.endswith((SCALE_SUFFIX, DELTA_SCALE_SUFFIX))}
    for key, scale in tensors.items():
        if key.endswith(SCALE_SUFFIX):
            name = key[: -len(SCALE_SUFFIX)]
        elif key.endswith(DELTA_SCALE_SUFFIX):
            name = key[: -len(DELTA_SCALE_SUFFIX)]
        else:
            continue
        q = tensors.get(name)
        if q is None or q.dtype != torch.int8 or q.dim() != 2 or tuple(scale.shape) != (q.shape[0],):
            raise ValueError(f"int8 scale '{key}' does not match a quantised matrix '{name}'")
        value = torch.from_numpy(dequantize_rows(q.numpy(), scale.float().numpy()))
        if key.endswith(DELTA_SCALE_SUFFIX):
            start = (base or {}).get(name)
            if start is None or tuple(start.shape) != tuple(q.shape):
                raise ValueError(f"'{name}' is stored as a difference from base weights, and "
                                 f"{'no base was given' if start is None else 'the base has another shape'}")
            value = start.detach().float().cpu() + value
        out[name] = value
    return out

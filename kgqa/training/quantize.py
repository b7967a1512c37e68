"""Weight-only int8 storage for exported checkpoints (``kgqa export --dtype int8``).

Each weight matrix of at least ``min_elements`` entries is stored as int8 rows with one float32
scale per row (:func:`kgqa.utils.quantize.quantize_rows`: symmetric absmax,
:math:`\\hat W_{ij} = s_i Q_{ij}`, every entry within :math:`s_i / 2`). This is the
per-output-channel weight path of LLM.int8() (Dettmers et al., 2022) without its outlier
decomposition: the file is about a quarter of float32 and half of float16, and loading
dequantises into the model's float32 parameters, so inference code is unchanged. Vectors
(biases, LayerNorm) and small matrices stay float16. Shapes: ``Q`` (r, c) int8 under the
parameter's name, ``s`` (r,) float32 under the name + :data:`SCALE_SUFFIX`.
"""

from __future__ import annotations

import numpy as np
import torch

from kgqa.utils.quantize import dequantize_rows, quantize_rows

SCALE_SUFFIX = ".__int8_scale__"
"""Key suffix of a quantised matrix's per-row scales in the safetensors file."""


def quantize_int8(tensors: dict[str, torch.Tensor], *, min_elements: int = 4096
                  ) -> dict[str, torch.Tensor]:
    """Per-row int8 copies of the floating matrices of ``tensors`` (see the module docstring).

    Args:
        tensors: a state dict (name -> tensor).
        min_elements: matrices with fewer entries (and all vectors) are stored as float16.

    Returns:
        A new dict: int8 matrices with their ``SCALE_SUFFIX`` scales, float16 for the other
        floating tensors, non-floating tensors unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if not value.is_floating_point():
            out[name] = value
        elif value.dim() == 2 and value.numel() >= min_elements:
            rows, scale = quantize_rows(value.detach().float().cpu().numpy(), scale_dtype=np.float32)
            out[name] = torch.from_numpy(rows)
            out[name + SCALE_SUFFIX] = torch.from_numpy(scale)
        else:
            out[name] = value.to(torch.float16)
    return out


def dequantize_int8(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Undo :func:`quantize_int8`: float32 matrices for the quantised ones, the rest unchanged.

    A file without scale entries is returned as it is, so every export loads through here.

    Raises:
        ValueError: a scale without its int8 matrix, or one whose length is not its row count.
    """
    out = {name: value for name, value in tensors.items() if not name.endswith(SCALE_SUFFIX)}
    for key, scale in tensors.items():
        if not key.endswith(SCALE_SUFFIX):
            continue
        name = key[: -len(SCALE_SUFFIX)]
        q = tensors.get(name)
        if q is None or q.dtype != torch.int8 or q.dim() != 2 or tuple(scale.shape) != (q.shape[0],):
            raise ValueError(f"int8 scale '{key}' does not match a quantised matrix '{name}'")
        out[name] = torch.from_numpy(dequantize_rows(q.numpy(), scale.float().numpy()))
    return out

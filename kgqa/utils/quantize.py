"""Symmetric per-row int8 quantisation, shared by the shipped KGE table (:mod:`kgqa.kge.artifacts`)
and int8 checkpoint exports (:mod:`kgqa.training.quantize`).

For a table :math:`X \\in \\mathbb{R}^{r \\times c}`:
:math:`s_i = \\max_j |X_{ij}| / 127`, :math:`Q_{ij} = \\mathrm{round}(X_{ij} / s_i) \\in [-127, 127]`,
:math:`\\hat X_{ij} = s_i Q_{ij}`, so each entry is within :math:`s_i / 2` of its value (plus
the rounding of :math:`s_i` to ``scale_dtype``).
"""

from __future__ import annotations

import numpy as np


def quantize_rows(table: np.ndarray, *, scale_dtype=np.float16) -> tuple[np.ndarray, np.ndarray]:
    """``(int8 rows (r, c), scales (r,))`` with ``table ~ scales[:, None] * rows``.

    Args:
        table: an ``(r, c)`` array.
        scale_dtype: the scales' storage dtype; the rows are quantised with the stored (rounded)
            scales, so :func:`dequantize_rows` is exact up to the int8 rounding.
    """
    table = np.asarray(table, dtype=np.float32)
    scale = np.abs(table).max(axis=1) / 127.0
    stored = np.maximum(scale, np.finfo(scale_dtype).tiny).astype(scale_dtype)
    rows = np.clip(np.rint(table / stored.astype(np.float32)[:, None]), -127, 127).astype(np.int8)
    return rows, stored


def dequantize_rows(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float32 ``scale[:, None] * rows``: the inverse of :func:`quantize_rows`."""
    return rows.astype(np.float32) * scale.astype(np.float32)[:, None]

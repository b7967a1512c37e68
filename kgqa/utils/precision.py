"""Which mixed precision a run uses: bf16 on GPUs and on CPUs that compute it natively."""

from __future__ import annotations

import torch


def cpu_supports_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): autocast to bf16 then
    speeds up a transformer step (1.1-1.6x for a MiniLM step on this project's 2-core CPU,
    ``benchmarks/results/training.json``; more at longer sequences); elsewhere it is emulated
    and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and (
            bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
            or bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()))
    except (AttributeError, RuntimeError):
        return False


def resolve_mixed_precision(mixed_precision: str = "auto") -> str:
    """``auto`` -> ``bf16`` on GPUs and CPUs that support it, ``fp16`` on older GPUs, else
    ``no``; other values pass through."""
    if mixed_precision != "auto":
        return mixed_precision
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_supports_bf16() else "no"

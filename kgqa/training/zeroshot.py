"""The zero-shot floor: sentence-embedding cosine between a question and each of its choices.

No training, no graph: the answer is the choice whose MiniLM sentence embedding is closest to the
question's,

.. math::
    \\hat{y} = \\arg\\max_c \\cos\\big(f(q), f(a_c)\\big),

with :math:`f` the mean-pooled, unit-normalised all-MiniLM-L6-v2 embedding
(:class:`kgqa.encoders.SentenceEncoder`). On CommonsenseQA every trained model must clear it by
far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.data.records import QADataset
    from kgqa.encoders.sentence import SentenceEncoder


def zeroshot_logits(dataset: QADataset, encoder: SentenceEncoder, *, batch_size: int = 256
                    ) -> torch.Tensor:
    """Cosine similarity of each question with each of its choices.

    Args:
        dataset: the split (every question with the same number of choices ``C``).
        encoder: a sentence encoder whose ``encode(texts)`` returns unit vectors ``(n, D)``.

    Returns:
        ``(N, C)`` float32 logits (cosines).
    """
    examples = list(dataset)
    num_choices = examples[0].num_choices
    questions = np.asarray(encoder.encode([ex.question for ex in examples], batch_size=batch_size))
    # many CommonsenseQA choices repeat: encode each distinct text once
    texts = sorted({c for ex in examples for c in ex.choices})
    index = {t: i for i, t in enumerate(texts)}
    choice_vectors = np.asarray(encoder.encode(texts, batch_size=batch_size))
    rows = np.array([[index[c] for c in ex.choices] for ex in examples]).reshape(-1)
    choices = choice_vectors[rows].reshape(len(examples), num_choices, -1)
    return torch.from_numpy(np.einsum("nd,ncd->nc", questions, choices).astype(np.float32))


def zeroshot_accuracy(logits: torch.Tensor, dataset: QADataset) -> float:
    """Fraction of questions whose highest-scoring choice is the labelled one."""
    labels = torch.tensor([ex.label for ex in dataset], dtype=torch.long)
    return float((logits.argmax(-1) == labels).float().mean())

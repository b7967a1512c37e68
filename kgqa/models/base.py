"""The contract every reasoning model follows: a typed batch in, a typed output out.

Like transformers' ``*ForMultipleChoice``: ``logits`` are ``(batch, num_choices)``; ``loss`` is
computed only when ``labels`` are given; explanations (path/node/edge attention) are optional
typed fields, never positional tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Batch


@dataclass
class QABatch:
    """A batch of multiple-choice questions with their per-choice graphs.

    Attributes:
        ids: question ids, length ``B``.
        num_choices: ``C`` (the same for every question in a batch).
        labels: (B,) long, index of the right choice; ``None`` at inference.
        input_ids, attention_mask, token_type_ids: (B, C, L) tokenised "question [SEP] choice"
            pairs (``finetune`` regime); ``None`` when ``lm_states`` are given.
        lm_states: (B, C, H) float, cached pooled states of a frozen backbone (``frozen`` regime).
        question_vectors: (B, H) unit sentence embeddings of the questions alone, and
        choice_vectors: (B, C, H) of the choices alone (the frozen cache's; read by the
            zero-shot prior, :class:`~kgqa.nn.ZeroShotPrior`).
        lower_states: (B, C, L, H) cached hidden states below the trained top layers
            (``partial`` regime), with ``attention_mask`` (B, C, L).
        graphs: a ``torch_geometric.data.Batch`` of ``B * C`` per-choice graphs in
            question-major order (graph ``b * C + c`` belongs to question ``b``, choice ``c``).
        extras: model-specific tensors (e.g. ERNIE's token-entity alignment).
    """

    ids: list[str]
    num_choices: int
    labels: torch.Tensor | None = None
    input_ids: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    token_type_ids: torch.Tensor | None = None
    lm_states: torch.Tensor | None = None
    question_vectors: torch.Tensor | None = None
    choice_vectors: torch.Tensor | None = None
    lower_states: torch.Tensor | None = None
    graphs: Batch | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return len(self.ids)

    def to(self, device: torch.device | str) -> "QABatch":
        """Move every tensor (and the PyG batch) to ``device``."""
        moved = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if hasattr(value, "to") and not isinstance(value, (str, list)):
                value = value.to(device)
            elif isinstance(value, dict):
                value = {k: v.to(device) if hasattr(v, "to") else v for k, v in value.items()}
            moved[f.name] = value
        return QABatch(**moved)


@dataclass
class QAModelOutput:
    """What every model returns.

    Attributes:
        logits: (B, C) unnormalised choice scores.
        loss: scalar cross-entropy, only when ``labels`` were given.
        path_attention: (P_total,) attention over paths (KagNet), aligned with the batch's
            ``path_*`` tensors; ``None`` for models without paths.
        node_attention: (N_total,) attention/relevance over subgraph nodes (QA-GNN pooling).
        edge_attention: (E_total, heads) message-passing attention (QA-GNN).
        graph_vectors: (B, C, D) graph representations, for analysis.
    """

    logits: torch.Tensor
    loss: torch.Tensor | None = None
    path_attention: torch.Tensor | None = None
    node_attention: torch.Tensor | None = None
    edge_attention: torch.Tensor | None = None
    graph_vectors: torch.Tensor | None = None


def multiple_choice_loss(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """Cross-entropy over choices, or ``None`` without labels."""
    if labels is None:
        return None
    return torch.nn.functional.cross_entropy(logits, labels)

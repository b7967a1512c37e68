"""ERNIE's pretraining objectives: the denoising entity auto-encoder (dEA) and masked LM.

dEA (Zhang et al., ACL 2019, section 3.4, and ``run_pretrain.py`` of thunlp/ERNIE): of the
token-entity alignments of a batch,

* 5% have their entity **replaced** by another entity drawn uniformly from the *batch's*
  distinct entities (kept when the batch has no other entity);
* 15% have their entity **masked**: the token keeps no entity (id ``-1``);
* the rest (80%) are kept;

and the model predicts, at every aligned token, the original entity among the batch's distinct
entities (ERNIE's ``ent_candidate``):

.. math::
    p(e_j \\mid w_j) = \\frac{\\exp(\\mathrm{linear}(w^o_j) \\cdot e_j)}
    {\\sum_{k=1}^{m} \\exp(\\mathrm{linear}(w^o_j) \\cdot e_k)}

with :math:`m` the number of distinct entities in the batch. ``scope="sequence"`` draws the
replacements and the candidates from each sequence's own entities instead (2-5 for a
CommonsenseQA question, which makes the task nearly trivial). MLM is BERT's: 15% of the word
pieces, 80% of them ``[MASK]``, 10% a random piece, 10% unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KEEP, MASKED, REPLACED = 0, 1, 2
IGNORE = -100


@dataclass
class DEACorruption:
    """Corrupted entity inputs and the dEA targets.

    Attributes:
        input_entity_ids: ``(N, L)`` entity ids fed to the encoder (``-1`` = none).
        candidates: ``(N, M)`` the entities each row is predicted among, ``-1`` padded: the
            batch's distinct entities in every row (``scope="batch"``) or the row's own.
        targets: ``(N, L)`` index into ``candidates`` of the original entity at aligned
            tokens, ``-100`` elsewhere.
        corruption: ``(N, L)`` ``0`` kept, ``1`` masked, ``2`` replaced (by another entity),
            ``-1`` no alignment.
    """

    input_entity_ids: Tensor
    candidates: Tensor
    targets: Tensor
    corruption: Tensor


def sequence_entities(entity_ids: Tensor) -> tuple[Tensor, Tensor]:
    """Distinct entities per sequence: ``(N, M)`` ids (``-1`` padded) and ``(N, L)`` the index
    of each token's entity in its row (``-100`` without entity)."""
    n, length = entity_ids.shape
    rows = [torch.unique(entity_ids[i][entity_ids[i] >= 0]) for i in range(n)]
    width = max([len(r) for r in rows] + [1])
    candidates = torch.full((n, width), -1, dtype=torch.long, device=entity_ids.device)
    targets = torch.full((n, length), IGNORE, dtype=torch.long, device=entity_ids.device)
    for i, row in enumerate(rows):
        candidates[i, :len(row)] = row
        aligned = entity_ids[i] >= 0
        if aligned.any():
            targets[i, aligned] = torch.searchsorted(row, entity_ids[i][aligned])
    return candidates, targets


def batch_entities(entity_ids: Tensor) -> tuple[Tensor, Tensor]:
    """The batch's distinct entities as every row's candidates: ``(N, M)`` ids and ``(N, L)`` the
    index of each token's entity among them (``-100`` without entity)."""
    n, length = entity_ids.shape
    aligned = entity_ids >= 0
    row = torch.unique(entity_ids[aligned])
    if row.numel() == 0:
        row = torch.full((1,), -1, dtype=torch.long, device=entity_ids.device)
    targets = torch.full((n, length), IGNORE, dtype=torch.long, device=entity_ids.device)
    targets[aligned] = torch.searchsorted(row, entity_ids[aligned])
    return row.unsqueeze(0).expand(n, -1).clone(), targets


def dea_corrupt(entity_ids: Tensor, *, mask_prob: float = 0.15, replace_prob: float = 0.05,
                scope: str = "batch", generator: torch.Generator | None = None) -> DEACorruption:
    """Apply dEA's corruption to ``(N, L)`` aligned entity ids (see the module docstring).

    Args:
        entity_ids: ``(N, L)`` entity id of each token, ``-1`` without one.
        mask_prob: share of alignments whose entity is removed (ERNIE: 15%).
        replace_prob: share replaced by another entity (ERNIE: 5%).
        scope: ``"batch"`` (ERNIE's code: replacements and candidates from the batch's
            entities) or ``"sequence"`` (from the row's own entities).
        generator: random generator.
    """
    if mask_prob < 0 or replace_prob < 0 or mask_prob + replace_prob > 1:
        raise ValueError(f"mask_prob {mask_prob} + replace_prob {replace_prob} must be within [0, 1]")
    if scope not in ("batch", "sequence"):
        raise ValueError(f"scope must be 'batch' or 'sequence', got {scope!r}")
    candidates, targets = batch_entities(entity_ids) if scope == "batch" else sequence_entities(entity_ids)
    aligned = entity_ids >= 0
    draw = torch.rand(entity_ids.shape, generator=generator, device=entity_ids.device)
    replaced = aligned & (draw < replace_prob)
    masked = aligned & (draw >= replace_prob) & (draw < replace_prob + mask_prob)
    counts = (candidates >= 0).sum(dim=1)
    replaced &= (counts > 1).unsqueeze(1)  # nothing else to draw: the alignment is kept
    corruption = torch.full_like(entity_ids, -1)
    corruption[aligned] = KEEP
    corruption[masked] = MASKED
    inputs = entity_ids.clone()
    inputs[masked] = -1
    if replaced.any():
        rows, cols = replaced.nonzero(as_tuple=True)
        sizes = counts[rows]
        # another candidate, uniformly: offset 1..m-1 from the original's index (mod m)
        offset = 1 + (torch.rand(len(rows), generator=generator, device=entity_ids.device) * (sizes - 1)).long()
        inputs[rows, cols] = candidates[rows, (targets[rows, cols] + offset) % sizes]
        corruption[rows, cols] = REPLACED
    return DEACorruption(inputs, candidates, targets, corruption)


def mlm_mask(input_ids: Tensor, special_mask: Tensor, *, mask_token_id: int, vocab_size: int,
             prob: float = 0.15, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """BERT masking: ``(masked input ids, labels)`` with labels ``-100`` where not predicted.

    Args:
        input_ids: ``(N, L)`` token ids.
        special_mask: ``(N, L)`` True at special and padding tokens (never masked).
    """
    draw = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    chosen = (draw < prob) & ~special_mask.to(torch.bool)
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE))
    kind = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    masked = input_ids.clone()
    masked[chosen & (kind < 0.8)] = mask_token_id
    randomise = chosen & (kind >= 0.8) & (kind < 0.9)
    masked[randomise] = torch.randint(vocab_size, (int(randomise.sum()),), generator=generator,
                                      device=input_ids.device)
    return masked, labels


class MaskedLMHead(nn.Module):
    """Transform + decoder tied to the word embeddings: ``(N, L, H) -> (N, L, V)``."""

    def __init__(self, hidden_size: int, word_embeddings: nn.Embedding, *, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.word_embeddings = [word_embeddings]  # a list: not registered twice in the state dict
        width = word_embeddings.weight.shape[1]
        self.transform = nn.Linear(hidden_size, width)
        self.layer_norm = nn.LayerNorm(width, eps=layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(word_embeddings.weight.shape[0]))

    def forward(self, states: Tensor) -> Tensor:
        x = self.layer_norm(F.gelu(self.transform(states)))
        return x @ self.word_embeddings[0].weight.t() + self.bias


class EntityPredictionHead(nn.Module):
    """dEA's head: ``linear(w_j) . e_k`` over each sequence's candidate entities ``(N, L, M)``."""

    def __init__(self, hidden_size: int, entity_size: int, *, layer_norm_eps: float = 1e-12):
        super().__init__()
        self.transform = nn.Linear(hidden_size, entity_size)
        self.layer_norm = nn.LayerNorm(entity_size, eps=layer_norm_eps)

    def forward(self, states: Tensor, candidate_vectors: Tensor, candidate_mask: Tensor) -> Tensor:
        query = self.layer_norm(F.gelu(self.transform(states)))
        logits = torch.einsum("nld,nmd->nlm", query, candidate_vectors)
        return logits.masked_fill(~candidate_mask[:, None, :], torch.finfo(logits.dtype).min)

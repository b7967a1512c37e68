"""The zero-shot sentence-embedding cosine as a trainable prior of a multiple-choice scorer."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kgqa.nn.mlp import MLP


def zero_last_linear(module: nn.Module) -> nn.Module:
    """Zero the weight and bias of the last ``nn.Linear`` inside ``module`` (in place), so the
    module's output is 0 until training moves it; returns ``module``."""
    last = None
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            last = sub
    if last is None:
        raise ValueError(f"{type(module).__name__} has no nn.Linear to zero")
    with torch.no_grad():
        last.weight.zero_()
        if last.bias is not None:
            last.bias.zero_()
    return module


class ZeroShotPrior(nn.Module):
    r"""Score choices by the zero-shot cosine of sentence embeddings, plus what training learns.

    For the unit sentence embeddings :math:`\mathbf{q}` of the question and
    :math:`\mathbf{a}_c` of choice :math:`c` (mean-pooled, normalised; the zero-shot baseline
    ranks choices by :math:`\cos(\mathbf{q}, \mathbf{a}_c)`),

    .. math::
        s_c = e^{\tau} \cos\big(A(\mathbf{q}), A(\mathbf{a}_c)\big) + g(\mathbf{f}_c),
        \qquad A(\mathbf{x}) = \mathbf{x} + \mathbf{U}\,\mathrm{GELU}(\mathbf{V}\mathbf{x}),

    with a learned temperature :math:`\tau` (initialised to :math:`\log` ``scale``), an optional
    residual adapter :math:`A` (``adapter > 0``; :math:`\mathbf{U} = 0` at init) and an
    interaction head :math:`g` (last layer zero at init): a 2-layer MLP of width ``hidden``
    (``interaction="mlp"``, ``hidden > 0``), one linear layer (``"linear"``) or none. Its features
    :math:`\mathbf{f}_c` are :math:`[\mathbf{q} \odot \mathbf{a}_c,\ |\mathbf{q} - \mathbf{a}_c|]`
    (``features="product"``) or InferSent's full set
    :math:`[\mathbf{q},\ \mathbf{a}_c,\ \mathbf{q} \odot \mathbf{a}_c,\ |\mathbf{q} - \mathbf{a}_c|]`
    (``"infersent"``). With the choice vector itself a linear head can learn a per-choice offset of
    the cosine (some answers are close to every question; on CommonsenseQA a linear layer on the
    choice vector alone, without the question, scores 22.1% on an IH-train holdout and 22.6% IHdev,
    near the 20% of chance: ``benchmarks/frozen_heads.py``). At initialisation
    :math:`s_c = e^{\tau} \cos(\mathbf{q}, \mathbf{a}_c)`: a model that adds :math:`s` to its
    own scorer, whose last layer is also zero-initialised (:func:`zero_last_linear`), predicts
    exactly what the zero-shot baseline predicts before its first step, so early stopping on a
    dev set can only keep something at least as good (kgqa; the interaction features
    :math:`[\mathbf{u} \odot \mathbf{v}, |\mathbf{u} - \mathbf{v}|]` are InferSent's, Conneau et
    al., EMNLP 2017).

    Args:
        dim: width :math:`H` of the sentence embeddings.
        hidden: hidden width of :math:`g` when ``interaction="mlp"`` (``0``: no interaction term).
        interaction: ``"mlp"``, ``"linear"`` or ``"none"``.
        features: ``"product"`` or ``"infersent"``.
        adapter: hidden width of the adapter :math:`A` (``0``: identity).
        scale: initial :math:`e^{\tau}`.
        dropout: dropout inside :math:`g` and :math:`A`.

    Shapes:
        - **input:** ``question_vectors`` :math:`(B, H)`, ``choice_vectors`` :math:`(B, C, H)`
        - **output:** scores :math:`(B \cdot C,)`, question-major
    """

    INTERACTIONS = ("mlp", "linear", "none")
    FEATURES = ("product", "infersent")

    def __init__(self, dim: int, *, hidden: int = 256, adapter: int = 0, scale: float = 20.0,
                 dropout: float = 0.1, interaction: str = "mlp", features: str = "product"):
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if interaction not in self.INTERACTIONS:
            raise ValueError(f"interaction must be one of {self.INTERACTIONS}, got {interaction!r}")
        if features not in self.FEATURES:
            raise ValueError(f"features must be one of {self.FEATURES}, got {features!r}")
        self.dim = dim
        self.features = features
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        self.adapter = None
        if adapter > 0:
            self.adapter = zero_last_linear(MLP(dim, adapter, dim, num_layers=2, dropout=dropout))
        width = (2 if features == "product" else 4) * dim
        self.interaction = None
        if interaction == "mlp" and hidden > 0:
            self.interaction = zero_last_linear(MLP(width, hidden, 1, num_layers=2,
                                                    dropout=dropout, layer_norm=True))
        elif interaction == "linear":
            self.interaction = zero_last_linear(nn.Sequential(nn.Dropout(dropout),
                                                              nn.Linear(width, 1)))

    def forward(self, question_vectors: Tensor, choice_vectors: Tensor) -> Tensor:
        if question_vectors.dim() != 2 or choice_vectors.dim() != 3 or \
                choice_vectors.shape[0] != question_vectors.shape[0] or \
                question_vectors.shape[-1] != self.dim or choice_vectors.shape[-1] != self.dim:
            raise ValueError(f"expected question_vectors (B, {self.dim}) and choice_vectors "
                             f"(B, C, {self.dim}); got {tuple(question_vectors.shape)} and "
                             f"{tuple(choice_vectors.shape)}")
        q = question_vectors.float().unsqueeze(1).expand_as(choice_vectors)
        a = choice_vectors.float()
        qa, qb = (q + self.adapter(q), a + self.adapter(a)) if self.adapter is not None else (q, a)
        # in fp32 even under bf16 autocast: 20 x cos in bf16 is rounded to 1/16, which can
        # reorder choices the zero-shot cosine tells apart
        with torch.autocast(device_type=q.device.type, enabled=False):
            scores = self.log_scale.exp() * nn.functional.cosine_similarity(
                qa.float(), qb.float(), dim=-1)
        if self.interaction is not None:
            parts = [q * a, (q - a).abs()]
            if self.features == "infersent":
                parts = [q, a, *parts]
            scores = scores + self.interaction(torch.cat(parts, dim=-1)).squeeze(-1)
        return scores.reshape(-1)

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, scale={self.log_scale.exp().item():.3g}, "
                f"features={self.features}")

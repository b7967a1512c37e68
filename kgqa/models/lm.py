"""``lm``: the language model alone, the baseline every KG-augmented QA paper reports."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from kgqa.models.base import QABatch, QAModelOutput
from kgqa.models.common import PriorConfig, QAModel, model_error
from kgqa.models.registry import register_model


@dataclass
class LMConfig(PriorConfig):
    """Settings of :class:`LMOnly`.

    Attributes:
        lm_hidden_size: width :math:`H` of the pooled LM vector (set from the backbone).
        dropout: dropout on the pooled vector before the scorer.
        scorer_hidden: ``0`` for a linear scorer (``BertForMultipleChoice``); ``> 0`` for a
            2-layer MLP scorer of that width (the graph models' scorer size, for a fair frozen
            baseline: a linear head on fixed states is weaker than any MLP head).
        pair_state: score the pair state (``True``, the model as ``BertForMultipleChoice``);
            ``False`` leaves only the zero-shot prior, so a frozen LM-only model is a head on the
            question's and the choices' sentence embeddings (needs ``prior: cosine``).
        prior, prior_hidden, prior_interaction, prior_features, prior_adapter, prior_scale,
            prior_dim: the zero-shot prior (:class:`~kgqa.models.common.PriorConfig`).
    """

    lm_hidden_size: int = 384
    dropout: float = 0.1
    scorer_hidden: int = 0
    pair_state: bool = True


@register_model("lm")
class LMOnly(QAModel):
    r"""LM-only multiple choice, as ``BertForMultipleChoice``.

    Each (question, choice) pair is encoded as one sequence; the first token's last hidden state
    :math:`\mathbf{s}_{c}` is scored by a linear layer,

    .. math::
        \mathrm{logit}_c = \mathbf{w}^\top \mathrm{Dropout}(\mathbf{s}_c) + b, \qquad
        \mathcal{L} = -\log \operatorname{softmax}_c(\mathrm{logit})_{y}.

    Args:
        config: :class:`LMConfig` (or a dict of its fields).
        backbone: a :class:`~kgqa.backbones.Backbone` (``finetune`` regime); ``None`` for
            ``frozen`` batches that carry ``lm_states``.
        node_features: ignored (accepted so every model is built the same way).

    Shapes:
        - **input:** :class:`~kgqa.models.base.QABatch` with ``input_ids`` :math:`(B, C, L)` or
          ``lm_states`` :math:`(B, C, H)`
        - **output:** :class:`~kgqa.models.base.QAModelOutput` with ``logits`` :math:`(B, C)`
    """

    config_class = LMConfig

    def __init__(self, config: LMConfig | dict | None = None, backbone: nn.Module | None = None,
                 *, node_features=None):  # node_features: unused, accepted like the graph models
        super().__init__(config, backbone)
        self.dropout = nn.Dropout(self.config.dropout)
        self.scorer = None
        if not self.config.pair_state:
            if self.prior is None:
                raise model_error(self.model_name, (
                    "pair_state: false leaves nothing to score without the zero-shot prior; set "
                    "prior: cosine (the frozen regime's default) or pair_state: true"))
        elif self.config.scorer_hidden > 0:
            from kgqa.nn.mlp import MLP

            self.scorer = MLP(self.config.lm_hidden_size, self.config.scorer_hidden, 1,
                              dropout=self.config.dropout)
        else:
            self.scorer = nn.Linear(self.config.lm_hidden_size, 1)
        if self.scorer is not None:
            self.start_at_prior(self.scorer)

    def forward(self, batch: QABatch) -> QAModelOutput:
        if self.scorer is None:  # the prior alone (pair_state: false)
            scores = self.prior.log_scale.new_zeros(batch.batch_size * batch.num_choices)
            return self.make_output(batch, scores)
        statements = self.statement_vectors(batch)
        scores = self.scorer(self.dropout(statements)).squeeze(-1)
        return self.make_output(batch, scores)

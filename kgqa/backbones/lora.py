r"""LoRA adapters on a pretrained transformer (Hu et al. 2022), through the ``peft`` package.

Each adapted linear layer computes

.. math::
    h = W x + \frac{\alpha}{r} B A x, \qquad A \in \mathbb{R}^{r \times d_{in}},\;
    B \in \mathbb{R}^{d_{out} \times r},

with :math:`W` frozen, :math:`A` random and :math:`B = 0` at the start, so the adapted model
computes exactly what the pretrained one did until the first optimiser step. Only the adapters
(``lora_A`` / ``lora_B``) train; a checkpoint of them is a few MB whatever the model's size.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from kgqa.errors import Errors, KGQAError


def add_lora_adapters(model: nn.Module, *, r: int = 8, alpha: float = 16.0, dropout: float = 0.05,
                      target_modules: Sequence[str] | str = "all-linear",
                      task_type: str | None = None) -> nn.Module:
    """Inject LoRA adapters into a Hugging Face ``model`` in place and freeze everything else.

    Args:
        model: a ``PreTrainedModel`` (causal LM or encoder).
        r, alpha, dropout: rank, scale numerator (updates scaled by ``alpha / r``), adapter
            input dropout.
        target_modules: module names to adapt (peft's ``target_modules``) or ``"all-linear"``
            (every linear layer but the output layer).
        task_type: peft's task type (``CAUSAL_LM`` for causal LMs, ``None`` for encoders).

    Returns:
        The same model object's modules with the adapters (the plain Hugging Face model, not a
        ``PeftModel`` wrapper), so the code that called it keeps working unchanged.

    Raises:
        KGQAError: ``[E191]`` when ``peft`` is not installed or the target modules match nothing.
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise KGQAError(Errors.E191.format(problem="LoRA needs the peft package: pip install peft "
                                                   "(or pip install kgqa[llm])")) from None
    if isinstance(target_modules, str) and target_modules != "all-linear":
        target_modules = [target_modules]
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=target_modules if isinstance(target_modules, str) else list(target_modules),
                        task_type=task_type)
    try:
        return get_peft_model(model, config).get_base_model()
    except ValueError as exc:  # target modules not found in the model
        raise KGQAError(Errors.E191.format(problem=f"cannot add LoRA adapters: {exc}")) from None


"""One wrapper over ``transformers.AutoModel`` / ``AutoTokenizer`` for any pretrained encoder.

BERT, ALBERT, ELECTRA (discriminator), RoBERTa, DistilBERT and MiniLM load the same way, by short
name (``minilm``), local directory or hub id (see :mod:`kgqa.backbones.names`). The wrapper adds
what the QA models need and nothing else: multiple-choice formatting, first-token pooling,
freezing all or the lower ``N`` layers, and gradient (activation) checkpointing.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Union

import torch
from torch import Tensor, nn

from kgqa.backbones.names import ResolvedName, hub_offline, resolve_backbone_name, short_names
from kgqa.errors import Errors, KGQAError, Warnings, warn
from kgqa.utils.safe_load import load_problem

if TYPE_CHECKING:
    from transformers import BatchEncoding, PreTrainedModel

FreezeSpec = Union[Literal["none", "all"], int]
Pooling = Literal["first", "mean", "choice"]
POOLINGS = ("first", "mean", "choice")

#: Attribute paths of the per-layer ``ModuleList`` in common encoders (first match wins).
LAYER_STACK_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers", "layer")


@dataclass
class BackboneOutput:
    """Output of :meth:`Backbone.forward`.

    Attributes:
        pooled: the pooled last layer, ``(N, H)``: the first token's state (``[CLS]`` / ``<s>``),
            the mean over non-padding tokens, or the mean over the second text's tokens (the
            choice of a "question [SEP] choice" pair), as the backbone's ``pooling`` says.
        hidden_states: last-layer hidden states, ``(N, L, H)``.
    """

    pooled: Tensor
    hidden_states: Tensor


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' load report and progress bars; kgqa reports missing keys itself."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _get_path(module: nn.Module, dotted: str):
    for part in dotted.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


class Backbone(nn.Module):
    r"""A pretrained transformer encoder with multiple-choice input formatting.

    For a question :math:`q` and choices :math:`a_1 \dots a_C`, each pair is encoded as one
    sentence pair (``[CLS] q [SEP] a_c [SEP]`` for BERT, ``<s> q </s></s> a_c </s>`` for RoBERTa)
    and the ``(B, C)`` pairs are flattened to ``B*C`` rows, as ``BertForMultipleChoice`` does. The
    pooled vector is the first token's last hidden state,

    .. math::
        \mathbf{h}_{\text{pooled}} = \mathrm{LM}(q \oplus a_c)_{0} \in \mathbb{R}^{H}

    (no pretrained pooler, which several encoders lack).

    Build it with :meth:`from_pretrained`; the constructor takes loaded objects.

    Args:
        model: a ``transformers`` encoder (``AutoModel``), without a task head.
        tokenizer: its tokenizer.
        name: the name it was loaded by (recorded in checkpoints).

    Shapes:
        - **input:** ``input_ids``, ``attention_mask``, ``token_type_ids``: ``(N, L)`` with
          ``N = B * C`` for multiple choice.
        - **output:** :class:`BackboneOutput` with ``pooled`` ``(N, H)`` and ``hidden_states``
          ``(N, L, H)``.
    """

    def __init__(self, model: PreTrainedModel, tokenizer, *, name: str = "", pooling: Pooling = "first"):
        super().__init__()
        if pooling not in POOLINGS:
            raise KGQAError(Errors.E018.format(name=name, problem=(
                f"pooling={pooling!r}: use 'first' (first token), 'mean' (sentence encoders) or "
                "'choice' (the mean over the second text of a pair)")))
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.name = name or getattr(model.config, "name_or_path", "") or model.config.model_type
        self.freeze_spec: FreezeSpec = "none"
        self.resolved: ResolvedName | None = None
        forward_args = inspect.signature(model.forward).parameters
        # RoBERTa has one token type and DistilBERT none: never send segment ids to them
        self.uses_token_type_ids = ("token_type_ids" in forward_args
                                    and getattr(model.config, "type_vocab_size", 2) > 1)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name: str, *, freeze: FreezeSpec = "none",
                        gradient_checkpointing: bool = False,
                        local_files_only: bool | None = None,
                        cache_dir: str | os.PathLike | None = None,
                        pooling: Pooling = "first") -> Backbone:
        """Load an encoder and its tokenizer by short name, local directory or hub id.

        Args:
            name: ``minilm``, a short hub alias (``roberta-large``), a directory saved with
                ``save_pretrained`` or a hub id (``google/electra-large-discriminator``).
            freeze: ``"none"``, ``"all"`` or the number of lower layers to freeze (with the
                embeddings); see :meth:`freeze`.
            gradient_checkpointing: recompute activations in the backward pass (saves memory).
            local_files_only: never contact the hub; ``None`` follows ``HF_HUB_OFFLINE``.
            cache_dir: the hub cache to use (default: the Hugging Face cache, ``HF_HUB_CACHE``).
            pooling: ``"first"`` (the first token's state, as ``BertForMultipleChoice``),
                ``"mean"`` (mean over tokens, as sentence encoders such as MiniLM and MPNet
                were trained) or ``"choice"`` (mean over the tokens of the pair's second text,
                the choice read in the question's context; :func:`second_text_mask`).

        Raises:
            KGQAError: ``[E017]`` listing what was tried when nothing loads; ``[E018]`` for an
                encoder-decoder model or an unsupported freeze / checkpointing option.
        """
        from safetensors import SafetensorError
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        name = str(name)
        resolved = resolve_backbone_name(name)
        offline = hub_offline() if local_files_only is None else local_files_only
        hub_kwargs: dict = {}
        if resolved.kind == "hub":
            hub_kwargs = {"local_files_only": offline}
            if cache_dir is not None:
                hub_kwargs["cache_dir"] = str(cache_dir)
        kwargs = dict(hub_kwargs)
        with _quiet_transformers():
            try:
                config = AutoConfig.from_pretrained(resolved.path, **kwargs)
            except (OSError, ValueError, KeyError) as exc:
                raise _not_loaded(resolved, offline, exc) from exc
            if getattr(config, "is_encoder_decoder", False):
                raise KGQAError(Errors.E018.format(
                    name=name, problem=f"'{config.model_type}' is an encoder-decoder model; "
                                       "kgqa backbones are encoders (BERT, RoBERTa, ...)"))
            try:
                model_cls = AutoModel._model_mapping[type(config)]
                pooler_arg = "add_pooling_layer" in inspect.signature(model_cls.__init__).parameters
            except (KeyError, AttributeError, ValueError, TypeError):
                pooler_arg = False
            if pooler_arg:  # the wrapper pools the first token; an unused pooler trips DDP
                kwargs["add_pooling_layer"] = False
            try:
                tokenizer = AutoTokenizer.from_pretrained(resolved.path, **hub_kwargs)
                with warnings.catch_warnings():  # torch's notice on a hostile .bin's pickle protocol
                    warnings.filterwarnings("ignore", message="Detected pickle protocol")
                    model, info = AutoModel.from_pretrained(resolved.path, config=config,
                                                            output_loading_info=True, **kwargs)
            except (pickle.UnpicklingError, EOFError, SafetensorError) as exc:
                # transformers reads .bin pickles with weights_only=True; never pass on torch's
                # advice to retry without it
                raise KGQAError(Errors.E121.format(name=name, path=_weights_path(resolved),
                                                   problem=load_problem(exc))) from None
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise _not_loaded(resolved, offline, exc) from exc
        missing = list(info.get("missing_keys") or [])
        if missing:
            warn(Warnings.W002.format(problem=(
                f"backbone '{name}': {len(missing)} weights were not in the checkpoint and are "
                f"randomly initialised (first: {sorted(missing)[:3]})")))
        backbone = cls(model, tokenizer, name=name, pooling=pooling)
        backbone.resolved = resolved
        backbone.freeze(freeze)
        if gradient_checkpointing:
            backbone.set_gradient_checkpointing(True)
        return backbone

    # ------------------------------------------------------------------ properties
    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @property
    def max_length(self) -> int:
        """Longest input the model takes (the tokenizer's limit, else the position table's)."""
        limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 100_000:
            return limit
        return int(getattr(self.model.config, "max_position_embeddings", 512))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ freezing
    def layer_groups(self) -> tuple[nn.ModuleList, int]:
        """The per-layer module list and how many layers share each entry.

        For most encoders this is the ``num_layers`` blocks, one layer each. ALBERT shares weights:
        its ``encoder.albert_layer_groups`` holds ``G`` groups (``G = 1`` in released models) used
        ``num_layers / G`` times each.

        Raises:
            KGQAError: no layer list of length ``num_layers`` (or ALBERT groups) was found.
        """
        groups = _get_path(self.model, "encoder.albert_layer_groups")
        if isinstance(groups, nn.ModuleList) and len(groups) > 0:
            return groups, self.num_layers // len(groups)
        for dotted in LAYER_STACK_PATHS:
            stack = _get_path(self.model, dotted)
            if isinstance(stack, nn.ModuleList) and len(stack) == self.num_layers:
                return stack, 1
        for _, module in self.model.named_modules():
            if isinstance(module, nn.ModuleList) and len(module) == self.num_layers:
                return module, 1
        raise KGQAError(Errors.E018.format(name=self.name, problem=(
            f"no list of {self.num_layers} layers found in {type(self.model).__name__}, so its "
            "lower layers cannot be frozen; use freeze='all' or 'none'")))

    def freeze(self, spec: FreezeSpec) -> Backbone:
        """Freeze nothing, everything, or the embeddings and the lower ``N`` layers.

        ``N`` counts transformer layers from the input side. Freezing ``N > 0`` layers also
        freezes every parameter outside the layer list whose name contains ``embed`` (word,
        position and type embeddings, ELECTRA's ``embeddings_project``, ALBERT's
        ``embedding_hidden_mapping_in``). ``N = 0`` is ``"none"``; ``N = num_layers`` leaves only
        parameters above the layers (a pooler or final norm, if any) trainable.

        ALBERT shares one set of layer weights across all layers (``num_hidden_groups = 1``):
        freezing the lower ``N`` would freeze the upper ones too, so only ``N`` that is a
        multiple of ``num_layers / num_hidden_groups`` is accepted (``0`` or ``num_layers`` for
        released ALBERT models).

        Args:
            spec: ``"none"``, ``"all"`` or an int ``0 <= N <= num_layers``.

        Raises:
            KGQAError: a bad spec, or an ``N`` that splits an ALBERT layer group.
        """
        if isinstance(spec, str) and spec.strip().isdigit():
            spec = int(spec)
        if isinstance(spec, bool) or not (spec in ("none", "all") or isinstance(spec, int)):
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"freeze={spec!r}: use 'none', 'all' or a number of lower layers "
                f"0..{self.num_layers}")))
        if isinstance(spec, int) and not 0 <= spec <= self.num_layers:
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"freeze={spec}: it has {self.num_layers} layers; use 0..{self.num_layers}, "
                "'none' or 'all'")))
        for param in self.model.parameters():
            param.requires_grad_(spec != "all")
        if isinstance(spec, int) and spec > 0:
            stack, per_entry = self.layer_groups()
            if spec % per_entry:
                raise KGQAError(Errors.E018.format(name=self.name, problem=(
                    f"freeze={spec}: {type(self.model).__name__} shares weights across layers "
                    f"({len(stack)} group(s) for {self.num_layers} layers), so freezing the lower "
                    f"{spec} would also freeze upper layers; use a multiple of {per_entry}, "
                    "'all' or 'none'")))
            in_stack = {id(p) for p in stack.parameters()}
            for param_name, param in self.model.named_parameters():
                if id(param) not in in_stack and "embed" in param_name.lower():
                    param.requires_grad_(False)
            for entry in stack[:spec // per_entry]:
                for param in entry.parameters():
                    param.requires_grad_(False)
        self.freeze_spec = spec
        return self

    def num_parameters(self, *, trainable: bool = False) -> int:
        """Number of backbone parameters (only those with ``requires_grad`` if ``trainable``)."""
        return sum(p.numel() for p in self.model.parameters()
                   if p.requires_grad or not trainable)

    # ------------------------------------------------------------------ checkpointing
    @property
    def gradient_checkpointing(self) -> bool:
        """Whether activations are recomputed in the backward pass (in training mode)."""
        return any(getattr(m, "gradient_checkpointing", False) is True
                   for m in self.model.modules())

    def set_gradient_checkpointing(self, enabled: bool = True) -> Backbone:
        """Turn gradient (activation) checkpointing on or off.

        Raises:
            KGQAError: the architecture does not support it in this ``transformers`` (ALBERT).
        """
        if not enabled:
            if self.gradient_checkpointing:
                off = getattr(self.model, "activation_checkpointing_disable", None)
                (off or self.model.gradient_checkpointing_disable)()
            return self
        if not getattr(self.model, "supports_gradient_checkpointing", False):
            import transformers

            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"{type(self.model).__name__} does not support gradient checkpointing in "
                f"transformers {transformers.__version__}; drop gradient_checkpointing or "
                "use another backbone")))
        if getattr(self.model.config, "use_cache", False):  # encoders cache nothing; no warning
            self.model.config.use_cache = False
        on = getattr(self.model, "activation_checkpointing_enable", None)
        if on is not None:  # transformers >= 5 renamed it
            on(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False})
        return self

    # ------------------------------------------------------------------ inputs
    def encode(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
               max_length: int = 128, padding: bool | str = "longest") -> BatchEncoding:
        """Tokenize texts (or sentence pairs) into model inputs, ``(N, L)`` tensors.

        Args:
            texts: ``N`` first segments.
            pairs: ``N`` second segments, or ``None``.
            max_length: longest sequence, capped at :attr:`max_length`; longer pairs are cut
                from the longer segment first.
            padding: ``"longest"`` (pad to the longest row) or ``"max_length"``.
        """
        if pairs is not None and len(pairs) != len(texts):
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"{len(texts)} texts but {len(pairs)} pairs")))
        return self.tokenizer(list(texts), list(pairs) if pairs is not None else None,
                              padding=padding, truncation=True,
                              max_length=min(int(max_length), self.max_length),
                              return_tensors="pt", return_token_type_ids=self.uses_token_type_ids)

    def encode_choices(self, questions: Sequence[str], choices: Sequence[Sequence[str]], *,
                       max_length: int = 128, padding: bool | str = "longest") -> BatchEncoding:
        """Pair each question with each of its choices, flattened question-major.

        Row ``b * C + c`` holds question ``b`` with choice ``c``; reshape model outputs with
        ``.view(B, C, ...)``.

        Args:
            questions: ``B`` question texts.
            choices: ``B`` lists of ``C`` choice texts each (the same ``C`` for all).
            max_length: longest pair in tokens (capped at :attr:`max_length`).
            padding: ``"longest"`` or ``"max_length"``.

        Shapes:
            - **output:** ``input_ids``, ``attention_mask`` (and ``token_type_ids`` when the model
              uses them): ``(B * C, L)``.

        Raises:
            KGQAError: different numbers of questions and choice lists, or of choices per
                question.
        """
        if len(questions) != len(choices):
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"{len(questions)} questions but {len(choices)} choice lists")))
        counts = {len(c) for c in choices}
        if len(counts) > 1 or 0 in counts:
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"every question needs the same number (>= 1) of choices; got {sorted(counts)}")))
        num_choices = counts.pop() if counts else 0
        firsts = [q for q in questions for _ in range(num_choices)]
        seconds = [c for row in choices for c in row]
        return self.encode(firsts, seconds, max_length=max_length, padding=padding)

    # ------------------------------------------------------------------ forward
    def forward(self, input_ids: Tensor, attention_mask: Tensor,
                token_type_ids: Tensor | None = None) -> BackboneOutput:
        """Encode ``N`` sequences; ``token_type_ids`` are dropped for models without segments."""
        hidden = self.model(**self._model_inputs(input_ids, attention_mask, token_type_ids)
                            ).last_hidden_state
        return BackboneOutput(pooled=self.pool_tokens(hidden, input_ids, attention_mask),
                              hidden_states=hidden)

    def layer_states(self, input_ids: Tensor, attention_mask: Tensor,
                     token_type_ids: Tensor | None = None) -> tuple[Tensor, ...]:
        """The token states after the embeddings and after every layer: ``L + 1`` tensors of
        ``(N, T, H)``, the last equal to :meth:`forward`'s ``hidden_states``."""
        inputs = self._model_inputs(input_ids, attention_mask, token_type_ids)
        return tuple(self.model(**inputs, output_hidden_states=True).hidden_states)

    def _model_inputs(self, input_ids: Tensor, attention_mask: Tensor,
                      token_type_ids: Tensor | None) -> dict[str, Tensor]:
        """The Hugging Face model's keyword inputs (``token_type_ids`` only where it takes them).

        Raises:
            KGQAError: ``[E018]`` when ``input_ids`` is not ``(N, L)``.
        """
        if input_ids.dim() != 2:
            raise KGQAError(Errors.E018.format(name=self.name, problem=(
                f"input_ids must be (N, L); got shape {tuple(input_ids.shape)} (flatten the "
                "choices first)")))
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.uses_token_type_ids:
            inputs["token_type_ids"] = token_type_ids
        return inputs

    def pool_tokens(self, hidden: Tensor, input_ids: Tensor, attention_mask: Tensor,
                    pooling: Pooling | None = None) -> Tensor:
        """``(N, L, H)`` states of ``input_ids`` -> ``(N, H)``, pooled as ``pooling`` says
        (default: the backbone's); ``"choice"`` reads the pair's second text from the ids."""
        pooling = pooling or self.pooling
        if pooling == "choice":
            return pool(hidden, second_text_mask(input_ids, attention_mask, self.tokenizer), "mean")
        return pool(hidden, attention_mask, pooling)

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}, freeze={self.freeze_spec!r}, pooling={self.pooling!r}")


def second_text_mask(input_ids: Tensor, attention_mask: Tensor, tokenizer) -> Tensor:
    """``(N, L)`` mask of the tokens of the second text of each pair (the choice of "question
    [SEP] choice"), special tokens excluded; a row without a second text keeps its mask.

    The second text starts after the first separator (``[SEP]`` in BERT's ``[CLS] q [SEP] a
    [SEP]``, ``</s>`` in RoBERTa's and MPNet's ``<s> q </s></s> a </s>``), so the mask is found
    from the token ids alone, for tokenizers with or without segment ids.

    Raises:
        KGQAError: ``[E018]`` for a tokenizer without a separator token.
    """
    sep = getattr(tokenizer, "sep_token_id", None)
    if sep is None:
        raise KGQAError(Errors.E018.format(name=getattr(tokenizer, "name_or_path", "?"), problem=(
            "pooling='choice' needs a tokenizer with a separator token between the two texts")))
    special = torch.tensor(sorted(set(tokenizer.all_special_ids)), device=input_ids.device)
    after_first_sep = (input_ids == sep).long().cumsum(-1) >= 1
    mask = after_first_sep & ~torch.isin(input_ids, special) & attention_mask.bool()
    empty = ~mask.any(-1, keepdim=True)
    return torch.where(empty, attention_mask.bool(), mask).to(attention_mask.dtype)


def pool(hidden: Tensor, attention_mask: Tensor | None, pooling: Pooling) -> Tensor:
    """``(N, L, H)`` token states -> ``(N, H)``: the first token, or the mean of the tokens the
    mask keeps (as sentence-transformers' mean pooling; ``"choice"`` pools the same way, over a
    mask from :func:`second_text_mask`)."""
    if pooling == "first" or attention_mask is None:
        return hidden[:, 0] if pooling == "first" else hidden.mean(dim=1)
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def _weights_path(resolved: ResolvedName) -> str:
    """The weights file transformers read from a local directory (the hub id otherwise)."""
    from pathlib import Path

    from kgqa.backbones.names import WEIGHT_FILES

    directory = Path(resolved.path)
    found = [directory / f for f in WEIGHT_FILES if (directory / f).is_file()]
    return str(found[0]) if found else resolved.path


def _not_loaded(resolved: ResolvedName, offline: bool, exc: BaseException) -> KGQAError:
    tried = list(resolved.tried)
    where = "hub cache only (offline)" if offline and resolved.kind == "hub" else resolved.kind
    tried.append(f"{where} '{resolved.path}': {load_problem(exc)}")
    return KGQAError(Errors.E017.format(name=resolved.name, tried="; ".join(tried),
                                        short=", ".join(short_names())))

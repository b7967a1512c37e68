r"""``llm``: a causal language model answers multiple choice by likelihood, with no task head.

GPT-2 / GPT-3 style (Radford et al. 2019; Brown et al. 2020): each question becomes the prompt
:math:`p` = ``"Question: {stem}\nAnswer:"`` and each choice the continuation
:math:`x = (x_1, \dots, x_n)`, the tokens of ``" {choice}"``. A choice scores

.. math::
    \mathrm{LL}(x \mid p) = \sum_{t=1}^{n} \log P_\theta(x_t \mid p, x_{<t}), \qquad
    s_{\text{sum}} = \mathrm{LL}(x \mid p), \qquad s_{\text{mean}} = \mathrm{LL}(x \mid p) / n,

and the **calibrated** score is Holtzman et al. (2021)'s domain-conditional PMI, the choice's
likelihood after the prompt over its likelihood after the neutral prompt :math:`d` = ``"Answer:"``
(a choice that is likely anywhere gains nothing),

.. math::
    s_{\text{PMI}} = \mathrm{LL}(x \mid p) - \mathrm{LL}(x \mid d).

**k-shot** prompts (GPT-3) put :math:`k` solved examples, drawn from a training split with a
fixed seed (:func:`select_shots`), before the question, each as ``"Question: ...\nAnswer:
{right choice}\n\n"``. **Knowledge** sentences (retrieved graph paths written out, see
:mod:`kgqa.llm.knowledge`) go right before the question, shared by all choices or one list per
choice.

Tokens: the continuation is ``tokenize(prompt + continuation)`` minus the tokens of the prompt
(lm-eval-harness's rule; the prompt's tokens are used as they are when the boundary merges), so
every sequence is ``prompt tokens + continuation tokens``. Batches are **right-padded here**,
whatever ``tokenizer.padding_side`` says (padding on the left would shift every position), and
only the continuation positions go through the output layer: a vocabulary of 262k (Gemma 3)
times 300 prompt tokens would otherwise be 300 MB of logits per choice. With a prompt shared by
all choices (no knowledge, or shared knowledge) the prompt runs once and its key/value cache is
repeated over the choices (``cache_prompt``), and the k-shot block, the same for every
question, runs once per scorer: each question then computes only its own tokens on a copy of
that cache. Per-choice prompts (``knowledge: per_choice``) run in full, padded into batches.

Any Hugging Face causal LM loads by hub name, directory or GGUF file
(:func:`load_causal_lm`; GGUF needs the ``gguf`` package: ``pip install kgqa[llm]``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kgqa.errors import Errors, KGQAError
from kgqa.models.base import QABatch, QAModelOutput, multiple_choice_loss
from kgqa.models.registry import register_model

QUESTION_TEMPLATE = "Question: {question}\nAnswer:"
NEUTRAL_PROMPT = "Answer:"
SCORINGS = ("mean", "sum")
KNOWLEDGE_MODES = ("none", "shared", "per_choice")


@dataclass
class CausalLMConfig:
    """Settings of :class:`CausalLMScorer`.

    Attributes:
        model: a hub id, a directory, a ``.gguf`` file, or an installed short name
            (``gemma-3-270m``, ``kgqa backbones install gemma-3-270m``).
        gguf_file: the GGUF file inside ``model`` (a directory) when ``model`` is not the file.
        scoring: ``mean`` or ``sum`` of the continuation's token log-likelihoods.
        calibrate: score by domain-conditional PMI (sums, minus the likelihood after
            ``neutral_prompt``); ``scoring`` is then unused.
        neutral_prompt: the domain prompt of the calibration.
        template: the question prompt, with ``{question}``.
        shots: solved examples before the question (0 = zero-shot).
        shot_seed: seed of the draw of those examples.
        knowledge: ``none``, ``shared`` (one list of sentences before the question) or
            ``per_choice`` (each choice its own list).
        knowledge_sentences: most knowledge sentences per prompt (the top by relevance).
        knowledge_header: the line before the knowledge sentences.
        batch_size: sequences per forward pass.
        cache_prompt: run a prompt shared by all choices once and reuse its key/value cache.
        mixed_precision: ``auto`` (bf16 on CPUs that compute it natively,
            :func:`kgqa.utils.precision.resolve_mixed_precision`), ``bf16`` or ``no``.
    """

    model: str = "gemma-3-270m"
    gguf_file: str | None = None
    scoring: str = "mean"
    calibrate: bool = False
    neutral_prompt: str = NEUTRAL_PROMPT
    template: str = QUESTION_TEMPLATE
    shots: int = 0
    shot_seed: int = 0
    knowledge: str = "none"
    knowledge_sentences: int = 3
    knowledge_header: str = "Facts:"
    batch_size: int = 16
    cache_prompt: bool = True
    mixed_precision: str = "auto"

    def __post_init__(self):
        problems = []
        if self.scoring not in SCORINGS:
            problems.append(f"scoring={self.scoring!r} (mean or sum)")
        if self.knowledge not in KNOWLEDGE_MODES:
            problems.append(f"knowledge={self.knowledge!r} ({', '.join(KNOWLEDGE_MODES)})")
        if self.shots < 0 or self.knowledge_sentences < 0 or self.batch_size < 1:
            problems.append("shots and knowledge_sentences must be >= 0, batch_size >= 1")
        if "{question}" not in self.template:
            problems.append("template must contain {question}")
        if self.mixed_precision not in ("auto", "bf16", "no"):
            problems.append(f"mixed_precision={self.mixed_precision!r} (auto, bf16 or no)")
        if problems:
            raise KGQAError(Errors.E231.format(problem="; ".join(problems)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Shot:
    """One solved example of a k-shot prompt."""

    question: str
    answer: str
    id: str | None = None


@dataclass
class LLMScoreOutput:
    """What :meth:`CausalLMScorer.score` returns.

    Attributes:
        logits: (B, C) the choice scores (the configured scoring or PMI).
        loglik: (B, C) summed log-likelihood of each continuation after its prompt.
        num_tokens: (B, C) continuation tokens.
        neutral_loglik: (B, C) summed log-likelihood after the neutral prompt (calibrated only).
        prompts: the prompt of every choice, ``B`` lists of ``C``.
    """

    logits: torch.Tensor
    loglik: torch.Tensor
    num_tokens: torch.Tensor
    neutral_loglik: torch.Tensor | None = None
    prompts: list[list[str]] = field(default_factory=list)


# ---------------------------------------------------------------------- prompts
def select_shots(examples: Sequence, k: int, *, seed: int = 0, exclude: Sequence[str] = ()) -> list[Shot]:
    """``k`` solved examples drawn without replacement by ``random.Random(seed)`` (GPT-3's
    k-shot prompt): the same examples, in the same order, for the same split and seed.

    Args:
        examples: :class:`~kgqa.data.records.QAExample` with labels (a training split).
        k: how many.
        seed: the seed of the draw.
        exclude: ids never drawn (the question being asked).
    """
    if k <= 0:
        return []
    pool = [ex for ex in examples if ex.label is not None and ex.id not in set(exclude)]
    if len(pool) < k:
        raise KGQAError(Errors.E231.format(problem=(
            f"{k} shots asked but only {len(pool)} labelled examples to draw them from")))
    picked = random.Random(seed).sample(range(len(pool)), k)
    return [Shot(pool[i].question, pool[i].choices[pool[i].label], pool[i].id) for i in picked]


def sentence_case(text: str) -> str:
    """``shovel is used to dig`` -> ``Shovel is used to dig.``"""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def build_prompt(question: str, *, template: str = QUESTION_TEMPLATE, shots: Sequence[Shot] = (),
                 knowledge: Sequence[str] = (), knowledge_header: str = "Facts:") -> str:
    """The prompt of one choice: solved examples, then the knowledge sentences, then the question.

    Example::

        >>> build_prompt("What tool digs?", knowledge=["shovel is used to dig"])
        'Facts: Shovel is used to dig.\\nQuestion: What tool digs?\\nAnswer:'
    """
    parts = [template.format(question=s.question) + " " + s.answer + "\n\n" for s in shots]
    if knowledge:
        header = f"{knowledge_header} " if knowledge_header else ""
        parts.append(header + " ".join(sentence_case(s) for s in knowledge) + "\n")
    parts.append(template.format(question=question))
    return "".join(parts)


# ---------------------------------------------------------------------- loading
def resolve_llm(name: str | Path, gguf_file: str | None = None) -> tuple[str, str | None]:
    """``(what from_pretrained loads, gguf file name or None)``: an installed short name
    (``gemma-3-270m``) -> its folder and GGUF file; a ``.gguf`` path -> its folder and name; a
    directory or hub id passes through.

    Raises:
        KGQAError: ``[E180]`` an installable model that is not installed.
    """
    from kgqa.backbones.split_file import install_dir, installable_file, installed_file

    spec = installable_file(str(name))
    if spec is not None:
        path = installed_file(spec)
        if path is None:
            raise KGQAError(Errors.E180.format(name=name, path=install_dir(spec), install=spec.name,
                                               size=spec.size_text(), licence=spec.licence))
        return str(path.parent), path.name
    path = Path(str(name)).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise KGQAError(Errors.E230.format(name=name, problem="no such GGUF file"))
        return str(path.parent), path.name
    return str(name), gguf_file


def load_causal_lm(name: str | Path, *, gguf_file: str | None = None):
    """``(model, tokenizer)`` of a causal LM (eval mode), by short name, hub id, directory or
    GGUF file (dequantised to float32 by transformers; needs the ``gguf`` package).

    Raises:
        KGQAError: ``[E230]`` when transformers cannot load it, ``[E180]`` not installed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, gguf = resolve_llm(name, gguf_file)
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **kwargs)
    except (OSError, ValueError, ImportError, KeyError) as exc:
        hint = " (GGUF files need the gguf package: pip install gguf)" if gguf else ""
        raise KGQAError(Errors.E230.format(name=name, problem=f"{type(exc).__name__}: {exc}{hint}")) from exc
    return model.eval(), tokenizer


def _cache_argument(module: nn.Module) -> str:
    """The key/value cache keyword of ``module.forward``: ``cache`` (transformers >= 5.2x) or
    ``past_key_values`` (before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(module.forward).parameters else "past_key_values"


def _output_cache(output):
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


# ---------------------------------------------------------------------- the scorer
@register_model("llm")
class CausalLMScorer(nn.Module):
    r"""Multiple choice by a causal LM's likelihood of each choice (see the module docstring).

    Args:
        config: :class:`CausalLMConfig` (or a dict of its fields).
        backbone: the causal LM as regime ``lora`` loads it (an object with ``lm`` and
            ``tokenizer``, :class:`~kgqa.training.regimes.lora.CausalLMBackbone`), or ``None``:
            then ``model`` and ``tokenizer``, else :func:`load_causal_lm` of ``config.model``.
        model, tokenizer: an already loaded causal LM and its tokenizer (tests, or to share one
            model between scorers); default: :func:`load_causal_lm` of ``config.model``.
        shots: the solved examples of a k-shot prompt (:func:`select_shots`), used as given.
        memo: a dict to keep every ``(prompt tokens, continuation tokens) -> summed
            log-likelihood`` scored without gradients, shared by scorers of the same model and
            precision: a second config that asks the same prompts (the calibrated variant after
            the plain one) reads them instead of running the model. ``None``: no memo.

    Shapes:
        - **input:** ``B`` questions, each with ``C`` choices; knowledge ``B`` lists of
          sentences (shared) or ``B x C`` lists (per choice)
        - **output:** :class:`LLMScoreOutput` with ``logits`` :math:`(B, C)`
    """

    config_class = CausalLMConfig
    #: the collator hands it texts (``batch.extras``), not token ids or cached states
    reads_texts = True
    #: the regimes ``kgqa train`` can run it in (evaluation alone: ``kgqa llm eval``)
    regimes = ("lora",)

    def __init__(self, config: CausalLMConfig | dict | None = None, backbone=None, *, model=None,
                 tokenizer=None, shots: Sequence[Shot] = (), node_features=None,
                 memo: dict | None = None):
        super().__init__()
        if isinstance(config, dict):
            config = CausalLMConfig(**config)
        self.config = config or CausalLMConfig()
        if model is None and backbone is not None and hasattr(backbone, "lm"):
            model, tokenizer = backbone.lm, backbone.tokenizer  # regime lora's CausalLMBackbone
        if model is None:
            model, tokenizer = load_causal_lm(self.config.model, gguf_file=self.config.gguf_file)
        if tokenizer is None:
            raise KGQAError(Errors.E231.format(problem="a model was given without its tokenizer"))
        self.lm = model.eval()
        self.tokenizer = tokenizer
        self.shots = list(shots)
        self._neutral: dict[str, float] = {}
        self.memo = memo
        self.memo_questions = 0  # questions whose every choice came from the memo
        self._prefix = None  # (shots, tokens, key/value cache) of the k-shot block, built on first use
        self.eval()  # scoring; .train() for LoRA fine-tuning (grad scoring in forward)

    # ------------------------------------------------------------------ tokens
    def _encode(self, text: str, *, special: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def split_tokens(self, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
        """``(prompt tokens, continuation tokens)``: the continuation is what tokenising the
        whole text adds after the prompt's tokens (tokenised alone when the boundary merges)."""
        context = self._encode(prompt)
        whole = self._encode(prompt + continuation)
        if whole[:len(context)] == context and len(whole) > len(context):
            return context, whole[len(context):]
        return context, self._encode(continuation, special=False)

    def prompts(self, questions: Sequence[str], num_choices: int,
                knowledge: Sequence | None = None) -> list[list[str]]:
        """The prompt of every choice (``B`` lists of ``C``)."""
        cfg = self.config
        out = []
        for b, question in enumerate(questions):
            row = []
            for c in range(num_choices):
                facts: Sequence[str] = ()
                if knowledge is not None and cfg.knowledge != "none":
                    facts = knowledge[b][c] if cfg.knowledge == "per_choice" else knowledge[b]
                    facts = list(facts)[:cfg.knowledge_sentences]
                row.append(build_prompt(question, template=cfg.template, shots=self.shots,
                                        knowledge=facts, knowledge_header=cfg.knowledge_header))
            out.append(row)
        return out

    # ------------------------------------------------------------------ log-likelihoods
    def _autocast(self):
        from kgqa.utils.precision import resolve_mixed_precision

        device = next(self.lm.parameters()).device
        if resolve_mixed_precision(self.config.mixed_precision) == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext()

    def _token_logprobs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log P(target) from final hidden states ``(T, H)`` through the output layer only there."""
        logits = self.lm.get_output_embeddings()(hidden).float()
        text_config = self.lm.config.get_text_config() if hasattr(self.lm.config, "get_text_config") \
            else self.lm.config
        cap = getattr(text_config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return torch.log_softmax(logits, dim=-1).gather(-1, targets[:, None]).squeeze(-1)

    def loglik_many(self, pairs: Sequence[tuple[list[int], list[int]]]) -> torch.Tensor:
        """Summed log-likelihood ``(len(pairs),)`` float64 of each ``(prompt tokens, continuation
        tokens)``, in batches of right-padded sequences (padding built here; the tokenizer's side
        plays no part). Differentiable outside inference mode."""
        out: list[torch.Tensor] = []
        device = next(self.lm.parameters()).device
        size = self.config.batch_size
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            seqs = [ctx + cont for ctx, cont in chunk]
            width = max(len(s) for s in seqs)
            ids = torch.zeros(len(seqs), width, dtype=torch.long)
            mask = torch.zeros(len(seqs), width, dtype=torch.long)
            rows, cols, targets, owner = [], [], [], []
            for i, ((ctx, cont), seq) in enumerate(zip(chunk, seqs)):
                ids[i, :len(seq)] = torch.tensor(seq)
                mask[i, :len(seq)] = 1
                for j, token in enumerate(cont):  # token at len(ctx)+j is predicted one step before
                    rows.append(i)
                    cols.append(len(ctx) + j - 1)
                    targets.append(token)
                    owner.append(i)
            with self._autocast():
                hidden = self.lm.base_model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                            use_cache=False).last_hidden_state
            picked = hidden[torch.tensor(rows), torch.tensor(cols)]
            logp = self._token_logprobs(picked, torch.tensor(targets, device=device)).cpu().double()
            out.append(torch.zeros(len(chunk), dtype=torch.float64).index_add(0, torch.tensor(owner), logp))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    def _shots_prefix(self, prompt: list[int]):
        """``(tokens, cache)`` of the k-shot block when ``prompt`` starts with its tokens (the
        block is the same for every question: it runs once per scorer), else ``None``."""
        if not self.shots or not self.config.cache_prompt:
            return None
        key = tuple((shot.question, shot.answer) for shot in self.shots)
        if self._prefix is None or self._prefix[0] != key:
            text = build_prompt("", template=self.config.template, shots=self.shots)
            text = text[:len(text) - len(self.config.template.format(question=""))]
            ids = self._encode(text)
            device = next(self.lm.parameters()).device
            with self._autocast():
                out = self.lm.base_model(input_ids=torch.tensor([ids], device=device), use_cache=True)
            self._prefix = (key, ids, _output_cache(out))
        _, ids, cache = self._prefix
        return (ids, cache) if len(prompt) > len(ids) and prompt[:len(ids)] == ids else None

    def loglik_shared(self, prompt: list[int], continuations: Sequence[list[int]]) -> torch.Tensor:
        """Summed log-likelihood of each continuation after one shared prompt: the prompt runs
        once and its key/value cache is repeated over the continuations (a k-shot block at its
        start comes from the scorer's cache of it, :meth:`_shots_prefix`)."""
        import copy

        device = next(self.lm.parameters()).device
        n, width = len(continuations), max(len(c) for c in continuations)
        prefix = None if torch.is_grad_enabled() else self._shots_prefix(prompt)
        start, past = (len(prefix[0]), {_cache_argument(self.lm.base_model): copy.deepcopy(prefix[1])}) \
            if prefix is not None else (0, {})
        with self._autocast():
            first = self.lm.base_model(
                input_ids=torch.tensor([prompt[start:]], device=device), use_cache=True,
                position_ids=torch.arange(start, len(prompt), device=device)[None], **past)
            cache = _output_cache(first)
            cache.batch_repeat_interleave(n)
            ids = torch.zeros(n, width, dtype=torch.long)
            mask = torch.zeros(n, len(prompt) + width, dtype=torch.long)
            mask[:, :len(prompt)] = 1
            for i, cont in enumerate(continuations):
                ids[i, :len(cont)] = torch.tensor(cont)
                mask[i, len(prompt):len(prompt) + len(cont)] = 1
            positions = torch.arange(len(prompt), len(prompt) + width).expand(n, -1)
            rest = self.lm.base_model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                      position_ids=positions.to(device), use_cache=True,
                                      **{_cache_argument(self.lm.base_model): cache}).last_hidden_state
        last = first.last_hidden_state[0, -1]
        states, targets, owner = [], [], []
        for i, cont in enumerate(continuations):
            for j, token in enumerate(cont):
                states.append(last if j == 0 else rest[i, j - 1])
                targets.append(token)
                owner.append(i)
        logp = self._token_logprobs(torch.stack(states), torch.tensor(targets, device=device)).cpu().double()
        return torch.zeros(n, dtype=torch.float64).index_add(0, torch.tensor(owner), logp)

    def neutral_loglik(self, choices: Sequence[str]) -> list[float]:
        """Summed log-likelihood of each ``" {choice}"`` after the neutral prompt (memoised: one
        pass per distinct choice text)."""
        todo = [c for c in dict.fromkeys(choices) if c not in self._neutral]
        if todo:
            pairs = [self.split_tokens(self.config.neutral_prompt, " " + c) for c in todo]
            for choice, value in zip(todo, self.loglik_many(pairs).tolist()):
                self._neutral[choice] = value
        return [self._neutral[c] for c in choices]

    # ------------------------------------------------------------------ scoring
    def score(self, questions: Sequence[str], choices: Sequence[Sequence[str]],
              knowledge: Sequence | None = None, *, grad: bool = False) -> LLMScoreOutput:
        """Score every choice of every question.

        Args:
            questions: ``B`` question stems.
            choices: ``B`` lists of ``C`` choices.
            knowledge: ``B`` lists of sentences (``knowledge: shared``) or ``B x C`` lists
                (``per_choice``), most relevant first; ignored with ``knowledge: none``.
            grad: keep the graph for a backward pass (LoRA fine-tuning, :func:`add_lora`);
                otherwise the scoring runs in inference mode.

        Returns:
            :class:`LLMScoreOutput`.
        """
        with nullcontext() if grad else torch.inference_mode():
            return self._score(questions, choices, knowledge, grad=grad)

    def _score(self, questions, choices, knowledge, *, grad: bool) -> LLMScoreOutput:
        cfg = self.config
        B, C = len(questions), len(choices[0])
        if any(len(c) != C for c in choices):
            raise KGQAError(Errors.E231.format(problem="every question of one call needs the same number of choices"))
        prompts = self.prompts(questions, C, knowledge)
        loglik = torch.zeros(B, C, dtype=torch.float64)
        ntok = torch.zeros(B, C, dtype=torch.long)
        pending: list[tuple[int, int, list[int], list[int]]] = []
        memo = self.memo if not grad else None
        computed: list[tuple[int, list[tuple[tuple[int, ...], tuple[int, ...]]]]] = []
        for b in range(B):
            split = [self.split_tokens(prompts[b][c], " " + choices[b][c]) for c in range(C)]
            for c, (_, cont) in enumerate(split):
                ntok[b, c] = len(cont)
            if memo is not None:
                keys = [(tuple(ctx), tuple(cont)) for ctx, cont in split]
                if all(key in memo for key in keys):
                    loglik[b] = torch.tensor([memo[key] for key in keys], dtype=torch.float64)
                    self.memo_questions += 1
                    continue
                computed.append((b, keys))
            shared = len({prompts[b][c] for c in range(C)}) == 1 and all(s[0] == split[0][0] for s in split)
            if cfg.cache_prompt and shared and C > 1:
                loglik[b] = self.loglik_shared(split[0][0], [s[1] for s in split])
            else:
                pending.extend((b, c, ctx, cont) for c, (ctx, cont) in enumerate(split))
        if pending:
            values = self.loglik_many([(ctx, cont) for _, _, ctx, cont in pending])
            for (b, c, _, _), value in zip(pending, values):
                loglik[b, c] = value
        for b, keys in computed:
            memo.update(zip(keys, loglik[b].tolist()))
        neutral = None
        if cfg.calibrate:
            flat = [choice for row in choices for choice in row]
            if grad:  # no memo: the weights change between calls
                pairs = [self.split_tokens(cfg.neutral_prompt, " " + c) for c in flat]
                neutral = self.loglik_many(pairs).view(B, C)
            else:
                neutral = torch.tensor(self.neutral_loglik(flat), dtype=torch.float64).view(B, C)
            logits = loglik - neutral
        elif cfg.scoring == "mean":
            logits = loglik / ntok.clamp(min=1)
        else:
            logits = loglik.clone()
        return LLMScoreOutput(logits=logits.float(), loglik=loglik, num_tokens=ntok,
                              neutral_loglik=neutral, prompts=prompts)

    def forward(self, batch: QABatch) -> QAModelOutput:
        """Registry entry point: texts from ``batch.extras`` (``questions``, ``choices`` and
        optionally ``knowledge``); ``loss`` only with ``batch.labels``."""
        extras = batch.extras
        if "questions" not in extras or "choices" not in extras:
            raise KGQAError(Errors.E231.format(problem=(
                "the llm model reads texts: QABatch.extras needs 'questions' and 'choices'")))
        out = self.score(extras["questions"], extras["choices"], extras.get("knowledge"), grad=self.training)
        return QAModelOutput(logits=out.logits, loss=multiple_choice_loss(out.logits, batch.labels))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """``{"backbone": the LM's trainable parameters (LoRA adapters)}``: they train at
        ``training.lm_lr`` (:func:`kgqa.training.loop.build_optimizer`)."""
        return {"backbone": [p for p in self.lm.parameters() if p.requires_grad]}


# ---------------------------------------------------------------------- LoRA
def add_lora(scorer: CausalLMScorer, *, r: int = 8, alpha: int = 16, dropout: float = 0.05,
             target_modules: Sequence[str] | str = "all-linear") -> CausalLMScorer:
    r"""Make the scorer's LM parameter-efficient to fine-tune: LoRA (Hu et al. 2022) adapters
    :math:`W x + \frac{\alpha}{r} B A x` on ``target_modules`` (``A``: :math:`(r, d_{in})`,
    ``B``: :math:`(d_{out}, r)`, zero at the start, so the scores do not move until a step is
    taken), every other weight frozen. Needs the ``peft`` package (``pip install kgqa[llm]``).

    Train with the scorer in train mode: ``scorer.train(); out = scorer(batch)`` gives the
    cross-entropy over choices of the ``logits`` (``grad`` scoring), then ``out.loss.backward()``.
    ``kgqa train`` does the same through the runner: regime ``lora``
    (:mod:`kgqa.training.regimes.lora`), adapter-only checkpoints.

    Raises:
        KGQAError: ``[E191]`` when ``peft`` is not installed.
    """
    from kgqa.backbones.lora import add_lora_adapters

    # the adapters are injected into scorer.lm's own modules; the scorer keeps using the HF model
    # (its base_model and output embeddings), now with LoRA layers and only those trainable
    scorer.lm = add_lora_adapters(scorer.lm, r=r, alpha=alpha, dropout=dropout,
                                  target_modules=target_modules, task_type="CAUSAL_LM")
    scorer._neutral.clear()
    scorer._prefix = None
    return scorer

"""Answer and explain with a causal LM: ``kgqa answer --model llm:NAME`` and ``kgqa explain``.

:class:`LLMAnswerer` runs link -> retrieve -> knowledge sentences -> prompt -> choice scores
(:class:`~kgqa.models.llm.CausalLMScorer`). Its explanation says which knowledge sentences the
prompt gave, and **occlusion**: each sentence removed in turn, every choice rescored,

.. math::
    \\Delta_{s,c} = \\mathrm{score}_c(K \\setminus \\{s\\}) - \\mathrm{score}_c(K),

so :math:`\\Delta_{s,c} < 0` means the sentence :math:`s` raised choice :math:`c`'s score. With
``knowledge: per_choice`` a sentence is in one choice's prompt only, and only that choice's score
can change.

``llm:`` model strings (:func:`parse_llm_model`): ``llm:NAME`` with optional
``,key=value`` settings of :class:`~kgqa.models.llm.CausalLMConfig`, e.g.
``llm:gemma-3-270m,calibrate=true,shots=5,knowledge=per_choice``; ``shots`` draw from
``shots_from`` (default ``csqa:ih_train``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from kgqa.errors import Errors, KGQAError
from kgqa.explain.answer import (RankedChoice, RankedResult, answer_in_batches, build_retriever,
                                 check_question, link_notes)
from kgqa.linking.lazy import LazyLinkerMixin
from kgqa.llm.knowledge import QuestionKnowledge, retrieve_knowledge
from kgqa.utils.threads import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.models.llm import CausalLMScorer
    from kgqa.retrieval.config import RetrievalConfig

LLM_PREFIX = "llm:"
DEFAULT_SHOTS_FROM = "csqa:ih_train"


@dataclass
class SentenceOcclusion:
    """One knowledge sentence and what removing it does.

    Attributes:
        text: the sentence as the prompt had it.
        nodes, relations: the graph path it states.
        relevance: its retrieval relevance.
        choice: the choice whose prompt had it (``per_choice``), ``None`` when shared.
        change: per choice, score without the sentence minus score with it.
        prediction_without: the prediction without it.
    """

    text: str
    nodes: list[str]
    relations: list[str]
    relevance: float
    choice: int | None
    change: list[float]
    prediction_without: str


@dataclass
class LLMAnswerResult(RankedResult):
    """A causal LM's answer to one question (the fields shared with
    :class:`~kgqa.explain.answer.AnswerResult`, plus the prompt knowledge and its occlusion)."""

    question: str
    choices: list[str]
    ranked: list[RankedChoice]
    model: str
    knowledge_mode: str
    knowledge: list[str] | list[list[str]] = field(default_factory=list)
    occlusion: list[SentenceOcclusion] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    label: int | None = None
    notes: list[str] = field(default_factory=list)



# ---------------------------------------------------------------------- llm: strings
def _value(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"not a yes/no value: {text!r}")
    if isinstance(default, int):
        return int(text)
    return text


def parse_llm_model(spec: str) -> tuple[dict[str, Any], str | None]:
    """``llm:NAME[,key=value...]`` -> ``(CausalLMConfig fields, shots_from)``.

    Raises:
        KGQAError: ``[E232]`` nothing after ``llm:``; ``[E231]`` an unknown key or bad value.
    """
    from kgqa.models.llm import CausalLMConfig

    body = spec[len(LLM_PREFIX):] if spec.startswith(LLM_PREFIX) else spec
    name, *settings = body.split(",")
    if not name.strip():
        raise KGQAError(Errors.E232.format(model=spec))
    defaults = {f.name: f.default for f in dataclasses.fields(CausalLMConfig)}
    values: dict[str, Any] = {"model": name.strip()}
    shots_from = None
    for item in settings:
        key, _, text = item.partition("=")
        key = key.strip()
        if key == "shots_from":
            shots_from = text.strip()
            continue
        if key not in defaults or key == "model" or not _:
            raise KGQAError(Errors.E231.format(problem=(
                f"'{item}' in '{spec}': settings are key=value with a key among "
                f"{', '.join(k for k in defaults if k != 'model')}, shots_from")))
        default = defaults[key]
        try:
            values[key] = _value(text.strip(), default if default is not None else "")
        except ValueError as exc:
            raise KGQAError(Errors.E231.format(problem=f"'{item}' in '{spec}': {exc}")) from None
    return values, shots_from


def load_shots(config, shots_from: str | None, *, exclude: Sequence[str] = ()):
    """The k-shot examples of ``config`` drawn from ``shots_from`` (``dataset:split``)."""
    from kgqa.data import load_dataset
    from kgqa.models.llm import select_shots

    if config.shots <= 0:
        return []
    name, _, split = (shots_from or DEFAULT_SHOTS_FROM).partition(":")
    return select_shots(load_dataset(name, split or "train").examples, config.shots,
                        seed=config.shot_seed, exclude=exclude)


# ---------------------------------------------------------------------- the answerer
class LLMAnswerer(LazyLinkerMixin):
    """A causal LM with the graph retrieval that writes its prompt knowledge.

    Args:
        scorer: the :class:`~kgqa.models.llm.CausalLMScorer` (its config says the scoring,
            shots and knowledge mode).
        kg: the graph the knowledge comes from (needed unless ``knowledge: none``).
        retrieval: retrieval settings (the graph models' defaults; ``node_embeddings`` lazy).
        linker: the linker (default: the graph's).
        source: what was loaded (for messages).
        num_threads: torch threads while answering (``None`` keeps torch's setting).
    """

    def __init__(self, scorer: "CausalLMScorer", *, kg: "KnowledgeGraph | None" = None,
                 retrieval: "RetrievalConfig | None" = None, linker=None, source: str = "llm",
                 num_threads: int | None = None):
        from kgqa.retrieval.config import RetrievalConfig

        self.scorer = scorer
        self.config = scorer.config
        self.kg = kg
        self.retrieval = dataclasses.replace(retrieval or RetrievalConfig(), node_embeddings="lazy")
        self._linker = linker
        self._retriever = None
        self.node_table = None
        self.source = source
        self.num_threads = num_threads
        self.notes: list[str] = []
        self.model_name = f"llm:{self.config.model}"
        self.uses_graphs = self.config.knowledge != "none"
        self.graph_view = {"paths": True}  # the knowledge is paths (for the command line's notes)
        if self.uses_graphs and kg is None:
            raise KGQAError(Errors.E231.format(problem=(
                f"knowledge={self.config.knowledge!r} needs a graph to retrieve from (pass kg=)")))

    @property
    def retriever(self):
        if self._retriever is None:
            self._retriever, self.node_table, notes = build_retriever(self.kg, self.retrieval, self.node_table)
            self.notes.extend(notes)
        return self._retriever

    def knowledge(self, questions: Sequence[str], choices: Sequence[Sequence[str]]
                  ) -> tuple[list[QuestionKnowledge], list[list[str]]]:
        """Link and retrieve: the ranked knowledge of each question, and the linker's notes."""
        if not self.uses_graphs:
            return [QuestionKnowledge([[] for _ in c]) for c in choices], [[] for _ in questions]
        linker = self.linker
        if hasattr(linker, "link_qa_batch"):
            links = linker.link_qa_batch(list(questions), [list(c) for c in choices])
        else:
            from kgqa.linking.linker import link_qa

            links = [link_qa(linker, q, c) for q, c in zip(questions, choices)]
        return retrieve_knowledge(self.retriever, questions, choices, links), [link_notes(qa) for qa in links]

    def answer(self, question: str, choices: Sequence[str], *, explain: bool = True,
               **options) -> LLMAnswerResult:
        """Answer one question; ``options`` (the graph models' explanation options) are unused."""
        return self.answer_many([question], [choices], explain=explain)[0]

    def answer_many(self, questions: Sequence[str], choices: Sequence[Sequence[str]], *,
                    ids: Sequence[str] | None = None, labels: Sequence[int | None] | None = None,
                    explain: bool = True, batch_size: int = 8) -> list[LLMAnswerResult]:
        """Answer questions (batched by number of choices); ``explain`` adds the occlusion of
        every knowledge sentence (one more scoring of the question per sentence).

        Raises:
            KGQAError: ``[E080]`` / ``[E140]`` bad questions or choices.
        """
        if len(questions) != len(choices):
            raise KGQAError(Errors.E080.format(problem=f"{len(questions)} questions but {len(choices)} choice lists"))
        checked = [check_question(q, c) for q, c in zip(questions, choices)]
        with torch_threads(self.num_threads):
            return answer_in_batches(checked, lambda q, c, **kw: self._answer_batch(q, c, explain=explain, **kw),
                                     batch_size=batch_size, ids=ids, labels=labels)

    def _answer_batch(self, questions, choices, *, notes, ids, labels, explain) -> list[LLMAnswerResult]:
        cfg = self.config
        seconds: dict[str, float] = {}
        start = time.perf_counter()
        knowledge, link_notes_ = self.knowledge(questions, choices)
        seconds["retrieve"] = time.perf_counter() - start
        given = [k.for_prompt(cfg.knowledge, cfg.knowledge_sentences) for k in knowledge]
        t0 = time.perf_counter()
        out = self.scorer.score(questions, choices, given if self.uses_graphs else None)
        seconds["model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        occlusions = ([self._occlude(q, c, k, out.logits[b]) for b, (q, c, k) in
                       enumerate(zip(questions, choices, knowledge))] if explain and self.uses_graphs
                      else [[] for _ in questions])
        seconds["explain"] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - start
        results = []
        probabilities = torch.softmax(out.logits.double(), dim=-1)
        for b, question in enumerate(questions):
            order = torch.argsort(-out.logits[b], stable=True).tolist()
            ranked = [RankedChoice(choice=choices[b][i], index=i, probability=float(probabilities[b, i]),
                                   logit=float(out.logits[b, i])) for i in order]
            results.append(LLMAnswerResult(
                question=question, choices=list(choices[b]), ranked=ranked, model=self.model_name,
                knowledge_mode=cfg.knowledge, knowledge=given[b] if self.uses_graphs else [],
                occlusion=occlusions[b], prompts=list(out.prompts[b]),
                seconds={k: round(v, 4) for k, v in seconds.items()}, id=ids[b], label=labels[b],
                notes=list(notes[b]) + link_notes_[b]))
        return results

    def _occlude(self, question: str, choices: list[str], knowledge: QuestionKnowledge,
                 scores: torch.Tensor) -> list[SentenceOcclusion]:
        cfg = self.config
        limit = cfg.knowledge_sentences
        out = []
        if cfg.knowledge == "per_choice":
            given = [list(s[:limit]) for s in knowledge.per_choice]
            items = [(c, i, s) for c, sentences in enumerate(given) for i, s in enumerate(sentences)]
        else:
            shared = knowledge.shared(limit)
            items = [(None, i, s) for i, s in enumerate(shared)]
        for owner, i, sentence in items:
            if owner is None:
                kept = [s.text for j, s in enumerate(shared) if j != i]
            else:
                kept = [[s.text for j, s in enumerate(given[c]) if not (c == owner and j == i)]
                        for c in range(len(choices))]
            without = self.scorer.score([question], [choices], [kept]).logits[0]
            out.append(SentenceOcclusion(
                text=sentence.text, nodes=sentence.nodes, relations=sentence.relations,
                relevance=sentence.relevance, choice=owner,
                change=[round(float(without[c] - scores[c]), 6) for c in range(len(choices))],
                prediction_without=choices[int(torch.argmax(without))]))
        return out

    def render(self, result: LLMAnswerResult, console, *, explain: bool = True) -> None:
        """Print the ranked choices, the knowledge sentences the prompt gave and (``explain``)
        each sentence's occlusion: the change of every choice's score without it."""
        from rich.table import Table

        from kgqa.utils.terminal import plain

        console.print(plain(f"{result.question}  [{result.model}, knowledge: {result.knowledge_mode}]",
                            style="bold"))
        table = Table("rank", "choice", "probability", "score", box=None, pad_edge=False)
        for rank, r in enumerate(result.ranked, start=1):
            table.add_row(str(rank), plain(r.choice), f"{r.probability:.3f}", f"{r.logit:.3f}")
        console.print(table)
        for note in result.notes:
            console.print(plain(f"note: {note}", style="dim"))
        if result.knowledge_mode == "none":
            return
        if result.knowledge_mode == "per_choice":
            given = [(result.choices[c], texts) for c, texts in enumerate(result.knowledge)]
        else:
            given = [("all choices", result.knowledge)]
        for owner, texts in given:
            console.print(plain(f"knowledge given ({owner}):" if texts else f"no knowledge found ({owner})"))
            for text in texts:
                console.print(plain(f"  - {text}"))
        if explain and result.occlusion:
            from rich.markup import escape

            table = Table("sentence removed", *[escape(c) for c in result.choices], "prediction",
                          box=None, pad_edge=False, title="score change when each sentence is removed")
            for item in result.occlusion:
                table.add_row(plain(item.text), *[f"{d:+.3f}" for d in item.change],
                              plain(item.prediction_without))
            console.print(table)

    def __repr__(self) -> str:
        graph = self.kg.name if self.kg is not None else None
        return f"LLMAnswerer(model={self.config.model!r}, knowledge={self.config.knowledge!r}, graph={graph!r})"


def load_llm_answerer(spec: str, *, graph: "str | KnowledgeGraph | None" = None,
                      default_knowledge: str = "shared") -> LLMAnswerer:
    """An :class:`LLMAnswerer` from an ``llm:`` model string (see the module docstring); the
    knowledge mode defaults to ``default_knowledge`` when the string sets none, the graph to
    ``default``.

    Raises:
        KGQAError: ``[E232]`` / ``[E231]`` a bad string, ``[E230]`` / ``[E180]`` the model does
            not load or is not installed.
    """
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer

    values, shots_from = parse_llm_model(spec)
    trained = None
    if is_llm_checkpoint(values["model"]):  # adapters trained by `kgqa train` (regime lora)
        trained = load_trained_scorer(values.pop("model"), overrides=values)
        config = trained.config
    else:
        values.setdefault("knowledge", default_knowledge)
        config = CausalLMConfig(**values)
    shots = load_shots(config, shots_from)
    kg = None
    if config.knowledge != "none":
        kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph or "default")
    if trained is not None:
        trained.shots = list(shots)
    scorer = trained if trained is not None else CausalLMScorer(config, shots=shots)
    return LLMAnswerer(scorer, kg=kg, source=spec)


def is_llm_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a checkpoint directory of model ``llm`` (``kgqa train``, regime lora)."""
    import json

    config = Path(str(path)).expanduser() / "config.json"
    if not (config.is_file() and config.with_name("model.safetensors").is_file()):
        return False
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_name") == "llm"
    except (OSError, ValueError, AttributeError):
        return False


def load_trained_scorer(path: str | Path, *, overrides: dict[str, Any] | None = None) -> "CausalLMScorer":
    """The causal LM of a ``kgqa train`` checkpoint (regime ``lora``): the base model from its
    own files, the adapters from the checkpoint; ``overrides`` change scoring settings
    (``knowledge``, ``calibrate``...; the trained config's values are the defaults).

    Raises:
        KGQAError: ``[E120]`` / ``[E031]`` a damaged or mismatched checkpoint, ``[E231]`` bad
            overrides or a checkpoint of another model.
    """
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer
    from kgqa.training.checkpoint import WEIGHTS_FILE, Checkpoint
    from kgqa.training.config import parse_config
    from kgqa.training.regimes import get_regime

    ckpt = Checkpoint.load(path)
    ckpt.verify(WEIGHTS_FILE)
    if ckpt.model_name != "llm":
        raise KGQAError(Errors.E231.format(problem=(
            f"{path} is a checkpoint of model '{ckpt.model_name}', not of a causal LM; pass it as "
            "--model PATH without 'llm:'")))
    cfg = parse_config(ckpt.experiment, source=str(ckpt.path / "config.json"))
    inputs = get_regime(cfg.regime).prepare(cfg, {})
    config = CausalLMConfig(**{**dict(ckpt.meta.get("model_config") or {}), **(overrides or {})})
    scorer = CausalLMScorer(config, inputs.backbone)
    ckpt.load_weights(scorer)
    return scorer.eval()

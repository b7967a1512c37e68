"""Answer new questions with a trained model, and explain the answer.

:class:`Answerer` holds a loaded model with everything it needs for text it has never seen: the
graph, the linker, the retriever (subgraphs and paths of one question, no dataset cache), the
backbone that encodes "question [SEP] choice" pairs (``frozen`` models get the pooled states the
runner cached in training, computed here the same way) and the concept table. One call runs
link -> retrieve -> encode -> model -> :func:`~kgqa.explain.extract.explain_batch`::

    import kgqa
    result = kgqa.answer("A man dug the ground to plant flowers. What tool did he use?",
                         ["shovel", "excavator", "hammer", "saw", "ladder"])
    result.prediction, result.ranked[0].probability
    result.explanation.per_choice[0].paths[0].text

``answer()`` keeps one :class:`Answerer` per (model, graph) in the process, so only the first
call pays for loading.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from kgqa.errors import Errors, KGQAError
from kgqa.explain.types import Explanation, duplicate_choices, same_answer_key
from kgqa.linking.checks import require_valid_text, strip_control_characters
from kgqa.linking.lazy import LazyLinkerMixin
from kgqa.utils.threads import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.linking.types import QALinks
    from kgqa.models.base import QABatch
    from kgqa.retrieval.config import RetrievalConfig

#: Options of :func:`kgqa.explain.extract.explain_batch` that callers may pass through.
EXPLAIN_OPTIONS = ("top_paths", "max_nodes", "max_edges", "max_hops", "max_checked", "check_budget")


@dataclass
class RankedChoice:
    """One choice in the model's ranking."""

    choice: str
    index: int
    probability: float
    logit: float


class RankedResult:
    """What every answer result derives from its ``choices``, ``ranked`` and ``label``."""

    choices: list[str]
    ranked: list[RankedChoice]
    label: int | None

    @property
    def prediction(self) -> str:
        """The most probable choice."""
        return self.ranked[0].choice

    @property
    def correct(self) -> bool | None:
        """Whether the prediction is the right answer (``None`` when unknown). A duplicate of the
        right answer's text (datasets have such questions) counts as right."""
        if self.label is None:
            return None
        return same_answer_key(self.prediction) == same_answer_key(self.choices[self.label])

    def _in_choice_order(self, key: str) -> list[float]:
        out = [0.0] * len(self.choices)
        for r in self.ranked:
            out[r.index] = getattr(r, key)
        return out

    @property
    def probabilities(self) -> list[float]:
        """Probabilities in choice order."""
        return self._in_choice_order("probability")

    @property
    def logits(self) -> list[float]:
        """Scores in choice order."""
        return self._in_choice_order("logit")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["prediction"] = self.prediction
        return out


def answer_in_batches(checked: Sequence[tuple], answer_batch, *, batch_size: int,
                      ids: Sequence | None, labels: Sequence | None) -> list:
    """Call ``answer_batch(questions, choices, notes=, ids=, labels=)`` on batches of at most
    ``batch_size`` of the ``checked`` questions (``(question, choices, notes)`` each, from
    :func:`check_question`) with the same number of choices; the results in input order."""
    groups: dict[int, list[int]] = {}
    for i, (_, c, _) in enumerate(checked):
        groups.setdefault(len(c), []).append(i)
    results: list = [None] * len(checked)
    for members in groups.values():
        for start in range(0, len(members), batch_size):
            rows = members[start:start + batch_size]
            answered = answer_batch(
                [checked[i][0] for i in rows], [checked[i][1] for i in rows],
                notes=[checked[i][2] for i in rows], ids=[ids[i] if ids is not None else None for i in rows],
                labels=[labels[i] if labels is not None else None for i in rows])
            for i, result in zip(rows, answered):
                results[i] = result
    return results


@dataclass
class AnswerResult(RankedResult):
    """The model's answer to one question.

    Attributes:
        question: the question (stripped).
        choices: the choices, in the given order.
        ranked: the choices, most probable first.
        model: the model's registry name.
        explanation: linked concepts, subgraphs, attention and paths per choice (``None`` when
            called with ``explain=False``).
        seconds: time per stage (``link``, ``encode``, ``retrieve``, ``model``, ``explain``,
            ``total``).
        id: the question id, when it came from a dataset.
        label: index of the right answer, when known.
        notes: what the reader must know about the input (see :attr:`Explanation.notes`): the
            linker's reason when it refused the question or a choice, control characters
            removed, duplicate choices.
    """

    question: str
    choices: list[str]
    ranked: list[RankedChoice]
    model: str
    explanation: Explanation | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    id: str | None = None
    label: int | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- input checks
def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _clean(text: str, what: str, notes: list[str]) -> str:
    """``text`` valid (``[E140]``), control characters removed (with a note), spaces normalised."""
    require_valid_text(text, what)
    text, removed = strip_control_characters(text)
    if removed:
        notes.append(f"removed {removed} control character{'s' if removed != 1 else ''} from {what}")
    return _normalise(text)


def _numbers(indices: Sequence[int]) -> str:
    """``[3, 4]`` -> ``"4 and 5"`` (1-based)."""
    names = [str(i + 1) for i in indices]
    return ", ".join(names[:-1]) + " and " + names[-1]


def check_question(question: str, choices: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """Validate one question and its choices.

    Control characters are removed and whitespace is normalised. Duplicate choices (compared
    case- and space-insensitively) are allowed, as datasets have them: they are scored alike and
    a note says so.

    Returns:
        ``(question, choices, notes)``: the cleaned texts and what the reader must be told.

    Raises:
        KGQAError: ``[E080]`` for an empty question, fewer than two choices, an empty or
            non-text choice; ``[E140]`` for text that is not valid Unicode (a lone surrogate, as
            invalid UTF-8 on the command line gives).
    """
    notes: list[str] = []
    if question is not None and not isinstance(question, str):
        raise KGQAError(Errors.E080.format(problem=f"the question is {type(question).__name__}, not text"))
    question = _clean(question, "the question", notes) if question is not None else ""
    if not question:
        raise KGQAError(Errors.E080.format(problem="the question is empty; pass the question text"))
    if isinstance(choices, str) or choices is None:
        raise KGQAError(Errors.E080.format(problem=(
            "choices must be a list of answer texts (e.g. --choices shovel hammer), not one string")))
    choices = list(choices)
    if len(choices) < 2:
        raise KGQAError(Errors.E080.format(problem=(
            f"{len(choices)} answer choice{'s' if len(choices) != 1 else ''} given; multiple choice "
            "needs at least two (e.g. --choices shovel hammer saw)")))
    cleaned = []
    for i, choice in enumerate(choices):
        if not isinstance(choice, str):
            raise KGQAError(Errors.E080.format(problem=f"choice {i + 1} is {type(choice).__name__}, not text"))
        choice = _clean(choice, f"choice {i + 1}", notes)
        if not choice:
            raise KGQAError(Errors.E080.format(problem=f"choice {i + 1} is empty"))
        cleaned.append(choice)
    for group in duplicate_choices(cleaned):
        notes.append(f"choices {_numbers(group)} are the same answer ('{cleaned[group[0]]}'): they are "
                     "scored alike")
    return question, cleaned, notes


def check_explain_options(options: dict) -> None:
    """Explanation options are known names with whole numbers >= 1 (a negative count would act as
    a Python slice).

    Raises:
        KGQAError: ``[E015]`` for an unknown option, ``[E141]`` for a bad value.
    """
    unknown = sorted(set(options) - set(EXPLAIN_OPTIONS))
    if unknown:
        raise KGQAError(Errors.E015.format(problem=(
            f"unknown explanation option(s) {unknown}; known: {', '.join(EXPLAIN_OPTIONS)}")))
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise KGQAError(Errors.E141.format(function="answer()", argument=name,
                                               expected="a whole number >= 1", got=ascii(value)))


def link_notes(links: "QALinks", *, graph: bool = True) -> list[str]:
    """The linker's reasons, for the reader: when it refused the question or a choice and, for a
    model that reads the graph (``graph``), when it found no concept in one, so the answer has
    no graph knowledge about that text."""
    notes = []
    if links.question.error:
        notes.append(f"the question was not linked to the graph ({links.question.error}): the answer "
                     "uses no question concept")
    elif graph and not links.question:
        notes.append(f"the question links to no concept of the graph{_why(links.question)}: the "
                     "answer uses no question concept")
    for i, choice in enumerate(links.choices):
        if choice.error:
            notes.append(f"choice {i + 1} was not linked to the graph ({choice.error})")
        elif graph and not choice:
            notes.append(f"choice {i + 1} links to no concept of the graph{_why(choice)}")
    return notes


def _why(link) -> str:
    return f" ({link.reason})" if link.reason else ""


def _score_duplicates_alike(logits: torch.Tensor, choices: list[list[str]]) -> None:
    """Give the duplicate choices of each question one logit (their mean), in place."""
    for b, options in enumerate(choices):
        for group in duplicate_choices(options):
            logits[b, group] = logits[b, group].mean()


def build_retriever(kg: "KnowledgeGraph", retrieval: "RetrievalConfig", node_table=None):
    """The retriever of one question at a time: ``(retriever, node_table, notes)``. The
    ``relevance`` ranker embeds concept names lazily (``node_table`` is built when ``None``);
    the retriever's warnings (no TransE embeddings...) come back as notes for the reader."""
    import warnings

    from kgqa.retrieval.retriever import Retriever

    ranker = None
    if retrieval.ranker == "relevance":
        from kgqa.encoders.node_names import NodeEmbeddingTable
        from kgqa.retrieval.ranking import RelevanceRanker

        if node_table is None:
            node_table = NodeEmbeddingTable(kg, retrieval.encoder)
        ranker = RelevanceRanker(kg, table=node_table, node_embeddings="lazy")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        retriever = Retriever(kg, retrieval, ranker=ranker)
    return retriever, node_table, [str(w.message) for w in caught]


# ---------------------------------------------------------------------- the answerer
class Answerer(LazyLinkerMixin):
    """A loaded model that answers and explains new questions.

    Build one with :func:`kgqa.explain.loading.load_answerer` (a checkpoint directory or the
    shipped default model), or directly from a model for tests.

    Args:
        model: a kgqa model (:class:`~kgqa.models.common.QAModel`), put in eval mode.
        kg: the graph it was trained with.
        model_name: its registry name (default: ``model.model_name``).
        regime: ``frozen`` (the model reads pooled backbone states, computed here with
            ``backbone``), ``partial`` (the model runs its trained top layers on the token
            states of ``backbone``'s lower layers, computed here) or ``finetune`` (the model runs
            its own backbone on token ids).
        backbone: the encoder of ``frozen`` pairs, or the whole backbone whose top layers the
            ``partial`` model holds (ignored for ``finetune``).
        max_length: longest "question [SEP] choice" pair in tokens.
        pooling: ``first`` or ``mean`` pooling of frozen states (as in training).
        state_layers: how many top hidden states a frozen pair state concatenates (as in
            training: ``backbone.state_layers``).
        retrieval: retrieval settings (as in training; ``node_embeddings`` is forced to
            ``lazy``, which changes the time, not the output).
        graph_view: options of :func:`~kgqa.retrieval.retriever.choice_graphs` (``paths``,
            ``add_inverse``, ``context_node``); default: the runner's view of the model
            (:func:`kgqa.training.graphs.graph_view`).
        node_table: the concept-name embedding table shared by the relevance ranker and a
            ``text`` concept embedding (a :class:`~kgqa.encoders.node_names.NodeEmbeddingTable`).
        linker: the linker (default: the graph's).
        source: where the model came from (for messages).
        num_threads: torch threads while answering (restored afterwards). One question's tensors
            are small: a single thread is as fast, and on a busy machine OpenMP's waiting makes
            two threads up to 100x slower. ``None`` keeps torch's setting.
    """

    def __init__(self, model: torch.nn.Module, *, kg: "KnowledgeGraph", model_name: str | None = None,
                 regime: str = "frozen", backbone=None, max_length: int = 64, pooling: str = "first",
                 state_layers: int | str = 1, retrieval: "RetrievalConfig | None" = None,
                 graph_view: dict | None = None, node_table=None, linker=None, source: str = "model",
                 num_threads: int | None = 1):
        import dataclasses

        from kgqa.retrieval.config import RetrievalConfig

        self.model = model.eval()
        self.kg = kg
        self.model_name = model_name or getattr(model, "model_name", type(model).__name__)
        self.regime = regime
        self.backbone = backbone.eval() if backbone is not None else None
        self.max_length = int(max_length)
        self.pooling = pooling
        self.state_layers = state_layers
        self.retrieval = dataclasses.replace(retrieval or RetrievalConfig(), node_embeddings="lazy")
        if graph_view is None:  # the view the training runner gives this model
            from kgqa.training.graphs import graph_view as training_view

            graph_view = training_view(self.model_name)
        self.graph_view = dict(graph_view)
        self.node_table = node_table
        self._linker = linker
        self._retriever = None
        self.source = source
        self.num_threads = num_threads
        self.notes: list[str] = []
        self.uses_graphs = hasattr(model, "graph_inputs")
        if (self.regime in ("frozen", "partial") and self.backbone is None
                and not hasattr(model, "encode_choices")):
            raise KGQAError(Errors.E015.format(problem=(
                f"model '{self.model_name}' reads {self.regime} backbone states: pass the backbone "
                "that encoded them in training")))
        self._lower = None
        if self.regime == "partial":
            from kgqa.backbones.split import LowerLayers

            self._lower = LowerLayers(self.backbone, model.backbone.num_lower).eval()

    # ------------------------------------------------------------------ parts, built on first use
    @property
    def retriever(self):
        if self._retriever is None:
            self._retriever, self.node_table, notes = build_retriever(self.kg, self.retrieval, self.node_table)
            self.notes.extend(notes)
        return self._retriever

    def warm_up(self) -> "Answerer":
        """Build the linker and retriever and run one question, so later calls are warm."""
        self.answer("What do people use to dig?", ["shovel", "book"])
        return self

    # ------------------------------------------------------------------ answering
    def answer(self, question: str, choices: Sequence[str], *, explain: bool = True,
               **options) -> AnswerResult:
        """Rank ``choices`` for ``question`` (see :meth:`answer_many`)."""
        return self.answer_many([question], [choices], explain=explain, **options)[0]

    def answer_many(self, questions: Sequence[str], choices: Sequence[Sequence[str]], *,
                    ids: Sequence[str] | None = None, labels: Sequence[int | None] | None = None,
                    explain: bool = True, batch_size: int = 16, **options) -> list[AnswerResult]:
        """Answer many questions, batched (questions with different numbers of choices go to
        different batches).

        Args:
            questions, choices: the questions and their choice lists.
            ids, labels: dataset ids and gold indices (shown in explanations).
            explain: also build the :class:`Explanation` (cheap).
            batch_size: questions per model call.
            **options: ``top_paths``, ``max_nodes``, ``max_edges``, ``max_hops``, ``max_checked``, ``check_budget`` of
                :func:`~kgqa.explain.extract.explain_batch`.

        Raises:
            KGQAError: ``[E080]`` for bad questions or choices, ``[E140]`` for text that is not
                valid Unicode (see :func:`check_question`), ``[E141]`` for an option that is not
                a whole number >= 1.
        """
        check_explain_options(options)
        if len(questions) != len(choices):
            raise KGQAError(Errors.E080.format(problem=(
                f"{len(questions)} questions but {len(choices)} choice lists")))
        checked = [check_question(q, c) for q, c in zip(questions, choices)]
        with torch.inference_mode(), torch_threads(self.num_threads):
            return answer_in_batches(
                checked, lambda q, c, **kw: self._answer_batch(q, c, explain=explain, options=options, **kw),
                batch_size=batch_size, ids=ids, labels=labels)

    def prepare_batch(self, questions: list[str], choices: list[list[str]], *,
                      ids: Sequence[str | None] | None = None,
                      labels: Sequence[int | None] | None = None) -> tuple["QABatch", list, dict]:
        """Link, encode and retrieve: the model's input for questions with the same number of
        choices (already checked by :func:`check_question`).

        Returns:
            ``(batch, links, seconds)``: the :class:`~kgqa.models.base.QABatch`, the linking of
            each question and the time of each stage (``link``, ``encode``, ``retrieve``).
        """
        from kgqa.models.base import QABatch

        ids = list(ids) if ids is not None else [None] * len(questions)
        labels = list(labels) if labels is not None else [None] * len(questions)
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        links = self._link(questions, choices)
        seconds["link"] = time.perf_counter() - t0
        known = [label for label in labels if label is not None]
        batch = QABatch(ids=[i if i is not None else f"q{k}" for k, i in enumerate(ids)],
                        num_choices=len(choices[0]),
                        labels=torch.tensor(labels, dtype=torch.long) if len(known) == len(labels) and
                        known else None)
        t0 = time.perf_counter()
        self._lm_inputs(batch, questions, choices)
        seconds["encode"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if self.uses_graphs:
            batch.graphs = self._graphs(questions, choices, links)
        seconds["retrieve"] = time.perf_counter() - t0
        return batch, links, seconds

    def _answer_batch(self, questions: list[str], choices: list[list[str]], *, notes, ids, labels,
                      explain: bool, options: dict) -> list[AnswerResult]:
        from kgqa.explain.attention import record_layer_attention
        from kgqa.explain.extract import explain_batch
        from kgqa.explain.occlusion import Occluder

        start = time.perf_counter()
        batch, links, seconds = self.prepare_batch(questions, choices, ids=ids, labels=labels)
        notes = [list(n) + link_notes(qa, graph=self.uses_graphs) for n, qa in zip(notes, links)]
        t0 = time.perf_counter()
        with (record_layer_attention(self.model) if explain else nullcontext([])) as layers:
            output = self.model(batch)
        _score_duplicates_alike(output.logits, choices)
        seconds["model"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        explanations = (explain_batch(output, batch, self.kg, questions=questions, choices=choices,
                                      model=self.model_name, links=links, layers=layers,
                                      occluder=Occluder(self.model, batch), **options)
                        if explain else [None] * len(questions))
        seconds["explain"] = time.perf_counter() - t0
        seconds["total"] = time.perf_counter() - start
        logits = output.logits.detach().float().cpu()
        probabilities = torch.softmax(logits, dim=-1)
        results = []
        for b, question in enumerate(questions):
            if explanations[b] is not None:
                explanations[b].id = ids[b]
                explanations[b].notes = list(notes[b])
            order = torch.argsort(-probabilities[b], stable=True).tolist()
            ranked = [RankedChoice(choice=choices[b][i], index=i, probability=float(probabilities[b, i]),
                                   logit=float(logits[b, i])) for i in order]
            results.append(AnswerResult(question=question, choices=list(choices[b]), ranked=ranked,
                                        model=self.model_name, explanation=explanations[b],
                                        seconds={k: round(v, 4) for k, v in seconds.items()},
                                        id=ids[b], label=labels[b], notes=list(notes[b])))
        return results

    # ------------------------------------------------------------------ stages
    def _link(self, questions: list[str], choices: list[list[str]]):
        linker = self.linker
        if hasattr(linker, "link_qa_batch"):
            return linker.link_qa_batch(questions, choices)
        from kgqa.linking.linker import link_qa

        return [link_qa(linker, q, c) for q, c in zip(questions, choices)]

    def _lm_inputs(self, batch, questions: list[str], choices: list[list[str]]) -> None:
        shape = (len(questions), len(choices[0]), -1)
        if hasattr(self.model, "encode_choices"):  # ERNIE: token ids + aligned entity ids
            enc = self.model.encode_choices(questions, choices, max_length=self.max_length)
            batch.input_ids = enc["input_ids"].view(shape)
            batch.attention_mask = enc["attention_mask"].view(shape)
            if enc.get("token_type_ids") is not None:
                batch.token_type_ids = enc["token_type_ids"].view(shape)
            batch.extras["entity_ids"] = enc["entity_ids"].view(shape)
        elif self.regime == "frozen":
            from kgqa.data.records import QADataset, QAExample
            from kgqa.training.features import encode_pairs

            examples = tuple(QAExample(id=str(i), question=q, choices=tuple(c))
                             for i, (q, c) in enumerate(zip(questions, choices)))
            dataset = QADataset(name="answer", split="answer", examples=examples)
            batch.lm_states = encode_pairs(self.backbone, dataset, max_length=self.max_length,
                                           pooling=self.pooling, batch_size=len(examples), progress=False,
                                           state_layers=self.state_layers)
            if getattr(self.model, "prior", None) is not None:  # the zero-shot prior's inputs
                from kgqa.training.features import encode_question_choice_vectors

                batch.question_vectors, batch.choice_vectors = encode_question_choice_vectors(
                    self.backbone, dataset, max_length=self.max_length)
        elif self.regime == "partial":  # the lower layers here, the trained top layers in the model
            enc = self.backbone.encode_choices(questions, choices, max_length=self.max_length)
            with torch.no_grad():
                states = self._lower(enc["input_ids"], enc["attention_mask"], enc.get("token_type_ids"))
            batch.lower_states = states.view(len(questions), len(choices[0]), *states.shape[1:])
            batch.attention_mask = enc["attention_mask"].view(shape)
        else:
            encoder = self.model.backbone
            enc = encoder.encode_choices(questions, choices, max_length=self.max_length)
            batch.input_ids = enc["input_ids"].view(shape)
            batch.attention_mask = enc["attention_mask"].view(shape)
            if "token_type_ids" in enc:
                batch.token_type_ids = enc["token_type_ids"].view(shape)

    def _graphs(self, questions: list[str], choices: list[list[str]], links):
        from torch_geometric.data import Batch

        from kgqa.retrieval.retriever import choice_graphs, retrieve_links

        arrays = retrieve_links(self.retriever, questions, choices, links)
        graphs = choice_graphs(arrays, self.kg.num_relations, **self.graph_view)
        return Batch.from_data_list(graphs)

    def __repr__(self) -> str:
        return (f"Answerer(model={self.model_name!r}, regime={self.regime!r}, graph={self.kg.name!r}, "
                f"source={self.source!r})")


# ---------------------------------------------------------------------- the function
_ANSWERERS: dict[tuple, Answerer] = {}

#: ``--model`` prefixes served by answerers of later stages, as ``"module:function"`` (imported on
#: first use, like the model registry): ``llm:NAME`` is a causal LM (:mod:`kgqa.llm.answer`).
MODEL_PREFIXES = {"llm:": "kgqa.llm.answer:load_llm_answerer"}


def _prefixed_loader(model):
    """The loader of a prefixed model string (``llm:gemma-3-270m``), else ``None``."""
    if model is None:
        return None
    text = str(model)
    for prefix, target in MODEL_PREFIXES.items():
        if text.startswith(prefix):
            import importlib

            module, _, function = target.partition(":")
            return getattr(importlib.import_module(module), function)
    return None


def get_answerer(model: "str | Path | Answerer | None" = None,
                 graph: "str | KnowledgeGraph | None" = None) -> Answerer:
    """The :class:`Answerer` of ``model`` on ``graph``, loaded once per process."""
    if isinstance(model, Answerer) or hasattr(model, "answer_many"):
        return model
    graph_key = graph if graph is None or isinstance(graph, str) else str(Path(graph.path).resolve())
    loader = _prefixed_loader(model)
    if loader is not None:
        key = (str(model), graph_key)
        if key not in _ANSWERERS:
            _ANSWERERS[key] = loader(str(model), graph=graph)
        return _ANSWERERS[key]
    from kgqa.explain.loading import load_answerer

    model_key = None if model is None else str(Path(model).resolve())
    key = (model_key, graph_key)
    if key not in _ANSWERERS:
        _ANSWERERS[key] = load_answerer(model, graph=graph)
    return _ANSWERERS[key]


def answer(question: str, choices: Sequence[str], *, model: "str | Path | Answerer | None" = None,
           graph: "str | KnowledgeGraph | None" = None, explain: bool = True, **options) -> AnswerResult:
    """Answer a multiple-choice question with a trained model and explain the answer.

    Args:
        question: the question text.
        choices: two or more answer texts (duplicates are scored alike and noted).
        model: a checkpoint directory (``.../checkpoints/best``), a loaded :class:`Answerer`,
            ``"llm:NAME"`` for a causal LM with graph knowledge in its prompt
            (:mod:`kgqa.llm.answer`), or ``None`` for the default model shipped with kgqa (QA on the default graph,
            frozen MiniLM; see ``kgqa/explain/default_model/README.md``).
        graph: the graph (name, directory or loaded); ``None`` = the graph the model was trained
            on. A graph with another checksum than the model's is refused (``[E081]``).
        explain: also build the explanation (``result.explanation``).
        **options: ``top_paths``, ``max_nodes``, ``max_edges``, ``max_hops``, ``max_checked``,
            ``check_budget`` of the explanation (:func:`~kgqa.explain.extract.explain_batch`).

    Returns:
        An :class:`AnswerResult`: ``ranked`` choices with probabilities, ``prediction`` and
        ``explanation``. When nothing links to the graph the model answers from its language
        model part and the explanation says there is no graph evidence. ``notes`` tells what
        the reader must know about the input: the linker's reason when it refused the question
        or a choice (over 10,000 characters, not English...), control characters removed,
        duplicate choices.

    Raises:
        KGQAError: ``[E080]`` bad question/choices, ``[E140]`` text that is not valid Unicode,
            ``[E141]`` a bad explanation option, ``[E081]`` model of another graph,
            ``[E082]`` no default model shipped, ``[E031]`` unusable checkpoint.

    Example::

        >>> result = kgqa.answer("A man dug the ground to plant flowers. What tool did he use?",
        ...                      ["shovel", "excavator", "hammer", "saw", "ladder"])
        >>> result.prediction
    """
    return get_answerer(model, graph).answer(question, choices, explain=explain, **options)

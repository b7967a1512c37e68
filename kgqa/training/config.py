"""The schema of an experiment config (``experiments/*.yaml``), validated with pydantic.

One YAML file describes one experiment: the data, the graph, the backbone, the model, the
training regime, the seeds to run and the numbers a paper reported for the same setting, in the
shape of PyKEEN's experiment files (``metadata`` citing the source, ``pipeline`` the settings,
``results`` the paper's numbers)::

    name: csqa_qagnn_frozen_minilm
    regime: frozen               # frozen | partial | finetune | lora | zeroshot
    seeds: [0, 1, 2]
    dataset: {name: csqa, train_split: ih_train, dev_split: ih_dev, test_split: ih_test}
    graph: {name: default}
    backbone: {name: minilm, max_length: 64}
    model: {name: qagnn, kwargs: {hidden_size: 200}}
    training: {epochs: 15, batch_size: 32, lr: 1.0e-3, lm_lr: 2.0e-5, patience: 3}
    reported:
      metadata: {title: "QA-GNN ...", year: 2021, table: "Table 2", backbone: roberta-large}
      pipeline: {regime: finetune, backbone: roberta-large}
      results: {ih_dev: 76.54, ih_test: 73.41}

Every key is checked (unknown keys are errors, so a typo never silently falls back to a default;
numbers must be finite; ``model.kwargs`` must fit the model's config dataclass in name, type and
range) and an error names the file, the line and the dotted key: ``[E030] Experiment config
experiments/x.yaml:14 (training.lm_lr): Input should be greater than 0``. Graph settings a model
will not use are a ``[W120]`` warning.

A config can extend another one and state only what differs (``extends:`` a path relative to
its own file; mappings merge key by key, any other value, lists included, replaces the parent's;
the child must give its own ``name``, so two experiments never share a run folder)::

    extends: csqa_qagnn_partial4_minilm.yaml
    name: csqa_qagnn_lmfreeze_partial4_minilm
    training: {freeze_lm_epochs: 0.5}

The merged config is what runs and what ``results.json`` records; an error in an inherited key
names the file and line that set it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationError,
                      field_validator, model_validator)

from kgqa.errors import Errors, KGQAError, Warnings, warn

Regime = Literal["finetune", "frozen", "partial", "lora", "zeroshot"]

#: The pseudo-model of the ``zeroshot`` regime (sentence-embedding cosine, no training).
ZEROSHOT_MODEL = "zeroshot"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DatasetConfig(_Strict):
    """Which questions: a dataset name (``csqa``, ``obqa``) or a jsonl path, and its splits."""

    name: str = "csqa"
    directory: str | None = Field(None, description="dataset folder (default <data_dir>/<name>)")
    source: str = "local"
    train_split: str = "ih_train"
    dev_split: str = "ih_dev"
    test_split: str | None = "ih_test"
    limit: int | None = Field(None, ge=1, description="keep the first N questions of each split "
                                                      "(smoke tests)")


class GraphConfig(_Strict):
    """Which knowledge graph, and the retrieval settings of the per-choice subgraphs."""

    name: str = "default"
    retrieval: dict[str, Any] = Field(default_factory=dict, description="RetrievalConfig fields "
                                      "(kgqa.retrieval.config), part of the cache key")
    workers: int | None = Field(None, ge=1, description="retrieval workers on a cache miss "
                                                        "(default: every core)")
    backend: Literal["process", "serial", "ray"] = "process"


class LoraSettings(_Strict):
    """LoRA adapters of regime ``lora`` (Hu et al. 2022): ``W x + (alpha / r) B A x`` on the
    ``target_modules`` of the backbone, every pretrained weight frozen. Hu et al. use r = 8,
    alpha = 16 on the attention projections; ``all-linear`` (QLoRA's choice) adapts every linear
    layer but the output layer."""

    r: int = Field(8, ge=1, description="rank of each adapter")
    alpha: float = Field(16.0, gt=0, description="scale numerator: updates are scaled by alpha / r")
    dropout: float = Field(0.05, ge=0, le=1, description="dropout on the adapter's input")
    target_modules: Union[Literal["all-linear"], list[str]] = Field(
        "all-linear", description="module names to adapt (peft's target_modules), or all-linear")


class BackboneConfig(_Strict):
    """The pretrained encoder (or causal LM, model ``llm``) and how questions are tokenised."""

    name: str = "minilm"
    max_length: int = Field(64, ge=8, le=4096)
    freeze: Union[Literal["none", "all"], int] = "none"
    gradient_checkpointing: bool = False
    pooling: Literal["first", "mean", "choice"] = Field(
        "first", description="how the statement vector pools the last layer's tokens: first "
        "token, mean (sentence encoders: MiniLM, MPNet), or choice (the mean over the choice's "
        "tokens of the 'question [SEP] choice' pair; every regime but partial)")
    feature_batch_size: int = Field(128, ge=1, description="batch size when caching frozen states")
    state_layers: Union[StrictInt, Literal["all"]] = Field(
        1, description="regime frozen: how many of the top hidden states the cached pair state "
        "concatenates, each pooled as `pooling` says (1: the last layer's; 4: BERT's feature-based "
        "setting; all: the embeddings' output and every layer)")
    train_layers: int | None = Field(None, ge=1, description="regime partial: how many top layers "
                                     "train (the states below them are cached once)")
    lower_states_dtype: Literal["float16", "float32"] = Field(
        "float16", description="regime partial: precision of the cached lower-layer states")
    lora: LoraSettings | None = Field(None, description="regime lora: the adapters (default "
                                      "LoraSettings())")

    @field_validator("state_layers")
    @classmethod
    def _state_layers(cls, value):
        if value != "all" and value < 1:
            raise ValueError(f"must be 'all' or at least 1 (hidden states); got {value}")
        return value

    @field_validator("freeze")
    @classmethod
    def _freeze_non_negative(cls, value):
        if isinstance(value, int) and value < 0:
            raise ValueError("a number of lower layers must be >= 0")
        return value


class ModelConfig(_Strict):
    """A registered model (``lm``, ``kagnet``, ``rgcn``, ``qagnn``) and its config overrides."""

    name: str
    kwargs: dict[str, Any] = Field(default_factory=dict)


class TrainingConfig(_Strict):
    """Optimisation settings. ``lr`` is the graph/head learning rate, ``lm_lr`` the backbone's."""

    epochs: int = Field(10, ge=1)
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps")
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    micro_batch_size: int | None = Field(None, ge=1, description="split each training batch into "
                                         "micro-batches of this many questions and accumulate their "
                                         "gradients into one optimizer step (QA-GNN's -mbs): the step "
                                         "of the whole batch at the memory of a micro-batch; null = "
                                         "the whole batch at once")
    lr: float = Field(1e-3, gt=0)
    lm_lr: float = Field(2e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "linear"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    max_grad_norm: float | None = Field(1.0, gt=0)
    patience: int | None = Field(3, ge=1, description="evaluations without a better dev accuracy "
                                                      "before stopping; null = never")
    eval_every: int | None = Field(None, ge=1, description="steps between dev evaluations "
                                                           "(null = once per epoch)")
    checkpoint_every: int | None = Field(None, ge=1, description="steps between checkpoints "
                                                                 "(null = at each evaluation)")
    mixed_precision: Literal["auto", "no", "fp16", "bf16"] = "auto"
    max_minutes: float | None = Field(None, gt=0, description="wall-clock budget; training stops "
                                                              "cleanly when it is spent")
    torch_threads: int | None = Field(None, ge=1, description="CPU threads of torch (null = "
                                                              "torch's default)")
    malloc_top_pad_mb: int = Field(1024, ge=0, le=2047, description="glibc only: memory kept "
                                   "at the top of the heap when freed, and blocks up to 32 MiB "
                                   "served from the heap, so each step reuses the last step's "
                                   "pages instead of faulting in new ones (kgqa.utils.memory; "
                                   "0 = glibc's defaults when never set in the process); speed only")
    malloc_heap_only: bool = Field(False, description="glibc only, with a pad: serve blocks "
                                   "above 32 MiB from the heap too (M_MMAP_MAX 0), so big graph "
                                   "batches reuse pages instead of mapping fresh ones each step: "
                                   "1.5x faster frozen QA-GNN steps measured, +54% resident "
                                   "memory (kgqa.utils.memory); speed only")
    freeze_lm_steps: int = Field(0, ge=0, description="finetune and partial: keep the trained "
                                 "backbone layers fixed for the first N optimizer steps "
                                 "(QA-GNN's LM-freeze phase)")
    freeze_lm_epochs: float = Field(0.0, ge=0, description="the same in epochs (the "
                                    "larger of the two counts)")
    eval_at_start: bool = Field(True, description="evaluate once before the first step: the "
                                "starting point (the zero-shot baseline for frozen models) is then "
                                "the first best checkpoint")
    budget_schedule: bool = Field(True, description="with max_minutes: when the budget would stop "
                                  "the run before its epochs, plan the schedule (warm-up and decay) "
                                  "for the steps that fit, from the measured step time")
    log_with: Literal["none", "tensorboard"] = Field("none", description="experiment tracker for "
                                                     "per-step loss, accuracy and learning rate")


class ReportedConfig(_Strict):
    """What a paper reported for this setting (PyKEEN's ``metadata``/``pipeline``/``results``)."""

    metadata: dict[str, Any]
    pipeline: dict[str, Any] = Field(default_factory=dict)
    results: dict[str, float]

    @field_validator("metadata")
    @classmethod
    def _cites_a_source(cls, value):
        missing = [k for k in ("title", "year") if k not in value]
        if missing:
            raise ValueError(f"metadata must cite the source; missing {', '.join(missing)}")
        return value


class ExperimentConfig(_Strict):
    """One experiment: everything :func:`kgqa.training.pipeline` needs, plus the seeds to run."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    baseline: str | None = Field(None, description="the experiment RESULTS.md compares this one "
                                 "with (default: the LM-only row of the same regime and backbone)")
    regime: Regime = "frozen"
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    graph: GraphConfig | None = None
    backbone: BackboneConfig = Field(default_factory=BackboneConfig)
    model: ModelConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    reported: ReportedConfig | None = None
    #: whether [W120] was already checked for (kgqa train loads, then runs, the same config)
    _graph_use_checked: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _consistent(self):
        zeroshot_model = self.model.name == ZEROSHOT_MODEL
        if (self.regime == "zeroshot") != zeroshot_model:
            raise ValueError("regime 'zeroshot' goes with model name 'zeroshot' (and only with it)")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {self.seeds}")
        if self.regime == "partial" and self.backbone.train_layers is None:
            raise ValueError("regime 'partial' needs backbone.train_layers (how many top layers train)")
        if self.regime == "partial" and self.backbone.pooling == "choice":
            raise ValueError("backbone.pooling 'choice' is not available in regime 'partial' (its "
                             "cache of lower-layer states keeps no token ids); use first or mean")
        if self.regime != "frozen" and self.backbone.state_layers != 1:
            raise ValueError("backbone.state_layers applies to regime 'frozen' only (the other "
                             "regimes pool the last layer inside the model)")
        if self.regime != "partial" and self.backbone.train_layers is not None:
            raise ValueError("backbone.train_layers applies to regime 'partial' only")
        if self.regime != "lora" and self.backbone.lora is not None:
            raise ValueError("backbone.lora applies to regime 'lora' only")
        if self.regime == "lora" and self.backbone.lora is None:
            self.backbone.lora = LoraSettings()
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------- loading
def _walk(root, loc: tuple) -> tuple[int | None, bool]:
    """Follow the key path ``loc`` down the YAML node tree ``root``: the 1-based line of the node
    at ``loc`` (or of its deepest existing parent), and whether the document sets ``loc`` itself."""
    import yaml

    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(((key, value) for key, value in node.value if key.value == str(part)), None)
            if found is None:
                return (line if line is not None else node.start_mark.line + 1), False
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line, False
    return line, True


def _yaml_line(root, loc: tuple) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its deepest existing parent)."""
    return _walk(root, loc)[0]


class _Layers:
    """The files of a config that ``extends:`` others, the extending one first, each with its
    YAML node tree: an error points at the file that set the key."""

    def __init__(self, layers: list[tuple[str, Any]]):
        self.layers = layers

    def where(self, loc: tuple) -> str:
        source, root = next(((source, root) for source, root in self.layers
                             if loc and root is not None and _walk(root, loc)[1]), self.layers[0])
        return _where(source, root, loc)


def _where(source: str, root, loc: tuple) -> str:
    """``file:line`` of the key ``loc`` (``root``: a YAML node tree, :class:`_Layers` or None)."""
    if isinstance(root, _Layers):
        return root.where(loc)
    line = _yaml_line(root, loc) if root is not None else None
    return f"{source}:{line}" if line else source


def _format_errors(exc: ValidationError, source: str, root=None) -> KGQAError:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic adds the union member's name ("int", "literal['none','all']"): drop it
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("int", "str"))))
        key = ".".join(str(p) for p in loc) or "(top level)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see kgqa/training/config.py for the schema)"
        elif err["type"] == "missing":
            message = "required key is missing"
        where = _where(source, root, loc)
        if problems and problems[-1][0] == where and problems[-1][1].startswith(f"({key}): "):
            problems[-1] = (where, f"{problems[-1][1]}, or {message[0].lower()}{message[1:]}")
            continue  # one union-typed key failing each member: one message
        problems.append((where, f"({key}): {message}"))
    problems.sort(key=lambda wp: int(wp[0].rsplit(":", 1)[1]) if ":" in wp[0] and
                  wp[0].rsplit(":", 1)[1].isdigit() else 0)
    where, first = problems[0]
    rest = [f"{w} {p}" for w, p in problems[1:]]
    more = "" if not rest else " Also: " + "; ".join(rest)
    return KGQAError(Errors.E030.format(location=where, problem=first + more))


def parse_config(data: dict[str, Any], *, source: str = "<config>", yaml_root=None
                 ) -> ExperimentConfig:
    """Validate a decoded config mapping.

    Raises:
        KGQAError: ``[E030]`` naming ``source:line (dotted.key): problem`` for every bad key.
    """
    if not isinstance(data, dict):
        raise KGQAError(Errors.E030.format(location=source, problem=(
            f"the file must hold a mapping of keys (name, regime, model, ...), got "
            f"{type(data).__name__}")))
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise _format_errors(exc, source, yaml_root) from None


def load_config(path: str | Path, *, check_model: bool = True) -> ExperimentConfig:
    """Read and validate an experiment YAML file (merged with the files it ``extends:``).

    Args:
        path: the ``.yaml`` file.
        check_model: also check that ``model.name`` is registered and that every key of
            ``model.kwargs`` is a field of that model's config dataclass (imports the model).

    Raises:
        KGQAError: ``[E030]`` with ``file:line (key): problem`` (the file that set the key);
            ``[E016]`` if the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise KGQAError(Errors.E016.format(what="Experiment config", path=path,
                                           hint="Pass an experiment .yaml file (see experiments/)."))
    data, layers = _read_extending(path, ())
    roots = _Layers(layers)
    config = parse_config(data, source=str(path), yaml_root=roots)
    if check_model:
        check_model_kwargs(config, source=str(path), yaml_root=roots)
    return config


def _read_yaml(path: Path):
    """The decoded mapping and the node tree (for line numbers) of one YAML file."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise KGQAError(Errors.E030.format(location=where, problem=f"not valid YAML: "
                                                                   f"{getattr(exc, 'problem', exc)}")
                        ) from None


def _merged(base: dict, override: dict) -> dict:
    """``override`` over ``base``: mappings merge key by key, any other value replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _read_extending(path: Path, chain: tuple[Path, ...]) -> tuple[Any, list[tuple[str, Any]]]:
    """The mapping of ``path`` merged over the configs it ``extends:`` (recursively), and the
    (file, node tree) layers, ``path`` first."""
    data, root = _read_yaml(path)
    layers = [(str(path), root)]
    if not isinstance(data, dict) or "extends" not in data:
        return data, layers
    data = dict(data)
    parent_name = data.pop("extends")
    here = _where(str(path), root, ("extends",))
    if not isinstance(parent_name, str) or not parent_name.strip():
        raise KGQAError(Errors.E030.format(location=here, problem=(
            f"(extends): must be the path of another config, relative to this file; got "
            f"{parent_name!r}")))
    parent = (path.parent / parent_name).resolve()
    if parent == path.resolve() or parent in chain:
        raise KGQAError(Errors.E030.format(location=here, problem=(
            f"(extends): {parent_name} extends this file again (a cycle: "
            f"{' -> '.join(p.name for p in (*chain, path.resolve(), parent))})")))
    if not parent.is_file():
        raise KGQAError(Errors.E030.format(location=here, problem=(
            f"(extends): {parent} does not exist (the path is relative to this file's folder)")))
    base, parent_layers = _read_extending(parent, (*chain, path.resolve()))
    if not isinstance(base, dict):
        raise KGQAError(Errors.E030.format(location=str(parent), problem=(
            f"the file must hold a mapping of keys (name, regime, model, ...), got "
            f"{type(base).__name__}")))
    if "name" not in data:
        raise KGQAError(Errors.E030.format(location=str(path), problem=(
            f"(name): a config that extends another needs its own name (else both would write "
            f"to experiments/runs/{base.get('name')}/)")))
    return _merged(base, data), layers + parent_layers


def check_model_kwargs(config: ExperimentConfig, *, source: str = "<config>", yaml_root=None) -> None:
    """Check ``model.name`` against the registry and ``model.kwargs`` against its config class
    (every key a field; each value of the field's type, finite, ``>= 0`` for integers, within
    ``[0, 1]`` for dropout probabilities); warn ``[W120]`` about graph settings the model will
    not use.

    Raises:
        KGQAError: ``[E030]`` naming ``model.name`` or the bad ``model.kwargs.KEY``.
    """
    if config.model.name == ZEROSHOT_MODEL:
        if config.model.kwargs:
            bad = next(iter(config.model.kwargs))
            _raise_at(source, yaml_root, ("model", "kwargs", bad), "the zeroshot model takes no kwargs")
        _warn_unused_graph(config, None, source, yaml_root)
        return
    from kgqa.models.registry import MODEL_MODULES, get_model_class

    if config.model.name not in MODEL_MODULES:
        _raise_at(source, yaml_root, ("model", "name"),
                  f"unknown model '{config.model.name}'; choose one of "
                  f"{', '.join(sorted([*MODEL_MODULES, ZEROSHOT_MODEL]))}")
    cls = get_model_class(config.model.name)
    if getattr(cls, "requires_token_inputs", False) and config.regime == "frozen":
        _raise_at(source, yaml_root, ("regime",),
                  f"model '{config.model.name}' reads token ids (it fuses entities into the encoder), "
                  "so it cannot use cached frozen states; use regime: finetune (its "
                  "freeze_t_encoder setting keeps the lower layers fixed)")
    regimes = getattr(cls, "regimes", None)
    if regimes is not None and config.regime not in regimes:
        _raise_at(source, yaml_root, ("regime",),
                  f"model '{config.model.name}' trains in regime {' or '.join(regimes)} only, not "
                  f"'{config.regime}'" + (" (evaluate it without training: kgqa llm eval CONFIG)"
                                          if getattr(cls, "reads_texts", False) else ""))
    if getattr(cls, "reads_texts", False):
        _check_text_model(config, source, yaml_root)
    config_class = getattr(cls, "config_class", None)
    _warn_unused_graph(config, cls, source, yaml_root)
    if config_class is None or not dataclasses.is_dataclass(config_class):
        return
    known = {f.name for f in dataclasses.fields(config_class)}
    try:
        hints = typing.get_type_hints(config_class)
    except (NameError, TypeError):  # unresolvable annotations: names are still checked
        hints = {}
    for key, value in config.model.kwargs.items():
        if key not in known:
            _raise_at(source, yaml_root, ("model", "kwargs", key),
                      f"'{key}' is not a setting of model '{config.model.name}' "
                      f"({config_class.__name__}: {', '.join(sorted(known))})")
        problem = _kwarg_problem(key, value, hints.get(key))
        if problem:
            _raise_at(source, yaml_root, ("model", "kwargs", key), problem)


def _check_text_model(config: ExperimentConfig, source: str, yaml_root) -> None:
    """A causal LM trained by ``kgqa train`` (regime ``lora``): the LM is ``backbone.name``, the
    prompts zero-shot without knowledge (the collator hands over texts only)."""
    kwargs = config.model.kwargs
    if "model" in kwargs and str(kwargs["model"]) != config.backbone.name:
        _raise_at(source, yaml_root, ("model", "kwargs", "model"),
                  f"the causal LM is backbone.name ('{config.backbone.name}') in regime "
                  f"'{config.regime}'; drop model.kwargs.model or make it the same")
    if kwargs.get("shots", 0) not in (0, None):
        _raise_at(source, yaml_root, ("model", "kwargs", "shots"),
                  "LoRA fine-tuning scores zero-shot prompts (the adapters learn what shots would "
                  "show); set shots: 0, or evaluate k-shot prompts with kgqa llm eval")
    if kwargs.get("knowledge", "none") != "none":
        _raise_at(source, yaml_root, ("model", "kwargs", "knowledge"),
                  "regime lora trains on question and choice texts only; set knowledge: none, or "
                  "evaluate prompts with knowledge with kgqa llm eval")


def _kwarg_problem(key: str, value: Any, hint: Any) -> str | None:
    """Why ``value`` does not fit a model config field typed ``hint`` (``None`` if it does)."""
    union = typing.get_origin(hint) in (Union, types.UnionType)
    kinds = typing.get_args(hint) if union else (hint,)
    if value is None:
        return None if type(None) in kinds else "must be set (null is not allowed)"
    if bool in kinds:
        expected, fits = "true or false", isinstance(value, bool)
    elif int in kinds:
        expected, fits = "an integer", isinstance(value, int) and not isinstance(value, bool)
    elif float in kinds:
        expected, fits = "a number", isinstance(value, (int, float)) and not isinstance(value, bool)
    elif str in kinds:
        expected, fits = "a string", isinstance(value, str)
    else:
        return None  # a type this check does not know: the model validates it
    if not fits:
        return f"must be {expected}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if "dropout" in key and not 0 <= value <= 1:
        return f"is a dropout probability: it must be between 0 and 1, got {value}"
    if value < 0:
        return f"must be >= 0, got {value}"
    return None


def _warn_unused_graph(config: ExperimentConfig, cls, source: str, yaml_root) -> None:
    """``[W120]`` for graph settings the model will not use: all of them for a model that reads
    no graph (``lm``, ``zeroshot``), the retrieval ones for a model that reads no retrieved
    subgraphs but names the graph (``ernie`` links entities in it)."""
    graph = config.graph
    reads_subgraphs = cls is not None and hasattr(cls, "graph_inputs")
    if graph is None or reads_subgraphs or config._graph_use_checked:
        return
    config._graph_use_checked = True
    config_class = getattr(cls, "config_class", None)
    names_graph = "graph" in getattr(config_class, "__dataclass_fields__", {})
    if not names_graph:
        keys, reads = ["graph"], "reads no knowledge graph"
    else:
        keys = [f"graph.{key}" for key, unused in (("retrieval", bool(graph.retrieval)),
                                                   ("workers", graph.workers is not None),
                                                   ("backend", graph.backend != "process")) if unused]
        reads = "reads no retrieved subgraphs (only the graph's name is used)"
    if keys:
        warn(Warnings.W120.format(location=_where(source, yaml_root, tuple(keys[0].split("."))),
                                  keys=", ".join(keys), model=config.model.name, reads=reads))


def _raise_at(source: str, root, loc: tuple, problem: str):
    where = _where(source, root, loc)
    raise KGQAError(Errors.E030.format(location=where, problem=f"({'.'.join(loc)}): {problem}"))

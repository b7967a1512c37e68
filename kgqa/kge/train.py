"""Train knowledge-graph embeddings of a :class:`~kgqa.kg.store.KnowledgeGraph`.

TransE (Bordes et al., NeurIPS 2013) is the default, with 100 dimensions as in ERNIE (Zhang et
al., ACL 2019); DistMult (Yang et al., ICLR 2015) and RotatE (Sun et al., ICLR 2019) are
selectable. Two trainers, one config:

* ``"sparse"`` (TransE, DistMult; the default): :mod:`kgqa.kge.sparse`, shared negatives per
  batch, NSSA / softplus / sampled-softmax loss, row-wise Adam that touches only the rows a step
  used, entity vectors optionally built from the node names' sentence embeddings
  (``text_init="minilm"``, the default), early stopping on held-out filtered MRR;
* ``"pykeen"`` (all three, RotatE's only one): PyKEEN's sLCWA loop (``num_negatives`` corrupted
  triples per positive, PyKEEN's losses, dense Adam).

Node ids are kept as they are in the store, so row ``i`` of the result embeds node ``i``. A
fixed-seed fraction of the edges (``holdout``, 1% by default) is kept out of training: half of
it validates (early stopping), half is the test reported in the manifest (filtered MRR and
Hits@K, :mod:`kgqa.kge.evaluate`), beside the relation-popularity baseline of the same triples.

Example::

    >>> from kgqa.kge import KGEConfig, train_embeddings
    >>> emb = train_embeddings(KnowledgeGraph.load("default"), KGEConfig(epochs=4))
    >>> emb.entity.shape, emb.manifest["metrics"]["mrr"], emb.manifest["metrics"]["popularity"]["mrr"]
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.kge.artifacts import FORMAT_VERSION, MANIFEST_FILE, EntityEmbeddings, embeddings_root, read_embeddings
from kgqa.utils.quantize import dequantize_rows, quantize_rows

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from kgqa.kg.store import KnowledgeGraph

#: KGE models this module trains, by kgqa name -> PyKEEN class name.
KGE_MODELS = {"transe": "TransE", "distmult": "DistMult", "rotate": "RotatE"}
#: Trainers: kgqa's sparse loop and PyKEEN's sLCWA loop.
TRAINERS = ("sparse", "pykeen")
#: Losses by trainer (PyKEEN's names for PyKEEN's loop).
LOSSES = {"sparse": ("nssa", "softplus", "ce"), "pykeen": ("nssa", "softplus", "marginranking", "bcewithlogits")}

#: Fields that do not change the trained vectors (left out of the config hash).
_EVAL_ONLY = ("eval_triples", "eval_batch_size")


@dataclass(frozen=True)
class KGEConfig:
    """How to train entity embeddings.

    Args:
        model: ``"transe"``, ``"distmult"`` or ``"rotate"``.
        dim: embedding dimension (complex dimension for RotatE: rows are ``2 * dim`` wide).
        trainer: ``"sparse"`` or ``"pykeen"``; ``""`` picks ``"sparse"`` where it can (TransE,
            DistMult), else ``"pykeen"``.
        epochs: most passes over the training edges (early stopping may end sooner).
        batch_size: positive edges per step.
        learning_rate: Adam learning rate (row-wise Adam of the rows a step used, ``sparse``).
        num_negatives: negatives per step shared by the batch (``sparse``), or corrupted
            triples per positive (``pykeen``); ``0``: 1024 (``sparse``; 256 gave held-out MRR
            0.059 on the default graph, 1024 gave 0.070 in the same 4 minutes) or 32 (``pykeen``).
        loss: ``"nssa"`` (self-adversarial negative sampling), ``"softplus"``, ``"ce"``
            (``sparse``: sampled softmax), or another PyKEEN loss name (``pykeen``); ``""``:
            ``"ce"`` for ``sparse`` (the best held-out MRR on the default graph,
            ``benchmarks/results/kge_sweep.jsonl``), ``"nssa"`` for ``pykeen``.
        margin: NSSA's margin :math:`\\gamma` (``sparse``; PyKEEN keeps its own default).
        adversarial_temperature: NSSA's :math:`\\alpha`.
        negative_power: ``sparse`` negatives drawn with probability proportional to
            ``(1 + degree) ** negative_power`` (``0``: uniform; ``0.75`` as word2vec).
        freeze_unseen: with ``text_init``, entities in no training triple keep the projection of
            their name (no residual learnt from being negatives; ``sparse`` only).
        text_init: ``"minilm"`` (or another sentence encoder): each entity vector is a learned
            projection of its name's embedding plus a learned residual (``sparse`` only);
            ``"none"``: free vectors; ``""``: ``"minilm"`` for ``sparse``, ``"none"`` else.
        projection_lr: Adam learning rate of that projection.
        eval_every: epochs between validations (early stopping; ``0``: none).
        patience: validations without a better MRR before stopping.
        max_minutes: stop after the epoch that passes this many minutes (``0``: no limit).
        holdout: fraction of edges held out (half validation, half test; ``0`` trains on all).
        eval_triples: at most this many held-out edges are ranked per half (fixed-seed sample).
        eval_batch_size: ranking batch size of PyKEEN's evaluator (``pykeen``).
        seed: seed of the split, the initialisation and the negative sampling.
    """

    model: str = "transe"
    dim: int = 100
    trainer: str = ""
    epochs: int = 40
    batch_size: int = 1024
    learning_rate: float = 0.01
    num_negatives: int = 0
    loss: str = ""
    margin: float = 3.0
    adversarial_temperature: float = 1.0
    negative_power: float = 0.75
    freeze_unseen: bool = True
    text_init: str = ""
    projection_lr: float = 0.003
    eval_every: int = 4
    patience: int = 2
    max_minutes: float = 0.0
    holdout: float = 0.01
    eval_triples: int = 500
    eval_batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        from kgqa.kge.sparse import SPARSE_MODELS

        def bad(problem: str) -> KGQAError:
            return KGQAError(Errors.E015.format(problem=f"KGE config: {problem}"))

        if self.model.lower() not in KGE_MODELS:
            raise KGQAError(Errors.E013.format(kind="KGE model", name=self.model, known=", ".join(KGE_MODELS)))
        object.__setattr__(self, "model", self.model.lower())
        trainer = self.trainer or ("sparse" if self.model in SPARSE_MODELS else "pykeen")
        if trainer not in TRAINERS:
            raise KGQAError(Errors.E013.format(kind="KGE trainer", name=trainer, known=", ".join(TRAINERS)))
        if trainer == "sparse" and self.model not in SPARSE_MODELS:
            raise bad(f"the sparse trainer trains {', '.join(SPARSE_MODELS)}, not {self.model}; use trainer='pykeen'")
        object.__setattr__(self, "trainer", trainer)
        text_init = self.text_init or ("minilm" if trainer == "sparse" else "none")
        if text_init != "none" and trainer != "sparse":
            raise bad("text_init needs trainer='sparse'")
        object.__setattr__(self, "text_init", text_init)
        object.__setattr__(self, "loss", self.loss or ("ce" if trainer == "sparse" else "nssa"))
        object.__setattr__(self, "num_negatives", self.num_negatives or (1024 if trainer == "sparse" else 32))
        if self.loss not in LOSSES[trainer]:
            raise KGQAError(Errors.E013.format(kind=f"KGE loss of the {trainer} trainer", name=self.loss,
                                               known=", ".join(LOSSES[trainer])))
        for name in ("dim", "epochs", "batch_size", "num_negatives", "patience"):
            if int(getattr(self, name)) < 1:
                raise bad(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_every < 0 or self.max_minutes < 0 or self.learning_rate <= 0:
            raise bad("eval_every and max_minutes must be >= 0 and learning_rate > 0")
        if not 0.0 <= self.holdout < 0.5:
            raise bad(f"holdout must be in [0, 0.5), got {self.holdout}")

    def training_dict(self) -> dict:
        """The fields that determine the vectors (what the directory name hashes)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _EVAL_ONLY}

    def config_hash(self) -> str:
        from kgqa.utils.io import sha256_bytes

        return sha256_bytes(json.dumps(self.training_dict(), sort_keys=True).encode())[:10]

    def directory_name(self) -> str:
        return f"{self.model}-{self.dim}-{self.config_hash()}"


def embeddings_dir(kg: "KnowledgeGraph", config: KGEConfig) -> Path:
    """Where ``config``'s embeddings of ``kg`` are (or will be) saved."""
    return embeddings_root(kg) / config.directory_name()


def split_edges(num_edges: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-seed split of edge ids into ``(train, held_out)``, both sorted.

    At least one edge is held out when ``holdout > 0`` and the graph has two or more edges.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_edges)
    n_out = int(round(num_edges * holdout))
    if holdout > 0 and n_out == 0 and num_edges > 1:
        n_out = 1
    return np.sort(order[n_out:]), np.sort(order[:n_out])


def mapped_triples(kg: "KnowledgeGraph", edge_ids: np.ndarray | None = None) -> "torch.Tensor":
    """``(E, 3)`` long tensor of ``(head, relation, tail)`` stored edges (PyKEEN's layout)."""
    import torch

    triples = np.stack([kg.head, kg.relation, kg.tail], axis=1).astype(np.int64)
    if edge_ids is not None:
        triples = triples[edge_ids]
    return torch.from_numpy(np.ascontiguousarray(triples))


@contextmanager
def quiet_pykeen():
    """Silence PyKEEN's CPU notices (pinned memory, memory-size probing); kgqa reports progress itself."""
    import logging
    import warnings

    loggers = [logging.getLogger(name) for name in ("pykeen", "torch_max_mem")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*pin_memory.*")
        warnings.filterwarnings("ignore", message=".*always shuffled.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _pykeen_model(config: KGEConfig, factory):
    import pykeen.models

    cls = getattr(pykeen.models, KGE_MODELS[config.model])
    loss_kwargs = {"adversarial_temperature": config.adversarial_temperature} if config.loss == "nssa" else None
    return cls(triples_factory=factory, embedding_dim=config.dim, random_seed=config.seed,
               loss=config.loss, loss_kwargs=loss_kwargs)


def representation_arrays(model) -> tuple[np.ndarray, np.ndarray]:
    """The trained entity and relation tables as float32 numpy (complex -> real view)."""
    import torch

    with torch.no_grad():
        tables = []
        for reps in (model.entity_representations, model.relation_representations):
            table = reps[0](indices=None).detach().cpu()
            if table.is_complex():
                table = torch.view_as_real(table).reshape(table.shape[0], -1)
            tables.append(table.reshape(table.shape[0], -1).to(torch.float32).numpy())
    return tables[0], tables[1]


def sample_rows(rows: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """A fixed-seed sample of at most ``max_rows`` rows, in their original order."""
    if max_rows is None or len(rows) <= max_rows:
        return rows
    return rows[np.sort(np.random.default_rng(seed).choice(len(rows), max_rows, replace=False))]


@dataclass
class FitResult:
    """Trained tables, the training record and (``pykeen`` trainer) the PyKEEN model."""

    entity: np.ndarray
    relation: np.ndarray
    training: dict
    pykeen_model: object | None = None


def fit(train: np.ndarray, num_entities: int, num_relations: int, config: KGEConfig, *,
        validation: np.ndarray | None = None, known=None, text_features: np.ndarray | None = None,
        progress: bool = False, description: str = "KGE") -> FitResult:
    """Train ``config``'s model on ``(T, 3)`` id triples (graph-free: CN-100K uses it too).

    Args:
        train: training triples.
        num_entities, num_relations: table sizes.
        config: the :class:`KGEConfig`.
        validation: held-out triples for early stopping (``sparse`` trainer); ``None``: none.
        known: a :class:`~kgqa.kge.evaluate.KnownTriples` of every true triple (filtering).
        text_features: ``(N, D_text)`` name embeddings when ``config.text_init`` is not ``"none"``.
        progress: a progress bar over epochs with the loss and the last validation MRR.
    """
    from kgqa.utils.progress import progress_bar

    train = np.ascontiguousarray(train, dtype=np.int64)
    start = time.perf_counter()
    with progress_bar(disable=None if progress else True) as bar:
        task = bar.add_task(description, total=config.epochs)

        def on_epoch(epoch: int, loss: float) -> None:
            bar.update(task, completed=epoch, description=f"{description} loss {loss:.4f}")

        if config.trainer == "sparse":
            out = _fit_sparse(train, num_entities, num_relations, config, validation, known, text_features, on_epoch)
        else:
            out = _fit_pykeen(train, num_entities, num_relations, config, on_epoch)
    out.training["seconds"] = round(time.perf_counter() - start, 2)
    out.training["minutes"] = round(out.training["seconds"] / 60, 2)
    return out


def _fit_sparse(train, num_entities, num_relations, config, validation, known, text_features, on_epoch) -> FitResult:
    import torch

    from kgqa.kge.evaluate import rank_tables
    from kgqa.kge.sparse import train_sparse

    validate = None
    if validation is not None and len(validation) and config.eval_every > 0:
        def validate(entity, relation):
            return rank_tables(config.model, entity, relation, validation, known)["mrr"]

    with torch.random.fork_rng():
        result = train_sparse(
            train, num_entities, num_relations, model=config.model, dim=config.dim, epochs=config.epochs,
            batch_size=config.batch_size, num_negatives=config.num_negatives, learning_rate=config.learning_rate,
            loss=config.loss, margin=config.margin, temperature=config.adversarial_temperature,
            negative_power=config.negative_power, freeze_unseen=config.freeze_unseen, seed=config.seed,
            text_features=text_features, projection_lr=config.projection_lr, validate=validate,
            eval_every=config.eval_every or config.epochs, patience=config.patience,
            max_seconds=config.max_minutes * 60 if config.max_minutes else None, on_epoch=on_epoch)
    training = {"seconds_per_epoch": result.seconds_per_epoch, "losses": [float(x) for x in result.losses],
                "epochs_run": result.epochs_run, "validation": result.validation,
                "best_epoch": result.best_epoch, "stop_reason": result.stop_reason}
    return FitResult(result.entity.astype(np.float32), result.relation.astype(np.float32), training)


def _fit_pykeen(train, num_entities, num_relations, config, on_epoch) -> FitResult:
    import torch
    from pykeen.training import SLCWATrainingLoop
    from pykeen.training.callbacks import TrainingCallback
    from pykeen.triples import CoreTriplesFactory

    factory = CoreTriplesFactory.create(mapped_triples=torch.from_numpy(train), num_entities=num_entities,
                                        num_relations=num_relations)
    torch.manual_seed(config.seed)
    model = _pykeen_model(config, factory)
    loop = SLCWATrainingLoop(model=model, triples_factory=factory,
                             optimizer=torch.optim.Adam(model.parameters(), lr=config.learning_rate),
                             negative_sampler_kwargs={"num_negs_per_pos": config.num_negatives})
    epoch_seconds: list[float] = []

    class _EpochTimer(TrainingCallback):
        def __init__(self):
            super().__init__()
            self.start = time.perf_counter()

        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs) -> None:
            now = time.perf_counter()
            epoch_seconds.append(round(now - self.start, 2))
            self.start = now
            on_epoch(epoch, epoch_loss)

    with quiet_pykeen():
        losses = loop.train(triples_factory=factory, num_epochs=config.epochs,
                            batch_size=min(config.batch_size, len(train)), use_tqdm=False,
                            callbacks=_EpochTimer(), pin_memory=False)
    entity, relation = representation_arrays(model)
    training = {"seconds_per_epoch": epoch_seconds, "losses": [float(x) for x in (losses or [])],
                "epochs_run": len(epoch_seconds), "stop_reason": "epochs"}
    return FitResult(entity, relation, training, pykeen_model=model)


def evaluate_fit(fitted: FitResult, config: KGEConfig, train: np.ndarray, test: np.ndarray, known, *,
                 num_entities: int, num_relations: int) -> dict:
    """Filtered link prediction of ``test`` and the relation-popularity baseline of the same triples."""
    from kgqa.kge.evaluate import popularity_baseline, rank_tables, rank_triples

    start = time.perf_counter()
    if fitted.pykeen_model is not None:
        import torch

        with quiet_pykeen():
            metrics = rank_triples(fitted.pykeen_model, torch.from_numpy(test), filter_triples=[torch.from_numpy(known.triples)],
                                   max_triples=None, batch_size=config.eval_batch_size)
    else:
        metrics = rank_tables(config.model, fitted.entity, fitted.relation, test, known)
    metrics["seconds"] = round(time.perf_counter() - start, 1)
    metrics["popularity"] = popularity_baseline(train, test, known, num_entities=num_entities,
                                                num_relations=num_relations)
    if fitted.pykeen_model is None:
        metrics["by_endpoints"] = _by_endpoints(config, fitted, train, test, known, num_entities, num_relations)
    return metrics


def _by_endpoints(config, fitted, train, test, known, num_entities, num_relations) -> dict:
    """The same metrics on the test triples whose two entities are both in a training triple
    (``seen``) and on the others (``unseen``: one entity known only by its name, if at all)."""
    from kgqa.kge.evaluate import popularity_baseline, rank_tables

    degree = np.bincount(np.asarray(train, dtype=np.int64)[:, [0, 2]].reshape(-1), minlength=num_entities)
    test = np.asarray(test, dtype=np.int64).reshape(-1, 3)
    seen = (degree[test[:, 0]] > 0) & (degree[test[:, 2]] > 0)
    out = {}
    for name, rows in (("seen", test[seen]), ("unseen", test[~seen])):
        if len(rows):
            part = rank_tables(config.model, fitted.entity, fitted.relation, rows, known)
            part["popularity"] = popularity_baseline(train, rows, known, num_entities=num_entities,
                                                     num_relations=num_relations)
            out[name] = part
    return out


def node_name_features(kg: "KnowledgeGraph", encoder, *, progress: bool = False) -> tuple[np.ndarray, dict]:
    """``(N, D_text)`` float32 sentence embeddings of every node's name (the shared node-name cache)."""
    from kgqa.encoders.node_names import NodeEmbeddingTable

    table = NodeEmbeddingTable(kg, encoder)
    start = time.perf_counter()
    computed_before = int(table.computed_mask().sum())
    table.compute_all(progress=progress)
    features = table.get(np.arange(kg.num_nodes))
    return features, {"encoder": table.encoder_name, "cache": str(table.path),
                      "rows_encoded_now": kg.num_nodes - computed_before,
                      "seconds": round(time.perf_counter() - start, 1)}


def train_embeddings(kg: "KnowledgeGraph", config: KGEConfig | None = None, *, force: bool = False,
                     progress: bool = False, save: bool = True, evaluate: bool = True,
                     text_encoder=None) -> EntityEmbeddings:
    """Train (or reuse) entity embeddings for ``kg`` and save them next to it.

    Args:
        kg: the graph.
        config: a :class:`KGEConfig` (defaults: TransE, 100 dimensions, name-initialised).
        force: train again even when this config's directory exists.
        progress: progress bars (node names, epochs).
        save: write ``<graph.path>/embeddings/<model>-<dim>-<hash>/`` (atomically).
        evaluate: rank the held-out test edges (filtered MRR, Hits@1/3/10, and the
            relation-popularity baseline) into ``manifest["metrics"]``.
        text_encoder: the sentence encoder (name or object) of ``text_init`` (default: its name).

    Returns:
        The :class:`~kgqa.kge.artifacts.EntityEmbeddings`, loaded back from disk when saved.

    Raises:
        KGQAError: a graph without edges, or a bad config.
    """
    from kgqa.kge.evaluate import KnownTriples

    config = config or KGEConfig()
    target = embeddings_dir(kg, config)
    if save and not force and (target / MANIFEST_FILE).exists():
        existing = read_embeddings(target)
        existing.check_graph(kg)
        return existing
    if kg.num_edges == 0:
        raise KGQAError(Errors.E012.format(sources=f"graph '{kg.name}' (nothing to embed)"))

    triples, train_ids, valid_ids, test_ids = graph_split(kg, config)
    known = KnownTriples(triples, num_relations=kg.num_relations)
    text, text_info = None, None
    if config.text_init != "none":
        text, text_info = node_name_features(kg, text_encoder or config.text_init, progress=progress)
    validation = sample_rows(triples[valid_ids], config.eval_triples, config.seed)
    fitted = fit(triples[train_ids], kg.num_nodes, kg.num_relations, config, validation=validation,
                 known=known, text_features=text, progress=progress, description=f"{config.model} on {kg.name}")
    del text

    metrics: dict = {}
    if evaluate and len(test_ids):
        test = sample_rows(triples[test_ids], config.eval_triples, config.seed)
        metrics = evaluate_fit(fitted, config, triples[train_ids], test, known,
                               num_entities=kg.num_nodes, num_relations=kg.num_relations)
        metrics["split"] = {"train_edges": int(len(train_ids)), "validation_edges": int(len(valid_ids)),
                            "test_edges": int(len(test_ids))}

    entity, relation = fitted.entity, fitted.relation
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": config.model,
        "dim": config.dim,
        "complex": bool(entity.shape[1] != config.dim),
        "norm": table_norm(config),
        "graph": {"name": kg.name, "checksum": kg.checksum, "num_nodes": kg.num_nodes,
                  "num_relations": kg.num_relations, "num_edges": kg.num_edges,
                  "relations": list(kg.relations)},
        "config": asdict(config),
        "config_hash": config.config_hash(),
        "training": fitted.training,
        "text_features": text_info,
        "metrics": metrics,
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    embeddings = EntityEmbeddings(entity, relation, config.model, kg.name, kg.checksum, manifest)
    if save:
        embeddings.save(target)
        return read_embeddings(target)
    return embeddings


def graph_split(kg: "KnowledgeGraph", config: KGEConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(triples, train ids, validation ids, test ids)`` of ``kg`` under ``config``'s seed and holdout.

    Half of the held-out edges validate (early stopping), the other half is the reported test.
    """
    triples = np.stack([kg.head, kg.relation, kg.tail], axis=1).astype(np.int64)
    train_ids, held_ids = split_edges(kg.num_edges, config.holdout, config.seed)
    held_ids = np.random.default_rng(config.seed + 1).permutation(held_ids)
    if len(held_ids) >= 2:
        valid_ids, test_ids = np.sort(held_ids[: len(held_ids) // 2]), np.sort(held_ids[len(held_ids) // 2:])
    else:
        valid_ids, test_ids = np.zeros(0, np.int64), held_ids
    return triples, train_ids, valid_ids, test_ids


def export_compact(kg: "KnowledgeGraph", embeddings: EntityEmbeddings, directory: str | Path) -> Path:
    """Write ``embeddings`` as a compact shipped table (int8 rows, see :mod:`kgqa.kge.artifacts`).

    The int8 table is ranked again on the same held-out test edges (``metrics``; the float32
    table's are kept as ``metrics_float32``), and the training manifest goes with it.

    Raises:
        KGQAError: embeddings of another graph (``[E050]``), or of PyKEEN's trainer (``[E015]``:
            only the sparse trainer's scores are re-ranked here).
    """
    from kgqa.kge.artifacts import save_quantized
    from kgqa.kge.evaluate import KnownTriples, popularity_baseline, rank_tables

    embeddings.check_graph(kg)
    manifest = dict(embeddings.manifest)
    config = KGEConfig(**manifest["config"])
    if config.trainer != "sparse":
        raise KGQAError(Errors.E015.format(problem="only tables of the sparse trainer can be exported"))
    triples, train_ids, _, test_ids = graph_split(kg, config)
    known = KnownTriples(triples, num_relations=kg.num_relations)
    test = sample_rows(triples[test_ids], config.eval_triples, config.seed)
    entity = dequantize_rows(*quantize_rows(embeddings.entity))
    metrics = rank_tables(config.model, entity, embeddings.relation, test, known)
    metrics["popularity"] = popularity_baseline(triples[train_ids], test, known, num_entities=kg.num_nodes,
                                                num_relations=kg.num_relations)
    metrics["by_endpoints"] = _by_endpoints(config, FitResult(entity, np.asarray(embeddings.relation), {}),
                                            triples[train_ids], test, known, kg.num_nodes, kg.num_relations)
    metrics["split"] = manifest.get("metrics", {}).get("split")
    manifest["metrics_float32"] = manifest.get("metrics")
    manifest["metrics"] = metrics
    manifest["exported_from"] = {"path": str(embeddings.path), "entity_sha256": embeddings.checksum}
    manifest.pop("files", None)
    return save_quantized(embeddings, directory, manifest)


def table_norm(config: KGEConfig) -> int | None:
    """The distance norm of a TransE table: 2 from the sparse trainer, 1 from PyKEEN's TransE."""
    if config.model != "transe":
        return None
    return 2 if config.trainer == "sparse" else 1


def _versions() -> dict:
    import torch
    from pykeen.version import get_version

    import kgqa

    return {"kgqa": kgqa.__version__, "pykeen": get_version(), "torch": torch.__version__,
            "numpy": np.__version__}

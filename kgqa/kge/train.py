"""Train knowledge-graph embeddings of a :class:`~kgqa.kg.store.KnowledgeGraph` with PyKEEN.

TransE (Bordes et al., NeurIPS 2013) is the default, with 100 dimensions as in ERNIE (Zhang et
al., ACL 2019); DistMult (Yang et al., ICLR 2015) and RotatE (Sun et al., ICLR 2019) are
selectable. Training is PyKEEN's stochastic local closed-world loop (sLCWA: each stored edge
against corrupted heads/tails) on the graph's forward edges, node ids kept as they are in the
store, so row ``i`` of the result embeds node ``i``.

A fixed-seed fraction of the edges (``holdout``, 1% by default) is kept out of training and
used for filtered link prediction (:mod:`kgqa.kge.evaluate`); the metrics go into the manifest.

Example::

    >>> from kgqa.kge import KGEConfig, train_embeddings
    >>> emb = train_embeddings(KnowledgeGraph.load("default"), KGEConfig(epochs=4))
    >>> emb.entity.shape, emb.manifest["metrics"]["mrr"]
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

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from kgqa.kg.store import KnowledgeGraph

#: KGE models this module trains, by kgqa name -> PyKEEN class name.
KGE_MODELS = {"transe": "TransE", "distmult": "DistMult", "rotate": "RotatE"}

#: Fields that do not change the trained vectors (left out of the config hash).
_EVAL_ONLY = ("eval_triples", "eval_batch_size")


@dataclass(frozen=True)
class KGEConfig:
    """How to train entity embeddings.

    Args:
        model: ``"transe"``, ``"distmult"`` or ``"rotate"``.
        dim: embedding dimension (complex dimension for RotatE: rows are ``2 * dim`` wide).
        epochs: passes over the training edges.
        batch_size: positive edges per step (large batches: few dense optimiser steps on CPU).
        learning_rate: Adam learning rate.
        num_negatives: corrupted triples per positive.
        holdout: fraction of edges held out for link prediction (``0`` trains on all).
        eval_triples: at most this many held-out edges are ranked (a fixed-seed sample).
        eval_batch_size: ranking batch size (memory: ``batch * N * dim`` floats for TransE).
        seed: seed of the split, the initialisation and the negative sampling.
    """

    model: str = "transe"
    dim: int = 100
    epochs: int = 6
    batch_size: int = 16384
    learning_rate: float = 0.02
    num_negatives: int = 1
    holdout: float = 0.01
    eval_triples: int = 500
    eval_batch_size: int = 16
    seed: int = 0

    def __post_init__(self):
        if self.model.lower() not in KGE_MODELS:
            raise KGQAError(Errors.E013.format(kind="KGE model", name=self.model, known=", ".join(KGE_MODELS)))
        object.__setattr__(self, "model", self.model.lower())
        for name in ("dim", "epochs", "batch_size", "num_negatives"):
            if int(getattr(self, name)) < 1:
                raise KGQAError(Errors.E015.format(problem=f"KGE config: {name} must be >= 1, got {getattr(self, name)}"))
        if not 0.0 <= self.holdout < 0.5:
            raise KGQAError(Errors.E015.format(problem=f"KGE config: holdout must be in [0, 0.5), got {self.holdout}"))

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
    return cls(triples_factory=factory, embedding_dim=config.dim, random_seed=config.seed)


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


def train_embeddings(kg: "KnowledgeGraph", config: KGEConfig | None = None, *, force: bool = False,
                     progress: bool = False, save: bool = True, evaluate: bool = True) -> EntityEmbeddings:
    """Train (or reuse) entity embeddings for ``kg`` and save them next to it.

    Args:
        kg: the graph.
        config: a :class:`KGEConfig` (defaults: TransE, 100 dimensions).
        force: train again even when this config's directory exists.
        progress: show a progress bar over epochs (with the current loss).
        save: write ``<graph.path>/embeddings/<model>-<dim>-<hash>/`` (atomically).
        evaluate: rank held-out edges (filtered MRR, Hits@1/3/10) into ``manifest["metrics"]``.

    Returns:
        The :class:`~kgqa.kge.artifacts.EntityEmbeddings`, loaded back from disk when saved.

    Raises:
        KGQAError: a graph without edges, or a bad config.
    """
    import torch
    from pykeen.training import SLCWATrainingLoop
    from pykeen.training.callbacks import TrainingCallback
    from pykeen.triples import CoreTriplesFactory

    config = config or KGEConfig()
    target = embeddings_dir(kg, config)
    if save and not force and (target / MANIFEST_FILE).exists():
        existing = read_embeddings(target)
        existing.check_graph(kg)
        return existing
    if kg.num_edges == 0:
        raise KGQAError(Errors.E012.format(sources=f"graph '{kg.name}' (nothing to embed)"))

    train_ids, test_ids = split_edges(kg.num_edges, config.holdout, config.seed)
    train = mapped_triples(kg, train_ids)
    factory = CoreTriplesFactory.create(mapped_triples=train, num_entities=kg.num_nodes,
                                        num_relations=kg.num_relations)
    torch.manual_seed(config.seed)
    model = _pykeen_model(config, factory)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loop = SLCWATrainingLoop(model=model, triples_factory=factory, optimizer=optimizer,
                             negative_sampler_kwargs={"num_negs_per_pos": config.num_negatives})

    from kgqa.utils.progress import progress_bar

    epoch_seconds: list[float] = []

    class _EpochTimer(TrainingCallback):
        def __init__(self, bar, task):
            super().__init__()
            self.bar, self.task, self.start = bar, task, time.perf_counter()

        def post_epoch(self, epoch: int, epoch_loss: float, **kwargs) -> None:
            now = time.perf_counter()
            epoch_seconds.append(now - self.start)
            self.start = now
            self.bar.update(self.task, advance=1, description=f"{config.model} loss {epoch_loss:.4f}")

    start = time.perf_counter()
    with quiet_pykeen(), progress_bar(disable=None if progress else True) as bar:
        task = bar.add_task(f"{config.model} on {kg.name}", total=config.epochs)
        losses = loop.train(triples_factory=factory, num_epochs=config.epochs,
                            batch_size=min(config.batch_size, len(train)), use_tqdm=False,
                            callbacks=_EpochTimer(bar, task), pin_memory=False)
    train_seconds = time.perf_counter() - start
    entity, relation = representation_arrays(model)

    metrics: dict = {}
    if evaluate and len(test_ids):
        from kgqa.kge.evaluate import rank_triples

        with quiet_pykeen():
            metrics = rank_triples(model, mapped_triples(kg, test_ids), filter_triples=[train],
                                   max_triples=config.eval_triples, seed=config.seed,
                                   batch_size=config.eval_batch_size)
        metrics["split"] = {"train_edges": int(len(train_ids)), "held_out_edges": int(len(test_ids))}

    manifest = {
        "format_version": FORMAT_VERSION,
        "model": config.model,
        "dim": config.dim,
        "complex": bool(entity.shape[1] != config.dim),
        "graph": {"name": kg.name, "checksum": kg.checksum, "num_nodes": kg.num_nodes,
                  "num_relations": kg.num_relations, "num_edges": kg.num_edges,
                  "relations": list(kg.relations)},
        "config": asdict(config),
        "config_hash": config.config_hash(),
        "training": {"seconds": round(train_seconds, 2),
                     "seconds_per_epoch": [round(s, 2) for s in epoch_seconds],
                     "losses": [float(x) for x in (losses or [])]},
        "metrics": metrics,
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    embeddings = EntityEmbeddings(entity, relation, config.model, kg.name, kg.checksum, manifest)
    if save:
        embeddings.save(target)
        return read_embeddings(target)
    return embeddings


def _versions() -> dict:
    import torch
    from pykeen.version import get_version

    import kgqa

    return {"kgqa": kgqa.__version__, "pykeen": get_version(), "torch": torch.__version__,
            "numpy": np.__version__}

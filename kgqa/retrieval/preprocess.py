"""``kgqa preprocess``: linking + subgraphs + paths for every question of a dataset, cached.

:func:`preprocess` reads each split (:func:`kgqa.data.load_dataset`; a malformed line stops
with ``file:line: problem``), keys a cache directory on the dataset, graph and settings
(:mod:`kgqa.retrieval.cache`), computes the missing shards in parallel
(:mod:`kgqa.retrieval.backends`) with a progress bar, and writes the manifest with statistics.
A second call with the same inputs only verifies the shards and returns the cache.

The ``process`` backend starts its workers with ``spawn`` (safe next to torch's thread pools),
so a script that calls :func:`preprocess` needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.paths import ensure_folder
from kgqa.retrieval.cache import (MANIFEST, RetrievalCache, cache_dir_name, cache_root, check_shard, read_shard,
                                  shard_name, warn_rebuild)
from kgqa.retrieval.config import CACHE_FORMAT_VERSION, RetrievalConfig

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.data.records import QADataset
    from kgqa.kg.store import KnowledgeGraph

#: ``--split all`` of the named datasets.
ALL_SPLITS = {"csqa": ("train", "dev", "test"), "obqa": ("train", "dev", "test")}


#: Split names a lone ``.jsonl`` file may be named after (``dev.jsonl`` is the dev split).
_SPLIT_NAMES = ("train", "dev", "test", "ih_train", "ih_dev", "ih_test", "valid", "validation")


def resolve_splits(dataset: str, split: str | Sequence[str]) -> list[str]:
    """``"all"`` -> the dataset's official splits; a comma list or sequence as given.

    A single ``.jsonl`` file is one split, processed once: ``"all"`` names it after the file
    (``dev.jsonl`` -> ``dev``) or, for any other file name, ``test`` (answers optional).
    """
    if isinstance(split, str):
        if split == "all":
            path = Path(str(dataset)).expanduser()
            if str(dataset).lower() not in ALL_SPLITS and path.is_file():
                return [path.stem if path.stem in _SPLIT_NAMES else "test"]
            return list(ALL_SPLITS.get(str(dataset).lower(), ("train", "dev", "test")))
        return [s.strip() for s in split.split(",") if s.strip()]
    return list(split)


def dataset_fingerprint(ds: "QADataset") -> dict:
    """What identifies a split's input: its content checksum and its files' sha256."""
    from kgqa.utils.io import sha256_file

    files = {}
    for source in ds.sources:
        path = Path(source)
        files[path.name] = sha256_file(path) if path.is_file() else source
    return {"name": ds.name, "split": ds.split, "checksum": ds.checksum, "files": files,
            "num_questions": len(ds)}


def cache_key(dataset: dict, graph_checksum: str, config: RetrievalConfig, scorer: dict) -> str:
    """sha256 over the dataset fingerprint, the graph checksum and the settings' fingerprint."""
    from kgqa.utils.io import sha256_bytes

    blob = json.dumps({"dataset": dataset, "graph": graph_checksum,
                       "config": config.fingerprint({"path_scorer": scorer})}, sort_keys=True)
    return sha256_bytes(blob.encode())


def preprocess(dataset: "str | QADataset" = "csqa", graph: "str | KnowledgeGraph" = "default",
               split: str | Sequence[str] = "all", *, config: RetrievalConfig | dict | None = None,
               workers: int | None = None, backend: str = "process", cache_dir: str | Path | None = None,
               data_dir: str | Path | None = None, linker=None, progress: bool = False,
               on_shard: Callable[[dict], None] | None = None) -> dict[str, RetrievalCache]:
    """Link, retrieve and cache every question of the dataset's splits.

    Args:
        dataset: ``"csqa"``, ``"obqa"``, a jsonl path, or a loaded :class:`~kgqa.data.QADataset`.
        graph: graph name, directory or loaded graph.
        split: ``"all"``, one split, a comma list or a sequence (a single ``.jsonl`` file is
            one split: see :func:`resolve_splits`).
        config: retrieval settings (:class:`RetrievalConfig` or a dict of its fields).
        workers: parallel workers (default: the number of CPU cores).
        backend: ``process``, ``ray`` or ``serial``.
        cache_dir: cache root (default ``KGQA_HOME/cache/retrieval``; ``[E014]`` when it
            cannot be a folder).
        data_dir: the dataset's folder (default ``<data_dir>/<name>``).
        linker: a linker object (``link_qa_batch`` or the ``Linker`` protocol); default: the
            graph's :func:`~kgqa.linking.linker.load_linker`.
        progress: show a progress bar (count, rate, ETA).
        on_shard: called with each finished shard's summary (an exception there stops the run;
            finished shards are kept for the next run).

    Returns:
        ``{split: RetrievalCache}``.

    Raises:
        BadInputError: a malformed dataset line (``file:line: problem``).
        KGQAError: unknown dataset, split, graph or backend.
    """
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.retrieval.pruning import load_path_scorer

    from kgqa.retrieval.backends import BACKENDS

    if backend not in BACKENDS:
        raise KGQAError(Errors.E013.format(kind="backend", name=backend, known=", ".join(BACKENDS)))
    cfg = config if isinstance(config, RetrievalConfig) else RetrievalConfig.from_dict(config)
    root = ensure_folder(Path(cache_dir) if cache_dir is not None else cache_root())
    kg = graph if isinstance(graph, KnowledgeGraph) else KnowledgeGraph.load(graph)
    workers = int(workers or os.cpu_count() or 1)
    _, scorer_info = load_path_scorer(kg, cfg.path_scorer)
    scorer_spec = "none" if not scorer_info.pruned else (cfg.path_scorer if cfg.path_scorer != "auto" else
                                                        str(_newest_transe(kg)))
    if isinstance(dataset, str) or isinstance(dataset, Path):
        datasets = [_load_split(str(dataset), s, data_dir) for s in resolve_splits(str(dataset), split)]
    else:
        datasets = [dataset]
    out = {}
    for ds in datasets:
        out[ds.split] = _preprocess_split(ds, kg, cfg, root, workers, backend, linker, progress, on_shard,
                                          scorer_info.to_dict(), scorer_spec)
    return out


def _newest_transe(kg) -> Path:
    from kgqa.kge.artifacts import find_embeddings

    return find_embeddings(kg, "transe")[0]


def _load_split(dataset: str, split: str, data_dir) -> "QADataset":
    from kgqa.data import load_dataset

    return load_dataset(dataset, split, directory=data_dir)


def _preprocess_split(ds, kg, cfg: RetrievalConfig, root: Path, workers: int, backend: str, linker, progress: bool,
                      on_shard, scorer: dict, scorer_spec: str) -> RetrievalCache:
    from kgqa.retrieval.backends import ShardTask, WorkerSetup, run_shards
    from kgqa.utils.io import atomic_write_json

    started = time.perf_counter()
    fingerprint = dataset_fingerprint(ds)
    key = cache_key(fingerprint, kg.checksum, cfg, scorer)
    directory = root / cache_dir_name(ds.name, ds.split, kg.name, key)
    ensure_folder(directory)
    size = cfg.shard_size
    ranges = [(i, lo, min(lo + size, len(ds))) for i, lo in enumerate(range(0, len(ds), size))]

    marks: dict[int, dict] = {}
    for index, _, _ in ranges:
        mark, problem = check_shard(directory, index, key)
        if mark is not None:
            marks[index] = mark
        elif problem is not None:
            warn_rebuild(directory / shard_name(index), problem)
    manifest_path = directory / MANIFEST
    if len(marks) == len(ranges) and manifest_path.exists():
        try:
            cache = RetrievalCache(directory)
            if cache.key == key and [s["sha256"] for s in cache.manifest["shards"]] == \
                    [marks[i]["sha256"] for i, _, _ in ranges]:
                return cache
            problem = "it lists other shards"
        except (KGQAError, KeyError, TypeError) as exc:
            problem = str(exc)
        warn_rebuild(manifest_path, problem)

    todo = [ShardTask(i, lo, hi, [ex.id for ex in ds.examples[lo:hi]], [ex.question for ex in ds.examples[lo:hi]],
                      [list(ex.choices) for ex in ds.examples[lo:hi]]) for i, lo, hi in ranges if i not in marks]
    if todo and cfg.ranker == "relevance":
        from kgqa.encoders.node_names import NodeEmbeddingTable
        from kgqa.retrieval.ranking import node_embedding_mode

        if node_embedding_mode(cfg.node_embeddings, len(ds)) == "all":
            NodeEmbeddingTable(kg, cfg.encoder).compute_all(progress=progress)
    setup = WorkerSetup(graph_path=str(kg.path), config=cfg.to_dict(), directory=str(directory), key=key,
                        scorer_spec=scorer_spec, linker=linker)
    summaries: list[dict] = []
    from kgqa.utils.progress import progress_bar

    with progress_bar(disable=None if progress else True) as bar:
        task_id = bar.add_task(f"{ds.name} {ds.split}", total=len(ds),
                               completed=sum(hi - lo for i, lo, hi in ranges if i in marks))

        def done(summary: dict) -> None:
            marks[summary["index"]] = summary["mark"]
            summaries.append(summary)
            bar.update(task_id, advance=summary["questions"])
            if on_shard is not None:
                on_shard(summary)

        run_shards(todo, setup, backend=backend, workers=workers, on_done=done)

    cache_manifest = {
        "format_version": CACHE_FORMAT_VERSION,
        "key": key,
        "dataset": fingerprint,
        "graph": {"name": kg.name, "checksum": kg.checksum, "num_nodes": kg.num_nodes,
                  "num_relations": kg.num_relations},
        "config": cfg.to_dict(),
        "path_scorer": scorer,
        "num_questions": len(ds),
        "shard_size": size,
        "shards": [{k: marks[i][k] for k in ("file", "sha256", "bytes", "start", "stop", "question_ids")}
                   for i, _, _ in ranges],
        "stats": {},
    }
    cache_manifest["stats"] = compute_stats(directory, cache_manifest["shards"], scorer)
    cache_manifest["run"] = _run_record(started, summaries, backend, workers)
    atomic_write_json(manifest_path, cache_manifest)
    return RetrievalCache(directory)


def _run_record(started: float, summaries: list[dict], backend: str, workers: int) -> dict:
    from kgqa import __version__

    stages: dict[str, float] = {}
    for summary in summaries:
        for stage, seconds in summary["seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    return {"kgqa_version": __version__, "python": platform.python_version(), "backend": backend,
            "workers": workers, "shards_computed": len(summaries), "wall_seconds": time.perf_counter() - started,
            "worker_seconds": stages, "created_unix": int(time.time())}


def _summary(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"mean": 0.0, "median": 0.0, "max": 0}
    return {"mean": float(np.mean(values)), "median": float(statistics.median(values.tolist())),
            "max": int(np.max(values))}


STAT_ARRAYS = ("choice_ptr", "node_ptr", "num_subgraph_nodes", "num_subgraph_edges", "edge_ptr", "ranked",
               "pair_ptr", "pair_found", "path_ptr", "question_concept_ptr", "answer_concept_ptr", "num_candidates")


def compute_stats(directory: Path, shards: list[dict], scorer: dict) -> dict:
    """Statistics of a cache, from its shards (so a resumed run gives the same numbers)."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in STAT_ARRAYS}
    for shard in shards:
        arrays, _ = read_shard(directory / shard["file"], names=STAT_ARRAYS)
        for name in STAT_ARRAYS:
            parts[name].append(arrays[name])
    counts = {name: np.concatenate([np.diff(p) for p in parts[name]]) if parts[name] else np.zeros(0, np.int64)
              for name in ("choice_ptr", "node_ptr", "edge_ptr", "pair_ptr", "path_ptr", "question_concept_ptr",
                           "answer_concept_ptr")}
    cat = {name: np.concatenate(parts[name]) if parts[name] else np.zeros(0, np.int64)
           for name in ("num_subgraph_nodes", "num_subgraph_edges", "ranked", "pair_found", "num_candidates")}
    paths_per_pair = counts["path_ptr"]
    num_choices = len(counts["node_ptr"])
    pair_offsets = np.concatenate([[0], np.cumsum(counts["pair_ptr"])])
    path_offsets = np.concatenate([[0], np.cumsum(paths_per_pair)])
    choice_paths = path_offsets[pair_offsets[1:]] - path_offsets[pair_offsets[:-1]]
    return {
        "questions": int(len(counts["choice_ptr"])),
        "choices": int(num_choices),
        "questions_without_question_concepts": int((counts["question_concept_ptr"] == 0).sum()),
        "choices_without_answer_concepts": int((counts["answer_concept_ptr"] == 0).sum()),
        "empty_subgraphs": int((cat["num_subgraph_nodes"] == 0).sum()),
        "subgraph_nodes": _summary(cat["num_subgraph_nodes"]),
        "subgraph_edges": _summary(cat["num_subgraph_edges"]),
        "graph_nodes_with_path_nodes": _summary(counts["node_ptr"]),
        "graph_edges_with_path_edges": _summary(counts["edge_ptr"]),
        "choices_over_node_cap": int((cat["num_candidates"] > cat["num_subgraph_nodes"]).sum()),
        "choices_ranked": int(cat["ranked"].sum()),
        "pairs": int(len(paths_per_pair)),
        "paths": int(paths_per_pair.sum()),
        "paths_per_pair": _summary(paths_per_pair),
        "paths_found_before_pruning": int(cat["pair_found"].sum()),
        "share_of_pairs_without_path": float((paths_per_pair == 0).mean()) if len(paths_per_pair) else 0.0,
        "choices_without_path": int((choice_paths == 0).sum()),
        "pruned": bool(scorer.get("pruned")),
        "pruning_note": scorer.get("reason", ""),
    }

"""Where preprocessing shards run: in this process, in a process pool, or on Ray.

Every backend runs the same :class:`ShardWorker` (graph memory-mapped, linker and retriever
built once per worker) on ``(shard index, questions)`` tasks; a worker writes its shard itself
and returns only a small summary, so the output does not depend on the backend or on the order
in which shards finish.

Pool workers die with the process that started them: on Linux each asks the kernel for a
parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), elsewhere a thread watches the
parent, so a ``kill -9`` of ``kgqa preprocess`` leaves no worker (nor, since the workers held its
pipe, multiprocessing's resource tracker) behind. A SIGTERM stops the workers at once and then
ends the process as SIGTERM would.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kgqa.errors import Errors, KGQAError
from kgqa.linking.lazy import LazyLinkerMixin
from kgqa.utils.signals import sigterm_raises

BACKENDS = ("serial", "process", "ray")


@dataclass
class ShardTask:
    """One shard's questions."""

    index: int
    start: int
    stop: int
    ids: list[str]
    questions: list[str]
    choices: list[list[str]]


@dataclass
class WorkerSetup:
    """What a worker needs to build its state (picklable)."""

    graph_path: str
    config: dict
    directory: str
    key: str
    scorer_spec: str = "none"
    linker: object | None = None
    extra_metadata: dict = field(default_factory=dict)


class ShardWorker(LazyLinkerMixin):
    """Computes and writes shards (one per call)."""

    def __init__(self, setup: WorkerSetup):
        from kgqa.kg.store import KnowledgeGraph
        from kgqa.retrieval.config import RetrievalConfig
        from kgqa.retrieval.pruning import load_path_scorer
        from kgqa.retrieval.retriever import Retriever

        self.setup = setup
        self.kg = KnowledgeGraph.load(setup.graph_path)
        config = RetrievalConfig.from_dict(setup.config)
        scorer, info = load_path_scorer(self.kg, setup.scorer_spec, quiet=True)
        self.retriever = Retriever(self.kg, config, scorer=scorer)
        self.retriever.scorer_info = info
        self._linker = setup.linker

    def __call__(self, task: ShardTask) -> dict:
        from pathlib import Path

        from kgqa.retrieval.cache import write_shard
        from kgqa.retrieval.retriever import retrieve_links

        t0 = time.perf_counter()
        links = link_questions(self.linker, task.questions, task.choices)
        t1 = time.perf_counter()
        arrays = retrieve_links(self.retriever, task.questions, task.choices, links)
        t2 = time.perf_counter()
        metadata = {"key": self.setup.key, "shard": task.index, "start": task.start, "stop": task.stop,
                    "question_ids": task.ids, **self.setup.extra_metadata}
        mark = write_shard(Path(self.setup.directory), task.index, arrays, metadata)
        t3 = time.perf_counter()
        return {"index": task.index, "questions": task.stop - task.start, "mark": mark,
                "seconds": {"linking": t1 - t0, "retrieval": t2 - t1, "writing": t3 - t2}}


def link_questions(linker, questions: list[str], choices: list[list[str]]) -> list:
    """:class:`~kgqa.linking.types.QALinks` of every question with any linker."""
    if hasattr(linker, "link_qa_batch"):
        return list(linker.link_qa_batch(questions, choices))
    from kgqa.linking.linker import link_qa

    return [link_qa(linker, q, c) for q, c in zip(questions, choices)]


# ---------------------------------------------------------------------- process pool
_WORKER: ShardWorker | None = None
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid`` (its parent) is gone."""
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            armed = ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL)) == 0
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the request was made
        os._exit(1)
    if not armed:  # pragma: no cover - other systems: watch the parent
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="kgqa-parent-watch", daemon=True).start()


def _init_process(setup: WorkerSetup, threads: int, parent_pid: int | None = None) -> None:
    global _WORKER
    if parent_pid is not None:
        die_with_parent(parent_pid)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    _WORKER = ShardWorker(setup)


def _run_in_process(task: ShardTask) -> dict:
    assert _WORKER is not None
    return _WORKER(task)


def run_shards(tasks: Iterable[ShardTask], setup: WorkerSetup, *, backend: str = "process", workers: int = 1,
               on_done: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every task; ``on_done(summary)`` is called in this process as each shard finishes.

    Args:
        tasks: the shards to compute.
        setup: worker setup.
        backend: ``serial`` (this process), ``process`` (a spawn-started process pool, each
            worker memory-maps the graph) or ``ray`` (actors on the running Ray cluster, or a
            local one started here).
        workers: parallel workers (``process``/``ray``).
        on_done: progress callback; an exception there stops the run (finished shards stay).
    """
    tasks = list(tasks)
    if backend not in BACKENDS:
        raise KGQAError(Errors.E013.format(kind="backend", name=backend, known=", ".join(BACKENDS)))
    if not tasks:
        return []
    workers = max(1, min(int(workers), len(tasks)))
    if backend == "serial" or (backend == "process" and workers == 1):
        return _run_serial(tasks, setup, on_done)
    if backend == "process":
        return _run_pool(tasks, setup, workers, on_done)
    return _run_ray(tasks, setup, workers, on_done)


def _run_serial(tasks, setup, on_done) -> list[dict]:
    worker = ShardWorker(setup)
    out = []
    for task in tasks:
        summary = worker(task)
        out.append(summary)
        if on_done is not None:
            on_done(summary)
    return out


def _run_pool(tasks, setup, workers, on_done) -> list[dict]:
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // workers)
    out = []
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=_init_process, initargs=(setup, threads, os.getpid()))
    try:
        with sigterm_raises(_Terminated):
            pending = {pool.submit(_run_in_process, task) for task in tasks}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    summary = future.result()
                    out.append(summary)
                    if on_done is not None:
                        on_done(summary)
    except _Terminated:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        signal.raise_signal(signal.SIGTERM)  # the handler is restored: end as SIGTERM would
        raise SystemExit(128 + signal.SIGTERM) from None  # a caller's own handler returned
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return out


class _Terminated(BaseException):
    """SIGTERM arrived while the pool was running."""


def _run_ray(tasks, setup, workers, on_done) -> list[dict]:
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise KGQAError(Errors.E062.format(backend="ray", problem=f"{exc}; pip install ray")) from None
    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        started = True
    try:
        threads = max(1, (os.cpu_count() or 1) // workers)
        remote_worker = ray.remote(num_cpus=1)(_RayWorker)
        actors = [remote_worker.remote(setup, threads) for _ in range(workers)]
        pool = ActorPool(actors)
        out = []
        for summary in pool.map_unordered(lambda actor, task: actor.run.remote(task), tasks):
            out.append(summary)
            if on_done is not None:
                on_done(summary)
        return out
    finally:
        if started:
            ray.shutdown()


class _RayWorker:
    def __init__(self, setup: WorkerSetup, threads: int):
        _init_process(setup, threads)

    def run(self, task: ShardTask) -> dict:
        return _run_in_process(task)

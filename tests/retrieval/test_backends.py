"""Pool workers die with the process that started them (a real process, killed for real)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.retrieval.helpers import write_questions

REPO = Path(__file__).resolve().parents[2]

PARENT = """
import sys
from kgqa.kg.store import KnowledgeGraph
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.preprocess import preprocess
from tests.retrieval.helpers import SlowLinker
kg = KnowledgeGraph.load(sys.argv[1])
preprocess(sys.argv[2], kg, "dev", cache_dir=sys.argv[3], workers=2, backend="process",
           config=RetrievalConfig(ranker="degree", path_scorer="none", shard_size=2),
           linker=SlowLinker(kg.node_names, sys.argv[4]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent(garden_graph, tmp_path, sig):
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", PARENT, str(garden_graph.path), str(write_questions(tmp_path / "dev.jsonl")),
                             str(tmp_path / "cache"), str(marks)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    children = []
    try:
        deadline = time.time() + 120
        while len(list(marks.iterdir())) < 2 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        workers = {int(p.name) for p in marks.iterdir()}
        assert len(workers) == 2, "the two workers never started a shard"
        children = psutil.Process(proc.pid).children(recursive=True)  # the workers and the resource tracker
        assert workers <= {c.pid for c in children} and len(children) >= 3
    finally:
        os.kill(proc.pid, sig)
        proc.wait(timeout=60)
    assert proc.returncode == -sig
    gone, alive = psutil.wait_procs(children, timeout=10)
    leftover = [(p.pid, p.cmdline()) for p in alive]
    for p in alive:  # leave nothing behind, even when the test fails
        p.kill()
    assert leftover == []

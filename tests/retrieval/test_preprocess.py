import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from kgqa.errors import BadInputError
from kgqa.retrieval.cache import MANIFEST, RetrievalCache, read_shard
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.preprocess import preprocess
from tests.conftest import cli_text
from tests.retrieval.helpers import QUESTIONS, WordLinker, write_questions

REPO = Path(__file__).resolve().parents[2]
CONFIG = RetrievalConfig(ranker="degree", path_scorer="none", shard_size=2)


def run(kg, dataset, cache_dir, **kwargs):
    kwargs.setdefault("config", CONFIG)
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("backend", "serial")
    return preprocess(str(dataset), kg, "dev", cache_dir=cache_dir, linker=WordLinker(kg.node_names), **kwargs)["dev"]


def shard_arrays(cache: RetrievalCache) -> list[dict]:
    return [read_shard(cache.path / s["file"])[0] for s in cache.manifest["shards"]]


def assert_same_output(a: RetrievalCache, b: RetrievalCache) -> None:
    assert a.manifest["stats"] == b.manifest["stats"]
    assert [s["sha256"] for s in a.manifest["shards"]] == [s["sha256"] for s in b.manifest["shards"]]
    for x, y in zip(shard_arrays(a), shard_arrays(b)):
        assert x.keys() == y.keys()
        for key in x:
            assert np.array_equal(x[key], y[key], equal_nan=x[key].dtype.kind == "f"), key


@pytest.fixture()
def dataset(tmp_path):
    return write_questions(tmp_path / "dev.jsonl")


def test_statistics_cache_hit_and_graphs(garden_graph, dataset, tmp_path):
    calls = []
    cache = run(garden_graph, dataset, tmp_path / "cache", on_shard=calls.append)
    assert len(calls) == 4  # 7 questions, shards of 2
    assert cache.path.name.startswith("dev-dev-garden-") and cache.key[:16] in cache.path.name
    stats = cache.stats
    assert (stats["questions"], stats["choices"]) == (7, 21)
    # "Why is the sky blue?" links nothing: counted, kept, and its 3 choices have empty subgraphs
    assert stats["questions_without_question_concepts"] == 1
    assert stats["choices_without_answer_concepts"] == 3 and stats["empty_subgraphs"] == 3
    assert stats["pruned"] is False and "disabled" in stats["pruning_note"]
    assert stats["pairs"] == sum(p for p in [stats["pairs"]])  # present
    assert cache.manifest["dataset"]["files"]["dev.jsonl"] and cache.manifest["graph"]["checksum"] == garden_graph.checksum
    # a second run finds everything: nothing is computed
    again = run(garden_graph, dataset, tmp_path / "cache", on_shard=calls.append)
    assert len(calls) == 4 and again.path == cache.path
    # graphs: one list of 3 ChoiceGraphs per question; question 3 is context-only
    graphs = cache.graphs()
    assert len(graphs) == 7 and [len(g) for g in graphs] == [3] * 7
    assert [g.num_nodes for g in graphs[3]] == [1, 1, 1]
    q0 = graphs[0][0]  # "...shovel...garden?" / "dig"
    names = garden_graph.node_names
    assert [names[i] for i in q0.node_ids[q0.node_type == 0].tolist()] == ["shovel", "garden"]
    assert [names[i] for i in q0.node_ids[q0.node_type == 1].tolist()] == ["dig"]
    assert cache.question_ids == [q[0] for q in QUESTIONS]


def test_cache_key_changes_with_settings_and_data(garden_graph, dataset, tmp_path):
    base = run(garden_graph, dataset, tmp_path / "cache")
    other_settings = run(garden_graph, dataset, tmp_path / "cache", config=RetrievalConfig(
        ranker="degree", path_scorer="none", shard_size=2, max_paths=1))
    assert other_settings.path != base.path
    # time-only settings do not change the key
    lazy = RetrievalConfig(ranker="degree", path_scorer="none", shard_size=2, node_embeddings="lazy")
    assert run(garden_graph, dataset, tmp_path / "cache", config=lazy).path == base.path
    changed = list(QUESTIONS)
    changed[0] = ("q0", "What do you use a hammer for?", ["nail", "flower", "dig"], "A")
    write_questions(dataset, changed)
    assert run(garden_graph, dataset, tmp_path / "cache").path != base.path


def test_interrupted_run_resumes_to_the_same_output(garden_graph, dataset, tmp_path):
    reference = run(garden_graph, dataset, tmp_path / "a")
    done = []

    def crash_after_two(summary):
        done.append(summary["index"])
        if len(done) == 2:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        run(garden_graph, dataset, tmp_path / "b", on_shard=crash_after_two)
    (partial,) = (tmp_path / "b").iterdir()
    assert sorted(p.name for p in partial.glob("shard-*.safetensors")) == ["shard-00000.safetensors",
                                                                           "shard-00001.safetensors"]
    assert not (partial / MANIFEST).exists()
    resumed_shards = []
    resumed = run(garden_graph, dataset, tmp_path / "b", on_shard=lambda s: resumed_shards.append(s["index"]))
    assert sorted(resumed_shards) == [2, 3]  # only the missing shards were computed
    assert_same_output(reference, resumed)


def test_damaged_shard_is_detected_and_rebuilt(garden_graph, dataset, tmp_path):
    cache = run(garden_graph, dataset, tmp_path / "cache")
    before = shard_arrays(cache)
    shard = cache.path / "shard-00001.safetensors"
    blob = bytearray(shard.read_bytes())
    blob[-1] ^= 0xFF
    shard.write_bytes(bytes(blob))
    rebuilt = []
    with pytest.warns(UserWarning, match=r"W061.*shard-00001.*sha256"):
        fixed = run(garden_graph, dataset, tmp_path / "cache", on_shard=lambda s: rebuilt.append(s["index"]))
    assert rebuilt == [1]
    for x, y in zip(before, shard_arrays(fixed)):
        assert all(np.array_equal(x[k], y[k], equal_nan=x[k].dtype.kind == "f") for k in x)
    with pytest.raises(Exception, match="E061"):
        shard.write_bytes(b"junk")
        RetrievalCache(fixed.path, verify=True)


def test_malformed_line_stops_with_file_and_line(garden_graph, tmp_path):
    path = write_questions(tmp_path / "dev.jsonl")
    lines = path.read_text().splitlines()
    lines[2] = '{"id": "q2", "question": {"stem": "no choices"}}'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInputError, match=rf"{path}:3"):
        run(garden_graph, path, tmp_path / "cache")


def test_process_pool_gives_the_same_output(garden_graph, dataset, tmp_path):
    serial = run(garden_graph, dataset, tmp_path / "a")
    pooled = run(garden_graph, dataset, tmp_path / "b", workers=2, backend="process")
    assert pooled.manifest["run"]["backend"] == "process"
    assert_same_output(serial, pooled)


def test_ray_backend_gives_the_same_output(garden_graph, dataset, tmp_path):
    pytest.importorskip("ray")
    serial = run(garden_graph, dataset, tmp_path / "a")
    on_ray = run(garden_graph, dataset, tmp_path / "b", workers=2, backend="ray")
    assert on_ray.manifest["run"]["backend"] == "ray"
    assert_same_output(serial, on_ray)


KILL_SCRIPT = """
import sys, time
from kgqa.kg.store import KnowledgeGraph
from kgqa.retrieval.config import RetrievalConfig
from kgqa.retrieval.preprocess import preprocess
from tests.retrieval.helpers import WordLinker
kg = KnowledgeGraph.load(sys.argv[1])
preprocess(sys.argv[2], kg, "dev", cache_dir=sys.argv[3], workers=1, backend="serial",
           config=RetrievalConfig(ranker="degree", path_scorer="none", shard_size=2),
           linker=WordLinker(kg.node_names), on_shard=lambda s: time.sleep(30))
"""


def test_killed_process_resumes_to_the_same_output(garden_graph, dataset, tmp_path):
    reference = run(garden_graph, dataset, tmp_path / "a")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(garden_graph.path), str(dataset),
                             str(tmp_path / "b")], cwd=REPO, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "b").glob("*/shard-00000.json")):
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (partial,) = (tmp_path / "b").iterdir()
    assert len(list(partial.glob("shard-*.json"))) == 1 and not (partial / MANIFEST).exists()
    computed = []
    resumed = run(garden_graph, dataset, tmp_path / "b", on_shard=lambda s: computed.append(s["index"]))
    assert sorted(computed) == [1, 2, 3]
    assert_same_output(reference, resumed)


def test_cli_preprocess_with_the_real_linker(garden_graph, dataset, tmp_path):
    from typer.testing import CliRunner

    from kgqa.cli import app

    result = CliRunner().invoke(app, ["preprocess", "--dataset", str(dataset), "--graph", str(garden_graph.path),
                                      "--split", "dev", "--ranker", "degree", "--path-scorer", "none",
                                      "--workers", "1", "--backend", "serial", "--cache-dir", str(tmp_path / "c"),
                                      "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["dev"]["stats"]["questions"] == 7 and out["dev"]["stats"]["choices"] == 21
    # the command's defaults are RetrievalConfig's: the same settings from Python hit its cache
    same = run(garden_graph, dataset, tmp_path / "c", config=RetrievalConfig(ranker="degree", path_scorer="none"))
    assert str(same.path) == out["dev"]["path"]
    bad = CliRunner().invoke(app, ["preprocess", "--dataset", str(dataset), "--graph", str(garden_graph.path),
                                   "--split", "dev", "--backend", "mpi", "--cache-dir", str(tmp_path / "c"),
                                   "--ranker", "degree", "--path-scorer", "none", "--no-progress"])
    assert bad.exit_code == 1 and "backend" in bad.output


def test_cli_keep_paths_shortest_is_the_config_setting(garden_graph, dataset, tmp_path):
    from typer.testing import CliRunner

    from kgqa.cli import app

    args = ["preprocess", "--dataset", str(dataset), "--graph", str(garden_graph.path), "--split", "dev",
            "--ranker", "degree", "--path-scorer", "none", "--workers", "1", "--backend", "serial",
            "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json"]
    every = json.loads(CliRunner().invoke(app, args).output)["dev"]
    shortest = json.loads(CliRunner().invoke(app, [*args, "--keep-paths", "shortest"]).output)["dev"]
    same = run(garden_graph, dataset, tmp_path / "c",
               config=RetrievalConfig(ranker="degree", path_scorer="none", keep_paths="shortest"))
    assert str(same.path) == shortest["path"] != every["path"]
    assert shortest["stats"]["pairs"] == every["stats"]["pairs"]
    assert 0 < shortest["stats"]["paths"] < every["stats"]["paths"]


def test_damaged_manifest_is_rewritten_from_the_shards(garden_graph, dataset, tmp_path):
    cache = run(garden_graph, dataset, tmp_path / "cache")
    stats = cache.stats
    (cache.path / MANIFEST).write_text("{not json")
    computed = []
    with pytest.warns(UserWarning, match="W061"):
        fixed = run(garden_graph, dataset, tmp_path / "cache", on_shard=computed.append)
    assert computed == [] and fixed.stats == stats


@pytest.mark.parametrize("file_name, split, answers", [("dev.jsonl", "dev", True), ("questions.jsonl", "test", False)])
def test_a_jsonl_file_is_one_split_processed_once(garden_graph, tmp_path, file_name, split, answers):
    path = write_questions(tmp_path / file_name, QUESTIONS if answers else [q[:3] + (None,) for q in QUESTIONS])
    computed = []
    caches = preprocess(str(path), garden_graph, "all", cache_dir=tmp_path / "cache", config=CONFIG, workers=1,
                        backend="serial", linker=WordLinker(garden_graph.node_names), on_shard=computed.append)
    assert list(caches) == [split] and caches[split].stats["questions"] == 7
    assert len(computed) == 4  # 7 questions in shards of 2, once
    assert [p.name.split("-")[:2] for p in (tmp_path / "cache").iterdir()] == [[path.stem, split]]


def _cli_preprocess(garden_graph, dataset, *extra):
    from typer.testing import CliRunner

    from kgqa.cli import app

    result = CliRunner().invoke(app, ["preprocess", "--dataset", str(dataset), "--graph", str(garden_graph.path),
                                      "--ranker", "degree", "--path-scorer", "none", "--backend", "serial",
                                      "--no-progress", *extra])
    return result, cli_text(result)


def test_cache_dir_that_is_a_file_is_a_coded_error(garden_graph, dataset, tmp_path):
    (tmp_path / "c").write_text("x")
    result, out = _cli_preprocess(garden_graph, dataset, "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 1 and "[E014]" in out and "it is a file" in out and "Traceback" not in out


@pytest.mark.parametrize("option", ["--max-nodes", "--max-paths", "--shard-size", "--workers", "--max-hops"])
def test_negative_counts_are_rejected(garden_graph, dataset, tmp_path, option):
    result, out = _cli_preprocess(garden_graph, dataset, "--cache-dir", str(tmp_path / "c"), option, "-5")
    assert result.exit_code == 2 and option in out and not (tmp_path / "c").exists()

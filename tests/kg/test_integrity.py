"""A damaged graph is a coded error at load (never a crash, never a number from garbage)."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.errors import KGQAError
from kgqa.kg import KnowledgeGraph
from tests.conftest import REPO, cli_text

# the toy graph (tests/conftest.py): 9 nodes, 9 edges, 6 relations, weights 1..3


def _edit_array(path, key, change):
    values = np.load(path / f"{key}.npy")
    change(values)
    np.save(path / f"{key}.npy", values)


def _edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("key, value, index, problem", [
    ("tail", 10**9, 3, r"tail.npy holds 1000000000 at position 3, not a node id \(0..8\)"),
    ("head", -1, 0, r"head.npy holds -1 at position 0, not a node id"),
    ("relation", 6, 8, r"relation.npy holds 6 at position 8, not a relation id \(0..5\)"),
    ("in_edges", 9, 2, r"in_edges.npy holds 9 at position 2, not an edge id \(0..8\)"),
    ("out_indptr", 100, -1, r"out_indptr.npy runs from 0 to 100, not from 0 to the 9 edges"),
    ("in_indptr", 7, 0, r"in_indptr.npy runs from 7 to 9"),
    ("out_indptr", 0, 5, r"out_indptr.npy decreases at node 4"),
    ("weight", np.nan, 4, r"weight.npy holds nan at edge 4"),
    ("weight", -np.inf, 0, r"weight.npy holds -inf at edge 0"),
    ("weight", 1.28893e+23, 6, r"weight.npy holds 1.28893e\+23 at edge 6, outside the \[1, 3\] the build recorded"),
])
def test_damaged_array_is_a_coded_error_naming_the_file(toy_graph, key, value, index, problem):
    path = toy_graph.path
    _edit_array(path, key, lambda a: a.__setitem__(index, value))
    with pytest.raises(KGQAError, match=rf"\[E101\] Graph at '.*toy' is damaged: {problem}.*\. Rebuild it"):
        KnowledgeGraph.load(path)


def test_byte_flipped_weight_file(toy_graph):
    """One flipped byte of weight.npy (the float's exponent): a huge but finite weight."""
    file = toy_graph.path / "weight.npy"
    data = bytearray(file.read_bytes())
    data[len(data) - 4 * 9 + 3] ^= 0x5A  # the high byte of weight[0] = 1.0 (little-endian float32)
    file.write_bytes(bytes(data))
    assert np.load(file)[0] == 2.0 ** 76
    with pytest.raises(KGQAError, match=r"E101.*weight.npy holds 7\.55579e\+22 at edge 0, outside the \[1, 3\]"):
        KnowledgeGraph.load(toy_graph.path)
    result = CliRunner().invoke(app, ["graphs", "neighbors", "dig", "--graph", str(toy_graph.path)])
    assert result.exit_code == 1 and "[E101]" in result.output
    assert "neighbours in" not in result.output  # no table of weights read from it


@pytest.mark.parametrize("change, problem", [
    (lambda m: m.pop("relations"), "manifest.json has no 'relations'"),
    (lambda m: m.pop("checksum"), "manifest.json has no 'checksum'"),
    (lambda m: m.update(relations="AtLocation"), "'relations' is not a list of names"),
    (lambda m: m.update(num_nodes=-1), "'num_nodes' is -1, not a count"),
    (lambda m: m.update(weight_range=[3, 1]), "'weight_range' is \\[3, 1\\]"),
])
def test_manifest_without_its_keys_is_a_coded_error(toy_graph, change, problem):
    _edit_manifest(toy_graph.path, change)
    with pytest.raises(KGQAError, match=rf"E101.*{problem}"):
        KnowledgeGraph.load(toy_graph.path)


def test_in_range_change_is_found_by_verify(toy_graph):
    path = toy_graph.path
    _edit_array(path, "tail", lambda a: a.__setitem__(0, (a[0] + 1) % 9))
    KnowledgeGraph.load(path)  # every id still in range: the cheap checks pass
    with pytest.raises(KGQAError, match=r"E101.*tail.npy sha256 [0-9a-f]{12}\.\.\. differs from the manifest's"):
        KnowledgeGraph.load(path, verify=True)
    result = CliRunner().invoke(app, ["graphs", "verify", str(path)])
    assert result.exit_code == 1 and "tail.npy sha256" in cli_text(result)


def test_verify_recomputes_the_checksum(toy_graph):
    path = toy_graph.path
    result = CliRunner().invoke(app, ["graphs", "verify", str(path)])
    assert result.exit_code == 0 and f"ok: toy at {path}: 8 files match their sha256" in cli_text(result)
    _edit_manifest(path, lambda m: m["relations"].__setitem__(0, "LocatedAt"))  # same count, other meaning
    with pytest.raises(KGQAError, match=r"E101.*'checksum' does not match its files and relations"):
        KnowledgeGraph.load(path, verify=True)
    _edit_manifest(path, lambda m: m["files"].pop("tail.npy"))
    with pytest.raises(KGQAError, match=r"E101.*lists no sha256 for tail.npy"):
        KnowledgeGraph.load(path, verify=True)


def test_fix_names_how_to_get_the_graph_back(toy_graph, tmp_path):
    unpacked = tmp_path / f"toy-{toy_graph.checksum[:16]}"  # how a packed graph is unpacked
    shutil.copytree(toy_graph.path, unpacked)
    _edit_array(unpacked, "tail", lambda a: a.__setitem__(0, 99))
    with pytest.raises(KGQAError, match=rf"E101.*Delete '{re.escape(str(unpacked))}': kgqa unpacks it again"):
        KnowledgeGraph.load(unpacked)
    _edit_manifest(toy_graph.path, lambda m: m["build"].update(config={"name": "toy_recipe"}))
    _edit_array(toy_graph.path, "tail", lambda a: a.__setitem__(0, 99))
    with pytest.raises(KGQAError, match=rf"Rebuild it with `kgqa graphs build toy_recipe --out {re.escape(str(toy_graph.path))}`"):
        KnowledgeGraph.load(toy_graph.path)


def test_neighbors_of_a_corrupted_graph_exits_with_the_error_not_a_crash(toy_graph):
    """In a real process: ids far out of range once crashed the compiled kernels (SIGSEGV)."""
    _edit_array(toy_graph.path, "tail", lambda a: a.__setitem__(slice(None), 10**9))
    proc = subprocess.run([sys.executable, "-c", "from kgqa.cli import app; app()", "graphs", "neighbors", "dig",
                           "--graph", str(toy_graph.path)], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1, proc.stderr
    assert "[E101]" in proc.stderr and "tail.npy holds 1000000000" in proc.stderr and "Traceback" not in proc.stderr


def test_negative_limit_is_rejected(toy_graph):
    result = CliRunner().invoke(app, ["graphs", "neighbors", "dig", "--graph", str(toy_graph.path), "--limit", "-1"])
    assert result.exit_code == 2 and "--limit" in cli_text(result) and "greater than or equal to 0" in cli_text(result)


def test_unpacked_default_graph_gets_the_shipped_manifest():
    kg = KnowledgeGraph.load("default")
    assert kg.manifest["weight_range"] == [1.0, 148.0]
    _edit_manifest(kg.path, lambda m: m.pop("weight_range"))  # unpacked by an older kgqa
    assert KnowledgeGraph.load("default").manifest["weight_range"] == [1.0, 148.0]


def test_answering_with_a_damaged_graph_stops_at_the_graph(toy_graph):
    """`kgqa answer --graph DIR` loads DIR through the same checks, before the model's graph check."""
    from kgqa.explain.loading import has_default_model, load_answerer

    if not has_default_model():
        pytest.skip("no default model in this build")
    _edit_array(toy_graph.path, "out_indptr", lambda a: a.__setitem__(slice(None), 0))
    with pytest.raises(KGQAError, match=r"E101.*out_indptr.npy runs from 0 to 0"):
        load_answerer(graph=str(toy_graph.path))

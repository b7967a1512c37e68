import os
import stat
import subprocess
import sys
import time

import pytest

from kgqa.errors import KGQAError
from kgqa.utils.io import (_host_tag, artefact_kind, atomic_directory, atomic_write_bytes, atomic_write_json,
                           check_replaceable, remove_stale_partials)
from tests.conftest import tree, user_folder

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture()
def umask():
    """Set the process umask for one test, and restore it afterwards."""
    old = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, file_mode, dir_mode", [
    (0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    atomic_write_bytes(tmp_path / "a.bin", b"abc")
    atomic_write_json(tmp_path / "sub" / "b.json", {"x": 1})
    with open(tmp_path / "plain.bin", "wb") as handle:  # what a plain open() gives
        handle.write(b"abc")
    with atomic_directory(tmp_path / "graph") as tmp:
        (tmp / "c.txt").write_text("c")
    assert (_mode(tmp_path / "a.bin"), _mode(tmp_path / "sub" / "b.json")) == (file_mode, file_mode)
    assert _mode(tmp_path / "plain.bin") == file_mode
    assert _mode(tmp_path / "graph") == dir_mode
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert (tmp_path / "sub" / "b.json").read_text() == '{\n  "x": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "graph", "plain.bin", "sub"]


def test_atomic_write_replaces_and_leaves_no_temp_on_failure(tmp_path, umask):
    target = tmp_path / "t.bin"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # fails while writing the temp file
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["t.bin"]


def test_atomic_directory_keeps_the_old_one_on_failure(tmp_path, umask):
    with atomic_directory(tmp_path / "d") as tmp:
        (tmp / "x").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "d") as tmp:
        (tmp / "x").write_text("2")
        raise RuntimeError("boom")
    assert (tmp_path / "d" / "x").read_text() == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_atomic_directory_never_replaces_a_folder_it_did_not_write(tmp_path):
    user = user_folder(tmp_path / "mine")
    with pytest.raises(KGQAError, match=r"\[E100\].*mine.*not a kgqa graph \(it holds important.txt, sub/\)"):
        with atomic_directory(user, kind="graph") as tmp:
            (tmp / "head.npy").write_text("x")
    assert tree(user) == ["important.txt", "sub", "sub/notes.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no temp folder left either
    # nor a file, nor a kgqa artefact of another kind
    (tmp_path / "file").write_text("x")
    with pytest.raises(KGQAError, match=r"E100.*it is a file"), atomic_directory(tmp_path / "file", kind="graph", force=True):
        pass
    with atomic_directory(tmp_path / "emb", kind="entity embeddings") as tmp:
        (tmp / "e.npy").write_text("e")
    with pytest.raises(KGQAError, match=r"E100.*kgqa entity embeddings, not a graph"), \
            atomic_directory(tmp_path / "emb", kind="graph"):
        pass
    assert (tmp_path / "emb" / "e.npy").read_text() == "e"


def test_atomic_directory_replaces_its_own_kind_an_empty_folder_and_with_force(tmp_path):
    (tmp_path / "empty").mkdir()
    for name in ("g", "empty"):
        for content in ("1", "2"):  # written, then replaced by the same kind
            with atomic_directory(tmp_path / name, kind="graph") as tmp:
                (tmp / "x").write_text(content)
        assert (tmp_path / name / "x").read_text() == "2"
        assert artefact_kind(tmp_path / name) == "graph"
    # written before markers existed: the caller recognises it
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "manifest.json").write_text("{}")
    with atomic_directory(legacy, kind="graph", recognise=lambda p: (p / "manifest.json").exists()) as tmp:
        (tmp / "x").write_text("new")
    assert tree(legacy) == [".kgqa-artefact", "x"]
    # --force replaces that one folder, and only it
    user = user_folder(tmp_path / "mine")
    with atomic_directory(user, kind="graph", force=True) as tmp:
        (tmp / "x").write_text("forced")
    assert tree(user) == [".kgqa-artefact", "x"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "g", "legacy", "mine"]


def test_force_never_replaces_the_working_directory(tmp_path, monkeypatch):
    work = user_folder(tmp_path / "work")
    monkeypatch.chdir(work / "sub")
    for target in (work, work / "sub"):
        with pytest.raises(KGQAError, match="E100"):
            check_replaceable(target, "graph", force=True)
    assert tree(work) == ["important.txt", "sub", "sub/notes.md"]


def test_stale_partials_of_dead_processes_are_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _host_tag()
    names = {
        "dead": f".g.{dead.pid}-{host}-{'a' * 12}.partial",
        "alive": f".g.{os.getpid()}-{host}-{'c' * 12}.partial",  # a build running now
        "other_host": f".g.{dead.pid}-00000000-{'d' * 12}.partial",  # a machine sharing the folder
        "other_target": f".gg.{dead.pid}-{host}-{'e' * 12}.partial",
        "legacy_new": f".g.{'f' * 12}.partial",
        "legacy_old": f".g.{'0' * 12}.partial",
        "old_copy": f".g.old-{dead.pid}",  # a kill between the two renames: the only copy of g
    }
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "head.npy").write_text("x")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(tmp_path / names["legacy_old"], (day_ago, day_ago))
    kept = {names[k] for k in ("alive", "other_host", "other_target", "legacy_new")}
    assert {p.name for p in remove_stale_partials(tmp_path / "g")} == {names["dead"], names["legacy_old"]}
    assert {p.name for p in tmp_path.iterdir()} == kept | {names["old_copy"]}  # g is missing: keep its copy
    with atomic_directory(tmp_path / "g", kind="graph") as tmp:
        (tmp / "x").write_text("1")
    with atomic_directory(tmp_path / "g", kind="graph") as tmp:  # g is back: its old copy is garbage
        (tmp / "x").write_text("2")
    assert {p.name for p in tmp_path.iterdir()} == kept | {"g"}


def test_a_caller_that_names_no_kind_replaces_only_the_same_layout(tmp_path):
    """Unnamed callers (checkpoints, caches) get no marker: a directory they may replace is one
    whose every name the new directory writes again."""
    for step in ("1", "2"):
        with atomic_directory(tmp_path / "last") as tmp:
            (tmp / "model.safetensors").write_text(step)
            (tmp / "config.json").write_text(step)
    assert tree(tmp_path / "last") == ["config.json", "model.safetensors"]  # no marker
    assert (tmp_path / "last" / "config.json").read_text() == "2"
    user = user_folder(tmp_path / "mine")
    with pytest.raises(KGQAError, match=r"E100.*mine.*not a folder with the same files as the one being written"):
        with atomic_directory(user) as tmp:
            (tmp / "config.json").write_text("x")
    assert tree(user) == ["important.txt", "sub", "sub/notes.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last", "mine"]

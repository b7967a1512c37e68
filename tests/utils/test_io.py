import os
import stat

import pytest

from kgqa.utils.io import atomic_directory, atomic_write_bytes, atomic_write_json

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

"""KGQA_HOME and output folders that cannot be folders are coded errors, not tracebacks."""

import pytest
from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.errors import KGQAError
from kgqa.kg import KnowledgeGraph
from kgqa.paths import ensure_folder, graphs_home, kgqa_home
from tests.conftest import cli_text


def test_kgqa_home_pointing_to_a_file(tmp_path, monkeypatch):
    (tmp_path / "home").write_text("not a folder")
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    with pytest.raises(KGQAError, match=r"\[E102\] KGQA_HOME '.*home' is not a usable folder: it is a file"):
        kgqa_home()
    with pytest.raises(KGQAError, match="E102"):
        KnowledgeGraph.load("default")
    for args in (["graphs", "list"], ["graphs", "info"], ["graphs", "neighbors", "dig"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and "[E102]" in cli_text(result) and "it is a file" in cli_text(result), args
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home" / "below"))
    with pytest.raises(KGQAError, match=r"E102.*a file is in the way"):
        kgqa_home()


def test_graphs_folder_that_is_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("KGQA_HOME", str(tmp_path))
    (tmp_path / "graphs").write_text("x")
    with pytest.raises(KGQAError, match=r"E102.*graphs/ in it: it is a file"):
        graphs_home()


def test_ensure_folder(tmp_path):
    assert ensure_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(KGQAError, match=r"\[E014\] Output path '.*f' is not writable: it is a file"):
        ensure_folder(tmp_path / "f")

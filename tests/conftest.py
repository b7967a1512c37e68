"""Shared fixtures: an isolated KGQA_HOME per test session and tiny hand-built graphs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kgqa.kg import GraphBuilder, RelationMap
from kgqa.kg.importers.base import Triple

REPO = Path(__file__).resolve().parents[1]


def shared_data_path() -> Path:
    """Where the shared data folder should be: ``$KGQA_DATA_DIR``, else ``../shared/data`` beside
    the checkout. It may not exist; tests skip by checking the file they need."""
    env = os.environ.get("KGQA_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def shared_data_dir() -> Path | None:
    path = shared_data_path()
    return path if path.is_dir() else None


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory):
    """Every test session writes graphs and caches into its own temporary KGQA_HOME."""
    home = tmp_path_factory.mktemp("kgqa_home")
    old = os.environ.get("KGQA_HOME")
    os.environ["KGQA_HOME"] = str(home)
    os.environ.setdefault("KGQA_PROGRESS", "0")
    yield home
    if old is None:
        os.environ.pop("KGQA_HOME", None)
    else:
        os.environ["KGQA_HOME"] = old


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("shared data folder not available")
    return path


#: The running example as a 9-node graph, typed by hand (forward edges only).
TOY_TRIPLES = [
    ("shovel", "UsedFor", "dig", 2.0),
    ("shovel", "AtLocation", "garden", 1.0),
    ("flower", "AtLocation", "garden", 3.0),
    ("plant", "RelatedTo", "flower", 1.0),
    ("dig", "HasSubevent", "ground", 1.0),
    ("hammer", "UsedFor", "nail", 2.0),
    ("hammer", "IsA", "tool", 1.0),
    ("shovel", "IsA", "tool", 1.0),
    ("garden", "HasA", "flower", 1.0),
]


def build_graph(path: Path, triples=TOY_TRIPLES, *, scheme: str | None = None, name: str = "toy"):
    builder = GraphBuilder(RelationMap(scheme) if scheme else None)
    for h, r, t, w in triples:
        builder.add(Triple(h, r, t, w))
    return builder.save(path, name=name)


@pytest.fixture()
def toy_graph(tmp_path):
    """The running example graph (relations as given, no merging)."""
    return build_graph(tmp_path / "toy")


def cli_text(result) -> str:
    """A CliRunner result's output with rich's line wrapping and panel borders undone."""
    return " ".join(result.output.replace("│", " ").split())


def user_folder(path: Path) -> Path:
    """A folder of someone's own files (``important.txt``, ``sub/notes.md``) that kgqa must not touch."""
    (path / "sub").mkdir(parents=True)
    (path / "important.txt").write_text("keep me")
    (path / "sub" / "notes.md").write_text("# notes")
    return path


def tree(path: Path) -> list[str]:
    """Every path under ``path``, relative and sorted."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))

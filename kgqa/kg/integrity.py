"""Checks that a graph directory holds what its manifest says, before any array is indexed.

At every load (:meth:`kgqa.kg.KnowledgeGraph.load`), cheap and vectorised (one pass over each
array, no array-sized temporaries: a few milliseconds on the default graph):

* the manifest has its keys with sane types (``relations``, ``checksum``, counts);
* the arrays have the manifest's shapes and dtypes (checked by the store);
* ``head``/``tail`` ids lie in ``[0, N)``, ``relation`` ids in ``[0, R)``, ``in_edges`` in
  ``[0, E)``;
* ``out_indptr``/``in_indptr`` start at 0, end at ``E`` and never decrease;
* weights are finite and inside the ``weight_range`` the build recorded.

That is what the compiled kernels need to stay inside their arrays, so a damaged file is a coded
``[E101]`` naming it and the fix, never a crash or a number computed from garbage. A change
that keeps every value in range (a flipped low bit of a tail id, edges out of order) is only
found by :func:`verify_files` (``verify=True``, ``kgqa graphs verify``), which recomputes every
file's sha256 and the graph checksum.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from kgqa.errors import Errors, KGQAError

#: Kinds of :func:`kgqa.utils.io.atomic_directory` artefacts written here.
GRAPH_KIND = "graph"
PACKED_GRAPH_KIND = "packed graph"

_COUNTS = ("num_nodes", "num_edges", "num_relations")


def graph_checksum(files: dict[str, str], relations: list[str]) -> str:
    """The graph checksum: sha256 over the files' sha256 and the relation names."""
    from kgqa.utils.io import sha256_bytes

    return sha256_bytes(json.dumps({"files": files, "relations": relations}, sort_keys=True).encode())


def is_graph_dir(path: Path) -> bool:
    """Whether ``path`` looks like a graph directory (also one written before artefact markers)."""
    return all((path / name).is_file() for name in ("manifest.json", "nodes.txt", "head.npy"))


def is_packed_graph_dir(path: Path) -> bool:
    """Whether ``path`` looks like a packed graph (``graph.npz`` + ``nodes.txt.gz``)."""
    return all((path / name).is_file() for name in ("manifest.json", "graph.npz", "nodes.txt.gz"))


def repair_hint(path: Path, manifest: dict) -> str:
    """What to do about a damaged graph: unpack again, rebuild from its recipe, or rebuild."""
    manifest = manifest if isinstance(manifest, dict) else {}
    name, checksum = manifest.get("name"), manifest.get("checksum")
    if isinstance(name, str) and isinstance(checksum, str) and path.name == f"{name}-{checksum[:16]}":
        return f"Delete '{path}': kgqa unpacks it again from the shipped copy on its next use."
    build = manifest.get("build") if isinstance(manifest.get("build"), dict) else {}
    config = build.get("config") if isinstance(build.get("config"), dict) else {}
    recipe = config.get("name")
    if isinstance(recipe, str) and recipe:
        from kgqa.paths import graphs_home

        try:
            usual = (graphs_home() / recipe).resolve() == path.resolve()
        except (KGQAError, OSError):
            usual = False
        out = "" if usual else f" --out {path}"
        return f"Rebuild it with `kgqa graphs build {recipe}{out}` (a graph is never repaired in place)."
    command = build.get("command")
    if isinstance(command, str) and command:
        return f"Rebuild it (it was built by `{command}`)."
    return "Rebuild it with `kgqa graphs build RECIPE --out DIR` (a graph is never repaired in place)."


def damaged(path: Path, manifest: dict, problem: str) -> KGQAError:
    """The ``[E101]`` error for a damaged graph, with the fix."""
    return KGQAError(Errors.E101.format(path=path, problem=problem, fix=repair_hint(path, manifest)))


def check_manifest(path: Path, manifest) -> None:
    """The keys a graph needs, with sane types (a missing one is ``[E101]``, not ``KeyError``)."""
    if not isinstance(manifest, dict):
        raise damaged(path, {}, "manifest.json is not a JSON object")
    for key in (*_COUNTS, "relations", "checksum"):
        if key not in manifest:
            raise damaged(path, manifest, f"manifest.json has no '{key}'")
    for key in _COUNTS:
        value = manifest[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise damaged(path, manifest, f"manifest.json '{key}' is {value!r}, not a count")
    relations = manifest["relations"]
    if not isinstance(relations, list) or not all(isinstance(r, str) and r for r in relations):
        raise damaged(path, manifest, "manifest.json 'relations' is not a list of names")
    if len(relations) != manifest["num_relations"]:
        raise damaged(path, manifest, f"manifest.json lists {len(relations)} relations but says "
                                      f"num_relations {manifest['num_relations']}")
    if not isinstance(manifest["checksum"], str) or not manifest["checksum"]:
        raise damaged(path, manifest, "manifest.json 'checksum' is not a string")
    bounds = manifest.get("weight_range")
    if bounds is not None and not (isinstance(bounds, list) and len(bounds) == 2
                                   and all(isinstance(b, (int, float)) and math.isfinite(b) for b in bounds)
                                   and bounds[0] <= bounds[1]):
        raise damaged(path, manifest, f"manifest.json 'weight_range' is {bounds!r}")


def _first_outside(values: np.ndarray, low, high) -> int | None:
    """Index of the first value outside ``[low, high]``, or ``None`` (min/max first: no temporaries)."""
    if len(values) == 0 or (values.min() >= low and values.max() <= high):
        return None
    return int(np.flatnonzero((values < low) | (values > high))[0])


def check_arrays(path: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    """Index ranges, CSR offsets and weights (see the module docstring); ``[E101]`` if wrong.

    Assumes the shapes and dtypes already match the manifest.
    """
    n, e, r = manifest["num_nodes"], manifest["num_edges"], manifest["num_relations"]
    for key, upper, what in (("head", n, "a node"), ("tail", n, "a node"), ("relation", r, "a relation"),
                             ("in_edges", e, "an edge")):
        values = np.asarray(arrays[key])
        bad = _first_outside(values, 0, upper - 1)
        if bad is not None:
            raise damaged(path, manifest, f"{key}.npy holds {values[bad]} at position {bad}, not {what} id "
                                          f"(0..{upper - 1})")
    for key in ("out_indptr", "in_indptr"):
        indptr = np.asarray(arrays[key])
        if indptr[0] != 0 or indptr[-1] != e:
            raise damaged(path, manifest, f"{key}.npy runs from {indptr[0]} to {indptr[-1]}, not from 0 to "
                                          f"the {e:,} edges")
        rising = indptr[1:] >= indptr[:-1]
        if not rising.all():
            bad = int(np.flatnonzero(~rising)[0])
            raise damaged(path, manifest, f"{key}.npy decreases at node {bad} ({indptr[bad]} -> {indptr[bad + 1]})")
    weight = np.asarray(arrays["weight"])
    if not np.isfinite(weight.sum(dtype=np.float64)):  # a float64 sum of float32s overflows only on inf/nan
        bad = int(np.flatnonzero(~np.isfinite(weight))[0])
        raise damaged(path, manifest, f"weight.npy holds {weight[bad]} at edge {bad}")
    low, high = manifest.get("weight_range") or (-np.inf, np.inf)
    bad = _first_outside(weight, np.float32(low), np.float32(high))
    if bad is not None:
        raise damaged(path, manifest, f"weight.npy holds {weight[bad]:g} at edge {bad}, outside the "
                                      f"[{low:g}, {high:g}] the build recorded")


def verify_files(path: Path, manifest: dict) -> None:
    """Recompute the sha256 of every file the manifest lists, and the graph checksum."""
    from kgqa.kg.store import ARRAYS
    from kgqa.utils.io import sha256_file

    files = manifest.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise damaged(path, manifest, "manifest.json lists no file checksums")
    missing = [f for f in ("nodes.txt", *(f"{k}.npy" for k in ARRAYS)) if f not in files]
    if missing:
        raise damaged(path, manifest, f"manifest.json lists no sha256 for {', '.join(missing)}")
    for file, digest in files.items():
        if Path(file).name != file:
            raise damaged(path, manifest, f"manifest.json lists a file outside the graph: {file!r}")
        try:
            found = sha256_file(path / file)
        except OSError as exc:
            raise damaged(path, manifest, f"cannot read {file} ({exc})") from exc
        if found != digest:
            raise damaged(path, manifest, f"{file} sha256 {found[:12]}... differs from the manifest's {digest[:12]}...")
    if graph_checksum(files, manifest["relations"]) != manifest["checksum"]:
        raise damaged(path, manifest, "manifest.json 'checksum' does not match its files and relations")

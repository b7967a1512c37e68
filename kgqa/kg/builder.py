"""Build a :class:`~kgqa.kg.store.KnowledgeGraph` directory from importer triples.

The builder maps relations (:class:`~kgqa.kg.relations.RelationMap`), drops self-loops, merges
duplicate ``(head, relation, tail)`` edges keeping the maximum weight, assigns node ids in sorted
name order (so the same input always gives the same ids), builds both CSR indexes and writes the
directory atomically: an interrupted build leaves nothing behind.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from kgqa.errors import Errors, KGQAError
from kgqa.kg.importers.base import Triple
from kgqa.kg.integrity import GRAPH_KIND, graph_checksum, is_graph_dir
from kgqa.kg.relations import RelationMap
from kgqa.kg.store import ARRAY_DTYPES, ARRAYS, FORMAT_VERSION, KnowledgeGraph
from kgqa.utils.io import atomic_directory, sha256_bytes, sha256_file


class GraphBuilder:
    """Collects triples and writes a graph directory.

    Args:
        relation_map: maps source relation names to stored ones; ``None`` keeps every relation
            as it comes (``RelationMap("full")`` semantics without the ConceptNet renames).
        keep_self_loops: keep edges whose head equals their tail (dropped by default).
        node_filter: optional predicate on node names; edges with a rejected end are dropped.

    Example::

        builder = GraphBuilder(RelationMap("merged17"))
        builder.add_all(read_conceptnet4(path))
        kg = builder.save(out_dir, name="conceptnet4_en", sources=[path])
    """

    def __init__(self, relation_map: RelationMap | None = None, *, keep_self_loops: bool = False,
                 node_filter: Callable[[str], bool] | None = None):
        self.relation_map = relation_map
        self.keep_self_loops = keep_self_loops
        self.node_filter = node_filter
        self._node_ids: dict[str, int] = {}
        self._relation_ids: dict[str, int] = {}
        self._head = array("i")
        self._rel = array("i")
        self._tail = array("i")
        self._weight = array("f")
        self.labels: dict[str, str] = {}
        self.relation_labels: dict[str, str] = {}
        self.stats = {"triples_read": 0, "self_loops_dropped": 0, "filtered_out": 0}

    def _node(self, name: str) -> int:
        node = self._node_ids.get(name)
        if node is None:
            if not name or "\n" in name:
                raise KGQAError(Errors.E015.format(problem=f"invalid node name {name!r}"))
            node = self._node_ids[name] = len(self._node_ids)
        return node

    def add(self, triple: Triple) -> None:
        """Add one triple (relation mapped, possibly reversed or dropped)."""
        self.stats["triples_read"] += 1
        head, relation, tail = triple.head, triple.relation, triple.tail
        if self.relation_map is not None:
            mapped = self.relation_map.apply(relation)
            if mapped is None:
                return
            relation, reverse = mapped
            if reverse:
                head, tail = tail, head
        if head == tail and not self.keep_self_loops:
            self.stats["self_loops_dropped"] += 1
            return
        if self.node_filter is not None and not (self.node_filter(head) and self.node_filter(tail)):
            self.stats["filtered_out"] += 1
            return
        rel = self._relation_ids.get(relation)
        if rel is None:
            rel = self._relation_ids[relation] = len(self._relation_ids)
        self._head.append(self._node(head))
        self._rel.append(rel)
        self._tail.append(self._node(tail))
        self._weight.append(triple.weight)

    def add_all(self, triples: Iterable[Triple], *, description: str | None = None,
                progress: bool = False) -> None:
        """Add every triple of an iterable, with an optional rich progress bar."""
        if not progress:
            for triple in triples:
                self.add(triple)
            return
        from kgqa.utils.progress import progress_bar

        with progress_bar() as bar:
            task = bar.add_task(description or "reading", total=None)
            for i, triple in enumerate(triples, 1):
                self.add(triple)
                if i % 20000 == 0:
                    bar.update(task, completed=i)
            bar.update(task, completed=self.stats["triples_read"])

    def add_labels(self, labels: dict[str, str]) -> None:
        """Labels for node names (e.g. QID -> English label); only nodes in the graph are kept."""
        self.labels.update(labels)

    # ------------------------------------------------------------------ arrays
    def arrays(self) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
        """``(node_names, relation_names, arrays)`` in the store's layout (sorted, deduplicated)."""
        names = sorted(self._node_ids)
        remap = np.empty(len(names), dtype=np.int32)
        order = {name: i for i, name in enumerate(names)}
        for name, old in self._node_ids.items():
            remap[old] = order[name]
        relations = sorted(self._relation_ids)
        rel_remap = np.empty(len(relations), dtype=np.int32)
        rel_order = {name: i for i, name in enumerate(relations)}
        for name, old in self._relation_ids.items():
            rel_remap[old] = rel_order[name]

        head = remap[np.frombuffer(self._head, dtype=np.int32)] if len(self._head) else np.zeros(0, np.int32)
        tail = remap[np.frombuffer(self._tail, dtype=np.int32)] if len(self._tail) else np.zeros(0, np.int32)
        rel = rel_remap[np.frombuffer(self._rel, dtype=np.int32)] if len(self._rel) else np.zeros(0, np.int32)
        weight = np.frombuffer(self._weight, dtype=np.float32).copy()

        # sort by (head, relation, tail, -weight) so the first of each duplicate run has the max weight
        order_idx = np.lexsort((-weight, tail, rel, head))
        head, rel, tail, weight = head[order_idx], rel[order_idx], tail[order_idx], weight[order_idx]
        if len(head):
            first = np.ones(len(head), dtype=bool)
            first[1:] = (head[1:] != head[:-1]) | (rel[1:] != rel[:-1]) | (tail[1:] != tail[:-1])
            self.stats["duplicates_merged"] = int(len(head) - first.sum())
            head, rel, tail, weight = head[first], rel[first], tail[first], weight[first]
        else:
            self.stats["duplicates_merged"] = 0

        n = len(names)
        out_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(head, minlength=n), out=out_indptr[1:])
        in_edges = np.lexsort((head, rel, tail)).astype(np.int32)
        in_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tail, minlength=n), out=in_indptr[1:])
        arrays = {"head": head, "relation": rel, "tail": tail, "weight": weight,
                  "out_indptr": out_indptr, "in_indptr": in_indptr, "in_edges": in_edges}
        arrays = {k: np.ascontiguousarray(v, dtype=ARRAY_DTYPES[k]) for k, v in arrays.items()}
        return names, relations, arrays

    # ------------------------------------------------------------------ save
    def save(self, out_dir: str | Path, *, name: str, sources: Iterable[str | Path | dict] = (),
             config: dict | None = None, command: str | None = None,
             hash_sources: bool = True,
             check: Callable[[KnowledgeGraph], None] | None = None,
             extra_files: dict[str, str] | None = None, force: bool | None = None) -> KnowledgeGraph:
        """Write the graph directory atomically and return it loaded.

        Args:
            out_dir: final directory: created, or replaced in one rename when it is empty or a
                graph (``[E100]`` for anything else, unless ``force``).
            name: graph name recorded in the manifest.
            sources: input files, recorded with their sha256 and size.
            config: the build configuration (recipe) recorded in the manifest.
            command: the command line that built it.
            hash_sources: record each source file's sha256 (a dict source is recorded as is).
            check: called with the finished graph before it is moved into place; an exception
                there leaves ``out_dir`` untouched.
            extra_files: small text files to write beside the arrays (e.g. ``LICENSE.md``).
            force: also replace a non-empty ``out_dir`` that is not a graph (``None``: the
                caller offers no such option).
        """
        from kgqa import __version__

        sources = list(sources)
        names, relations, arrays = self.arrays()
        if len(arrays["head"]) == 0:
            raise KGQAError(Errors.E012.format(sources=", ".join(map(str, sources)) or "the input"))
        if self.relation_map is not None:
            self.relation_map.warn_dropped()
        out_dir = Path(out_dir)
        with atomic_directory(out_dir, kind=GRAPH_KIND, recognise=is_graph_dir, force=force) as tmp:
            files: dict[str, str] = {}
            nodes_blob = ("\n".join(names) + "\n").encode("utf-8")
            (tmp / "nodes.txt").write_bytes(nodes_blob)
            files["nodes.txt"] = sha256_bytes(nodes_blob)
            for key in ARRAYS:
                np.save(tmp / f"{key}.npy", arrays[key], allow_pickle=False)
                files[f"{key}.npy"] = sha256_file(tmp / f"{key}.npy")
            node_order = {n: i for i, n in enumerate(names)}
            labels = {node_order[k]: v for k, v in self.labels.items() if k in node_order}
            if labels:
                blob = json.dumps({str(k): v for k, v in sorted(labels.items())}, ensure_ascii=False).encode()
                (tmp / "node_labels.json").write_bytes(blob)
                files["node_labels.json"] = sha256_bytes(blob)
            checksum = graph_checksum(files, relations)
            weight = arrays["weight"]
            manifest = {
                "format_version": FORMAT_VERSION,
                "name": name,
                "checksum": checksum,
                "num_nodes": len(names),
                "num_edges": int(len(arrays["head"])),
                "num_relations": len(relations),
                "relations": relations,
                "weight_range": [float(weight.min()), float(weight.max())],
                "relation_labels": {r: self.relation_labels[r] for r in relations if r in self.relation_labels},
                "relation_map": self.relation_map.describe() if self.relation_map else {"scheme": "as-is"},
                "sources": [self._source_record(s, hash_sources) for s in sources],
                "build": {
                    "command": command,
                    "config": config or {},
                    "kgqa_version": __version__,
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "created_unix": int(time.time()),
                    "stats": dict(self.stats),
                },
                "files": files,
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
            for file_name, text in (extra_files or {}).items():
                (tmp / file_name).write_text(text, encoding="utf-8")
            if check is not None:
                check(KnowledgeGraph.load(tmp))
        return KnowledgeGraph.load(out_dir)

    @staticmethod
    def _source_record(source: str | Path | dict, hash_sources: bool) -> dict:
        if isinstance(source, dict):
            return source
        path = Path(source)
        record = {"path": path.name}
        if path.is_file():
            record["bytes"] = path.stat().st_size
            if hash_sources:
                record["sha256"] = sha256_file(path)
        return record


def command_line() -> str:
    """The current command line, for the manifest."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])

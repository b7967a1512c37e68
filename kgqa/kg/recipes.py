"""Graph build recipes: one YAML file per graph in ``graphs/`` (sources, sha256, filters,
relation map, expected counts), so every graph is rebuilt by one command and checked.

Recipe schema (validated; an unknown key is an error that names it)::

    name: conceptnet4_en                 # a plain name: the graph goes to KGQA_HOME/graphs/NAME
    description: ConceptNet 4 English, 17 merged relations
    license: CC BY 4.0 (ConceptNet / OMCS), via Divisi2 2.2.5
    sources:
      - importer: conceptnet4            # see IMPORTERS
        path: conceptnet/conceptnet4_en/conceptnet4_en.tsv.gz   # relative to the data dir
        sha256: 0a1b...                  # checked before reading (optional)
        options: {}                      # importer keyword arguments (checked by name)
    labels: []                           # optional label sources (codex_entities, ernie_mentions)
    relations: {scheme: merged17, negated: keep}
    filters: {max_words: null, keep_self_loops: false}
    expected: {num_nodes: 259846, num_edges: 479525, num_relations: 30}
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kgqa.errors import Errors, KGQAError
from kgqa.kg.builder import GraphBuilder, command_line
from kgqa.kg.importers.base import BadLines
from kgqa.kg.integrity import GRAPH_KIND, is_graph_dir
from kgqa.kg.relations import RelationMap
from kgqa.kg.store import KnowledgeGraph
from kgqa.paths import data_dir, graphs_home, recipes_dir
from kgqa.utils.io import check_replaceable, sha256_file

#: importer name -> (module, function). Each function is ``f(path, *, bad_lines, **options)``.
IMPORTERS: dict[str, tuple[str, str]] = {
    "conceptnet5_csv": ("kgqa.kg.importers.conceptnet5", "read_conceptnet5_csv"),
    "conceptnet_lite": ("kgqa.kg.importers.conceptnet_lite", "read_conceptnet_lite"),
    "conceptnet4": ("kgqa.kg.importers.conceptnet4", "read_conceptnet4"),
    "cn100k": ("kgqa.kg.importers.cn100k", "read_cn100k"),
    "codex": ("kgqa.kg.importers.codex", "read_codex"),
    "wikidata_dump": ("kgqa.kg.importers.wikidata_dump", "read_wikidata_dump"),
    "triples": ("kgqa.kg.importers.triples", "read_triples"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSpec(_Strict):
    importer: str
    path: str
    sha256: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class LabelSpec(_Strict):
    kind: Literal["codex_entities", "codex_relations", "ernie_mentions"]
    path: str


class RelationSpec(_Strict):
    scheme: Literal["full", "merged17"] = "merged17"
    negated: Literal["keep", "drop"] = "keep"


class FilterSpec(_Strict):
    max_words: int | None = None
    keep_self_loops: bool = False


class ExpectedSpec(_Strict):
    num_nodes: int | None = None
    num_edges: int | None = None
    num_relations: int | None = None


#: A recipe name is a plain folder name: it becomes ``KGQA_HOME/graphs/<name>``.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class Recipe(_Strict):
    name: str
    description: str = ""
    license: str = ""
    sources: list[SourceSpec]
    labels: list[LabelSpec] = Field(default_factory=list)
    relations: RelationSpec = Field(default_factory=RelationSpec)
    filters: FilterSpec = Field(default_factory=FilterSpec)
    expected: ExpectedSpec = Field(default_factory=ExpectedSpec)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if not PLAIN_NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"'{name}' is not a plain name (letters, digits, '.', '_', '-'; no '/' or "
                             "'..'): it names the folder KGQA_HOME/graphs/NAME")
        return name


def find_recipe(name_or_path: str | Path) -> Path:
    """A recipe file by path, or by name in the ``graphs/`` folder."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = recipes_dir() / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    known = sorted(p.stem for p in recipes_dir().glob("*.yaml")) if recipes_dir().exists() else []
    raise KGQAError(Errors.E009.format(path=name_or_path, problem=f"no such recipe; known: {', '.join(known)}"))


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe; errors name the file and the bad key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise KGQAError(Errors.E009.format(path=path, problem=f"invalid YAML ({exc})")) from exc
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise KGQAError(Errors.E009.format(path=path, problem=problems)) from None
    for i, source in enumerate(recipe.sources):
        if source.importer not in IMPORTERS:
            raise KGQAError(Errors.E009.format(
                path=path, problem=f"sources.{i}.importer: unknown importer '{source.importer}' "
                                   f"(known: {', '.join(IMPORTERS)})"))
        known = importer_options(source.importer)
        unknown = sorted(set(source.options) - set(known))
        if unknown:
            raise KGQAError(Errors.E009.format(
                path=path, problem=f"sources.{i}.options: unknown option '{unknown[0]}' for importer "
                                   f"'{source.importer}' (it takes: {', '.join(known) or 'none'})"))
    return recipe


def importer_options(name: str) -> list[str]:
    """The keyword options an importer takes (beyond the path and ``bad_lines``)."""
    parameters = list(inspect.signature(_importer(name)).parameters.values())[1:]
    return [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name != "bad_lines"]


def _resolve(path: str, base: Path | None) -> Path:
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (base or data_dir()) / p


def _importer(name: str):
    module, func = IMPORTERS[name]
    return getattr(importlib.import_module(module), func)


def word_count_filter(max_words: int):
    return lambda name: name.count("_") + 1 <= max_words


def build_recipe(recipe_path: str | Path, *, out_dir: str | Path | None = None,
                 data_root: str | Path | None = None, skip_bad: bool = False,
                 relations: str | None = None, progress: bool = False,
                 check_expected: bool = True, force: bool | None = None) -> KnowledgeGraph:
    """Build the graph a recipe describes and check it against the recipe's expected counts.

    Args:
        recipe_path: recipe file (or name in ``graphs/``).
        out_dir: where to write (default ``KGQA_HOME/graphs/<name>``): created, or replaced
            when it is empty or a graph; anything else is ``[E100]`` before any work, unless
            ``force``.
        data_root: folder that relative source paths are read from (default: the data dir).
        skip_bad: count and skip malformed lines instead of stopping at the first.
        relations: override the recipe's relation scheme (``full`` keeps every relation).
        check_expected: fail when the built counts differ from ``expected`` (skipped when
            ``relations`` overrides the scheme, since the counts then differ by design).
        force: replace ``out_dir`` even when it is a non-empty folder that is not a graph.
    """
    recipe_path = find_recipe(recipe_path)
    recipe = load_recipe(recipe_path)
    out = Path(out_dir) if out_dir else graphs_home() / recipe.name
    check_replaceable(out, GRAPH_KIND, recognise=is_graph_dir, force=force)
    base = Path(data_root) if data_root else None
    scheme = relations or recipe.relations.scheme
    relation_map = RelationMap(scheme, recipe.relations.negated)
    node_filter = word_count_filter(recipe.filters.max_words) if recipe.filters.max_words else None
    builder = GraphBuilder(relation_map, keep_self_loops=recipe.filters.keep_self_loops,
                           node_filter=node_filter)
    bad_lines = BadLines(skip_bad=skip_bad)
    source_paths = []
    for source in recipe.sources:
        path = _resolve(source.path, base)
        if not path.exists():
            raise KGQAError(Errors.E009.format(path=recipe_path, problem=f"source file not found: {path}"))
        digest = sha256_file(path) if path.is_file() else None
        if source.sha256 and digest != source.sha256:
            raise KGQAError(Errors.E011.format(path=path, expected=source.sha256, found=digest))
        source_paths.append({"importer": source.importer, "path": source.path, "bytes": path.stat().st_size if path.is_file() else None, "sha256": digest})
        reader = _importer(source.importer)
        builder.add_all(reader(path, bad_lines=bad_lines, **source.options),
                        description=f"{source.importer}: {path.name}", progress=progress)
    bad_lines.report()
    for label in recipe.labels:
        _add_labels(builder, label.kind, _resolve(label.path, base))
    builder.stats["bad_lines_skipped"] = bad_lines.count
    name = recipe.name
    config = recipe.model_dump()
    config["relations"]["scheme"] = scheme
    check = None
    if check_expected and relations in (None, recipe.relations.scheme):
        def check(kg: KnowledgeGraph) -> None:
            _check_expected(kg, recipe, recipe_path)
    return builder.save(out, name=name, sources=source_paths, config=config,
                        command=command_line(), check=check, force=force,
                        extra_files={"LICENSE.md": license_text(recipe, source_paths)})


def license_text(recipe: Recipe, sources: list[dict]) -> str:
    """Attribution and license note written beside every built graph."""
    lines = [f"# {recipe.name}", "", recipe.description.strip(), "", "## License and attribution", "",
             recipe.license.strip() or "See the sources' own licenses.", "", "## Sources", ""]
    lines += [f"- {s['path']} (sha256 {s.get('sha256')})" for s in sources]
    return "\n".join(lines) + "\n"


def _add_labels(builder: GraphBuilder, kind: str, path: Path) -> None:
    if kind == "codex_entities":
        from kgqa.kg.importers.codex import read_codex_entity_labels

        labels = read_codex_entity_labels(path)
        builder.add_labels({k: (v if isinstance(v, str) else v.label) for k, v in labels.items()
                            if (v if isinstance(v, str) else v.label)})
    elif kind == "codex_relations":
        from kgqa.kg.importers.codex import read_codex_relation_labels

        builder.relation_labels.update(read_codex_relation_labels(path))
    elif kind == "ernie_mentions":
        from kgqa.kg.importers.ernie_mentions import mention_labels, read_ernie_mentions

        mined = mention_labels(read_ernie_mentions(path))
        builder.add_labels({k: v for k, v in mined.items() if k not in builder.labels})


def _check_expected(kg: KnowledgeGraph, recipe: Recipe, recipe_path: Path) -> None:
    problems = []
    for key, want in recipe.expected.model_dump().items():
        got = getattr(kg, key)
        if want is not None and got != want:
            problems.append(f"{key} {got:,} != expected {want:,}")
    if problems:
        raise KGQAError(Errors.E010.format(name=recipe.name, recipe=recipe_path, problem="; ".join(problems)))

"""The ``kgqa`` command line: each command is a thin call into the package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from kgqa import __version__
from kgqa.errors import KGQAError

app = typer.Typer(help="kgqa: knowledge-graph-augmented question answering.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
graphs_app = typer.Typer(help="Build, inspect and query knowledge graphs.", no_args_is_help=True)
app.add_typer(graphs_app, name="graphs")

console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        console.print(f"kgqa {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """kgqa: link text to a knowledge graph, retrieve evidence, reason, answer and explain."""


def fail(exc: Exception) -> None:
    """Print a kgqa error without a traceback and exit with status 1 (the message may quote user
    text: it is printed escaped, never as terminal commands or rich markup)."""
    from rich.text import Text

    from kgqa.utils.terminal import printable

    err_console.print(Text.assemble(("error:", "bold red"), " ", printable(exc)), highlight=False)
    raise typer.Exit(1)


# ---------------------------------------------------------------------- graphs
@graphs_app.command("list")
def graphs_list() -> None:
    """List the graphs that can be loaded by name, and the recipes that build more."""
    from kgqa.kg.registry import known_graphs
    from kgqa.paths import recipes_dir

    try:
        names = known_graphs()
    except KGQAError as exc:
        fail(exc)
    console.print("graphs: " + ", ".join(names))
    if recipes_dir().exists():
        console.print("recipes: " + ", ".join(sorted(p.stem for p in recipes_dir().glob("*.yaml"))))


@graphs_app.command("info")
def graphs_info(graph: str = typer.Argument("default", help="Graph name or directory."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts, relations and sources of a graph."""
    from kgqa.kg.store import KnowledgeGraph

    try:
        info = KnowledgeGraph.load(graph).info()
    except KGQAError as exc:
        fail(exc)
    if as_json:
        console.print_json(json.dumps(info))
        return
    console.print(f"[bold]{info['name']}[/]  {info['num_nodes']:,} nodes  {info['num_edges']:,} edges  "
                  f"{info['num_relations']} relations  checksum {info['checksum'][:16]}")
    console.print(f"path: {info['path']}", highlight=False)
    table = Table("relation", "edges")
    for name, count in sorted(info["relations"].items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{count:,}")
    console.print(table)
    for source in info["sources"]:
        console.print(f"source: {source.get('path')}  sha256 {str(source.get('sha256'))[:16]}", highlight=False)


@graphs_app.command("neighbors")
def graphs_neighbors(node: str = typer.Argument(..., help="Node name, e.g. shovel or Q42."),
                     graph: str = typer.Option("default", "--graph", "-g"),
                     relation: Optional[list[str]] = typer.Option(None, "--relation", "-r",
                                                                 help="Keep only these relations (repeatable)."),
                     direction: str = typer.Option("both", help="out, in or both."),
                     limit: int = typer.Option(25, min=0, help="Rows to print (0 = all).")) -> None:
    """Neighbours of a node, strongest edges first."""
    import numpy as np

    from kgqa.kg.store import KnowledgeGraph

    try:
        kg = KnowledgeGraph.load(graph)
        nb = kg.neighbors(node, relations=relation, direction=direction)
        order = np.argsort(-nb.weights, kind="stable")
        if limit:
            order = order[:limit]
        table = Table(title=f"{node}: {len(nb):,} neighbours in {kg.name}")
        table.add_column("edge")
        table.add_column("weight", justify="right")
        for i in order:
            rel = kg.relation_name(nb.relations[i])
            other = kg.node_label(nb.nodes[i])
            edge = f"{node} <-{rel[1:]}-- {other}" if rel.startswith("~") else f"{node} --{rel}--> {other}"
            table.add_row(edge, f"{nb.weights[i]:g}")
    except KGQAError as exc:
        fail(exc)
    console.print(table)


@graphs_app.command("verify")
def graphs_verify(graph: str = typer.Argument("default", help="Graph name or directory.")) -> None:
    """Check a graph in full: every file's sha256 and the checksum against its manifest."""
    from kgqa.kg.store import KnowledgeGraph

    try:
        kg = KnowledgeGraph.load(graph, verify=True)
    except KGQAError as exc:
        fail(exc)
    console.print(f"ok: {kg.name} at {kg.path}: {len(kg.manifest['files'])} files match their sha256, "
                  f"checksum {kg.checksum[:16]}", highlight=False)


@graphs_app.command("build")
def graphs_build(recipe: str = typer.Argument(..., help="Recipe name in graphs/ or a recipe file."),
                 out: Optional[Path] = typer.Option(None, help="Output directory (default KGQA_HOME/graphs/NAME)."),
                 data_dir: Optional[Path] = typer.Option(None, help="Folder the recipe's relative paths are read from."),
                 relations: Optional[str] = typer.Option(None, help="Override the relation scheme: full or merged17."),
                 skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count malformed lines."),
                 pack: Optional[Path] = typer.Option(None, help="Also write a compressed copy here (how the default graph ships)."),
                 force: bool = typer.Option(False, "--force", help="Replace --out/--pack even when it is a folder that is not a graph."),
                 ) -> None:
    """Build a graph from its recipe and check it against the recipe's expected counts.

    An existing --out (or --pack) folder is replaced only when it is empty or a graph (a packed
    graph) that kgqa wrote; anything else stops the build before it starts, unless --force.
    """
    from kgqa.kg.integrity import PACKED_GRAPH_KIND, is_packed_graph_dir
    from kgqa.kg.recipes import build_recipe
    from kgqa.kg.registry import pack_graph
    from kgqa.utils.io import check_replaceable

    try:
        if pack:
            check_replaceable(pack, PACKED_GRAPH_KIND, recognise=is_packed_graph_dir, force=force)
        kg = build_recipe(recipe, out_dir=out, data_root=data_dir, skip_bad=skip_bad,
                          relations=relations, progress=True, force=force)
        if pack:
            pack_graph(kg.path, pack, force=force)
    except KGQAError as exc:
        fail(exc)
    console.print(f"built {kg!r} at {kg.path}", highlight=False)


@graphs_app.command("download-conceptnet")
def graphs_download(dest: Optional[Path] = typer.Option(None, help="Folder (default KGQA_HOME/downloads).")) -> None:
    """Download the official ConceptNet 5.7 assertions file (needs internet; checks sha256)."""
    from kgqa.kg.importers.conceptnet5 import download_conceptnet5
    from kgqa.paths import kgqa_home

    try:
        path = download_conceptnet5(dest or kgqa_home() / "downloads")
    except (KGQAError, OSError) as exc:
        fail(exc)
    console.print(f"downloaded {path}")


def _register_later_stages() -> None:
    """Command groups of later pipeline stages register themselves here when present."""
    import importlib

    for module in ("kgqa.backbones.cli", "kgqa.kge.cli", "kgqa.linking.cli", "kgqa.retrieval.cli",
                   "kgqa.training.cli", "kgqa.pretraining.cli", "kgqa.explain.cli",
                   "kgqa.llm.cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and module.startswith(exc.name):
                continue
            raise
        mod.register(app)


_register_later_stages()

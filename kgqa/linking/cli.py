"""``kgqa link``: link a question (and its answer choices) to a graph and print what was found.

The text is printed escaped (:mod:`kgqa.utils.terminal`): control characters in it never reach
the terminal as commands, nor brackets as rich markup.
"""

from __future__ import annotations

import json
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the ``link`` command to the ``kgqa`` app."""
    app.command("link", context_settings={"allow_extra_args": True})(link_command)


def link_command(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="The text (question) to link."),
    graph: str = typer.Option("default", "--graph", "-g", help="Graph name or directory."),
    choices: Optional[list[str]] = typer.Option(
        None, "--choices", "-c", help="Answer choices to link too: --choices shovel hammer rake."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    phrase_parts: bool = typer.Option(True, help="Also link the words inside a matched verb phrase."),
) -> None:
    """Link TEXT (and --choices) to graph concepts; prints a table of mentions.

    Example: kgqa link "A man dug the ground to plant flowers. What tool did he use?" --choices shovel hammer
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from kgqa.cli import fail
    from kgqa.errors import Errors, KGQAError
    from kgqa.linking.linker import is_wikidata_graph, link_qa, load_linker
    from kgqa.utils.terminal import plain, printable

    extra = list(ctx.args)
    if extra and not choices:
        fail(KGQAError(Errors.E015.format(
            problem=f"unexpected arguments {extra}: quote the text, or put answer choices after --choices")))
    options = list(choices or []) + extra
    try:
        from kgqa.kg.store import KnowledgeGraph

        kg = KnowledgeGraph.load(graph)
        linker = load_linker(kg) if is_wikidata_graph(kg) else load_linker(kg, phrase_parts=phrase_parts)
        if options:
            qa = link_qa(linker, text, options)
            rows = [("question", qa.question)] + [(f"choice {i + 1}", r) for i, r in enumerate(qa.choices)]
        else:
            rows = [("text", linker.link(text))]
    except KGQAError as exc:
        fail(exc)
    console = Console()
    if as_json:
        payload = [{"role": role, "text": r.text, "reason": r.reason, "error": r.error,
                    "mentions": [m.to_dict() for m in r.mentions]} for role, r in rows]
        console.print_json(json.dumps(payload if options else payload[0]), ensure_ascii=True)
        return
    console.print(Text.assemble((f"{'question' if options else 'text'}:", "bold"), " ", printable(text)))
    table = Table(title=plain(f"concepts in graph '{kg.name}'"))
    for column in ("", "span", "text", "node", "kind", "score"):
        table.add_column(column, justify="right" if column in ("span", "score") else "left")
    for role, result in rows:
        label = role
        if not result.mentions:
            table.add_row(label, "", plain(result.text[:30]), plain(f"({result.error or result.reason})", "dim"),
                          "", "")
        for i, m in enumerate(result.mentions):
            node = m.node if m.label in ("", m.node.replace("_", " ")) else f"{m.node} ({m.label})"
            table.add_row(label if i == 0 else "", f"{m.start}-{m.end}", plain(m.text), plain(node), m.kind,
                          f"{m.score:.2f}")
        table.add_section()
    console.print(table)

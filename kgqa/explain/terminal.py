"""Explanations in the terminal (rich): ranked choices, then per choice its paths and nodes.

Every text of an explanation is printed through :func:`kgqa.utils.terminal.printable` (control
characters as escapes, no rich markup read from it): a question or choice holding ``ESC``
sequences cannot change the terminal's title or clear its screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kgqa.explain.extract import UNIFORM_BAND
from kgqa.explain.types import Explanation, duplicate_choices
from kgqa.utils.terminal import printable

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, RenderableType

KIND_STYLE = {"question": "bold cyan", "answer": "bold magenta", "intermediate": "green"}


def _bar(p: float, width: int = 20) -> str:
    filled = int(round(p * width))
    return "█" * filled + "·" * (width - filled)


def _printable_strings(value):
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_printable_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _printable_strings(v) for k, v in value.items()}
    return value


def terminal_safe(explanation: Explanation) -> Explanation:
    """A copy of ``explanation`` whose every text is :func:`~kgqa.utils.terminal.printable`."""
    if getattr(explanation, "_terminal_safe", False):
        return explanation
    safe = Explanation.from_dict(_printable_strings(dataclasses.asdict(explanation)))
    safe._terminal_safe = True  # type: ignore[attr-defined]
    return safe


def notes_lines(explanation: Explanation) -> list:
    """The explanation's notes (input the reader must know about), one yellow line each."""
    from rich.text import Text

    return [Text(f"note: {note}", style="yellow") for note in terminal_safe(explanation).notes]


def ranking_table(explanation: Explanation, *, title: str | None = None) -> "RenderableType":
    """The choices, most probable first, with probability bars; duplicate choices are marked."""
    from rich.table import Table
    from rich.text import Text

    explanation = terminal_safe(explanation)
    same_as = {i: group[0] for group in duplicate_choices(explanation.choices) for i in group[1:]}
    table = Table(title=printable(title) if title else None, title_justify="left", show_edge=False,
                  pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("choice")
    table.add_column("probability", justify="right")
    table.add_column("")
    for rank, i in enumerate(explanation.ranking, 1):
        p = explanation.probabilities[i]
        name = Text(explanation.choices[i], style="bold" if i == explanation.predicted else "")
        if i in same_as:
            name.append(f" (same as choice {same_as[i] + 1})", style="dim")
        if explanation.label is not None and i == explanation.label:
            name.append(" ✓ gold", style="green")
        table.add_row(str(rank), name, f"{p:.3f}", Text(_bar(p), style="blue"))
    return table


RANKING_TITLES = {
    "occlusion": "(ranked by occlusion: the fall of this choice's logit when the path's edges are "
                 "removed; attention along the path, x uniform, beside it)",
    "attention": "(ranked by the model's attention along the path, x uniform; not checked by occlusion)",
    "none": "(not ranked: shortest first)",
}


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def path_line(path) -> "RenderableType":
    """One path: its occlusion drop, attention, arrow form, a negation mark and its sentence."""
    from rich.text import Text

    line = Text(f"    {_number(path.occlusion, '+6.3f'):>6}  {_number(path.attention, '7.2f'):>7}x  ")
    line.append(path.text)
    if path.negated:
        line.append(f"  [negated: {', '.join(path.negated)}]", style="bold red")
    line.append(f"\n                       {path.sentence}", style="dim italic")
    return line


def choice_block(explanation: Explanation, index: int, *, top_paths: int = 5, top_nodes: int = 6
                 ) -> "RenderableType":
    """One choice: linked concepts, the shown paths (occlusion effect, attention, sentence,
    negation mark) with the note on their scores, and the top-attended nodes (or the logit drop
    of each concept's fusion, ERNIE)."""
    from rich.console import Group
    from rich.text import Text

    c = terminal_safe(explanation).per_choice[index]
    lines: list = [Text.assemble((f"{c.choice}", "bold"), f"  p={c.probability:.3f}",
                                 f"  subgraph {c.num_subgraph_nodes} nodes / "
                                 f"{c.num_subgraph_edges} edges" +
                                 (f" / {c.num_paths} paths" if c.num_paths else ""), style="")]
    concepts = Text("  linked: ")
    concepts.append(", ".join(c.question_concepts) or "-", style=KIND_STYLE["question"])
    concepts.append("  |  ")
    concepts.append(", ".join(c.answer_concepts) or "-", style=KIND_STYLE["answer"])
    lines.append(concepts)
    if c.message:
        lines.append(Text(f"  {c.message}", style="yellow"))
    if c.paths:
        lines.append(Text("  top paths " + RANKING_TITLES.get(c.ranking, "") + ":", style="dim"))
        lines.append(Text("      drop  attention  path", style="dim"))
        for path in c.paths[:top_paths]:
            lines.append(path_line(path))
    if c.path_note:
        lines.append(Text(f"  {c.path_note}", style="yellow"))
    fused = sorted((n for n in c.nodes if n.occlusion is not None), key=lambda n: -n.occlusion)
    if fused:  # ERNIE: the effect of each linked concept's fusion
        text = Text("  logit drop without each concept's fusion: ", style="dim")
        for k, node in enumerate(fused[:top_nodes]):
            text.append(", " if k else "")
            text.append(node.name, style=KIND_STYLE[node.kind])
            text.append(f" {node.occlusion:+.3f}", style="dim")
        lines.append(text)
    nodes = [n for n in c.top_nodes(top_nodes, kinds=("intermediate",)) if n.score > 0]
    # pooling attention (QA-GNN, R-GCN: sums to 1 over the concepts; not KagNet's path sums)
    pooled = [n.attention for n in c.nodes if n.attention is not None]
    pooling = bool(pooled) and not any(p.source == "model" for p in c.paths)
    uniform = 1.0 / c.num_subgraph_nodes if c.num_subgraph_nodes else 0.0
    if nodes and not fused and pooling and uniform and max(pooled) <= UNIFORM_BAND * uniform:
        lines.append(Text(f"  node attention: uniform over the {c.num_subgraph_nodes} concepts "
                          f"({uniform:.3f} each): it singles out no node", style="dim"))
    elif nodes and not fused:
        label = "attention" if nodes[0].attention is not None else "relevance"
        text = Text(f"  top nodes ({label}): ", style="dim")
        for k, node in enumerate(nodes):
            if k:
                text.append(", ")
            value = node.attention if node.attention is not None else node.relevance
            text.append(node.name, style=KIND_STYLE[node.kind])
            if value is not None:
                text.append(f" {value:.3f}", style="dim")
        lines.append(text)
    return Group(*lines)


def explanation_renderable(explanation: Explanation, *, top_paths: int = 5, top_nodes: int = 6,
                           choices: Sequence[int] | None = None) -> "RenderableType":
    """The whole explanation: question, ranking, message, then each choice (best first)."""
    from rich.console import Group
    from rich.text import Text

    explanation = terminal_safe(explanation)
    parts: list = [Text(explanation.question, style="bold"), *notes_lines(explanation),
                   Text(f"model {explanation.model} · attention: {explanation.attention} · "
                        f"graph {explanation.graph}", style="dim"),
                   ranking_table(explanation)]
    if explanation.message:
        parts.append(Text(explanation.message, style="yellow"))
    for i in (choices if choices is not None else explanation.ranking):
        parts.append(Text(""))
        parts.append(choice_block(explanation, i, top_paths=top_paths, top_nodes=top_nodes))
    return Group(*parts)


def print_explanation(explanation: Explanation, console: "Console | None" = None, **kwargs) -> None:
    """Print an explanation (see :func:`explanation_renderable` for the options)."""
    from rich.console import Console

    (console or Console()).print(explanation_renderable(explanation, **kwargs))


def print_answer(explanation: Explanation, console: "Console | None" = None) -> None:
    """Print only the ranked choices (``kgqa answer``)."""
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    explanation = terminal_safe(explanation)
    console.print(Text(explanation.question, style="bold"))
    for line in notes_lines(explanation):
        console.print(line)
    console.print(ranking_table(explanation))


def print_comparison(explanations: Sequence[Explanation], console: "Console | None" = None, *,
                     top_paths: int = 3) -> None:
    """Several questions side by side (the demo): ranking, linked concepts and the top paths
    of each question's predicted choice, then what differs between them."""
    from rich.console import Console, Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    explanations = [terminal_safe(e) for e in explanations]
    panels: list = []
    for exp in explanations:
        best = exp.predicted
        body = [*notes_lines(exp), ranking_table(exp), Text("")]
        body.append(Text("question concepts: ", style="dim").append(
            ", ".join(exp.question_concepts) or "-", style=KIND_STYLE["question"]))
        if exp.message:
            body.append(Text(exp.message, style="yellow"))
        for i in exp.ranking[:2]:
            body.append(Text(""))
            body.append(choice_block(exp, i, top_paths=top_paths, top_nodes=4))
        panels.append(Panel(Group(*body), title=Text(exp.question, style="bold"),
                            subtitle=Text(f"answer: {exp.choices[best]}"), expand=True))
    if console.width >= 70 * len(panels):  # side by side when each panel gets 70 columns
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in panels:
            grid.add_column(ratio=1)
        grid.add_row(*panels)
        console.print(grid)
    else:
        for panel in panels:
            console.print(panel)
    if len(explanations) >= 2:
        for line in comparison_lines(explanations):
            console.print(Text(line))


def comparison_lines(explanations: Sequence[Explanation]) -> list[str]:
    """Plain sentences on what changed between the first two questions (terminal-safe text):
    linked concepts, answers, probability changes, the paths shown in one context only with
    their occlusion effect, and the closing note (:func:`kgqa.explain.compare.context_differences`)."""
    from kgqa.explain.compare import context_differences

    diff = context_differences(terminal_safe(explanations[0]), terminal_safe(explanations[1]))
    concepts, answers = diff["concepts"], diff["answers"]
    lines = [f"linked only in the first question: {', '.join(concepts['only_first']) or '-'}; "
             f"only in the second: {', '.join(concepts['only_second']) or '-'}"]
    lines.append(f"answers: '{answers[0]['choice']}' ({answers[0]['probability']:.3f}) vs "
                 f"'{answers[1]['choice']}' ({answers[1]['probability']:.3f})")
    if diff["shifts"]:
        lines.append("probability change from the first to the second context: " + ", ".join(
            f"{s['choice']} {s['change']:+.3f}" for s in diff["shifts"]))
    for row in diff["paths"]:
        for key, where in (("only_first", "first"), ("only_second", "second")):
            for path in row[key]:
                drop = f"drop {path['occlusion']:+.3f}" if path["occlusion"] is not None else "not checked"
                neg = f" [negated: {', '.join(path['negated'])}]" if path["negated"] else ""
                lines.append(f"{row['choice']}: path shown only in the {where} context ({drop}): "
                             f"{path['text']}{neg}")
    lines.append(diff["closing"])
    return lines

"""Explanations in the terminal (rich): ranked choices, then per choice its paths and nodes.

Every text of an explanation is printed through :func:`kgqa.utils.terminal.printable` (control
characters as escapes, no rich markup read from it): a question or choice holding ``ESC``
sequences cannot change the terminal's title or clear its screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

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


def choice_block(explanation: Explanation, index: int, *, top_paths: int = 5, top_nodes: int = 6
                 ) -> "RenderableType":
    """One choice: linked concepts, top paths with weights, top-attended nodes."""
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
        derived = c.paths[0].source == "derived"
        lines.append(Text("  top paths" + (" (derived from node/edge attention)" if derived else
                                           " (path attention)") + ":", style="dim"))
        for path in c.paths[:top_paths]:
            lines.append(Text(f"    {path.weight:6.3f}  {path.text}"))
    nodes = [n for n in c.top_nodes(top_nodes, kinds=("intermediate",)) if n.score > 0]
    if nodes:
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
    """Plain sentences on what changed between the first two questions (terminal-safe text)."""
    a, b = terminal_safe(explanations[0]), terminal_safe(explanations[1])
    only_a = [c for c in a.question_concepts if c not in b.question_concepts]
    only_b = [c for c in b.question_concepts if c not in a.question_concepts]
    lines = [f"linked only in the first question: {', '.join(only_a) or '-'}; "
             f"only in the second: {', '.join(only_b) or '-'}"]
    lines.append(f"answers: '{a.prediction}' ({a.probabilities[a.predicted]:.3f}) vs "
                 f"'{b.prediction}' ({b.probabilities[b.predicted]:.3f})")
    shifts = []
    for i, choice in enumerate(a.choices):
        if i < len(b.choices) and b.choices[i] == choice:
            shifts.append((b.probabilities[i] - a.probabilities[i], choice))
    shifts.sort(key=lambda s: -round(abs(s[0]), 6))  # ties keep the choice order
    if shifts:
        lines.append("probability change from the first to the second context: " + ", ".join(
            f"{choice} {delta:+.3f}" for delta, choice in shifts))
    return lines

"""Static figures of an explanation (PNG or SVG, for papers): matplotlib + a networkx layout.

The same encoding as the HTML page: question concepts blue, answer concepts red, other
concepts green; node area grows with the node's score, edge width with its attention; each edge
is labelled with its relation. Built on a bare :class:`matplotlib.figure.Figure` with the Agg
canvas, so nothing touches pyplot's global state or needs a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kgqa.explain.types import ChoiceExplanation, Explanation

COLORS = {"question": "#1f77b4", "answer": "#d62728", "intermediate": "#2ca02c"}
FORMATS = ("png", "svg", "pdf")


def _layout(choice: ChoiceExplanation, seed: int = 0) -> dict[int, tuple[float, float]]:
    """Question concepts in a column on the left, answer concepts on the right (fixed), the other
    concepts placed between them by a spring layout: paths read from left to right."""
    import networkx as nx

    graph = nx.Graph()
    for node in choice.nodes:
        graph.add_node(node.id)
    for edge in choice.edges:
        if edge.src != edge.dst:
            graph.add_edge(edge.src, edge.dst)
    columns = {"question": [n.id for n in choice.nodes if n.kind == "question"],
               "answer": [n.id for n in choice.nodes if n.kind == "answer"]}
    pos: dict[int, tuple[float, float]] = {}
    for kind, x in (("question", -1.0), ("answer", 1.0)):
        ids = columns[kind]
        for k, node in enumerate(ids):
            pos[node] = (x, 1.0 - 2.0 * (k + 0.5) / len(ids))
    middle = [n.id for n in choice.nodes if n.id not in pos]
    for k, node in enumerate(middle):  # a deterministic spread to start from
        pos[node] = (-0.5 + ((k * 0.618) % 1.0), 1.0 - 2.0 * (k + 0.5) / len(middle))
    if middle and len(graph) > 1:
        fixed = [n for n in pos if n not in set(middle)] or None
        pos = nx.spring_layout(graph, pos=pos, fixed=fixed, seed=seed, iterations=200,
                               k=2.5 / max(len(graph), 1) ** 0.5)
        for node in middle:  # keep the middle between the columns
            x, y = pos[node]
            pos[node] = (max(-0.75, min(0.75, x)), y)
    return {n: (float(x), float(y)) for n, (x, y) in pos.items()}


def draw_choice(ax, explanation: Explanation, choice: int, *, seed: int = 0,
                edge_labels: int = 20) -> None:
    """Draw one choice's subgraph on a matplotlib ``Axes``; the ``edge_labels`` most attended
    edges (the explanation lists them first) carry their relation's name."""
    from matplotlib.patches import FancyArrowPatch

    c = explanation.per_choice[choice]
    ax.set_axis_off()
    title = f"{c.choice}  (p = {c.probability:.3f})"
    ax.set_title(title, fontsize=11, fontweight="bold" if choice == explanation.predicted else "normal")
    if not c.nodes:
        ax.text(0.5, 0.5, c.message or "no graph evidence", ha="center", va="center", wrap=True,
                fontsize=9, color="#777", transform=ax.transAxes)
        return
    pos = _layout(c, seed)
    size = {n.id: 90 + 600 * max(0.0, min(1.0, n.score)) for n in c.nodes}
    atts = [e.attention for e in c.edges if e.attention is not None]
    top = max(atts) if atts else 0.0
    seen: dict[tuple[int, int], int] = {}
    for rank, edge in enumerate(c.edges):
        if edge.src not in pos or edge.dst not in pos:
            continue
        key = (min(edge.src, edge.dst), max(edge.src, edge.dst))
        k = seen[key] = seen.get(key, 0) + 1
        rad = 0.12 * (k - 1) * (1 if edge.src < edge.dst else -1)
        width = 0.6 + 5.0 * edge.attention / top if top > 0 and edge.attention is not None else 0.9
        arrow = FancyArrowPatch(pos[edge.src], pos[edge.dst], arrowstyle="-|>", mutation_scale=9,
                                connectionstyle=f"arc3,rad={rad}", linewidth=width, color="#8c96a0",
                                alpha=0.8, shrinkA=size[edge.src] ** 0.5 / 2, shrinkB=size[edge.dst] ** 0.5 / 2,
                                zorder=1)
        ax.add_patch(arrow)
        if rank < edge_labels:
            (x0, y0), (x1, y1) = pos[edge.src], pos[edge.dst]
            ax.text((x0 + x1) / 2 - rad * (y1 - y0) / 2, (y0 + y1) / 2 + rad * (x1 - x0) / 2,
                    edge.relation, fontsize=6, color="#6b7580", ha="center", va="center", zorder=2)
    xs = [pos[n.id][0] for n in c.nodes]
    ys = [pos[n.id][1] for n in c.nodes]
    ax.scatter(xs, ys, s=[size[n.id] for n in c.nodes], c=[COLORS.get(n.kind, "#888") for n in c.nodes],
               edgecolors="white", linewidths=1.2, zorder=3)
    for node in c.nodes:
        x, y = pos[node.id]
        ax.text(x, y + 0.06, node.name.replace("_", " "), fontsize=8, ha="center", va="bottom", zorder=4,
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7})
    pad = 0.25
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(min(ys) - pad, max(ys) + pad + 0.1)


def render_static(explanation: Explanation, path: str | Path, *, choices: Sequence[int] | None = None,
                  dpi: int = 150, seed: int = 0) -> Path:
    """Write a PNG, SVG or PDF (by ``path``'s suffix) of the given choices' subgraphs.

    Args:
        explanation: the explanation.
        path: output file; the suffix picks the format.
        choices: choice indices to draw, side by side (default: the predicted choice and the
            runner-up).

    Raises:
        KGQAError: ``[E014]`` when ``path`` cannot be written; ``[E015]`` for an unknown format.
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from kgqa.errors import Errors, KGQAError
    from kgqa.explain.files import write_file

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise KGQAError(Errors.E015.format(problem=(
            f"static figure '{path}': unknown format '{fmt}'; use a .png, .svg or .pdf file name")))
    if choices is None:
        choices = explanation.ranking[:2]
    choices = list(choices)
    figure = Figure(figsize=(6.5 * len(choices), 5.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(choices), squeeze=False)[0]
    for ax, i in zip(axes, choices):
        draw_choice(ax, explanation, i, seed=seed)
    figure.suptitle(explanation.question, fontsize=12)
    handles = [Line2D([], [], marker="o", linestyle="", markersize=8, color=COLORS[k], label=label)
               for k, label in (("question", "question concept"), ("answer", "answer concept"),
                                ("intermediate", "other concept"))]
    figure.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi, metadata={"Software": "kgqa"} if fmt == "png" else None)
    return write_file(path, buffer.getvalue())

"""Static figures of an explanation (PNG or SVG, for papers): matplotlib + a networkx layout.

The same encoding as the HTML page: question concepts blue, answer concepts red, other
concepts green; node area grows with the node's score, edge width with its attention; the edges
of the shown paths are orange (negated relations dashed) and the paths are listed under each
graph with the fall of the choice's logit when they are removed; each edge is labelled with its
relation. Built on a bare :class:`matplotlib.figure.Figure` with the Agg
canvas, so nothing touches pyplot's global state or needs a display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kgqa.explain.types import ChoiceExplanation, Explanation

COLORS = {"question": "#1f77b4", "answer": "#d62728", "intermediate": "#2ca02c"}
#: The colour of the shown paths' edges (as on the HTML page).
PATH_COLOR = "#e6550d"
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
    """Draw one choice's subgraph on a matplotlib ``Axes``: the edges of the shown paths in
    orange (negated relations dashed); the ``edge_labels`` first edges (the explanation lists
    the paths' edges, then the most attended) carry their relation's name."""
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
        on_path = edge.path_rank is not None
        arrow = FancyArrowPatch(pos[edge.src], pos[edge.dst], arrowstyle="-|>", mutation_scale=9,
                                connectionstyle=f"arc3,rad={rad}", linewidth=max(width, 2.5) if on_path else width,
                                color=PATH_COLOR if on_path else "#8c96a0", alpha=0.95 if on_path else 0.8,
                                linestyle="--" if edge.negated else "-",
                                shrinkA=size[edge.src] ** 0.5 / 2, shrinkB=size[edge.dst] ** 0.5 / 2,
                                zorder=1.5 if on_path else 1)
        ax.add_patch(arrow)
        if rank < edge_labels or on_path:
            (x0, y0), (x1, y1) = pos[edge.src], pos[edge.dst]
            ax.text((x0 + x1) / 2 - rad * (y1 - y0) / 2, (y0 + y1) / 2 + rad * (x1 - x0) / 2,
                    edge.relation, fontsize=6, color=PATH_COLOR if on_path else "#6b7580", ha="center",
                    va="center", zorder=2)
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


def path_list(ax, choice: ChoiceExplanation, *, top_paths: int = 5) -> None:
    """The shown (highlighted) paths of a choice as text on an ``Axes`` of their own: the fall
    of the choice's logit when each is removed, the arrow form and a negation mark."""
    ax.set_axis_off()
    lines = ["logit drop   path (" + {"occlusion": "ranked by occlusion", "attention": "ranked by attention"}
             .get(choice.ranking, "shortest first") + ")"] if choice.paths else []
    for path in choice.paths[:top_paths]:
        drop = f"{path.occlusion:+.3f}" if path.occlusion is not None else "   -  "
        neg = f"  [negated: {', '.join(path.negated)}]" if path.negated else ""
        lines.append(f"  {drop}     {path.text}{neg}")
    if choice.path_note:
        lines.append(choice.path_note)
    ax.text(0.0, 1.0, "\n".join(lines), transform=ax.transAxes, fontsize=7.5, va="top", ha="left",
            family="monospace", color=PATH_COLOR)


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
    figure = Figure(figsize=(6.5 * len(choices), 6.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(choices), squeeze=False, gridspec_kw={"height_ratios": [5, 1]})
    for k, i in enumerate(choices):
        draw_choice(axes[0, k], explanation, i, seed=seed)
        path_list(axes[1, k], explanation.per_choice[i])
    figure.suptitle(explanation.question, fontsize=12)
    handles = [Line2D([], [], marker="o", linestyle="", markersize=8, color=COLORS[k], label=label)
               for k, label in (("question", "question concept"), ("answer", "answer concept"),
                                ("intermediate", "other concept"))]
    handles.append(Line2D([], [], color=PATH_COLOR, linewidth=2.5, label="edges of the shown paths"))
    figure.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=dpi, metadata={"Software": "kgqa"} if fmt == "png" else None)
    return write_file(path, buffer.getvalue())

"""Interactive explanation pages: one self-contained HTML file that works offline.

The page holds its data and its code: the explanations as JSON in
``<script type="application/json" id="kgqa-data">``, the CSS and a small force-layout SVG
renderer inline (:mod:`kgqa.explain.html_assets`), nothing fetched from a network. Question
concepts, answer concepts and other concepts have distinct colours; node size is the node's
score (attention, or relevance when the model gives none), edge width its attention; every edge
carries its relation's name; a selector (and the probability bars) switches between the answer
choices; hovering a node or an edge shows its scores. Several explanations become panels side
by side (the demo's pair of questions).
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Sequence
from pathlib import Path

from kgqa.explain.html_assets import CSS, JS
from kgqa.explain.types import Explanation


def _json_for_script(value) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` in it)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(explanations: Explanation | Sequence[Explanation], *, title: str | None = None) -> str:
    """The page's HTML text (see the module docstring)."""
    items = [explanations] if isinstance(explanations, Explanation) else list(explanations)
    data = [e.to_dict() for e in items]
    title = title or (items[0].question if len(items) == 1 else "kgqa explanations")
    subtitle = " · ".join(sorted({f"model {e.model}" for e in items} | {f"graph {e.graph}" for e in items}))
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body data-explanations=\"{len(items)}\">\n"
        f"<header><h1>{_html.escape(title)}</h1><div class=\"sub\">kgqa explanation · "
        f"{_html.escape(subtitle)}</div></header>\n"
        "<div id=\"panels\" class=\"panels\"></div>\n<div id=\"kgqa-tooltip\"></div>\n"
        f"<script type=\"application/json\" id=\"kgqa-data\">{_json_for_script(data)}</script>\n"
        f"<script>{JS}</script>\n</body>\n</html>\n")


def write_html(explanations: Explanation | Sequence[Explanation], path: str | Path, *,
               title: str | None = None) -> Path:
    """Write the page to ``path`` (atomically).

    Raises:
        KGQAError: ``[E014]`` when ``path`` cannot be written.
    """
    from kgqa.explain.files import write_file

    return write_file(path, render_html(explanations, title=title))


def render_index(rows: Sequence[dict], *, title: str = "kgqa explanations") -> str:
    """An index page linking many explanation pages.

    Args:
        rows: one dict per question with ``href``, ``id``, ``question``, ``prediction``,
            ``probability`` and optionally ``gold``.
    """
    correct = [r for r in rows if r.get("gold") is not None]
    accuracy = (f" · accuracy {sum(r['gold'] == r['prediction'] for r in correct) / len(correct):.3f}"
                f" on {len(correct)} questions" if correct else "")
    body = []
    for r in rows:
        mark = ""
        if r.get("gold") is not None:
            mark = "✓" if r["gold"] == r["prediction"] else f"✗ (gold: {_html.escape(str(r['gold']))})"
        body.append(
            f"<tr><td><a href=\"{_html.escape(r['href'])}\">{_html.escape(str(r.get('id') or ''))}</a></td>"
            f"<td>{_html.escape(r['question'])}</td><td>{_html.escape(r['prediction'])}</td>"
            f"<td>{r['probability']:.3f}</td><td>{mark}</td></tr>")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body data-questions=\"{len(rows)}\">\n<header><h1>{_html.escape(title)}</h1>"
        f"<div class=\"sub\">{len(rows)} questions{accuracy}</div></header>\n"
        "<table class=\"index\"><tr><th>id</th><th>question</th><th>prediction</th>"
        "<th>p</th><th></th></tr>\n" + "\n".join(body) + "\n</table>\n</body>\n</html>\n")

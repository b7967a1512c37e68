"""Interactive explanation pages: one self-contained HTML file that works offline.

The page holds its data and its code: the explanations as JSON in
``<script type="application/json" id="kgqa-data">``, the CSS and a small force-layout SVG
renderer inline (:mod:`kgqa.explain.html_assets`), nothing fetched from a network. Question
concepts, answer concepts and other concepts have distinct colours; node size is the node's
score (attention, or relevance when the model gives none), edge width its attention; the edges of
the shown paths are orange, negated relations dashed; every edge carries its relation's name; the
paths are listed with their occlusion effect, attention, a negation mark and a sentence; a
selector (and the probability bars) switches between the answer choices; hovering a node or an
edge shows its scores. Several explanations become panels side by side (the demo's pair of
questions), two of the same choices with a panel saying what differs between them.
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Sequence
from pathlib import Path

from kgqa.explain.html_assets import CSS, JS
from kgqa.explain.types import Explanation, _finite


def _json_for_script(value) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` or ``<!--`` in it)."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(explanations: Explanation | Sequence[Explanation], *, title: str | None = None) -> str:
    """The page's HTML text (see the module docstring). Two explanations of the same choices
    (the demo's two contexts) also get a panel saying what differs between them
    (:func:`kgqa.explain.compare.context_differences`)."""
    items = [explanations] if isinstance(explanations, Explanation) else list(explanations)
    data = [e.to_dict() for e in items]
    comparison = ""
    if len(items) == 2 and items[0].choices == items[1].choices:
        from kgqa.explain.compare import context_differences

        comparison = ("<script type=\"application/json\" id=\"kgqa-compare-data\">"
                      f"{_json_for_script(_finite(context_differences(items[0], items[1])))}</script>\n")
    title = title or (items[0].question if len(items) == 1 else "kgqa explanations")
    subtitle = " · ".join(sorted({f"model {e.model}" for e in items} | {f"graph {e.graph}" for e in items}))
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body data-explanations=\"{len(items)}\">\n"
        f"<header><h1>{_html.escape(title)}</h1><div class=\"sub\">kgqa explanation · "
        f"{_html.escape(subtitle)}</div></header>\n"
        "<div id=\"comparison\"></div>\n"
        "<div id=\"panels\" class=\"panels\"></div>\n<div id=\"kgqa-tooltip\"></div>\n"
        f"<script type=\"application/json\" id=\"kgqa-data\">{_json_for_script(data)}</script>\n"
        f"{comparison}"
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
            ``probability`` and optionally ``gold``, ``correct`` (default: the prediction's text
            is the gold text) and ``notes``; or, for a question that was skipped, ``id``,
            ``question`` and ``error``.
    """
    from kgqa.utils.terminal import printable

    def text(value) -> str:  # a skipped question may hold what UTF-8 cannot encode (a lone surrogate)
        return _html.escape(printable(value))

    def correct(r: dict) -> bool:
        return bool(r["correct"]) if r.get("correct") is not None else r["gold"] == r["prediction"]

    answered = [r for r in rows if "error" not in r]
    graded = [r for r in answered if r.get("gold") is not None]
    accuracy = (f" · accuracy {sum(map(correct, graded)) / len(graded):.3f} on {len(graded)} questions"
                if graded else "")
    skipped = len(rows) - len(answered)
    body = []
    for r in rows:
        question = text(r["question"]) + "".join(f"<div class=\"sub\">note: {text(n)}</div>"
                                                 for n in r.get("notes") or ())
        if "error" in r:
            body.append(f"<tr class=\"skipped\"><td>{text(r.get('id') or '')}</td><td>{question}</td>"
                        f"<td colspan=\"3\">skipped: {text(r['error'])}</td></tr>")
            continue
        mark = ""
        if r.get("gold") is not None:
            mark = "✓" if correct(r) else f"✗ (gold: {text(r['gold'])})"
        body.append(
            f"<tr><td><a href=\"{_html.escape(r['href'])}\">{text(r.get('id') or '')}</a></td>"
            f"<td>{question}</td><td>{text(r['prediction'])}</td>"
            f"<td>{r['probability']:.3f}</td><td>{mark}</td></tr>")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body data-questions=\"{len(answered)}\" data-skipped=\"{skipped}\">\n<header><h1>{_html.escape(title)}</h1>"
        f"<div class=\"sub\">{len(answered)} questions{accuracy}"
        f"{f' · {skipped} skipped' if skipped else ''}</div></header>\n"
        "<table class=\"index\"><tr><th>id</th><th>question</th><th>prediction</th>"
        "<th>p</th><th></th></tr>\n" + "\n".join(body) + "\n</table>\n</body>\n</html>\n")

"""Answer and explain: which concepts were linked, which paths and nodes the model attended to,
and why the chosen answer won.

- :mod:`~kgqa.explain.types`: the typed :class:`Explanation` every renderer reads.
- :mod:`~kgqa.explain.extract`: model output + batch graphs + graph -> explanations: the
  question-to-answer paths of each choice, checked by occlusion, with attention beside them.
- :mod:`~kgqa.explain.attention`: every layer's attention, recorded while the model runs,
  relative to uniform; :mod:`~kgqa.explain.occlusion`: the model again, with evidence removed.
- :mod:`~kgqa.explain.sentences`: paths as sentences; :mod:`~kgqa.explain.compare`: what differs
  between two contexts.
- :mod:`~kgqa.explain.answer`: :func:`answer` and :class:`Answerer` (link, retrieve, encode, score).
- :mod:`~kgqa.explain.loading`: checkpoints and the shipped default model -> :class:`Answerer`.
- renderers: :mod:`~kgqa.explain.terminal` (rich), :mod:`~kgqa.explain.html` (one offline HTML
  file), :mod:`~kgqa.explain.static` (PNG/SVG via matplotlib); :mod:`~kgqa.explain.batch` writes
  pages for many dataset questions and an index.

Names load on first use, so importing :mod:`kgqa.explain` is cheap. ``kgqa.explain.answer`` is the
module (a lazy name equal to a submodule's name would be replaced by the module once it is
imported); the function is :func:`kgqa.answer`.
"""

from __future__ import annotations

_NAMES = {
    "Explanation": "kgqa.explain.types", "ChoiceExplanation": "kgqa.explain.types",
    "ExplainedNode": "kgqa.explain.types", "ExplainedEdge": "kgqa.explain.types",
    "ExplainedPath": "kgqa.explain.types",
    "explain_batch": "kgqa.explain.extract",
    "record_layer_attention": "kgqa.explain.attention", "Occluder": "kgqa.explain.occlusion",
    "context_differences": "kgqa.explain.compare",
    "Answerer": "kgqa.explain.answer",
    "AnswerResult": "kgqa.explain.answer", "RankedChoice": "kgqa.explain.answer",
    "load_answerer": "kgqa.explain.loading",
    "print_explanation": "kgqa.explain.terminal", "write_html": "kgqa.explain.html",
    "render_html": "kgqa.explain.html", "render_static": "kgqa.explain.static",
    "explain_dataset": "kgqa.explain.batch",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        import importlib

        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'kgqa.explain' has no attribute {name!r}")

"""What differs between two explanations of the same choices in two contexts (``kgqa demo``).

:func:`context_differences` reads two :class:`~kgqa.explain.types.Explanation` objects and
returns plain data that the terminal and the HTML page both show: the concepts linked in one
context only, the answers, each choice's probability change, the paths shown in one context only
(with their occlusion effect), and a closing sentence that says plainly whether the context
changed the answer, with every choice's probability in both.
"""

from __future__ import annotations

from typing import Any

from kgqa.explain.types import Explanation


def _path_rows(paths) -> dict[str, dict[str, Any]]:
    return {p.text: {"text": p.text, "sentence": p.sentence, "occlusion": p.occlusion,
                     "attention": p.attention, "negated": list(p.negated)} for p in paths}


def context_differences(first: Explanation, second: Explanation, *, top: int = 2
                        ) -> dict[str, Any]:
    """The differences between ``first`` and ``second`` (the same choices, two questions).

    Paths are compared for the ``top`` most probable choices of either context.

    Returns:
        ``{"concepts": {"only_first", "only_second", "both"}, "answers": [{choice, probability}
        x 2], "same_answer": bool, "shifts": [{choice, first, second, change}] (largest change
        first), "paths": [{choice, only_first, only_second}] (leading choices whose shown paths differ;
        each path with text, sentence, occlusion, attention, negated), "closing": str}``.
    """
    concepts = {
        "only_first": [c for c in first.question_concepts if c not in second.question_concepts],
        "only_second": [c for c in second.question_concepts if c not in first.question_concepts],
        "both": [c for c in first.question_concepts if c in second.question_concepts]}
    answers = [{"choice": e.prediction, "probability": e.probabilities[e.predicted]} for e in (first, second)]
    shifts = []
    for i, choice in enumerate(first.choices):
        if i < len(second.choices) and second.choices[i] == choice:
            shifts.append({"choice": choice, "first": first.probabilities[i],
                           "second": second.probabilities[i],
                           "change": second.probabilities[i] - first.probabilities[i]})
    shifts.sort(key=lambda s: -round(abs(s["change"]), 6))  # ties keep the choice order
    paths = []
    leading = set(first.ranking[:top]) | set(second.ranking[:top])
    for i, (a, b) in enumerate(zip(first.per_choice, second.per_choice)):
        if a.choice != b.choice or i not in leading:
            continue
        rows_a, rows_b = _path_rows(a.paths), _path_rows(b.paths)
        only_a = [row for text, row in rows_a.items() if text not in rows_b]
        only_b = [row for text, row in rows_b.items() if text not in rows_a]
        if only_a or only_b:
            paths.append({"choice": a.choice, "only_first": only_a, "only_second": only_b})
    same = answers[0]["choice"] == answers[1]["choice"]
    listed = ", ".join(f"{s['choice']} {s['first']:.3f} / {s['second']:.3f}"
                       for s in sorted(shifts, key=lambda s: -s["second"]))
    if same:
        closing = (f"The model answers '{answers[0]['choice']}' in both contexts "
                   f"(p = {answers[0]['probability']:.3f} / {answers[1]['probability']:.3f}): the "
                   f"context does not change its answer. Probabilities (first / second context): "
                   f"{listed}.")
    else:
        closing = (f"The context changes the answer: '{answers[0]['choice']}' "
                   f"(p = {answers[0]['probability']:.3f}) in the first, '{answers[1]['choice']}' "
                   f"(p = {answers[1]['probability']:.3f}) in the second. Probabilities (first / "
                   f"second context): {listed}.")
    return {"concepts": concepts, "answers": answers, "same_answer": same, "shifts": shifts,
            "paths": paths, "closing": closing}

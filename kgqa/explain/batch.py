"""Explanation pages for many dataset questions at once, plus an index page.

``kgqa explain --dataset csqa --split dev --ids ID ...`` answers the chosen questions in batches
and writes, into one folder::

    index.html            every question: prediction, probability, gold answer, link to its page
    <id>.html             one self-contained explanation page per question
    <id>.png|svg          (optional) the static figure of its two best choices
    explanations.json     all explanations (the data the pages embed)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kgqa.errors import Errors, KGQAError

if TYPE_CHECKING:  # pragma: no cover
    from kgqa.explain.answer import AnswerResult, Answerer


@dataclass
class DatasetExplanations:
    """What :func:`explain_dataset` wrote.

    Attributes:
        index: the index page.
        pages: one explanation page per question, in the order asked.
        results: the answers (with their explanations).
        accuracy: share of questions answered right (``None`` without gold answers).
    """

    index: Path
    pages: list[Path]
    results: list["AnswerResult"] = field(default_factory=list)
    accuracy: float | None = None


def select_examples(dataset, ids: Sequence[str] | None = None, limit: int | None = None) -> list:
    """The dataset's questions with the given ids (in that order), or its first ``limit``.

    Raises:
        KGQAError: ``[E015]`` naming the ids the split does not have.
    """
    if ids:
        by_id = {ex.id: ex for ex in dataset}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise KGQAError(Errors.E015.format(problem=(
                f"{len(missing)} id(s) not in {dataset.name} {dataset.split}: "
                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")))
        return [by_id[i] for i in dict.fromkeys(ids)]
    examples = list(dataset)
    return examples[:limit] if limit else examples


def explain_dataset(dataset: str = "csqa", split: str = "dev", *, ids: Sequence[str] | None = None,
                    limit: int | None = 20, out_dir: str | Path | None = None,
                    model: "str | Path | Answerer | None" = None, graph=None,
                    static: str | None = None, directory: str | Path | None = None,
                    batch_size: int = 16, **options) -> DatasetExplanations:
    """Answer and explain dataset questions; write a page per question and an index page.

    Args:
        dataset: ``csqa``, ``obqa`` or a jsonl path (see :func:`kgqa.data.load_dataset`).
        split: the split (``dev``, ``ih_test``...).
        ids: question ids (default: the first ``limit`` questions).
        limit: how many questions without ``ids`` (``None`` = all).
        out_dir: the folder to write (created; ``[E014]`` when not writable); default
            ``KGQA_HOME/explanations/<dataset>-<split>``.
        model, graph: as in :func:`kgqa.explain.answer.answer`.
        static: also write a static figure per question: ``png``, ``svg`` or ``None``.
        directory: the dataset's folder (default ``<data_dir>/<name>``).
        batch_size: questions per model call.
        **options: explanation options (``top_paths``, ``max_nodes``...).
    """
    from kgqa.data import load_dataset
    from kgqa.explain.answer import get_answerer
    from kgqa.explain.files import check_writable_dir, slug, write_file
    from kgqa.explain.html import render_index, write_html

    data = load_dataset(dataset, split, directory=directory)
    if out_dir is None:
        from kgqa.paths import kgqa_home

        out_dir = kgqa_home() / "explanations" / slug(f"{data.name}-{data.split}")
    out = check_writable_dir(out_dir)
    examples = select_examples(data, ids, limit)
    answerer = get_answerer(model, graph)
    results = answerer.answer_many([ex.question for ex in examples], [list(ex.choices) for ex in examples],
                                   ids=[ex.id for ex in examples], labels=[ex.label for ex in examples],
                                   batch_size=batch_size, **options)
    pages, rows = [], []
    for ex, result in zip(examples, results):
        name = slug(ex.id, 80)
        page = write_html(result.explanation, out / f"{name}.html")
        if static:
            from kgqa.explain.static import render_static

            render_static(result.explanation, out / f"{name}.{static}")
        pages.append(page)
        rows.append({"href": page.name, "id": ex.id, "question": ex.question,
                     "prediction": result.prediction, "probability": result.ranked[0].probability,
                     "gold": ex.answer})
    title = f"kgqa explanations: {data.name} {data.split} ({answerer.model_name})"
    index = write_file(out / "index.html", render_index(rows, title=title))
    write_file(out / "explanations.json",
               json.dumps([r.explanation.to_dict() for r in results], indent=1, allow_nan=False) + "\n")
    known = [r for r in results if r.label is not None]
    accuracy = (sum(r.ranked[0].index == r.label for r in known) / len(known)) if known else None
    return DatasetExplanations(index=index, pages=pages, results=results, accuracy=accuracy)

"""Explanation pages for many dataset questions at once, plus an index page.

``kgqa explain --dataset csqa --split dev --ids ID ...`` answers the chosen questions in batches
and writes, into one folder::

    index.html            every question: prediction, probability, gold answer, link to its page
                          (or why it was skipped)
    <name>.html           one self-contained explanation page per question; <name> is the id
                          when it is a file-name slug (dev01), else its slug and a short hash
    <name>.png|svg        (optional) the static figure of its two best choices
    explanations.json     all explanations (the data the pages embed)

One question that cannot be answered never costs the others their pages: it is reported and
skipped.
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
        pages: one explanation page per answered question, in the order asked.
        results: the answers (with their explanations).
        accuracy: share of answered questions answered right (``None`` without gold answers); a
            duplicate of the right answer's text counts as right.
        failed: the questions that could not be answered or written: ``{"id", "question",
            "error"}`` each, in the order asked (listed on the index page too).
    """

    index: Path
    pages: list[Path]
    results: list["AnswerResult"] = field(default_factory=list)
    accuracy: float | None = None
    failed: list[dict] = field(default_factory=list)


def select_examples(dataset, ids: Sequence[str] | None = None, limit: int | None = None) -> list:
    """The dataset's questions with the given ids (in that order), or its first ``limit``.

    Raises:
        KGQAError: ``[E015]`` naming the ids the split does not have; ``[E141]`` for a ``limit``
            that is not ``None`` or a whole number >= 0 (``0`` and ``None`` mean all).
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise KGQAError(Errors.E141.format(function="explain_dataset()", argument="limit",
                                           expected="None or a whole number >= 0 (0 or None = all)",
                                           got=ascii(limit)))
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


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, KGQAError) else f"{type(exc).__name__}: {exc}"


def answer_each(answerer: "Answerer", examples: Sequence, *, batch_size: int = 16,
                **options) -> tuple[list["AnswerResult | None"], dict[int, str]]:
    """Answer dataset questions in batches so that one question never sinks the others.

    Questions are checked first (:func:`~kgqa.explain.answer.check_question`); a batch that
    still fails is answered again one question at a time, to find the one that fails.

    Returns:
        ``(results, failures)``: one result per example (``None`` where it failed) and, by
        position, why each failed.

    Raises:
        KGQAError: ``[E015]``/``[E141]`` for bad explanation options (every question's problem).
    """
    from kgqa.explain.answer import check_explain_options, check_question

    check_explain_options(options)
    results: list = [None] * len(examples)
    failures: dict[int, str] = {}
    todo = []
    for i, ex in enumerate(examples):
        try:
            check_question(ex.question, list(ex.choices))
            todo.append(i)
        except KGQAError as exc:
            failures[i] = _failure(exc)

    def run(rows: list[int]) -> list:
        return answerer.answer_many([examples[i].question for i in rows], [list(examples[i].choices) for i in rows],
                                    ids=[examples[i].id for i in rows], labels=[examples[i].label for i in rows],
                                    batch_size=batch_size, **options)

    for start in range(0, len(todo), batch_size):
        rows = todo[start:start + batch_size]
        try:
            answered = run(rows)
        except Exception:  # noqa: BLE001 - find the failing question, answer the others
            answered = []
            for i in rows:
                try:
                    answered += run([i])
                except Exception as exc:  # noqa: BLE001 - reported, and the batch goes on
                    failures[i] = _failure(exc)
                    answered.append(None)
        for i, result in zip(rows, answered):
            results[i] = result
    return results, dict(sorted(failures.items()))


def explain_dataset(dataset: str = "csqa", split: str = "dev", *, ids: Sequence[str] | None = None,
                    limit: int | None = 20, out_dir: str | Path | None = None,
                    model: "str | Path | Answerer | None" = None, graph=None,
                    static: str | None = None, directory: str | Path | None = None,
                    batch_size: int = 16, **options) -> DatasetExplanations:
    """Answer and explain dataset questions; write a page per question and an index page.

    A question that cannot be answered or written is skipped and reported (``failed``, the index
    page and a ``[W140]`` warning); the others are written. Questions that list the same choice
    twice (CommonsenseQA has some) are answered, the duplicates scored alike and noted. Page
    names are unique (:func:`~kgqa.explain.files.unique_page_names`): an id that is a file-name
    slug (``dev01``) is kept, any other gets its slug and a short hash.

    Args:
        dataset: ``csqa``, ``obqa`` or a jsonl path (see :func:`kgqa.data.load_dataset`).
        split: the split (``dev``, ``ih_test``...).
        ids: question ids (default: the first ``limit`` questions).
        limit: how many questions without ``ids`` (``None`` or 0 = all).
        out_dir: the folder to write (created; ``[E014]`` when not writable); default
            ``KGQA_HOME/explanations/<dataset>-<split>``.
        model, graph: as in :func:`kgqa.explain.answer.answer`.
        static: also write a static figure per question: ``png``, ``svg`` or ``None``.
        directory: the dataset's folder (default ``<data_dir>/<name>``).
        batch_size: questions per model call.
        **options: explanation options (``top_paths``, ``max_nodes``...).
    """
    from kgqa.data import load_dataset
    from kgqa.errors import Warnings, warn
    from kgqa.explain.answer import get_answerer
    from kgqa.explain.files import check_writable_dir, slug, unique_page_names, write_file
    from kgqa.explain.html import render_index, write_html

    data = load_dataset(dataset, split, directory=directory)
    if out_dir is None:
        from kgqa.paths import kgqa_home

        out_dir = kgqa_home() / "explanations" / slug(f"{data.name}-{data.split}")
    out = check_writable_dir(out_dir)
    examples = select_examples(data, ids, limit)
    answerer = get_answerer(model, graph)
    answered, failures = answer_each(answerer, examples, batch_size=batch_size, **options)
    names = unique_page_names([str(ex.id) for ex in examples])
    pages, rows, results = [], [], []
    for k, (ex, result, name) in enumerate(zip(examples, answered, names)):
        if result is not None:
            try:
                page = write_html(result.explanation, out / f"{name}.html")
                if static:
                    from kgqa.explain.static import render_static

                    render_static(result.explanation, out / f"{name}.{static}")
            except Exception as exc:  # noqa: BLE001 - one page's failure is reported, not fatal
                failures[k] = _failure(exc)
            else:
                pages.append(page)
                results.append(result)
                rows.append({"href": page.name, "id": ex.id, "question": result.question,
                             "prediction": result.prediction, "probability": result.ranked[0].probability,
                             "gold": ex.answer, "correct": result.correct, "notes": result.notes})
                continue
        rows.append({"id": ex.id, "question": ex.question, "error": failures[k]})
    failed = [{"id": examples[k].id, "question": examples[k].question, "error": error}
              for k, error in sorted(failures.items())]
    if failed:
        warn(Warnings.W140.format(count=len(failed), total=len(examples),
                                  first=f"{failed[0]['id']}: {failed[0]['error']}"))
    title = f"kgqa explanations: {data.name} {data.split} ({answerer.model_name})"
    index = write_file(out / "index.html", render_index(rows, title=title))
    write_file(out / "explanations.json",
               json.dumps([r.explanation.to_dict() for r in results], indent=1, allow_nan=False) + "\n")
    known = [r.correct for r in results if r.correct is not None]
    accuracy = sum(known) / len(known) if known else None
    return DatasetExplanations(index=index, pages=pages, results=results, accuracy=accuracy, failed=failed)

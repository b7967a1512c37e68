"""Reader for multiple-choice QA in the CommonsenseQA / OpenBookQA jsonl shape.

One JSON object per line::

    {"id": "...", "question": {"stem": "...", "question_concept": "...",
                               "choices": [{"label": "A", "text": "..."}, ...]},
     "answerKey": "A", "fact1": "..."}

``question_concept`` (CommonsenseQA) and ``fact1`` (OpenBookQA "Additional" files) are optional;
``answerKey`` may be missing only where labels are not required (a test split). Every problem is
a :class:`~kgqa.errors.BadInputError` naming ``file:line``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from kgqa.data.records import QAExample
from kgqa.errors import BadInputError

MIN_CHOICES = 2
MAX_CHOICES = 8


def _text(value, what: str, source: str, line: int | None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(source, line, f"{what} must be a non-empty string, got {value!r}")
    return value


def parse_qa_record(obj, *, source: str = "<record>", line: int | None = None,
                    require_label: bool = True, min_choices: int = MIN_CHOICES,
                    max_choices: int = MAX_CHOICES) -> QAExample:
    """Convert one decoded jsonl object to a :class:`QAExample`.

    Args:
        obj: the decoded JSON object.
        source, line: where it came from (for error messages).
        require_label: a missing ``answerKey`` is an error (else the label is ``None``).
        min_choices, max_choices: allowed number of choices.

    Raises:
        BadInputError: a missing field, a number of choices outside the range, duplicate choice
            labels, or an ``answerKey`` that is not one of the labels.
    """
    if not isinstance(obj, dict):
        raise BadInputError(source, line, f"expected a JSON object, got {type(obj).__name__}")
    if "id" not in obj:
        raise BadInputError(source, line, "missing 'id'")
    qid = obj["id"]
    if isinstance(qid, bool) or not isinstance(qid, (str, int)) or str(qid).strip() == "":
        raise BadInputError(source, line, f"'id' must be a non-empty string, got {qid!r}")
    question = obj.get("question")
    if not isinstance(question, dict):
        raise BadInputError(source, line, "'question' must be an object with 'stem' and 'choices'")
    stem = _text(question.get("stem"), "'question.stem'", source, line)
    choices = question.get("choices")
    if not isinstance(choices, list):
        raise BadInputError(source, line, "'question.choices' must be a list of "
                                          "{\"label\": ..., \"text\": ...} objects")
    if not min_choices <= len(choices) <= max_choices:
        allowed = (f"{min_choices}" if min_choices == max_choices
                   else f"{min_choices}-{max_choices}")
        raise BadInputError(source, line,
                            f"question has {len(choices)} choices; expected {allowed}")
    labels: list[str] = []
    texts: list[str] = []
    for i, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise BadInputError(source, line,
                                f"choice {i} must be an object with 'label' and 'text'")
        label = choice.get("label")
        if isinstance(label, bool) or not isinstance(label, (str, int)) or str(label).strip() == "":
            raise BadInputError(source, line, f"choice {i} has no 'label'")
        label = str(label).strip()
        if label in labels:
            raise BadInputError(source, line, f"choice label '{label}' appears twice")
        labels.append(label)
        texts.append(_text(choice.get("text"), f"choice {label} 'text'", source, line))
    key = obj.get("answerKey")
    if key is None or (isinstance(key, str) and key.strip() == ""):
        if require_label:
            raise BadInputError(source, line, "missing 'answerKey' (every question of a training "
                                              "or dev split needs its answer)")
        label_index = None
    else:
        key = str(key).strip()
        if key not in labels:
            raise BadInputError(source, line, f"answerKey '{key}' is not one of the choice labels "
                                              f"{', '.join(labels)}")
        label_index = labels.index(key)
    concept = question.get("question_concept")
    fact = obj.get("fact1")
    return QAExample(id=str(qid), question=stem, choices=tuple(texts), label=label_index,
                     question_concept=concept if isinstance(concept, str) and concept else None,
                     fact=fact if isinstance(fact, str) and fact else None)


def read_qa_jsonl(path: str | Path, *, require_labels: bool = True,
                  min_choices: int = MIN_CHOICES,
                  max_choices: int = MAX_CHOICES) -> list[QAExample]:
    """Read every question of a QA jsonl file (blank lines are skipped).

    Args:
        path: the ``.jsonl`` file.
        require_labels: every question needs an ``answerKey`` (``False`` for test splits, whose
            questions then get ``label=None``).
        min_choices, max_choices: allowed number of choices; all questions of a file must have
            the same number.

    Raises:
        BadInputError: ``file:line: problem`` for malformed JSON, a bad record (see
            :func:`parse_qa_record`), a number of choices that differs from the first question's,
            a duplicate id, or a file with no questions.
    """
    path = Path(path)
    source = str(path)
    examples: list[QAExample] = []
    first_line: dict[str, int] = {}
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadInputError(source, lineno, f"not UTF-8 ({exc.reason})") from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise BadInputError(source, lineno,
                                    f"malformed JSON: {exc.msg} (column {exc.colno})") from None
            example = parse_qa_record(obj, source=source, line=lineno,
                                      require_label=require_labels, min_choices=min_choices,
                                      max_choices=max_choices)
            if examples and example.num_choices != examples[0].num_choices:
                raise BadInputError(source, lineno, (
                    f"question has {example.num_choices} choices but the first question (line "
                    f"{first_line[examples[0].id]}) has {examples[0].num_choices}; every question "
                    "of a file needs the same number"))
            if example.id in first_line:
                raise BadInputError(source, lineno, f"duplicate id '{example.id}' (first on line "
                                                    f"{first_line[example.id]})")
            first_line[example.id] = lineno
            examples.append(example)
    if not examples:
        raise BadInputError(source, None, "no questions in the file")
    return examples


def examples_checksum(examples: Iterable[QAExample]) -> str:
    """sha256 of the examples' content (same questions in the same order -> same checksum,
    whether read from the jsonl files or from the Hugging Face copy). A lone surrogate (a
    ``\\udce9`` escape in the file) is hashed as is: answering refuses that question, not the file."""
    digest = hashlib.sha256()
    for example in examples:
        text = json.dumps(example.to_dict(), sort_keys=True, ensure_ascii=False)
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\n")
    return digest.hexdigest()

"""CommonsenseQA (Talmor et al., NAACL 2019): official and in-house splits.

Each question is written around a ConceptNet concept (``question_concept``) and has 5 choices.
Splits:

========== ====== ============================================================
split      size   what
========== ====== ============================================================
train      9,741  official train (``train_rand_split.jsonl``)
dev        1,221  official dev (``dev_rand_split.jsonl``)
test       1,140  official test, no answers (``test_rand_split_no_answers.jsonl``)
ih_train   8,500  in-house train: train questions listed in ``inhouse_split_qids.txt``
ih_dev     1,221  in-house dev: the official dev set
ih_test    1,241  in-house test: the other train questions
========== ====== ============================================================

The local files live in ``<data_dir>/csqa/`` (see :func:`kgqa.paths.data_dir`). Online users can
read the Hugging Face copy ``tau/commonsense_qa`` instead (``source="hf"``, needs the optional
``datasets`` package); the in-house splits then still need ``inhouse_split_qids.txt``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kgqa.data.jsonl import examples_checksum, parse_qa_record, read_qa_jsonl
from kgqa.data.records import QADataset, QAExample
from kgqa.data.splits import read_id_list, split_by_ids
from kgqa.errors import BadInputError, Errors, KGQAError

NAME = "csqa"
FILES = {"train": "train_rand_split.jsonl", "dev": "dev_rand_split.jsonl",
         "test": "test_rand_split_no_answers.jsonl"}
INHOUSE_IDS_FILE = "inhouse_split_qids.txt"
SPLITS = ("train", "dev", "test", "ih_train", "ih_dev", "ih_test")
#: Splits without public answers (labels are ``None``).
UNLABELLED_SPLITS = ("test",)
NUM_CHOICES = 5
HF_NAME = "tau/commonsense_qa"
HF_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
INHOUSE_IDS_URL = ("https://github.com/michiyasunaga/qagnn/blob/main/data/csqa/"
                   "inhouse_split_qids.txt")


def csqa_dir(directory: str | Path | None = None) -> Path:
    """The folder of the CommonsenseQA files: ``directory`` or ``<data_dir>/csqa``."""
    if directory is not None:
        return Path(directory)
    from kgqa.paths import data_dir

    return data_dir() / "csqa"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise KGQAError(Errors.E013.format(kind="CommonsenseQA split", name=split,
                                           known=", ".join(SPLITS)))


def _need(path: Path, hint: str) -> Path:
    if not path.is_file():
        raise KGQAError(Errors.E016.format(what="Dataset file", path=path, hint=hint))
    return path


def _official_split(split: str) -> str:
    return {"ih_train": "train", "ih_test": "train", "ih_dev": "dev"}.get(split, split)


def _select_inhouse(split: str, train: list[QAExample], ids: list[str], ids_source: str
                    ) -> list[QAExample]:
    ih_train, ih_test = split_by_ids(train, ids, ids_source=ids_source)
    return ih_train if split == "ih_train" else ih_test


def load_csqa(split: str = "train", *, directory: str | Path | None = None,
              source: str = "local") -> QADataset:
    """Load one CommonsenseQA split from the local jsonl files (or ``source="hf"``).

    Args:
        split: ``train``, ``dev``, ``test``, ``ih_train``, ``ih_dev`` or ``ih_test``.
        directory: folder with the jsonl files and ``inhouse_split_qids.txt``
            (default ``<data_dir>/csqa``).
        source: ``"local"`` (the jsonl files) or ``"hf"`` (:func:`load_csqa_hf`).

    Raises:
        KGQAError: an unknown split or source, a missing file; ``BadInputError`` (``file:line``)
            for a malformed file.
    """
    _check_split(split)
    if source == "hf":
        ids_path = None
        if split.startswith("ih_") and split != "ih_dev":
            ids_path = _default_ids_path(directory)
        return load_csqa_hf(split, inhouse_ids=ids_path)
    if source != "local":
        raise KGQAError(Errors.E013.format(kind="dataset source", name=source, known="local, hf"))
    folder = csqa_dir(directory)
    hint = (f"Put the CommonsenseQA files ({', '.join(FILES.values())}, {INHOUSE_IDS_FILE}) in "
            f"{folder}, set KGQA_DATA_DIR, or load the Hugging Face copy with source='hf'.")
    official = _official_split(split)
    path = _need(folder / FILES[official], hint)
    examples = read_qa_jsonl(path, require_labels=official not in UNLABELLED_SPLITS,
                             min_choices=NUM_CHOICES, max_choices=NUM_CHOICES)
    sources = [str(path)]
    if split in ("ih_train", "ih_test"):
        ids_path = _need(folder / INHOUSE_IDS_FILE, hint)
        examples = _select_inhouse(split, examples, read_id_list(ids_path), str(ids_path))
        sources.append(str(ids_path))
    return QADataset(name=NAME, split=split, examples=tuple(examples), sources=tuple(sources),
                     checksum=examples_checksum(examples))


def csqa_example_from_hf(record: Mapping, *, require_label: bool = True,
                         source: str = HF_NAME, index: int | None = None) -> QAExample:
    """Convert one record of the Hugging Face ``tau/commonsense_qa`` copy to a :class:`QAExample`.

    The HF schema is ``{id, question, question_concept, choices: {label: [...], text: [...]},
    answerKey}`` with ``answerKey == ""`` in the test split. It is rewritten to the jsonl shape and
    checked by the same code as the local files.

    Args:
        record: one row.
        require_label: an empty ``answerKey`` is an error (else the label is ``None``).
        source, index: where it came from (for error messages: ``source:index``).

    Raises:
        BadInputError: missing fields, label/text lists of different lengths, or a bad answer.
    """
    choices = record.get("choices") if isinstance(record, Mapping) else None
    if not isinstance(choices, Mapping) or not isinstance(choices.get("label"), (list, tuple)) \
            or not isinstance(choices.get("text"), (list, tuple)):
        raise BadInputError(source, index, "'choices' must be {'label': [...], 'text': [...]}")
    labels, texts = list(choices["label"]), list(choices["text"])
    if len(labels) != len(texts):
        raise BadInputError(source, index, f"'choices' has {len(labels)} labels but "
                                           f"{len(texts)} texts")
    obj = {"id": record.get("id"),
           "question": {"stem": record.get("question"),
                        "question_concept": record.get("question_concept"),
                        "choices": [{"label": la, "text": te} for la, te in zip(labels, texts)]},
           "answerKey": record.get("answerKey")}
    return parse_qa_record(obj, source=source, line=index, require_label=require_label,
                           min_choices=NUM_CHOICES, max_choices=NUM_CHOICES)


def _default_ids_path(directory: str | Path | None) -> Path | None:
    if directory is not None:
        return Path(directory) / INHOUSE_IDS_FILE
    from kgqa.paths import data_dir

    root = data_dir(required=False)
    return None if root is None else root / NAME / INHOUSE_IDS_FILE


def load_csqa_hf(split: str = "train", *, inhouse_ids: str | Path | None = None,
                 revision: str | None = None) -> QADataset:
    """Load a CommonsenseQA split from the Hugging Face hub copy ``tau/commonsense_qa``.

    Needs internet (or the ``datasets`` cache) and the optional ``datasets`` package.

    Args:
        split: as in :func:`load_csqa` (``dev`` is the hub's ``validation``).
        inhouse_ids: ``inhouse_split_qids.txt``, needed for ``ih_train`` and ``ih_test``.
        revision: a hub revision (commit) to pin.

    Raises:
        KGQAError: ``datasets`` is not installed, or the id list is missing.
    """
    _check_split(split)
    ids_path = None
    if split in ("ih_train", "ih_test"):
        ids_path = Path(inhouse_ids) if inhouse_ids is not None else None
        if ids_path is None or not ids_path.is_file():
            raise KGQAError(Errors.E016.format(
                what="Dataset file", path=ids_path or INHOUSE_IDS_FILE,
                hint=f"The in-house split needs the id list {INHOUSE_IDS_FILE} (from "
                     f"{INHOUSE_IDS_URL}); pass inhouse_ids=PATH."))
    try:
        import datasets
    except ImportError as exc:
        raise KGQAError(Errors.E015.format(problem=(
            f"loading {HF_NAME} needs the 'datasets' package: pip install datasets "
            "(or use the local jsonl files with source='local')"))) from exc
    official = _official_split(split)
    rows = datasets.load_dataset(HF_NAME, split=HF_SPLITS[official], revision=revision)
    label = f"{HF_NAME}[{HF_SPLITS[official]}]"
    examples = [csqa_example_from_hf(row, require_label=official not in UNLABELLED_SPLITS,
                                     source=label, index=i) for i, row in enumerate(rows)]
    sources = [f"hf://{HF_NAME}/{HF_SPLITS[official]}" + (f"@{revision}" if revision else "")]
    if ids_path is not None:
        examples = _select_inhouse(split, examples, read_id_list(ids_path), str(ids_path))
        sources.append(str(ids_path))
    return QADataset(name=NAME, split=split, examples=tuple(examples), sources=tuple(sources),
                     checksum=examples_checksum(examples))

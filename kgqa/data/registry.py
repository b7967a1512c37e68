"""``load_dataset(name_or_path, split)``: a QA split by dataset name or by jsonl path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kgqa.data.jsonl import examples_checksum, read_qa_jsonl
from kgqa.data.records import QADataset
from kgqa.errors import Errors, KGQAError

#: Split names whose questions may lack answers when read from a path.
UNLABELLED_SPLITS = ("test",)


def _csqa(split: str, directory, source: str) -> QADataset:
    from kgqa.data.csqa import load_csqa

    return load_csqa(split, directory=directory, source=source)


def _obqa(split: str, directory, source: str) -> QADataset:
    from kgqa.data.obqa import load_obqa

    if source not in ("local", "additional"):
        raise KGQAError(Errors.E013.format(kind="OpenBookQA source", name=source,
                                           known="local, additional"))
    return load_obqa(split, directory=directory, additional=source == "additional")


#: Dataset name -> loader(split, directory, source).
DATASETS: dict[str, Callable[..., QADataset]] = {"csqa": _csqa, "obqa": _obqa}


def load_dataset(name_or_path: str | os.PathLike, split: str = "train", *,
                 directory: str | Path | None = None, source: str = "local") -> QADataset:
    """Load a multiple-choice QA split.

    Args:
        name_or_path: ``"csqa"`` (CommonsenseQA), ``"obqa"`` (OpenBookQA), a ``.jsonl`` file in
            the CommonsenseQA / OpenBookQA shape (2-8 choices), or a folder holding
            ``{split}.jsonl``.
        split: the split. For CommonsenseQA also ``ih_train``, ``ih_dev``, ``ih_test`` (the
            in-house split). From a path, questions need an ``answerKey`` unless the split is
            ``test``.
        directory: the dataset's folder for a name (default ``<data_dir>/<name>``).
        source: for ``csqa``, ``"local"`` or ``"hf"`` (the Hugging Face copy); for ``obqa``,
            ``"local"`` or ``"additional"`` (the files with ``fact1``).

    Raises:
        KGQAError: an unknown name or missing file; ``BadInputError`` (``file:line``) for
            malformed data.
    """
    key = str(name_or_path)
    if key.lower() in DATASETS:
        return DATASETS[key.lower()](split, directory, source)
    path = Path(key).expanduser()
    if path.is_dir():
        file = path / f"{split}.jsonl"
        name = path.name
    else:
        file, name = path, path.stem
    if not file.is_file():
        if not path.suffix and os.sep not in key and "/" not in key and not path.exists():
            raise KGQAError(Errors.E013.format(
                kind="dataset", name=key,
                known=", ".join(DATASETS) + " or the path of a .jsonl file"))
        raise KGQAError(Errors.E016.format(what="Dataset file", path=file, hint=(
            "Pass a dataset name (" + ", ".join(DATASETS) + "), a .jsonl file or a folder with "
            f"{split}.jsonl.")))
    examples = read_qa_jsonl(file, require_labels=split not in UNLABELLED_SPLITS)
    return QADataset(name=name, split=split, examples=tuple(examples), sources=(str(file),),
                     checksum=examples_checksum(examples))

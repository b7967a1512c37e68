"""OpenBookQA (Mihaylov et al., EMNLP 2018): elementary science questions with 4 choices.

The official release (``OpenBookQA-V1-Sep2018``) has ``Data/Main/{train,dev,test}.jsonl``
(4,957 / 500 / 500 questions, all with answers) and ``Data/Additional/{split}_complete.jsonl``,
which add the supporting fact ``fact1`` (kept as :attr:`QAExample.fact`). The data is not in the
shared folder: point ``directory`` at the release (or any folder holding the files) or set
``KGQA_DATA_DIR`` to a folder with an ``obqa/`` subfolder.
"""

from __future__ import annotations

from pathlib import Path

from kgqa.data.jsonl import examples_checksum, read_qa_jsonl
from kgqa.data.records import QADataset
from kgqa.errors import Errors, KGQAError

NAME = "obqa"
SPLITS = ("train", "dev", "test")
NUM_CHOICES = 4
#: Folders searched under ``directory``, in order.
LAYOUTS = ("", "Main", "Data/Main", "OpenBookQA-V1-Sep2018/Data/Main")
ADDITIONAL_LAYOUTS = ("", "Additional", "Data/Additional", "OpenBookQA-V1-Sep2018/Data/Additional")


def obqa_dir(directory: str | Path | None = None) -> Path:
    """The OpenBookQA folder: ``directory`` or ``<data_dir>/obqa``."""
    if directory is not None:
        return Path(directory)
    from kgqa.paths import data_dir

    return data_dir() / NAME


def find_obqa_file(split: str, directory: str | Path | None = None, *,
                   additional: bool = False) -> Path:
    """The jsonl file of ``split``: ``{split}.jsonl`` (``{split}_complete.jsonl`` with
    ``additional``) in ``directory`` or its ``Main`` / ``Data/Main`` (``Additional``) subfolders.

    Raises:
        KGQAError: an unknown split, or no such file (the message lists the paths tried).
    """
    if split not in SPLITS:
        raise KGQAError(Errors.E013.format(kind="OpenBookQA split", name=split,
                                           known=", ".join(SPLITS)))
    root = obqa_dir(directory)
    filename = f"{split}_complete.jsonl" if additional else f"{split}.jsonl"
    tried = [root / sub / filename for sub in (ADDITIONAL_LAYOUTS if additional else LAYOUTS)]
    for path in tried:
        if path.is_file():
            return path
    raise KGQAError(Errors.E016.format(what="Dataset file", path=tried[0], hint=(
        f"Also tried {', '.join(str(p) for p in tried[1:])}. Download OpenBookQA-V1-Sep2018 "
        "(https://allenai.org/data/open-book-qa) and pass its folder as directory=.")))


def load_obqa(split: str = "train", *, directory: str | Path | None = None,
              additional: bool = False) -> QADataset:
    """Load one OpenBookQA split (every split has answers).

    Args:
        split: ``train``, ``dev`` or ``test``.
        directory: the release folder or a folder with the jsonl files (default
            ``<data_dir>/obqa``).
        additional: read the "Additional" files, which add the supporting fact (``fact``).

    Raises:
        KGQAError: an unknown split or a missing file; ``BadInputError`` (``file:line``) for a
            malformed line, a question without 4 choices or without a valid ``answerKey``.
    """
    path = find_obqa_file(split, directory, additional=additional)
    examples = read_qa_jsonl(path, require_labels=True, min_choices=NUM_CHOICES,
                             max_choices=NUM_CHOICES)
    return QADataset(name=NAME, split=split, examples=tuple(examples), sources=(str(path),),
                     checksum=examples_checksum(examples))

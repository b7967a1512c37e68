"""Splits defined by a list of question ids, such as CommonsenseQA's in-house split.

KagNet (Lin et al., EMNLP 2019) split CommonsenseQA's official train set in two because the test
labels are not public: the 8,500 ids in ``inhouse_split_qids.txt`` are the in-house train set, the
other 1,241 train questions the in-house test set, and the official dev set is the dev set. MHGRN
and QA-GNN reuse it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kgqa.data.records import QAExample
from kgqa.errors import BadInputError


def read_id_list(path: str | Path) -> list[str]:
    """Ids one per line, in file order (blank lines skipped, surrounding space stripped).

    Raises:
        BadInputError: ``file:line`` of a duplicate id, or a file with no ids.
    """
    path = Path(path)
    ids: list[str] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            qid = line.strip()
            if not qid:
                continue
            if qid in seen:
                raise BadInputError(str(path), lineno,
                                    f"duplicate id '{qid}' (first on line {seen[qid]})")
            seen[qid] = lineno
            ids.append(qid)
    if not ids:
        raise BadInputError(str(path), None, "no ids in the file")
    return ids


def split_by_ids(examples: Sequence[QAExample], ids: Sequence[str], *,
                 ids_source: str = "<ids>") -> tuple[list[QAExample], list[QAExample]]:
    """Split ``examples`` into those whose id is in ``ids`` and the rest, both in example order.

    Args:
        examples: e.g. the official CommonsenseQA train set.
        ids: e.g. the in-house train ids.
        ids_source: where ``ids`` came from (for error messages).

    Returns:
        ``(selected, rest)``: for the in-house split, ``(ih_train, ih_test)``.

    Raises:
        BadInputError: an id that is not among the examples (the id list belongs to other data).
    """
    known = {ex.id for ex in examples}
    for position, qid in enumerate(ids, start=1):
        if qid not in known:
            raise BadInputError(ids_source, position, (
                f"id '{qid}' is not in the {len(examples)} questions being split (is the id list "
                "for this dataset and split?)"))
    wanted = set(ids)
    selected = [ex for ex in examples if ex.id in wanted]
    rest = [ex for ex in examples if ex.id not in wanted]
    return selected, rest

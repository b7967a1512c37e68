"""Small pretraining corpora for the knowledge-fused encoder.

``csqa``: each CommonsenseQA training question followed by its right answer ("A man dug the
ground ... What tool did he use? shovel"), linked by the graph's linker like any text.
"""

from __future__ import annotations

from pathlib import Path

from kgqa.errors import Errors, KGQAError


def csqa_texts(data_dir: str | Path | None = None, *, split: str = "train", limit: int | None = None) -> list[str]:
    """``question + " " + right answer`` of a CommonsenseQA split, in file order.

    Args:
        data_dir: the shared data folder (holding ``csqa/``); default :func:`kgqa.paths.data_dir`.
        split: ``"train"`` or ``"dev"``.
        limit: keep the first ``limit`` questions.

    Raises:
        KGQAError: the split file is missing (``[E016]``).
    """
    import json

    from kgqa.paths import data_dir as default_data_dir

    root = Path(data_dir) if data_dir is not None else default_data_dir()
    path = root / "csqa" / f"{split}_rand_split.jsonl"
    if not path.exists():
        raise KGQAError(Errors.E016.format(path=path, hint="pretraining reads the CommonsenseQA jsonl files"))
    texts = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            item = json.loads(line)
            question = item["question"]
            answer = next((c["text"] for c in question["choices"] if c["label"] == item.get("answerKey")), "")
            texts.append(f"{question['stem'].strip()} {answer}".strip())
            if limit is not None and len(texts) >= limit:
                break
    return texts

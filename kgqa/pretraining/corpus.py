"""Small pretraining corpora for the knowledge-fused encoder.

``csqa``: each CommonsenseQA training question followed by its right answer ("A man dug the
ground ... What tool did he use? shovel"), linked by the graph's linker like any text.
"""

from __future__ import annotations

from pathlib import Path

from kgqa.errors import Errors, KGQAError


def csqa_texts(data_dir: str | Path | None = None, *, split: str = "ih_train", limit: int | None = None) -> list[str]:
    """``question + " " + right answer`` of a CommonsenseQA split, in file order.

    The default is the in-house training split: the in-house test questions are part of the
    official train file, so pretraining on ``"train"`` would show the model the answers of the
    questions a fine-tuned model is later tested on.

    Args:
        data_dir: the shared data folder (holding ``csqa/``); default :func:`kgqa.paths.data_dir`.
        split: a split of :func:`kgqa.data.load_dataset` with answers (``"ih_train"``,
            ``"train"``, ``"dev"``...).
        limit: keep the first ``limit`` questions.

    Raises:
        KGQAError: the split file is missing (``[E016]``), or the split has no answers.
    """
    from kgqa.data import load_dataset

    directory = Path(data_dir) / "csqa" if data_dir is not None else None
    dataset = load_dataset("csqa", split, directory=directory)
    if not dataset.has_labels:
        raise KGQAError(Errors.E055.format(location=f"corpus split {split!r}", problem=(
            "it has no answers; pretraining texts are question + right answer")))
    examples = dataset.examples if limit is None else dataset.examples[:limit]
    return [f"{ex.question.strip()} {ex.choices[ex.label]}".strip() for ex in examples]

"""Multiple-choice QA datasets: CommonsenseQA, OpenBookQA and any jsonl in their shape.

``load_dataset("csqa", "ih_train")`` returns a :class:`QADataset` of :class:`QAExample` records
(question, choices, label index, question concept, fact). Readers check their input and raise
``file:line`` errors; the data folder comes from :func:`kgqa.paths.data_dir`.
"""

from __future__ import annotations

from kgqa.data.csqa import load_csqa, load_csqa_hf
from kgqa.data.jsonl import read_qa_jsonl
from kgqa.data.obqa import load_obqa
from kgqa.data.records import QADataset, QAExample
from kgqa.data.registry import DATASETS, load_dataset

__all__ = ["DATASETS", "QADataset", "QAExample", "load_csqa", "load_csqa_hf", "load_dataset",
           "load_obqa", "read_qa_jsonl"]

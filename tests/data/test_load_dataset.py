import json

import pytest

from kgqa.data import load_dataset
from kgqa.errors import BadInputError, KGQAError


def line(qid, key="B"):
    obj = {"id": qid, "question": {"stem": f"Question {qid}?", "choices": [
        {"label": "A", "text": "yes"}, {"label": "B", "text": "no"}]}}
    if key:
        obj["answerKey"] = key
    return json.dumps(obj) + "\n"


def test_any_jsonl_path(tmp_path):
    path = tmp_path / "yesno.jsonl"
    path.write_text(line("q1") + line("q2", "A"))
    dataset = load_dataset(path)
    assert (dataset.name, dataset.split, dataset.ids) == ("yesno", "train", ["q1", "q2"])
    assert [ex.label for ex in dataset] == [1, 0] and dataset.num_choices == 2
    assert load_dataset(str(path), "dev").sources == (str(path),)


def test_folder_with_split_files_and_unlabelled_test(tmp_path):
    (tmp_path / "train.jsonl").write_text(line("q1"))
    (tmp_path / "test.jsonl").write_text(line("q9", key=None))
    assert load_dataset(tmp_path, "train").ids == ["q1"]
    assert load_dataset(tmp_path, "test")[0].label is None
    (tmp_path / "dev.jsonl").write_text(line("q5", key=None))
    with pytest.raises(BadInputError, match=r"dev.jsonl:1: missing 'answerKey'"):
        load_dataset(tmp_path, "dev")


def test_unknown_name_and_missing_path(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E013\] Unknown dataset 'arc'. Choose one of: csqa, "
                                        r"obqa or the path of a .jsonl file"):
        load_dataset("arc", "train")
    with pytest.raises(KGQAError, match=r"\[E016\] Dataset file not found: .*nope.jsonl"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(KGQAError, match=r"\[E016\] Dataset file not found: .*dev.jsonl"):
        load_dataset(tmp_path, "dev")
    with pytest.raises(KGQAError, match=r"Unknown OpenBookQA source 'hf'"):
        load_dataset("obqa", "train", directory=tmp_path, source="hf")

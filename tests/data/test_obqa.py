import json

import pytest

from kgqa.data import QAExample, load_dataset, load_obqa
from kgqa.errors import BadInputError, KGQAError

# Two questions in the official OpenBookQA format (Data/Main/*.jsonl); "Additional" adds fact1.
MAIN = [
    {"id": "7-980", "question": {"stem": "The sun is responsible for", "choices": [
        {"text": "puppies learning new tricks", "label": "A"},
        {"text": "children growing up and getting old", "label": "B"},
        {"text": "flowers wilting in a vase", "label": "C"},
        {"text": "plants sprouting, blooming and wilting", "label": "D"}]}, "answerKey": "D"},
    {"id": "7-584", "question": {"stem": "When standing miles away from Mount Rushmore",
                                 "choices": [
        {"text": "the mountains seem very close", "label": "A"},
        {"text": "the mountains are boring", "label": "B"},
        {"text": "the mountains look the same as from up close", "label": "C"},
        {"text": "the mountains seem smaller than in photographs", "label": "D"}]},
     "answerKey": "D"},
]
FACTS = ["the sun is the source of energy for physical cycles on Earth",
         "as distance to an object increases , that object will appear smaller"]


def write_release(root, rows=MAIN, split="train"):
    main = root / "OpenBookQA-V1-Sep2018" / "Data" / "Main"
    extra = root / "OpenBookQA-V1-Sep2018" / "Data" / "Additional"
    main.mkdir(parents=True, exist_ok=True)
    extra.mkdir(parents=True, exist_ok=True)
    (main / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (extra / f"{split}_complete.jsonl").write_text("".join(
        json.dumps(dict(r, fact1=f, humanScore="1.00", clarity="2.00")) + "\n"
        for r, f in zip(rows, FACTS)))
    return root


def test_loads_the_official_layout(tmp_path):
    root = write_release(tmp_path)
    dataset = load_obqa("train", directory=root)
    assert dataset.ids == ["7-980", "7-584"] and dataset.num_choices == 4
    assert dataset[0] == QAExample("7-980", "The sun is responsible for", (
        "puppies learning new tricks", "children growing up and getting old",
        "flowers wilting in a vase", "plants sprouting, blooming and wilting"), 3)
    assert [ex.fact for ex in dataset] == [None, None]


def test_additional_files_add_the_fact(tmp_path):
    root = write_release(tmp_path)
    dataset = load_obqa("train", directory=root, additional=True)
    assert [ex.fact for ex in dataset] == FACTS
    assert dataset.sources[0].endswith("Additional/train_complete.jsonl")
    by_name = load_dataset("obqa", "train", directory=root, source="additional")
    assert by_name.examples == dataset.examples
    assert by_name.checksum != load_dataset("obqa", "train", directory=root).checksum


def test_flat_folder_and_data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "obqa"
    folder.mkdir()
    (folder / "dev.jsonl").write_text(json.dumps(MAIN[1]) + "\n")
    monkeypatch.setenv("KGQA_DATA_DIR", str(tmp_path))
    assert load_dataset("obqa", "dev").ids == ["7-584"]


def test_obqa_errors(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E013\] Unknown OpenBookQA split 'validation'"):
        load_obqa("validation", directory=tmp_path)
    with pytest.raises(KGQAError, match=r"\[E016\] Dataset file not found: .*test.jsonl.*Also "
                                        r"tried .*Data/Main/test.jsonl"):
        load_obqa("test", directory=tmp_path)
    five = dict(MAIN[0], question=dict(MAIN[0]["question"], choices=MAIN[0]["question"]["choices"]
                                       + [{"text": "the moon", "label": "E"}]))
    root = write_release(tmp_path, rows=[MAIN[0], five])
    with pytest.raises(BadInputError, match=r"train.jsonl:2: question has 5 choices; expected 4"):
        load_obqa("train", directory=root)
    root = write_release(tmp_path, rows=[dict(MAIN[0], answerKey="")], split="test")
    with pytest.raises(BadInputError, match=r"test.jsonl:1: missing 'answerKey'"):
        load_obqa("test", directory=root)  # OpenBookQA's test answers are public

import json

import pytest

from kgqa.data import QAExample, load_csqa, load_dataset
from kgqa.data.csqa import csqa_example_from_hf, load_csqa_hf
from kgqa.data.splits import read_id_list, split_by_ids
from kgqa.errors import BadInputError, KGQAError

LABELS = "ABCDE"


def csqa_line(qid, stem, texts, key="A", concept="thing"):
    obj = {"id": qid, "question": {"question_concept": concept, "stem": stem, "choices": [
        {"label": la, "text": te} for la, te in zip(LABELS, texts)]}}
    if key is not None:
        obj["answerKey"] = key
    return json.dumps(obj) + "\n"


@pytest.fixture()
def mini_csqa(tmp_path):
    """A 4-question train set (2 in-house train ids), 1 dev and 1 unanswered test question."""
    folder = tmp_path / "csqa"
    folder.mkdir()
    five = ("freezer", "oven", "garden", "shelf", "car")
    (folder / "train_rand_split.jsonl").write_text(
        csqa_line("t1", "Where is ice cream kept?", five, "A", "ice cream")
        + csqa_line("t2", "What digs?", ("shovel", "fork", "cup", "pen", "hat"), "A", "dig")
        + csqa_line("t3", "What reads?", ("dog", "person", "tree", "rock", "cup"), "B", "read")
        + csqa_line("t4", "What flies?", ("bird", "fish", "stone", "car", "shoe"), "A", "fly"))
    (folder / "dev_rand_split.jsonl").write_text(csqa_line("d1", "Where are books?", (
        "library", "sea", "sky", "oven", "car"), "A", "book"))
    (folder / "test_rand_split_no_answers.jsonl").write_text(csqa_line("x1", "Where is a hammer?", (
        "toolbox", "sea", "sky", "oven", "bed"), None, "hammer"))
    (folder / "inhouse_split_qids.txt").write_text("t4\nt2\n")
    return folder


def test_official_and_inhouse_splits(mini_csqa):
    ids = {split: load_csqa(split, directory=mini_csqa).ids
           for split in ("train", "dev", "test", "ih_train", "ih_dev", "ih_test")}
    assert ids == {"train": ["t1", "t2", "t3", "t4"], "dev": ["d1"], "test": ["x1"],
                   "ih_train": ["t2", "t4"],  # train-file order, not id-list order
                   "ih_dev": ["d1"], "ih_test": ["t1", "t3"]}


def test_records_and_labels(mini_csqa):
    train = load_csqa("train", directory=mini_csqa)
    assert train[0] == QAExample("t1", "Where is ice cream kept?",
                                 ("freezer", "oven", "garden", "shelf", "car"), 0, "ice cream")
    assert [ex.label for ex in train] == [0, 0, 1, 0]
    assert train.has_labels and train.num_choices == 5 and train.name == "csqa"
    test = load_csqa("test", directory=mini_csqa)
    assert test[0].label is None and not test.has_labels
    ih = load_csqa("ih_test", directory=mini_csqa)
    assert ih.split == "ih_test" and ih.sources[1].endswith("inhouse_split_qids.txt")
    assert load_csqa("ih_dev", directory=mini_csqa).checksum == \
        load_csqa("dev", directory=mini_csqa).checksum


def test_load_dataset_by_name_uses_data_dir(mini_csqa, monkeypatch):
    monkeypatch.setenv("KGQA_DATA_DIR", str(mini_csqa.parent))
    assert load_dataset("csqa", "ih_train").ids == ["t2", "t4"]
    assert load_dataset("CSQA", "ih_test", directory=mini_csqa).ids == ["t1", "t3"]


def test_missing_answer_in_train_but_not_test(mini_csqa):
    (mini_csqa / "train_rand_split.jsonl").write_text(
        csqa_line("t1", "Where?", ("a", "b", "c", "d", "e"))
        + csqa_line("t2", "What?", ("a", "b", "c", "d", "e"), key=None))
    with pytest.raises(BadInputError, match=r"train_rand_split.jsonl:2: missing 'answerKey'"):
        load_csqa("train", directory=mini_csqa)


def test_csqa_needs_five_choices(mini_csqa):
    (mini_csqa / "dev_rand_split.jsonl").write_text(csqa_line("d1", "Where?", ("a", "b", "c", "d")))
    with pytest.raises(BadInputError, match=r"dev_rand_split.jsonl:1: question has 4 choices; "
                                            r"expected 5"):
        load_csqa("dev", directory=mini_csqa)


def test_errors_for_unknown_split_missing_file_and_foreign_ids(mini_csqa, tmp_path):
    with pytest.raises(KGQAError, match=r"\[E013\] Unknown CommonsenseQA split 'valid'"):
        load_csqa("valid", directory=mini_csqa)
    with pytest.raises(KGQAError, match=r"\[E016\] Dataset file not found: .*train_rand_split"
                                        r".*source='hf'"):
        load_csqa("train", directory=tmp_path / "nowhere")
    with pytest.raises(KGQAError, match=r"Unknown dataset source 'web'"):
        load_csqa("train", directory=mini_csqa, source="web")
    (mini_csqa / "inhouse_split_qids.txt").write_text("t4\nzz\n")
    with pytest.raises(BadInputError, match=r"inhouse_split_qids.txt:2: id 'zz' is not in the 4 "
                                            r"questions"):
        load_csqa("ih_train", directory=mini_csqa)


def test_id_list_and_split_by_ids(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("b\n\n a \n")
    assert read_id_list(path) == ["b", "a"]
    path.write_text("b\na\nb\n")
    with pytest.raises(BadInputError, match=r"ids.txt:3: duplicate id 'b' \(first on line 1\)"):
        read_id_list(path)
    examples = [QAExample(q, "?", ("x", "y")) for q in "abc"]
    assert split_by_ids(examples, ["c", "a"]) == ([examples[0], examples[2]], [examples[1]])


HF_RECORD = {
    "id": "075e483d21c29a511267ef62bedc0461",
    "question": "The sanctions against the school were a punishing blow, and they seemed to "
                "what the efforts the school had made to change?",
    "question_concept": "punishing",
    "choices": {"label": ["A", "B", "C", "D", "E"],
                "text": ["ignore", "enforce", "authoritarian", "yell at", "avoid"]},
    "answerKey": "A",
}


def test_hf_record_conversion():
    assert csqa_example_from_hf(HF_RECORD) == QAExample(
        "075e483d21c29a511267ef62bedc0461", HF_RECORD["question"],
        ("ignore", "enforce", "authoritarian", "yell at", "avoid"), 0, "punishing")
    test_row = dict(HF_RECORD, answerKey="")
    assert csqa_example_from_hf(test_row, require_label=False).label is None
    with pytest.raises(BadInputError, match=r"tau/commonsense_qa\[train\]:3: missing 'answerKey'"):
        csqa_example_from_hf(test_row, source="tau/commonsense_qa[train]", index=3)
    bad = dict(HF_RECORD, choices={"label": ["A", "B"], "text": ["x"]})
    with pytest.raises(BadInputError, match="'choices' has 2 labels but 1 texts"):
        csqa_example_from_hf(bad)
    with pytest.raises(BadInputError, match="answerKey 'F'"):
        csqa_example_from_hf(dict(HF_RECORD, answerKey="F"))


def test_hf_conversion_matches_the_local_reader(mini_csqa):
    local = load_csqa("dev", directory=mini_csqa)[0]
    row = {"id": "d1", "question": "Where are books?", "question_concept": "book",
           "choices": {"label": list(LABELS), "text": ["library", "sea", "sky", "oven", "car"]},
           "answerKey": "A"}
    assert csqa_example_from_hf(row) == local


def test_hf_inhouse_split_needs_the_id_list(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E016\].*inhouse_split_qids.txt.*qagnn"):
        load_csqa_hf("ih_train", inhouse_ids=tmp_path / "missing.txt")


# --- the shared CommonsenseQA files (skipped where the shared data folder is absent) ---------

@pytest.mark.parametrize("split, size", [("train", 9741), ("dev", 1221), ("test", 1140),
                                         ("ih_train", 8500), ("ih_dev", 1221), ("ih_test", 1241)])
def test_shared_csqa_split_sizes(data_dir, split, size):
    dataset = load_csqa(split, directory=data_dir / "csqa")
    assert len(dataset) == size and dataset.num_choices == 5
    assert dataset.has_labels == (split != "test")


def test_shared_csqa_content(data_dir):
    train = load_csqa("train", directory=data_dir / "csqa")
    assert train[0].id == "075e483d21c29a511267ef62bedc0461"
    assert train[0].answer == "ignore" and train[0].question_concept == "punishing"
    counts = [sum(ex.label == i for ex in train) for i in range(5)]
    assert counts == [1909, 1973, 1946, 1985, 1928]  # SOURCES.md: A..E
    ih_train = load_csqa("ih_train", directory=data_dir / "csqa")
    ih_test = load_csqa("ih_test", directory=data_dir / "csqa")
    assert set(ih_train.ids).isdisjoint(ih_test.ids)
    assert sorted(ih_train.ids + ih_test.ids) == sorted(train.ids)


def test_pretraining_corpus_keeps_to_inhouse_train(mini_csqa):
    from kgqa.pretraining.corpus import csqa_texts

    # the in-house test questions (t1, t3) are in the official train file: never by default
    assert csqa_texts(mini_csqa.parent) == ["What digs? shovel", "What flies? bird"]
    assert csqa_texts(mini_csqa.parent, split="train", limit=3) == [
        "Where is ice cream kept? freezer", "What digs? shovel", "What reads? person"]
    with pytest.raises(KGQAError, match="E055.*no answers"):
        csqa_texts(mini_csqa.parent, split="test")

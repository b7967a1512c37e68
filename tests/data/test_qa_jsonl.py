import json

import pytest

from kgqa.data.jsonl import examples_checksum, parse_qa_record, read_qa_jsonl
from kgqa.data.records import QAExample
from kgqa.errors import BadInputError


def record(qid="q1", stem="Where do you keep ice cream?", texts=("freezer", "oven", "garden"),
           key="A", labels=None, **extra):
    labels = labels or [chr(ord("A") + i) for i in range(len(texts))]
    obj = {"id": qid, "question": {"stem": stem, "choices": [
        {"label": la, "text": te} for la, te in zip(labels, texts)]}}
    if key is not None:
        obj["answerKey"] = key
    obj.update(extra)
    return obj


def write(path, *objs):
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs))
    return path


def test_reads_records_in_order_with_optional_fields(tmp_path):
    concept = record("q1", key="A")
    concept["question"]["question_concept"] = "ice cream"
    path = write(tmp_path / "qa.jsonl", concept, "",
                 record("q2", "A shovel is used to?", ("dig", "fly", "sing"), key="A",
                        fact1="a shovel digs soil"))
    assert read_qa_jsonl(path) == [
        QAExample("q1", "Where do you keep ice cream?", ("freezer", "oven", "garden"), 0,
                  "ice cream", None),
        QAExample("q2", "A shovel is used to?", ("dig", "fly", "sing"), 0, None,
                  "a shovel digs soil"),
    ]


def test_label_is_position_of_answer_key_in_file_order(tmp_path):
    path = write(tmp_path / "qa.jsonl", record(texts=("x", "y", "z"), labels=["3", "1", "2"],
                                               key="1"))
    (example,) = read_qa_jsonl(path)
    assert example.label == 1 and example.answer == "y" and example.num_choices == 3


@pytest.mark.parametrize("count", [2, 8])
def test_two_to_eight_choices_are_accepted(tmp_path, count):
    texts = tuple(f"choice {i}" for i in range(count))
    (example,) = read_qa_jsonl(write(tmp_path / "qa.jsonl", record(texts=texts, key="B")))
    assert example.choices == texts and example.label == 1


@pytest.mark.parametrize("count", [1, 9])
def test_wrong_number_of_choices_names_file_and_line(tmp_path, count):
    texts = tuple(f"c{i}" for i in range(count))
    path = write(tmp_path / "qa.jsonl", record("q1"), record("q2", texts=texts))
    with pytest.raises(BadInputError, match=rf"qa.jsonl:2: question has {count} choices; "
                                            r"expected 2-8"):
        read_qa_jsonl(path)


def test_inconsistent_number_of_choices(tmp_path):
    path = write(tmp_path / "qa.jsonl", record("q1"), record("q2"), record("q3", texts=("a", "b")))
    with pytest.raises(BadInputError, match=r"qa.jsonl:3: question has 2 choices but the first "
                                            r"question \(line 1\) has 3"):
        read_qa_jsonl(path)


def test_malformed_json_line(tmp_path):
    path = write(tmp_path / "qa.jsonl", record("q1"), '{"id": "q2", "question": ')
    with pytest.raises(BadInputError, match=r"qa.jsonl:2: malformed JSON") as info:
        read_qa_jsonl(path)
    assert info.value.line == 2 and info.value.source.endswith("qa.jsonl")
    assert str(info.value).startswith("[E001]")


def test_missing_answer_key_is_an_error_for_training_and_none_for_test(tmp_path):
    path = write(tmp_path / "qa.jsonl", record("q1", key="B"), record("q2", key=None),
                 record("q3", key=""))
    with pytest.raises(BadInputError, match=r"qa.jsonl:2: missing 'answerKey'"):
        read_qa_jsonl(path)
    assert [ex.label for ex in read_qa_jsonl(path, require_labels=False)] == [1, None, None]


def test_answer_key_outside_the_choice_labels(tmp_path):
    path = write(tmp_path / "qa.jsonl", record("q1", key="E"))
    with pytest.raises(BadInputError, match=r"qa.jsonl:1: answerKey 'E' is not one of the choice "
                                            r"labels A, B, C"):
        read_qa_jsonl(path)
    with pytest.raises(BadInputError, match="answerKey 'E'"):  # also when labels are optional
        read_qa_jsonl(path, require_labels=False)


@pytest.mark.parametrize("obj, problem", [
    ([1, 2], "expected a JSON object, got list"),
    ({"question": {}}, "missing 'id'"),
    (record(stem=""), r"'question.stem' must be a non-empty string"),
    ({"id": "q", "question": "Where?"}, "'question' must be an object"),
    (record(texts=("a", "")), r"choice B 'text' must be a non-empty string"),
    (record(labels=["A", "A", "B"]), "choice label 'A' appears twice"),
])
def test_bad_records(tmp_path, obj, problem):
    with pytest.raises(BadInputError, match=rf"qa.jsonl:1: {problem}"):
        read_qa_jsonl(write(tmp_path / "qa.jsonl", obj))


def test_duplicate_id_and_empty_file(tmp_path):
    with pytest.raises(BadInputError, match=r"qa.jsonl:3: duplicate id 'q1' \(first on line 1\)"):
        read_qa_jsonl(write(tmp_path / "qa.jsonl", record("q1"), record("q2"), record("q1")))
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(BadInputError, match=r"empty.jsonl: no questions"):
        read_qa_jsonl(tmp_path / "empty.jsonl")


def test_parse_record_with_exact_choice_count():
    with pytest.raises(BadInputError, match=r"src:7: question has 3 choices; expected 5"):
        parse_qa_record(record(), source="src", line=7, min_choices=5, max_choices=5)


def test_checksum_depends_on_content_only():
    a = QAExample("q1", "Where?", ("x", "y"), 0)
    b = QAExample("q1", "Where?", ("x", "y"), 1)
    assert examples_checksum([a]) == examples_checksum([QAExample("q1", "Where?", ("x", "y"), 0)])
    assert examples_checksum([a]) != examples_checksum([b])
    assert examples_checksum([a, b]) != examples_checksum([b, a])
    assert len(examples_checksum([])) == 64

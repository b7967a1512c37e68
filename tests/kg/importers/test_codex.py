import json

import pytest

from kgqa.errors import BadInputError, KGQAError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.codex import (
    read_codex,
    read_codex_entity_labels,
    read_codex_relation_labels,
)
from kgqa.kg.importers.wikidata_dump import EntityInfo
from tests.conftest import shared_data_path


DATA = shared_data_path()


@pytest.fixture
def codex(tmp_path):
    (tmp_path / "train.txt").write_text("Q1\tP106\tQ2\nQ3\tP27\tQ4\n\n", encoding="utf-8")
    (tmp_path / "valid.txt").write_text("Q1\tP27\tQ4\n", encoding="utf-8")
    (tmp_path / "test.txt").write_text("Q3\tP106\tQ2\r\n", encoding="utf-8")
    (tmp_path / "test_negatives.txt").write_text("Q3\tP27\tQ2\n", encoding="utf-8")
    (tmp_path / "relations.en.json").write_text(json.dumps({
        "P106": {"label": "occupation", "description": "occupation of a person"},
        "P27": {"label": "country of citizenship", "description": "..."},
        "P999": {"label": "unused here", "description": ""},
    }), encoding="utf-8")
    (tmp_path / "entity2types.json").write_text(json.dumps({
        "Q1": ["Q5"], "Q2": ["Q28640"], "Q3": ["Q5"], "Q4": ["Q6256"],
    }), encoding="utf-8")
    (tmp_path / "types.en.json").write_text(json.dumps({
        "Q2": {"label": "painter", "description": "artist who practices painting", "wiki": ""},
        "Q4": {"label": "Freedonia", "description": "", "wiki": ""},
        "Q5": {"label": "human", "description": "a type only", "wiki": ""},
    }, indent=1), encoding="utf-8")
    return tmp_path


def test_reads_positive_splits_in_order(codex):
    assert list(read_codex(codex)) == [
        Triple("Q1", "P106", "Q2"), Triple("Q3", "P27", "Q4"),
        Triple("Q1", "P27", "Q4"),
        Triple("Q3", "P106", "Q2"),
    ]


def test_selects_splits(codex):
    assert list(read_codex(codex, splits=("test_negatives",))) == [Triple("Q3", "P27", "Q2")]
    assert list(read_codex(codex, splits="valid")) == [Triple("Q1", "P27", "Q4")]


def test_unknown_split_and_missing_file_fail_before_reading(codex):
    with pytest.raises(KGQAError, match="Unknown CoDEx split 'dev'"):
        read_codex(codex, splits=("train", "dev"))
    with pytest.raises(FileNotFoundError, match="valid_negatives.txt"):
        read_codex(codex, splits=("valid_negatives",))


@pytest.mark.parametrize("line, problem", [
    ("Q1\tP106", "expected 3 tab-separated fields (head QID, PID, tail QID), found 2"),
    ("Q1\tP106\tQ2\tQ3", "expected 3 tab-separated fields (head QID, PID, tail QID), found 4"),
    ("Q1 P106 Q2", "expected 3 tab-separated fields (head QID, PID, tail QID), found 1"),
    ("douglas\tP106\tQ2", "head 'douglas' is not a Wikidata item id (Q followed by digits)"),
    ("Q1\toccupation\tQ2",
     "relation 'occupation' is not a Wikidata property id (P followed by digits)"),
    ("Q1\tP106\tP2", "tail 'P2' is not a Wikidata item id (Q followed by digits)"),
])
def test_bad_line_raises_with_location(codex, line, problem):
    path = codex / "valid.txt"
    path.write_text(f"Q1\tP27\tQ4\n{line}\nQ3\tP27\tQ4\n", encoding="utf-8")
    with pytest.raises(BadInputError) as info:
        list(read_codex(codex, splits=("valid",)))
    assert str(info.value) == f"[E001] {path}:2: {problem}"

    bad = BadLines(skip_bad=True)
    assert list(read_codex(codex, splits=("valid",), bad_lines=bad)) == [
        Triple("Q1", "P27", "Q4"), Triple("Q3", "P27", "Q4")]
    assert bad.count == 1
    assert bad.by_source == {str(path): 1}


def test_relation_labels(codex):
    assert read_codex_relation_labels(codex) == {
        "P106": "occupation", "P27": "country of citizenship", "P999": "unused here"}


def test_entity_labels_are_the_entities_that_are_types(codex):
    assert read_codex_entity_labels(codex) == {
        "Q2": EntityInfo("painter", "artist who practices painting", ()),
        "Q4": EntityInfo("Freedonia", None, ()),
    }


def test_bad_json_names_file_and_line(codex):
    path = codex / "types.en.json"
    path.write_text('{\n"Q2": {"label": "painter",}\n}\n', encoding="utf-8")
    with pytest.raises(BadInputError, match=f"{path}:2: invalid JSON"):
        read_codex_entity_labels(codex)
    (codex / "relations.en.json").write_text('{"P106": "occupation"}', encoding="utf-8")
    with pytest.raises(BadInputError, match="'P106' is not a property id with a string 'label'"):
        read_codex_relation_labels(codex)


def _shared(name, *counts):
    missing = not (DATA / "wikidata" / name).is_dir()
    return pytest.param(name, *counts, id=name,
                        marks=pytest.mark.skipif(missing, reason="shared data not available"))


@pytest.mark.parametrize("name, triples, entities, relations, labelled", [
    _shared("codex-s", 36_543, 2_034, 42, 147),
    _shared("codex-m", 206_205, 17_050, 51, 366),
])
def test_shared_codex_counts(name, triples, entities, relations, labelled):
    directory = DATA / "wikidata" / name
    edges = list(read_codex(directory))
    assert len(edges) == triples
    assert len({e.head for e in edges} | {e.tail for e in edges}) == entities
    used = {e.relation for e in edges}
    assert len(used) == relations
    relation_labels = read_codex_relation_labels(directory)
    assert used <= relation_labels.keys()
    assert relation_labels["P106"] == "occupation"
    assert len(read_codex_entity_labels(directory)) == labelled
    assert len(list(read_codex(directory, splits=("valid_negatives", "test_negatives")))) == (
        triples - len(list(read_codex(directory, splits="train"))))

import bz2
import gzip
import json

import pytest

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.wikidata_dump import EntityInfo, read_wikidata_dump


def _item_value(qid, **snak):
    return {"mainsnak": {"snaktype": "value", "property": "P?", "datatype": "wikibase-item",
                         "datavalue": {"type": "wikibase-entityid",
                                       "value": {"entity-type": "item", "numeric-id": int(qid[1:]),
                                                 "id": qid}}, **snak},
            "type": "statement", "rank": "normal"}


ADAMS = {
    "type": "item", "id": "Q42",
    "labels": {"en": {"language": "en", "value": "Douglas Adams"},
               "fr": {"language": "fr", "value": "Douglas Adams (fr)"}},
    "descriptions": {"en": {"language": "en", "value": "English writer and humorist"}},
    "aliases": {"en": [{"language": "en", "value": "Douglas Noel Adams"},
                       {"language": "en", "value": "DNA"}]},
    "claims": {
        "P31": [_item_value("Q5"),
                # the same fact again with a qualifier: yielded once
                {**_item_value("Q5"), "qualifiers": {"P580": []}}],
        "P1476": [{"mainsnak": {"snaktype": "value", "property": "P1476", "datatype": "string",
                                "datavalue": {"type": "string", "value": "a string"}},
                   "type": "statement", "rank": "normal"}],
        "P40": [{"mainsnak": {"snaktype": "novalue", "property": "P40",
                              "datatype": "wikibase-item"},
                 "type": "statement", "rank": "normal"}],
        "P69": [{"mainsnak": {"snaktype": "somevalue", "property": "P69",
                              "datatype": "wikibase-item"},
                 "type": "statement", "rank": "normal"}],
        "P1659": [{"mainsnak": {"snaktype": "value", "property": "P1659",
                                "datatype": "wikibase-property",
                                "datavalue": {"type": "wikibase-entityid",
                                              "value": {"entity-type": "property", "numeric-id": 31,
                                                        "id": "P31"}}},
                   "type": "statement", "rank": "normal"}],
        "P27": [{**_item_value("Q145"), "rank": "preferred"},
                {**_item_value("Q174193"), "rank": "deprecated"}],
    },
}
INSTANCE_OF = {
    "type": "property", "id": "P31", "datatype": "wikibase-item",
    "labels": {"en": {"language": "en", "value": "instance of"}},
    "descriptions": {"en": {"language": "en", "value": "that class of which this subject is"}},
    "aliases": [], "claims": {"P1647": [_item_value("Q1")]},
}
HUMAN = {
    "type": "item", "id": "Q5",
    # only a language-neutral label, and empty maps written as [] as in the real dump
    "labels": {"mul": {"language": "mul", "value": "human"}},
    "descriptions": [], "aliases": [],
    "claims": {"P279": [{"mainsnak": {"snaktype": "value", "property": "P279",
                                      "datatype": "wikibase-item",
                                      # pre-2015 shape: numeric id only
                                      "datavalue": {"type": "wikibase-entityid",
                                                    "value": {"entity-type": "item",
                                                              "numeric-id": 215627}}},
                         "type": "statement", "rank": "normal"}]},
}
BARE = {"type": "item", "id": "Q145", "labels": [], "descriptions": [], "aliases": [],
        "claims": []}
LEXEME = {"type": "lexeme", "id": "L7", "lemmas": {}, "claims": {"P5137": [_item_value("Q5")]}}

MALFORMED = '{"type": "item", "id": "Q9", "claims": '

EXPECTED = [
    Triple("Q42", "P31", "Q5"),
    Triple("Q42", "P27", "Q145"),
    Triple("Q5", "P279", "Q215627"),
]


def _write_dump(path, lines):
    """Write entity lines in the dump's layout: '[', one entity per line with ',', ']'."""
    body = ",\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    text = "[\n" + body + "\n]\n"
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path


@pytest.fixture(params=["dump.json.gz", "dump.json.bz2"])
def dump(request, tmp_path):
    # line 1 is "[", so entity i is on line i + 2; the malformed entity is on line 4
    return _write_dump(tmp_path / request.param, [ADAMS, INSTANCE_OF, MALFORMED, HUMAN, BARE, LEXEME])


def test_reads_item_to_item_statements(dump):
    bad = BadLines(skip_bad=True)
    assert list(read_wikidata_dump(dump, bad_lines=bad)) == EXPECTED
    assert bad.count == 1
    assert bad.first.line == 4


def test_malformed_line_raises_with_location(dump):
    with pytest.raises(BadInputError, match="invalid JSON") as info:
        list(read_wikidata_dump(dump))
    assert f"{dump}:4: invalid JSON" in str(info.value)
    assert info.value.line == 4


def test_fills_entity_info_and_property_labels(dump):
    entity_info, property_labels = {}, {}
    list(read_wikidata_dump(dump, entity_info=entity_info, property_labels=property_labels,
                            bad_lines=BadLines(skip_bad=True)))
    assert entity_info == {
        "Q42": EntityInfo("Douglas Adams", "English writer and humorist",
                          ("Douglas Noel Adams", "DNA")),
        "Q5": EntityInfo("human", None, ()),
    }
    assert property_labels == {"P31": "instance of"}


def test_other_language(tmp_path):
    path = _write_dump(tmp_path / "dump.json", [ADAMS])
    entity_info = {}
    list(read_wikidata_dump(path, entity_info=entity_info, language="fr"))
    assert entity_info == {"Q42": EntityInfo("Douglas Adams (fr)", None, ())}


def test_property_filter_and_deprecated(tmp_path):
    path = _write_dump(tmp_path / "dump.json", [ADAMS, HUMAN])
    assert list(read_wikidata_dump(path, properties={"P27", "P279"})) == [
        Triple("Q42", "P27", "Q145"), Triple("Q5", "P279", "Q215627")]
    assert list(read_wikidata_dump(path, properties={"P27"}, include_deprecated=True)) == [
        Triple("Q42", "P27", "Q145"), Triple("Q42", "P27", "Q174193")]


def test_json_lines_without_array_brackets(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(HUMAN) + "\n" + json.dumps(ADAMS) + "\n", encoding="utf-8")
    assert list(read_wikidata_dump(path)) == [EXPECTED[2], EXPECTED[0], EXPECTED[1]]


@pytest.mark.parametrize("line, problem", [
    ("42", "expected a JSON object"),
    ('{"type": "item"}', "no string 'id'"),
    ('{"type": "item", "id": "X1", "claims": {}}', "is not a Wikidata item id"),
    ('{"type": "item", "id": "Q1", "claims": ["P31"]}', "'claims' is not an object"),
    ('{"type": "item", "id": "Q1", "claims": {"P31": {}}}', "claims of P31 are not a list"),
    ('{"type": "item", "id": "Q1", "claims": {"P31": [{"mainsnak": {"snaktype": "value", '
     '"datavalue": {"type": "wikibase-entityid", "value": {"entity-type": "item", "id": "P5"}}}}]}}',
     "item value 'P5' is not a Wikidata item id"),
])
def test_entity_of_wrong_shape_is_a_bad_line(tmp_path, line, problem):
    path = _write_dump(tmp_path / "dump.json", [HUMAN, line])
    with pytest.raises(BadInputError, match=problem) as info:
        list(read_wikidata_dump(path))
    assert f"{path}:3: " in str(info.value)
    bad = BadLines(skip_bad=True)
    assert list(read_wikidata_dump(path, bad_lines=bad)) == [EXPECTED[2]]
    assert bad.count == 1


def test_invalid_utf8_is_a_bad_line(tmp_path):
    path = tmp_path / "dump.json"
    path.write_bytes(b"[\n" + json.dumps(HUMAN).encode() + b",\n{\"id\": \"\xff\"},\n]\n")
    with pytest.raises(BadInputError, match="invalid UTF-8") as info:
        list(read_wikidata_dump(path))
    assert f"{path}:3: " in str(info.value)
    bad = BadLines(skip_bad=True)
    assert list(read_wikidata_dump(path, bad_lines=bad)) == [EXPECTED[2]]
    assert bad.count == 1

from collections import Counter

import pytest

from kgqa.errors import BadInputError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.cn100k import CN100K_RELATIONS, read_cn100k
from tests.conftest import shared_data_path
from tests.kg.importers.helpers import assert_bad_line, write_lines


CN100K_DIR = shared_data_path() / "conceptnet" / "cn100k"


def test_reads_unlabelled_train_split(tmp_path):
    path = write_lines(tmp_path / "train.txt", [
        "ReceivesAction\thockey\tplay on ice",
        "",
        "usedfor\tShovel\tdig  hole ",
        "DesireOf\tcat\tmilk",
    ])
    assert list(read_cn100k(path)) == [
        Triple("hockey", "ReceivesAction", "play_on_ice"),
        Triple("shovel", "UsedFor", "dig_hole"),
        Triple("cat", "DesireOf", "milk"),
    ]


@pytest.fixture
def dev(tmp_path):
    return write_lines(tmp_path / "dev1.txt", [
        "IsA\ttool\tobject\t1",
        "IsA\ttool\tbanana\t0",
        "AtLocation\tferret\tpet store\t1",
        "CapableOf\trock\tsing\t0",
    ])


def test_labelled_split_yields_positives_by_default(dev):
    assert list(read_cn100k(dev)) == [Triple("tool", "IsA", "object"),
                                      Triple("ferret", "AtLocation", "pet_store")]
    assert list(read_cn100k(dev, labelled=True)) == list(read_cn100k(dev))


def test_labelled_split_negatives(dev):
    assert list(read_cn100k(dev, negatives=True)) == [Triple("tool", "IsA", "banana"),
                                                      Triple("rock", "CapableOf", "sing")]


def test_labelled_flag_must_match_the_file(dev):
    with pytest.raises(BadInputError) as info:
        list(read_cn100k(dev, labelled=False))
    assert f"{dev}:1: expected 3 tab-separated columns, found 4" in str(info.value)


def test_knows_the_34_relations():
    assert len(set(CN100K_RELATIONS)) == 34


BAD_CASES = [
    ("IsA\tdog", "expected 3 tab-separated columns, found 2"),
    ("IsA\tdog\tpet\t1", "expected 3 tab-separated columns, found 4"),
    ("IsAn\tdog\tpet", "unknown CN-100K relation 'IsAn'"),
    ("ConceptuallyRelatedTo\tdog\tpet", "unknown CN-100K relation 'ConceptuallyRelatedTo'"),
    ("IsA\t \tpet", "empty node name"),
    (b"IsA\tcaf\xe9\tplace", "invalid UTF-8"),
]


@pytest.mark.parametrize("bad, problem", BAD_CASES)
def test_bad_line_raises_with_file_and_line(tmp_path, bad, problem):
    path = write_lines(tmp_path / "train.txt", ["IsA\tdog\tpet", bad, "IsA\tdog\tpet"])
    assert_bad_line(read_cn100k, path, problem)


@pytest.mark.parametrize("bad, problem", [
    ("IsA\tdog\tpet\t2", "label '2' is not 0 or 1"),
    ("IsA\tdog\tpet", "expected 4 tab-separated columns, found 3"),
])
def test_bad_labelled_line(tmp_path, bad, problem):
    path = write_lines(tmp_path / "dev1.txt", ["IsA\tdog\tpet\t1", bad])
    with pytest.raises(BadInputError) as info:
        list(read_cn100k(path))
    assert f"{path}:2: {problem}" in str(info.value)


def test_first_line_of_unknown_shape_is_bad_and_the_next_decides(tmp_path):
    path = write_lines(tmp_path / "dev1.txt", ["IsA\tdog", "IsA\tdog\tpet\t1", "IsA\tcat\tpet"])
    bad_lines = BadLines(skip_bad=True)
    assert list(read_cn100k(path, bad_lines=bad_lines)) == [Triple("dog", "IsA", "pet")]
    assert [bad_lines.first.line, bad_lines.count] == [1, 2]
    assert "expected 3 or 4 tab-separated columns, found 2" in bad_lines.first.problem


def test_skip_bad_counts_every_bad_line(tmp_path):
    path = write_lines(tmp_path / "train.txt", ["IsA\tdog\tpet"] + [bad for bad, _ in BAD_CASES])
    bad_lines = BadLines(skip_bad=True)
    assert list(read_cn100k(path, bad_lines=bad_lines)) == [Triple("dog", "IsA", "pet")]
    assert bad_lines.count == len(BAD_CASES)
    assert bad_lines.by_source == {str(path): len(BAD_CASES)}


#: Relation counts of train.txt documented in SOURCES.md.
TRAIN_RELATION_COUNTS = {
    "IsA": 14925, "AtLocation": 14380, "UsedFor": 13221, "CapableOf": 9894, "HasProperty": 7901,
    "HasSubevent": 6463, "HasPrerequisite": 5561, "Causes": 4614, "HasA": 3504,
    "ReceivesAction": 3404, "MotivatedByGoal": 2983, "DefinedAs": 2782, "Desires": 1742,
    "PartOf": 1689, "NotDesires": 1626, "NotCapableOf": 1043, "CausesDesire": 970,
    "HasFirstSubevent": 961, "HasLastSubevent": 592, "MadeOf": 577, "NotHasProperty": 339,
    "SymbolOf": 159, "NotIsA": 152, "CreatedBy": 149, "NotHasA": 120, "RelatedTo": 89,
    "InstanceOf": 69, "InheritsFrom": 56, "DesireOf": 14, "NotMadeOf": 13, "LocationOfAction": 3,
    "LocatedNear": 3, "HasPainIntensity": 1, "HasPainCharacter": 1,
}


@pytest.mark.skipif(not CN100K_DIR.is_dir(), reason="shared data not available")
def test_shared_cn100k_counts():
    bad_lines = BadLines(skip_bad=True)
    train = list(read_cn100k(CN100K_DIR / "train.txt", bad_lines=bad_lines))
    assert len(train) == 100_000
    assert Counter(t.relation for t in train) == TRAIN_RELATION_COUNTS
    rel_txt = (CN100K_DIR / "rel.txt").read_text(encoding="utf-8").split()
    assert sorted(rel_txt) == sorted(name.lower() for name in CN100K_RELATIONS)
    for split, size in (("dev1", 600), ("dev2", 600), ("test", 1200)):
        path = CN100K_DIR / f"{split}.txt"
        assert len(list(read_cn100k(path, bad_lines=bad_lines))) == size
        assert len(list(read_cn100k(path, negatives=True, bad_lines=bad_lines))) == size
    assert bad_lines.count == 0

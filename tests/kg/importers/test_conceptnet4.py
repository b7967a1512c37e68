import math
from collections import Counter

import pytest

from kgqa.errors import KGQAError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.conceptnet4 import CN4_RELATIONS, read_conceptnet4
from tests.conftest import shared_data_path
from tests.kg.importers.helpers import assert_bad_line, write_gz


CN4_FILE = shared_data_path() / "conceptnet" / "conceptnet4_en" / "conceptnet4_en.tsv.gz"

LINES = [
    "ice cream\tAtLocation\tfreezer\t12\t5",
    " dog \tNotCapableOf\tfly\t3\t-5",
    "",
    "person\tConceptuallyRelatedTo\tHuman  Being\t1\t10",
    "café\tIsA\tplace\t148\t4",
]
GOOD = "dog\tIsA\tpet\t2\t5"


def test_reads_triples_with_normalised_names_and_score_weights(tmp_path):
    path = write_gz(tmp_path / "cn4.tsv.gz", LINES)
    assert list(read_conceptnet4(path)) == [
        Triple("ice_cream", "AtLocation", "freezer", 12.0),
        Triple("dog", "NotCapableOf", "fly", 3.0),
        Triple("person", "ConceptuallyRelatedTo", "human_being", 1.0),
        Triple("café", "IsA", "place", 148.0),
    ]


def test_divisi_weights(tmp_path):
    path = write_gz(tmp_path / "cn4.tsv.gz", LINES)
    weights = [t.weight for t in read_conceptnet4(path, weight="divisi")]
    assert weights == pytest.approx([0.5 * math.log2(13), 1.0, 1.0, 0.4 * math.log2(149)])


def test_unknown_weight_option_fails_before_reading(tmp_path):
    with pytest.raises(KGQAError, match=r"^\[E013\] Unknown ConceptNet 4 weight 'votes'"):
        read_conceptnet4(tmp_path / "does-not-exist.tsv.gz", weight="votes")


def test_knows_the_27_relations():
    assert len(CN4_RELATIONS) == 27
    assert "ConceptuallyRelatedTo" in CN4_RELATIONS and "RelatedTo" not in CN4_RELATIONS


BAD_CASES = [
    ("dog\tIsA\tpet\t2", "expected 5 tab-separated columns, found 4"),
    ("dog\tIsA\tpet\t2\t5\t1", "expected 5 tab-separated columns, found 6"),
    ("dog\tRelatedTo\tpet\t2\t5", "unknown ConceptNet 4 relation 'RelatedTo'"),
    ("dog\tNotSimilarTo\tpet\t2\t-5", "unknown ConceptNet 4 relation 'NotSimilarTo'"),
    ("dog\tIsA\tpet\ttwo\t5", "weight 'two' and freq '5' must be integers"),
    ("dog\tIsA\tpet\t2.5\t5", "must be integers"),
    ("dog\tIsA\tpet\t2\t", "must be integers"),
    ("dog\tIsA\tpet\t0\t5", "weight 0 is not a positive ConceptNet 4 score"),
    ("dog\tNotIsA\tpet\t2\t5", "relation 'NotIsA' does not match the sign of freq 5"),
    ("dog\tIsA\tpet\t2\t-5", "relation 'IsA' does not match the sign of freq -5"),
    ("  \tIsA\tpet\t2\t5", "empty node name"),
    (b"caf\xe9\tIsA\tplace\t2\t5", "invalid UTF-8"),
]


@pytest.mark.parametrize("bad, problem", BAD_CASES)
def test_bad_line_raises_with_file_and_line(tmp_path, bad, problem):
    path = write_gz(tmp_path / "cn4.tsv.gz", [GOOD, bad, GOOD])
    assert_bad_line(read_conceptnet4, path, problem)


def test_skip_bad_counts_every_bad_line(tmp_path):
    path = write_gz(tmp_path / "cn4.tsv.gz", [GOOD] + [bad for bad, _ in BAD_CASES] + [GOOD])
    bad_lines = BadLines(skip_bad=True)
    assert list(read_conceptnet4(path, bad_lines=bad_lines)) == [Triple("dog", "IsA", "pet", 2.0)] * 2
    assert bad_lines.count == len(BAD_CASES)
    assert bad_lines.first.line == 2
    assert bad_lines.by_source == {str(path): len(BAD_CASES)}


#: Relation counts documented in the file's SOURCES.md (after the Not* mapping).
SHARED_RELATION_COUNTS = {
    "IsA": 88575, "HasProperty": 80576, "UsedFor": 50098, "AtLocation": 44417,
    "CapableOf": 36250, "HasSubevent": 25324, "HasPrerequisite": 23282,
    "ConceptuallyRelatedTo": 22938, "HasA": 22249, "Causes": 18192, "MotivatedByGoal": 15043,
    "ReceivesAction": 10732, "DefinedAs": 6289, "LocatedNear": 5033, "Desires": 5006,
    "CausesDesire": 4976, "PartOf": 4648, "HasFirstSubevent": 4114, "NotDesires": 4043,
    "NotIsA": 3831, "HasLastSubevent": 2959, "NotCapableOf": 2889, "MadeOf": 1511,
    "SimilarSize": 1507, "NotHasProperty": 985, "NotAtLocation": 744, "CreatedBy": 552,
    "NotHasA": 399, "NotUsedFor": 187, "SymbolOf": 165, "NotHasSubevent": 92,
    "HasPainIntensity": 73, "InstanceOf": 69, "InheritsFrom": 62, "NotHasPrerequisite": 55,
    "NotCauses": 34, "HasPainCharacter": 34, "NotMotivatedByGoal": 24, "NotMadeOf": 24,
    "NotCausesDesire": 12, "NotPartOf": 9, "NotHasLastSubevent": 8, "NotHasFirstSubevent": 3,
    "NotCreatedBy": 1,
}


@pytest.mark.skipif(not CN4_FILE.is_file(), reason="shared data not available")
def test_shared_conceptnet4_counts():
    bad_lines = BadLines(skip_bad=True)
    relations = Counter()
    weights = set()
    for triple in read_conceptnet4(CN4_FILE, bad_lines=bad_lines):
        relations[triple.relation] += 1
        weights.add(triple.weight)
    assert bad_lines.count == 0
    assert sum(relations.values()) == 488_014
    assert dict(relations) == SHARED_RELATION_COUNTS
    assert sum(n for name, n in relations.items() if name.startswith("Not")) == 13_340
    assert min(weights) == 1.0 and max(weights) == 148.0

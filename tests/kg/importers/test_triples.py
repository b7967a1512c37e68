import bz2
import gzip

import pytest

from kgqa.errors import BadInputError, KGQAError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.triples import infer_delimiter, read_triples


def _write(path, text):
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix, open)
    with opener(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


TSV = "shovel\tUsedFor\tdig\t2.5\nIce Cream\tAtLocation\tfreezer\n\nbook\tAtLocation\tlibrary\t1\n"
EXPECTED = [
    Triple("shovel", "UsedFor", "dig", 2.5),
    Triple("Ice Cream", "AtLocation", "freezer", 1.0),
    Triple("book", "AtLocation", "library", 1.0),
]


@pytest.mark.parametrize("name", ["edges.tsv", "edges.txt", "edges.tsv.gz", "edges.TSV.bz2"])
def test_reads_tsv_with_optional_weight(tmp_path, name):
    assert list(read_triples(_write(tmp_path / name, TSV))) == EXPECTED


def test_reads_csv_with_quoting(tmp_path):
    path = _write(tmp_path / "edges.csv.gz", (
        'head,relation,tail,weight\r\n'
        '"ice cream",AtLocation,"fridge, freezer",0.5\r\n'
        '"say ""hi""",Causes,greeting\r\n'))
    assert list(read_triples(path, has_header=True)) == [
        Triple("ice cream", "AtLocation", "fridge, freezer", 0.5),
        Triple('say "hi"', "Causes", "greeting", 1.0),
    ]


def test_tsv_has_no_quoting(tmp_path):
    path = _write(tmp_path / "edges.tsv", '"quoted\tRelatedTo\tx"\n')
    assert list(read_triples(path)) == [Triple('"quoted', "RelatedTo", 'x"')]


def test_explicit_delimiter_columns_and_normalise(tmp_path):
    path = _write(tmp_path / "edges.data", "AtLocation|  Ice  Cream |Freezer|3|17\nIsA|Dog|animal|1\n")
    triples = read_triples(path, delimiter="|", columns=("relation", "head", "tail", "weight", None),
                           normalise=True)
    assert list(triples) == [
        Triple("ice_cream", "AtLocation", "freezer", 3.0),
        Triple("dog", "IsA", "animal", 1.0),
    ]


def test_three_columns_only(tmp_path):
    path = _write(tmp_path / "edges.tsv", "a\tr\tb\na\tr\tb\t1\n")
    with pytest.raises(BadInputError) as info:
        list(read_triples(path, columns=("head", "relation", "tail")))
    assert str(info.value) == f"[E001] {path}:2: expected 3 fields separated by '\\t', found 4"


@pytest.mark.parametrize("name, line, problem", [
    ("e.tsv", "a\tr", "expected 3 to 4 fields separated by '\\t', found 2"),
    ("e.tsv", "a\tr\tb\t1\textra", "expected 3 to 4 fields separated by '\\t', found 5"),
    ("e.tsv", "a\t\tb", "empty field 2 (relation)"),
    ("e.tsv", "a\tr\t  \t1", "empty field 3 (tail)"),
    ("e.tsv", "a\tr\tb\t", "empty field 4 (weight)"),
    ("e.tsv", "a\tr\tb\theavy", "weight 'heavy' is not a finite number"),
    ("e.tsv", "a\tr\tb\tnan", "weight 'nan' is not a finite number"),
    ("e.csv", 'a,r,"b', "malformed CSV (unexpected end of data)"),
    ("e.csv", "a;r;b", "expected 3 to 4 fields separated by ',', found 1"),
])
def test_bad_line_raises_with_location(tmp_path, name, line, problem):
    sep = "\t" if name.endswith(".tsv") else ","
    good = sep.join(["x", "r", "y"])
    path = _write(tmp_path / name, f"{good}\n\n{line}\n{good}\n")
    with pytest.raises(BadInputError) as info:
        list(read_triples(path))
    assert str(info.value) == f"[E001] {path}:3: {problem}"

    bad = BadLines(skip_bad=True)
    assert list(read_triples(path, bad_lines=bad)) == [Triple("x", "r", "y")] * 2
    assert bad.count == 1
    assert bad.first.line == 3


def test_invalid_utf8_is_a_bad_line(tmp_path):
    path = tmp_path / "e.tsv"
    path.write_bytes(b"a\tr\tb\n\xffx\tr\tb\n")
    bad = BadLines(skip_bad=True)
    assert list(read_triples(path, bad_lines=bad)) == [Triple("a", "r", "b")]
    assert bad.count == 1
    assert bad.first.line == 2


def test_header_is_skipped_once(tmp_path):
    path = _write(tmp_path / "e.tsv", "\nhead\trelation\ttail\na\tr\tb\n")
    assert list(read_triples(path, has_header=True)) == [Triple("a", "r", "b")]


@pytest.mark.parametrize("name, delimiter", [
    ("x.tsv", "\t"), ("x.txt.gz", "\t"), ("x.CSV", ","), ("x.csv.xz", ","),
])
def test_infer_delimiter(name, delimiter):
    assert infer_delimiter(name) == delimiter


def test_configuration_errors_are_raised_before_reading(tmp_path):
    with pytest.raises(KGQAError, match="Cannot tell the delimiter of 'edges.json'"):
        read_triples("edges.json")
    with pytest.raises(KGQAError, match="Unknown triple column 'wieght'"):
        read_triples("edges.tsv", columns=("head", "relation", "tail", "wieght"))
    with pytest.raises(KGQAError, match="must name 'head', 'relation' and 'tail' once each"):
        read_triples("edges.tsv", columns=("head", "relation", "head"))

import hashlib

import pytest

from kgqa.errors import KGQAError
from kgqa.kg.importers.base import BadLines, Triple
from kgqa.kg.importers.conceptnet5 import (
    CONCEPTNET5_URL,
    concept_label,
    download_conceptnet5,
    read_conceptnet5_csv,
)
from tests.kg.importers.helpers import assert_bad_line, write_gz

GOOD_LINES = [
    '/a/[/r/UsedFor/,/c/en/shovel/n/,/c/en/dig/]\t/r/UsedFor\t/c/en/shovel/n\t/c/en/dig\t'
    '{"dataset": "/d/conceptnet/4/en", "license": "cc:by/4.0", "weight": 2.0}',
    '/a/[/r/IsA/,/c/en/dig/v/wn/contact/,/c/en/move/]\t/r/IsA\t/c/en/Dig/v/wn/contact\t'
    '/c/en/move/v\t{"weight": 1}',
    '/a/[/r/Synonym/,/c/fr/chat/n/,/c/en/cat/]\t/r/Synonym\t/c/fr/chat/n\t/c/en/cat\t{"weight": 1.0}',
    '/a/[/r/Synonym/,/c/fr/chat/,/c/fr/matou/]\t/r/Synonym\t/c/fr/chat\t/c/fr/matou\t{"weight": 0.25}',
    '/a/[/r/ExternalURL/,/c/en/shovel/,/x/]\t/r/ExternalURL\t/c/en/shovel\t'
    'http://dbpedia.org/resource/Shovel\t{"weight": 1.0}',
    '',
    '/a/[/r/dbpedia/genre/,/c/en/nirvana/n/,/c/en/grunge/]\t/r/dbpedia/genre\t/c/en/nirvana/n\t'
    '/c/en/grunge\t{"weight": 0.5}',
    '/a/[/r/NotDesires/,/c/en/person/,/c/en/pain/]\t/r/NotDesires\t/c/en/person\t/c/en/pain\t'
    '{"dataset": "/d/conceptnet/4/en"}',
]
GOOD = '/a/[/r/IsA/,/c/en/dog/,/c/en/pet/]\t/r/IsA\t/c/en/dog\t/c/en/pet\t{"weight": 3.0}'


def test_reads_english_edges_with_names_relations_and_weights(tmp_path):
    path = write_gz(tmp_path / "assertions.csv.gz", GOOD_LINES)
    assert list(read_conceptnet5_csv(path)) == [
        Triple("shovel", "UsedFor", "dig", 2.0),
        Triple("dig", "IsA", "move", 1.0),
        Triple("nirvana", "dbpedia/genre", "grunge", 0.5),
        Triple("person", "NotDesires", "pain", 1.0),
    ]


def test_language_filter_keeps_edges_with_both_ends_in_the_language(tmp_path):
    path = write_gz(tmp_path / "assertions.csv.gz", GOOD_LINES)
    assert list(read_conceptnet5_csv(path, language="fr")) == [
        Triple("chat", "Synonym", "matou", 0.25),
    ]


def test_reads_uncompressed_csv(tmp_path):
    path = tmp_path / "assertions.csv"
    path.write_text("\n".join(GOOD_LINES[:2]) + "\n", encoding="utf-8")
    assert [t.head for t in read_conceptnet5_csv(path)] == ["shovel", "dig"]


@pytest.mark.parametrize("uri, label", [
    ("/c/en/dig", "dig"), ("/c/en/dig/v", "dig"), ("/c/en/dig/v/wn/contact", "dig"),
    ("/c/en/Ice_Cream/n", "ice_cream"),
])
def test_concept_label_strips_sense_and_lower_cases(uri, label):
    assert concept_label(uri) == label


BAD_CASES = [
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en/pet', "expected 5 tab-separated columns, found 4"),
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en/pet\t{"weight": 1.0}\textra', "found 6"),
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en/pet\t{"weight": 1.0', "edge info is not valid JSON"),
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en/pet\t[1.0]', "edge info is JSON list, expected an object"),
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en/pet\t{"weight": "high"}', "edge weight 'high' is not a number"),
    ('/a/x\tIsA\t/c/en/dog\t/c/en/pet\t{}', "relation 'IsA' is not a /r/ URI"),
    ('/a/x\t/r/\t/c/en/dog\t/c/en/pet\t{}', "relation '/r/' is not a /r/ URI"),
    ('/a/x\t/r/IsA\tdog\t/c/en/pet\t{}', "start 'dog' is not a /c/ concept URI"),
    ('/a/x\t/r/IsA\t/c/en/\t/c/en/pet\t{}', "malformed concept URI '/c/en/'"),
    ('/a/x\t/r/IsA\t/c/en/dog\t/c/en//n\t{}', "malformed concept URI '/c/en//n'"),
    (b'/a/x\t/r/IsA\t/c/en/caf\xe9\t/c/en/pet\t{}', "invalid UTF-8"),
]


@pytest.mark.parametrize("bad, problem", BAD_CASES)
def test_bad_line_raises_with_file_and_line(tmp_path, bad, problem):
    path = write_gz(tmp_path / "assertions.csv.gz", [GOOD, bad, GOOD])
    assert assert_bad_line(read_conceptnet5_csv, path, problem).line == 2


@pytest.mark.parametrize("bad, problem", BAD_CASES)
def test_skip_bad_counts_and_continues(tmp_path, bad, problem):
    path = write_gz(tmp_path / "assertions.csv.gz", [GOOD, bad, GOOD])
    bad_lines = BadLines(skip_bad=True)
    assert list(read_conceptnet5_csv(path, bad_lines=bad_lines)) == [Triple("dog", "IsA", "pet", 3.0)] * 2
    assert bad_lines.count == 1
    assert bad_lines.first.line == 2 and problem in bad_lines.first.problem


def test_skip_bad_counts_every_bad_line(tmp_path):
    path = write_gz(tmp_path / "assertions.csv.gz", [bad for bad, _ in BAD_CASES] + [GOOD])
    bad_lines = BadLines(skip_bad=True)
    assert list(read_conceptnet5_csv(path, bad_lines=bad_lines)) == [Triple("dog", "IsA", "pet", 3.0)]
    assert bad_lines.count == len(BAD_CASES)
    assert bad_lines.by_source == {str(path): len(BAD_CASES)}


def test_lines_outside_the_language_skip_the_json_check(tmp_path):
    # Non-English lines are filtered before their JSON is parsed (speed); that is documented.
    path = write_gz(tmp_path / "assertions.csv.gz",
                    ['/a/x\t/r/IsA\t/c/fr/chien\t/c/fr/animal\t{not json', GOOD])
    assert list(read_conceptnet5_csv(path)) == [Triple("dog", "IsA", "pet", 3.0)]


# -- download ---------------------------------------------------------------------------------

@pytest.fixture
def dump(tmp_path):
    """A small 'remote' dump served through a file:// URL, and its sha256."""
    remote = tmp_path / "remote"
    remote.mkdir()
    source = write_gz(remote / "conceptnet-assertions-5.7.0.csv.gz", GOOD_LINES)
    return source, hashlib.sha256(source.read_bytes()).hexdigest()


def test_default_url_is_the_official_dump():
    assert CONCEPTNET5_URL == (
        "https://s3.amazonaws.com/conceptnet/downloads/2019/edges/conceptnet-assertions-5.7.0.csv.gz")


@pytest.mark.parametrize("progress", [False, True])
def test_download_verifies_and_renames_into_place(tmp_path, dump, progress):
    source, sha = dump
    dest = tmp_path / "downloads"
    path = download_conceptnet5(dest, url=source.as_uri(), sha256=sha.upper(), progress=progress)
    assert path == dest / "conceptnet-assertions-5.7.0.csv.gz"
    assert path.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == [path.name]  # no temp file left
    assert len(list(read_conceptnet5_csv(path))) == 4


def test_download_without_checksum_skips_the_check(tmp_path, dump):
    source, _ = dump
    path = download_conceptnet5(tmp_path / "downloads", url=source.as_uri(), sha256=None,
                                progress=False)
    assert path.read_bytes() == source.read_bytes()


def test_download_checksum_mismatch_raises_and_leaves_nothing(tmp_path, dump):
    source, _ = dump
    dest = tmp_path / "downloads"
    with pytest.raises(KGQAError, match=r"^\[E011\] Checksum mismatch") as info:
        download_conceptnet5(dest, url=source.as_uri(), sha256="0" * 64, progress=False)
    assert "0" * 64 in str(info.value)
    assert list(dest.iterdir()) == []


def test_download_reuses_a_verified_file_and_replaces_a_wrong_one(tmp_path, dump):
    source, sha = dump
    dest = tmp_path / "downloads"
    dest.mkdir()
    target = dest / source.name
    target.write_bytes(source.read_bytes())
    missing_url = (tmp_path / "nowhere" / source.name).as_uri()
    assert download_conceptnet5(dest, url=missing_url, sha256=sha, progress=False) == target

    target.write_bytes(b"truncated")
    assert download_conceptnet5(dest, url=source.as_uri(), sha256=sha, progress=False) == target
    assert target.read_bytes() == source.read_bytes()

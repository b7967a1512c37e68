"""The database is built by conceptnet-lite itself from a local dump (no network): ``connect()``
with ``db_download_url=None`` loads ``conceptnet-assertions-5.7.0.csv`` found beside the db."""

import shutil
import sqlite3

import pytest

conceptnet_lite = pytest.importorskip("conceptnet_lite")
from conceptnet_lite.db import db as peewee_db  # noqa: E402
from conceptnet_lite.utils import _to_snake_case  # noqa: E402

from kgqa.errors import BadInputError  # noqa: E402
from kgqa.kg.importers.base import BadLines, Triple  # noqa: E402
from kgqa.kg.importers.conceptnet5 import read_conceptnet5_csv  # noqa: E402
from kgqa.kg.importers.conceptnet_lite import cn5_relation_name, read_conceptnet_lite  # noqa: E402
from kgqa.kg.relations import CN5_RELATIONS  # noqa: E402

DUMP_LINES = [
    '/a/[/r/UsedFor/,/c/en/shovel/n/,/c/en/dig/]\t/r/UsedFor\t/c/en/shovel/n\t/c/en/dig\t'
    '{"dataset": "/d/conceptnet/4/en", "weight": 2.0}',
    '/a/[/r/IsA/,/c/en/dig/v/wn/contact/,/c/en/move/]\t/r/IsA\t/c/en/dig/v/wn/contact\t'
    '/c/en/move/v\t{"weight": 1}',
    '/a/[/r/Synonym/,/c/fr/chat/n/,/c/en/cat/]\t/r/Synonym\t/c/fr/chat/n\t/c/en/cat\t{"weight": 1.0}',
    '/a/[/r/Synonym/,/c/fr/chat/,/c/fr/matou/]\t/r/Synonym\t/c/fr/chat\t/c/fr/matou\t{"weight": 0.25}',
    '/a/[/r/ExternalURL/,/c/en/shovel/,/x/]\t/r/ExternalURL\t/c/en/shovel\t'
    'http://dbpedia.org/resource/Shovel\t{"weight": 1.0}',
    '/a/[/r/dbpedia/influencedBy/,/c/en/nirvana/n/,/c/en/pixies/]\t/r/dbpedia/influencedBy\t'
    '/c/en/nirvana/n\t/c/en/pixies\t{"weight": 0.5}',
    '/a/[/r/NotDesires/,/c/en/person/,/c/en/pain/]\t/r/NotDesires\t/c/en/person\t/c/en/pain\t'
    '{"dataset": "/d/conceptnet/4/en"}',
    '/a/[/r/EtymologicallyRelatedTo/,/c/en/dig/,/c/en/ditch/]\t/r/EtymologicallyRelatedTo\t'
    '/c/en/dig\t/c/en/ditch\t{"weight": 0.25}',
]
EXPECTED = [
    Triple("shovel", "UsedFor", "dig", 2.0),
    Triple("dig", "IsA", "move", 1.0),
    Triple("nirvana", "dbpedia/influencedBy", "pixies", 0.5),
    Triple("person", "NotDesires", "pain", 1.0),
    Triple("dig", "EtymologicallyRelatedTo", "ditch", 0.25),
]


@pytest.fixture(scope="module")
def lite_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conceptnet_lite")
    dump = folder / "conceptnet-assertions-5.7.0.csv"
    dump.write_text("\n".join(DUMP_LINES) + "\n", encoding="utf-8")
    db_path = folder / "conceptnet.db"
    conceptnet_lite.connect(db_path, db_download_url=None, load_dump_edge_count=len(DUMP_LINES),
                            delete_dump=False)
    peewee_db.close()
    return db_path, dump


def test_reads_english_edges_of_a_db_built_by_conceptnet_lite(lite_db):
    db_path, _ = lite_db
    assert list(read_conceptnet_lite(db_path)) == EXPECTED


def test_matches_the_csv_reader_on_the_same_dump(lite_db):
    db_path, dump = lite_db
    for language in ("en", "fr"):
        assert list(read_conceptnet_lite(db_path, language=language)) == \
            list(read_conceptnet5_csv(dump, language=language))


def test_language_filter_and_absent_language(lite_db):
    db_path, _ = lite_db
    assert list(read_conceptnet_lite(db_path, language="fr")) == [Triple("chat", "Synonym", "matou", 0.25)]
    assert list(read_conceptnet_lite(db_path, language="de")) == []


@pytest.mark.parametrize("relation", CN5_RELATIONS)
def test_relation_names_round_trip_conceptnet_lite_snake_case(relation):
    assert cn5_relation_name(_to_snake_case(relation)) == relation


@pytest.mark.parametrize("snake, name", [
    ("used_for", "UsedFor"), ("external_url", "ExternalURL"), ("not_is_a", "NotIsA"),
    ("dbpedia/genre", "dbpedia/genre"), ("dbpedia/influenced_by", "dbpedia/influencedBy"),
])
def test_relation_names(snake, name):
    assert cn5_relation_name(snake) == name


@pytest.fixture
def damaged_db(lite_db, tmp_path):
    """A copy whose edge 2 has broken JSON and edge 7 a label that is not UTF-8."""
    path = tmp_path / "damaged.db"
    shutil.copy(lite_db[0], path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE edge SET etc = '{\"weight\": 1' WHERE id = 2")
        (label_id,) = connection.execute(
            "SELECT concept.label_id FROM edge JOIN concept ON concept.id = edge.end_id "
            "WHERE edge.id = 7").fetchone()
        connection.execute("UPDATE label SET text = CAST(X'7061ff' AS TEXT) WHERE id = ?", (label_id,))
    connection.close()
    return path


def test_bad_row_raises_with_db_path_and_edge_id(damaged_db):
    with pytest.raises(BadInputError) as info:
        list(read_conceptnet_lite(damaged_db))
    assert f"{damaged_db}:2: edge info is not valid JSON" in str(info.value)


def test_skip_bad_counts_bad_rows(damaged_db):
    bad_lines = BadLines(skip_bad=True)
    assert list(read_conceptnet_lite(damaged_db, bad_lines=bad_lines)) == [
        EXPECTED[0], EXPECTED[2], EXPECTED[4]]
    assert bad_lines.count == 2
    assert bad_lines.first.line == 2
    assert bad_lines.by_source == {str(damaged_db): 2}


def test_invalid_utf8_row_raises_with_its_edge_id(damaged_db):
    with pytest.raises(BadInputError) as info:
        list(read_conceptnet_lite(damaged_db, bad_lines=_SkipOnly(2)))
    assert f"{damaged_db}:7: invalid UTF-8" in str(info.value)


class _SkipOnly(BadLines):
    """Skips the bad row with the given edge id and raises for any other."""

    def __init__(self, edge_id):
        super().__init__(skip_bad=True)
        self.edge_id = edge_id

    def handle(self, error):
        if error.line != self.edge_id:
            raise error
        super().handle(error)


def test_not_a_conceptnet_lite_db(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(BadInputError, match="not a conceptnet-lite database"):
        list(read_conceptnet_lite(path))


def test_missing_db(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(read_conceptnet_lite(tmp_path / "missing.db"))

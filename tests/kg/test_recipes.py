import gzip
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.errors import KGQAError
from kgqa.kg import KnowledgeGraph
from kgqa.kg.recipes import build_recipe, load_recipe
from tests.conftest import REPO, cli_text, tree, user_folder

CN4_LINES = [
    "shovel\tUsedFor\tdig\t2\t5",
    "shovel\tHasA\thandle\t1\t5",
    "ice cream\tIsA\tdessert\t3\t5",
    "shovel\tUsedFor\tdig\t4\t5",       # duplicate: keeps weight 4
    "fish\tNotIsA\tmammal\t1\t-5",
    "cat\tSimilarSize\tdog\t1\t5",       # outside the 17: dropped under merged17
]


def write_cn4(path, lines):
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_recipe(tmp_path, expected="", extra=""):
    write_cn4(tmp_path / "cn4.tsv.gz", CN4_LINES)
    recipe = tmp_path / "toy.yaml"
    recipe.write_text(f"""name: toy
description: toy graph
sources:
  - importer: conceptnet4
    path: {tmp_path / 'cn4.tsv.gz'}
relations: {{scheme: merged17, negated: keep}}
{expected}
{extra}""")
    return recipe


def test_recipe_builds_and_checks_counts(tmp_path):
    recipe = write_recipe(tmp_path, "expected: {num_nodes: 7, num_edges: 4, num_relations: 4}")
    with pytest.warns(UserWarning, match=r"W100.*dropped 1 edges .*\(SimilarSize: 1\)"):
        kg = build_recipe(recipe, out_dir=tmp_path / "out")
    edges = {(kg.node_name(h), kg.relations[r], kg.node_name(t), float(w))
             for h, r, t, w in zip(kg.head, kg.relation, kg.tail, kg.weight)}
    assert edges == {("shovel", "UsedFor", "dig", 4.0), ("handle", "PartOf", "shovel", 1.0),
                     ("ice_cream", "IsA", "dessert", 3.0), ("fish", "NotIsA", "mammal", 1.0)}
    assert kg.manifest["relation_map"]["dropped_edges"] == {"SimilarSize": 1}
    assert kg.manifest["sources"][0]["sha256"]
    assert (kg.path / "LICENSE.md").exists()


def test_relations_full_override(tmp_path):
    recipe = write_recipe(tmp_path, "expected: {num_edges: 4}")
    kg = build_recipe(recipe, out_dir=tmp_path / "out", relations="full")
    assert sorted(kg.relations) == ["HasA", "IsA", "NotIsA", "SimilarSize", "UsedFor"]


def test_expected_count_mismatch_fails_and_writes_nothing(tmp_path):
    recipe = write_recipe(tmp_path, "expected: {num_edges: 5}")
    with pytest.raises(KGQAError, match=r"E010.*num_edges 4 != expected 5"):
        build_recipe(recipe, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_unknown_recipe_key_is_named(tmp_path):
    recipe = write_recipe(tmp_path, extra="filterz: {max_words: 2}")
    with pytest.raises(KGQAError, match=r"E009.*filterz"):
        load_recipe(recipe)


def test_source_checksum_is_checked(tmp_path):
    write_cn4(tmp_path / "cn4.tsv.gz", CN4_LINES)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nsources:\n  - importer: conceptnet4\n    path: {tmp_path / 'cn4.tsv.gz'}\n    sha256: '{'0' * 64}'\n")
    with pytest.raises(KGQAError, match="E011"):
        build_recipe(recipe, out_dir=tmp_path / "out")


@pytest.mark.parametrize("bad_line, problem", [
    ("shovel\tUsedFor\tdig", "column"),
    ("shovel\tLikes\tdig\t1\t5", "relation"),
])
def test_bad_line_stops_build_unless_skip_bad(tmp_path, bad_line, problem):
    write_cn4(tmp_path / "cn4.tsv.gz", CN4_LINES[:2] + [bad_line] + CN4_LINES[2:])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nsources:\n  - importer: conceptnet4\n    path: {tmp_path / 'cn4.tsv.gz'}\n")
    with pytest.raises(KGQAError, match=rf"cn4.tsv.gz:3: .*{problem}"):
        build_recipe(recipe, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.warns(UserWarning, match="W001.*1 bad lines"):
        kg = build_recipe(recipe, out_dir=tmp_path / "out", skip_bad=True)
    assert kg.manifest["build"]["stats"]["bad_lines_skipped"] == 1
    assert kg.num_edges == 4


def test_invalid_utf8_line(tmp_path):
    with gzip.open(tmp_path / "cn4.tsv.gz", "wb") as fh:
        fh.write(b"shovel\tUsedFor\tdig\t2\t5\n\xff\xfe\tIsA\tx\t1\t5\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nsources:\n  - importer: conceptnet4\n    path: {tmp_path / 'cn4.tsv.gz'}\n")
    with pytest.raises(KGQAError, match=r"cn4.tsv.gz:2: invalid UTF-8"):
        build_recipe(recipe, out_dir=tmp_path / "out")


def test_shipped_recipes_validate():
    names = sorted(p.stem for p in (REPO / "graphs").glob("*.yaml"))
    assert {"default", "conceptnet4_en", "cn100k", "codex_s", "codex_m"} <= set(names)
    # graphs built from the shared data pin their counts; the dump-based ones cannot be built here
    unpinned = {"conceptnet5_en", "conceptnet_lite_en"}
    for name in names:
        recipe = load_recipe(REPO / "graphs" / f"{name}.yaml")
        assert bool(recipe.expected.num_edges) == (name not in unpinned), name


def test_codex_s_recipe_on_shared_data(data_dir, tmp_path):
    kg = build_recipe("codex_s", out_dir=tmp_path / "codex_s", data_root=data_dir)
    assert (kg.num_nodes, kg.num_edges, kg.num_relations) == (2034, 36543, 42)
    assert kg.manifest["relation_labels"]["P106"] == "occupation"
    assert len(kg.node_labels) > 147  # CoDEx type labels plus ERNIE anchor-text labels


def test_cli_build_info_neighbors(tmp_path):
    recipe = write_recipe(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["graphs", "build", str(recipe), "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["graphs", "info", str(tmp_path / "g"), "--json"])
    assert result.exit_code == 0 and '"num_edges": 4' in result.output
    result = runner.invoke(app, ["graphs", "neighbors", "shovel", "--graph", str(tmp_path / "g")])
    assert result.exit_code == 0
    assert "shovel --UsedFor--> dig" in result.output and "shovel <-PartOf-- handle" in result.output
    result = runner.invoke(app, ["graphs", "neighbors", "spoon", "--graph", str(tmp_path / "g")])
    assert result.exit_code == 1 and "E005" in result.output
    KnowledgeGraph.load(tmp_path / "g", verify=True)


def test_conceptnet5_csv_recipe_end_to_end(tmp_path):
    """Official assertions format -> English filter, suffixes stripped, duplicates max weight, merged17."""
    rows = [
        ("/r/UsedFor", "/c/en/shovel/n", "/c/en/dig/v", 2.0),
        ("/r/UsedFor", "/c/en/shovel", "/c/en/dig/v/wn/contact", 3.5),   # same edge after stripping
        ("/r/HasA", "/c/en/garden", "/c/en/flower/n", 1.0),              # reversed into PartOf
        ("/r/AtLocation", "/c/en/flower", "/c/en/garden", 1.0),
        ("/r/UsedFor", "/c/fr/pelle", "/c/en/dig", 1.0),                 # not English: skipped
        ("/r/ExternalURL", "/c/en/shovel", "/c/en/dig", 1.0),            # outside the 17: dropped
    ]
    lines = [f"/a/[{r}/,{s}/,{e}/]\t{r}\t{s}\t{e}\t" + '{"dataset": "/d/conceptnet/4/en", "weight": %s}' % w
             for r, s, e, w in rows]
    with gzip.open(tmp_path / "conceptnet-assertions-5.7.0.csv.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    recipe = REPO / "graphs" / "conceptnet5_en.yaml"
    kg = build_recipe(recipe, out_dir=tmp_path / "cn5", data_root=tmp_path)
    edges = {(kg.node_name(h), kg.relations[r], kg.node_name(t), float(w))
             for h, r, t, w in zip(kg.head, kg.relation, kg.tail, kg.weight)}
    assert edges == {("shovel", "UsedFor", "dig", 3.5), ("flower", "PartOf", "garden", 1.0),
                     ("flower", "AtLocation", "garden", 1.0)}
    assert kg.manifest["relation_map"]["dropped_edges"] == {"ExternalURL": 1}


@pytest.mark.parametrize("option", ["--out", "--pack"])
def test_build_never_empties_a_folder_it_did_not_write(tmp_path, option):
    recipe = write_recipe(tmp_path)
    user = user_folder(tmp_path / "mine")
    runner = CliRunner()
    args = ["graphs", "build", str(recipe), option, str(user)]
    if option == "--pack":
        args += ["--out", str(tmp_path / "g")]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "[E100]" in cli_text(result) and "not a kgqa" in cli_text(result) and "important.txt, sub/" in cli_text(result)
    assert tree(user) == ["important.txt", "sub", "sub/notes.md"]
    assert not (tmp_path / "g").exists()  # refused before the build started
    # --force replaces that folder (and nothing else)
    result = runner.invoke(app, args + ["--force"])
    assert result.exit_code == 0, result.output
    assert "important.txt" not in tree(user) and (user / "manifest.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["cn4.tsv.gz", "toy.yaml", "mine"] + (["g"] if option == "--pack" else []))


def test_rebuild_replaces_the_graph_it_wrote(tmp_path):
    recipe = write_recipe(tmp_path)
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(app, ["graphs", "build", str(recipe), "--out", str(tmp_path / "g"),
                                     "--pack", str(tmp_path / "packed")])
        assert result.exit_code == 0, result.output
    assert KnowledgeGraph.load(tmp_path / "packed").num_edges == 4  # the packed copy unpacks and loads
    # a graph built before artefact markers existed is still recognised as a graph
    (tmp_path / "g" / ".kgqa-artefact").unlink()
    assert build_recipe(recipe, out_dir=tmp_path / "g").num_edges == 4
    # but a packed graph is not a graph
    with pytest.raises(KGQAError, match=r"E100.*kgqa packed graph, not a graph"):
        build_recipe(recipe, out_dir=tmp_path / "packed")


@pytest.mark.parametrize("name", ["../../../../some/dir", "a/b", "..", ".hidden", "/abs"])
def test_recipe_name_is_a_plain_name(tmp_path, name):
    recipe = write_recipe(tmp_path)
    recipe.write_text(recipe.read_text().replace("name: toy", f"name: '{name}'"))
    with pytest.raises(KGQAError, match=r"E009.*name: .*is not a plain name"):
        load_recipe(recipe)


def test_unknown_importer_option_is_named(tmp_path):
    recipe = write_recipe(tmp_path)
    recipe.write_text(recipe.read_text().replace(f"    path: {tmp_path / 'cn4.tsv.gz'}\n",
                                                 f"    path: {tmp_path / 'cn4.tsv.gz'}\n    options: {{bogus_option: 1}}\n"))
    with pytest.raises(KGQAError, match=r"E009.*sources.0.options: unknown option 'bogus_option' for importer "
                                        r"'conceptnet4' \(it takes: weight\)"):
        load_recipe(recipe)
    result = CliRunner().invoke(app, ["graphs", "build", str(recipe), "--out", str(tmp_path / "g")])
    assert result.exit_code == 1 and "bogus_option" in cli_text(result) and "Traceback" not in result.output


def test_relations_outside_merged17_are_reported_with_their_count(tmp_path):
    write_cn4(tmp_path / "cn4.tsv.gz", CN4_LINES + ["cat\tSimilarSize\tmouse\t1\t5", "heart\tSymbolOf\tlove\t1\t5"])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nsources:\n  - importer: conceptnet4\n    path: {tmp_path / 'cn4.tsv.gz'}\n")
    with pytest.warns(UserWarning, match=r"\[W100\] The merged17 relation scheme dropped 3 edges whose relation "
                                         r"is outside its table \(SimilarSize: 2, SymbolOf: 1\)"):
        kg = build_recipe(recipe, out_dir=tmp_path / "g")
    assert kg.manifest["relation_map"]["dropped_edges"] == {"SimilarSize": 2, "SymbolOf": 1}


KILLED_BUILD = """
import sys, time
from kgqa.kg import GraphBuilder
from kgqa.kg.importers.base import Triple
builder = GraphBuilder()
builder.add(Triple("a", "R", "b"))
def hang(kg):  # the arrays are written, the rename not done yet
    print("written", flush=True)
    time.sleep(120)
builder.save(sys.argv[1], name="g", check=hang)
"""


def test_partial_of_a_killed_build_is_removed_by_the_next_build(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(tmp_path / "g")], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "written"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    (partial,) = tmp_path.iterdir()
    assert partial.name.startswith(f".g.{proc.pid}-") and partial.name.endswith(".partial")
    assert (partial / "tail.npy").exists()
    (tmp_path / "recipe_files").mkdir()
    recipe = write_recipe(tmp_path / "recipe_files")
    kg = build_recipe(recipe, out_dir=tmp_path / "g")
    assert kg.num_edges == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g", "recipe_files"]

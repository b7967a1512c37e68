import re
import sys
import types

import pytest
from typer.testing import CliRunner

import kgqa.api as api
from kgqa.errors import KGQAError
from kgqa.linking import linker as linker_module
from kgqa.linking.concept_linker import ConceptLinker
from kgqa.linking.types import LinkResult

from tests.linking.fixtures import build_vocab_graph


def test_link_functions(vocab_graph):
    graph = str(vocab_graph.path)
    assert api.link("He dug the ground.", graph=graph).nodes == ["dig", "ground"]
    assert api.link("ice cream", graph=graph, choice=True).mentions[0].kind == "whole_choice"
    results = api.link_batch(["a shovel", None, "ice cream"], graph=graph)
    assert [r.ok for r in results] == [True, False, True]
    qa = api.link_qa("What tool did the man use?", ["shovel", "hammer"], graph=graph)
    assert qa.question.nodes == ["tool", "man"] and [c.nodes for c in qa.choices] == [["shovel"], ["hammer"]]
    # one linker per graph and options, reused
    assert linker_module.load_linker(graph) is linker_module.load_linker(graph)
    assert isinstance(linker_module.load_linker(graph), ConceptLinker)


def test_wrong_argument_shapes_are_coded_errors(vocab_graph):
    graph = str(vocab_graph.path)
    with pytest.raises(KGQAError, match=r"\[E141\] kgqa.link_batch\(\): texts must be a list of texts \(str\), "
                                        r"got one str, 'shovel'; to link one text use kgqa.link\(\)"):
        api.link_batch("shovel", graph=graph)
    with pytest.raises(KGQAError, match=r"\[E141\] kgqa.link_batch\(\): texts .* got int"):
        api.link_batch(5, graph=graph)
    for choices, got in (("shovel", "one str, 'shovel'"), (None, "NoneType"),
                         (["shovel", 1.5], "float 1.5 at position 2")):
        with pytest.raises(KGQAError, match=r"\[E141\] kgqa.link_qa\(\): choices must be a list of texts \(str\), got "
                                            + re.escape(got)):
            api.link_qa("What tool?", choices, graph=graph)
    with pytest.raises(KGQAError, match=r"\[E141\] kgqa.link_qa\(\): question must be a str, got NoneType"):
        api.link_qa(None, ["shovel"], graph=graph)


def test_unknown_graph_is_a_clear_error():
    with pytest.raises(KGQAError, match=r"\[E002\] Unknown graph 'no_such_graph'"):
        api.link("a shovel", graph="no_such_graph")


def test_wikidata_graphs_dispatch_to_the_wikidata_linker(tmp_path, monkeypatch):
    kg = build_vocab_graph(tmp_path / "wd", [("Q42", "P106", "Q36180"), ("Q36180", "P279", "Q482980")], name="wd")
    assert linker_module.is_wikidata_graph(kg)
    assert not linker_module.is_wikidata_graph(build_vocab_graph(tmp_path / "cn"))

    class FakeWikidataLinker:
        def __init__(self, kg, **options):
            self.kg, self.options = kg, options

        @classmethod
        def for_graph(cls, kg, **options):
            return cls(kg, built_by="for_graph", **options)

        def link(self, text):
            return LinkResult(text=text, reason="fake")

        def link_batch(self, texts):
            return [self.link(t) for t in texts]

    fake = types.ModuleType("kgqa.linking.wikidata")
    fake.WikidataLinker = FakeWikidataLinker
    monkeypatch.setitem(sys.modules, "kgqa.linking.wikidata", fake)
    linker_module.clear_linkers()
    linker = linker_module.load_linker(kg)
    assert isinstance(linker, FakeWikidataLinker) and linker.kg is kg
    assert linker.options == {"built_by": "for_graph"}
    assert api.link("Douglas Adams", graph=kg).reason == "fake"
    assert api.link("Douglas Adams", graph=kg, choice=True).reason == "fake"
    qa = api.link_qa("Who wrote it?", ["Douglas Adams"], graph=kg)  # composed from link_batch
    assert qa.question.reason == "fake" and len(qa.choices) == 1
    linker_module.clear_linkers()


def test_cli_link_table_and_json(vocab_graph):
    from kgqa.cli import app

    runner = CliRunner()
    graph = str(vocab_graph.path)
    out = runner.invoke(app, ["link", "A man dug the ground to plant flowers.", "--graph", graph,
                              "--choices", "shovel", "ice cream"])
    assert out.exit_code == 0, out.output
    for word in ("plant_flower", "dig", "whole_choice", "ice_cream", "choice 2"):
        assert word in out.output
    out = runner.invoke(app, ["link", "He dug.", "--graph", graph, "--json"])
    assert out.exit_code == 0, out.output
    assert '"node": "dig"' in out.output and '"kind": "lemma"' in out.output
    out = runner.invoke(app, ["link", "x", "--graph", "no_such_graph"])
    assert out.exit_code == 1 and "E002" in out.output

"""The shipped default graph loads on a machine with no data folder."""

from typer.testing import CliRunner

from kgqa.cli import app
from kgqa.kg import KnowledgeGraph


def test_default_graph_loads_and_knows_the_running_example():
    kg = KnowledgeGraph.load("default", verify=True)
    assert kg.manifest["relation_map"]["scheme"] == "merged17"
    assert kg.num_nodes > 200_000 and kg.num_edges > 400_000
    for concept in ("shovel", "dig", "ground", "plant", "flower", "garden", "ice_cream"):
        assert kg.has_node(concept), concept
    # dig -UsedFor<- shovel (the running example's first path)
    nb = kg.neighbors("dig", relations=["~UsedFor"])
    assert "shovel" in {kg.node_name(v) for v in nb.nodes}
    nb = kg.neighbors("flower", relations=["AtLocation"], direction="out")
    assert "garden" in {kg.node_name(v) for v in nb.nodes}
    # second load reuses the unpacked copy
    assert KnowledgeGraph.load("default").path == kg.path


def test_cli_version_and_help():
    runner = CliRunner()
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("kgqa ")
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "graphs" in result.output

"""``output:`` of a pretraining run never replaces a folder that is not a saved encoder."""

from typer.testing import CliRunner

from kgqa.cli import app
from tests.conftest import cli_text, tree, user_folder


def test_pretrain_refuses_a_user_folder_before_any_work(tmp_path):
    mine = user_folder(tmp_path / "mine")
    config = tmp_path / "pretrain.yaml"
    config.write_text(f"backbone: no-such-backbone\noutput: {mine}\n")  # nothing is loaded before the check
    runner = CliRunner()
    for args in (["pretrain", str(config)], ["pretrain", str(config), "--output", str(mine)]):
        result = runner.invoke(app, args)
        out = cli_text(result)
        assert result.exit_code == 1 and "[E100]" in out and "not a kgqa knowledge-fused encoder" in out, out
    assert tree(mine) == ["important.txt", "sub", "sub/notes.md"]

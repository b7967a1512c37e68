"""``output:`` of a pretraining run never replaces a folder that is not a saved encoder."""

from typer.testing import CliRunner

from kgqa.cli import app


def test_pretrain_refuses_a_user_folder_before_any_work(tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "important.txt").write_text("keep me")
    (mine / "sub" / "notes.md").write_text("# notes")
    config = tmp_path / "pretrain.yaml"
    config.write_text(f"backbone: no-such-backbone\noutput: {mine}\n")  # nothing is loaded before the check
    runner = CliRunner()
    for args in (["pretrain", str(config)], ["pretrain", str(config), "--output", str(mine)]):
        result = runner.invoke(app, args)
        out = " ".join(result.output.split())
        assert result.exit_code == 1 and "[E100]" in out and "not a kgqa knowledge-fused encoder" in out, out
    assert sorted(str(p.relative_to(mine)) for p in mine.rglob("*")) == ["important.txt", "sub", "sub/notes.md"]

"""``kgqa answer``, ``kgqa explain`` and ``kgqa demo`` end to end on the toy checkpoints."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from kgqa.cli import app
from tests.explain.conftest import QUESTION

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def flat(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_answer_prints_ranked_choices(toy_checkpoints):
    result = invoke("answer", QUESTION, "--choices", "shovel", "hammer", "ladder",
                    "--model", toy_checkpoints["kagnet"])
    assert result.exit_code == 0, result.output
    rows = re.findall(r"^\s*(\d) │ (\w+)\s+│\s+([0-9.]+)", result.output, flags=re.M)
    assert [r[0] for r in rows] == ["1", "2", "3"] and {r[1] for r in rows} == {"shovel", "hammer", "ladder"}
    assert abs(sum(float(r[2]) for r in rows) - 1) < 0.01


def test_answer_json(toy_checkpoints):
    result = invoke("answer", QUESTION, "-c", "shovel", "-c", "hammer", "--model", toy_checkpoints["qagnn"],
                    "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["choices"] == ["shovel", "hammer"] and data["model"] == "qagnn"
    assert data["prediction"] == data["ranked"][0]["choice"] and "explanation" not in data


def test_bad_choices_exit_with_a_message(toy_checkpoints):
    one = invoke("answer", QUESTION, "--choices", "shovel", "--model", toy_checkpoints["lm"])
    assert one.exit_code == 1 and "[E080]" in flat(one) and "at least two" in flat(one)
    dup = invoke("answer", QUESTION, "--choices", "saw", "Saw", "--model", toy_checkpoints["lm"])
    assert dup.exit_code == 1 and "duplicate choices" in flat(dup)
    none = invoke("answer", QUESTION, "--model", toy_checkpoints["lm"])
    assert none.exit_code == 1 and "0 answer choices" in flat(none)


def test_explain_writes_page_and_figure(tmp_path, toy_checkpoints):
    out = tmp_path / "out"
    result = invoke("explain", QUESTION, "--choices", "shovel", "hammer", "ladder", "--model",
                    toy_checkpoints["kagnet"], "--out", out, "--static", "svg", "--json")
    assert result.exit_code == 0, result.output
    assert "dig <-UsedFor-- shovel" in result.output and "path attention" in result.output
    page = out / "a_man_dug_the_ground_to_plant_flowers_what_tool_did_he_use.html"
    assert page.is_file() and page.with_suffix(".svg").is_file() and page.with_suffix(".json").is_file()
    assert f"HTML: {page.resolve()}" in result.output.replace("\n", "")
    assert json.loads(page.with_suffix(".json").read_text())["model"] == "kagnet"


def test_explain_to_an_unwritable_path(tmp_path, toy_checkpoints):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("explain", QUESTION, "--choices", "shovel", "hammer", "--model", toy_checkpoints["lm"],
                    "--out", blocker)
    assert result.exit_code == 1 and "[E014]" in flat(result) and "is not writable: it is a file" in flat(result)


def test_explain_dataset_writes_pages_and_index(tmp_path, toy_checkpoints):
    from tests.training.toys import write_csqa_fixture

    data = write_csqa_fixture(tmp_path / "csqa")
    out = tmp_path / "pages"
    result = invoke("explain", "--dataset", data, "--split", "dev", "--ids", "dev01", "dev03",
                    "--model", toy_checkpoints["rgcn"], "--out", out, "--static", "none")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["dev01.html", "dev03.html", "explanations.json", "index.html"]
    index = (out / "index.html").read_text()
    assert 'data-questions="2"' in index and 'href="dev01.html"' in index and "accuracy" in index
    assert [e["id"] for e in json.loads((out / "explanations.json").read_text())] == ["dev01", "dev03"]
    missing = invoke("explain", "--dataset", data, "--split", "dev", "--ids", "nope",
                     "--model", toy_checkpoints["rgcn"], "--out", out)
    assert missing.exit_code == 1 and "id(s) not in" in flat(missing) and "nope" in flat(missing)


def test_demo_side_by_side(tmp_path, toy_checkpoints):
    result = invoke("demo", "--model", toy_checkpoints["kagnet"], "--out", tmp_path / "demo")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "plant flowers" in text and "build a house" in text
    assert "linked only in the first question:" in text and "probability change" in text
    page = tmp_path / "demo" / "demo.html"
    assert page.is_file() and (tmp_path / "demo" / "demo_house.png").is_file()
    assert str(page.resolve()) in text.replace("\n", "")
    assert 'data-explanations="2"' in page.read_text()


def test_default_output_folder_is_in_kgqa_home(tmp_path, monkeypatch, toy_checkpoints):
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    result = invoke("explain", QUESTION, "-c", "shovel", "-c", "hammer", "--model", toy_checkpoints["rgcn"],
                    "--static", "none")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "home" / "explanations").glob("*.html"))) == 1

"""``kgqa answer``, ``kgqa explain`` and ``kgqa demo`` end to end on the toy checkpoints."""

from __future__ import annotations

import json
import re
from hashlib import sha256

import pytest
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
    none = invoke("answer", QUESTION, "--model", toy_checkpoints["lm"])
    assert none.exit_code == 1 and "0 answer choices" in flat(none)


def test_explain_writes_page_and_figure(tmp_path, toy_checkpoints):
    out = tmp_path / "out"
    result = invoke("explain", QUESTION, "--choices", "shovel", "hammer", "ladder", "--model",
                    toy_checkpoints["kagnet"], "--out", out, "--static", "svg", "--json")
    assert result.exit_code == 0, result.output
    assert "dig <-UsedFor-- shovel" in result.output and "ranked by occlusion" in flat(result)
    digest = sha256(QUESTION.encode()).hexdigest()[:8]
    page = out / f"a_man_dug_the_ground_to_plant_flowers_what_tool_did_he_use-{digest}.html"
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
    assert 'data-explanations="2"' in page.read_text() and 'id="kgqa-compare-data"' in page.read_text()
    # the closing note says plainly whether the context changed the answer, with the probabilities
    assert ("The context changes the answer" in flat(result)) != ("in both contexts" in flat(result))
    assert "Probabilities (first / second context): " in flat(result)


def test_default_output_folder_is_in_kgqa_home(tmp_path, monkeypatch, toy_checkpoints):
    monkeypatch.setenv("KGQA_HOME", str(tmp_path / "home"))
    result = invoke("explain", QUESTION, "-c", "shovel", "-c", "hammer", "--model", toy_checkpoints["rgcn"],
                    "--static", "none")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "home" / "explanations").glob("*.html"))) == 1


def test_duplicate_choices_are_answered_and_marked(toy_checkpoints):
    result = invoke("answer", QUESTION, "--choices", "saw", "hammer", "Saw", "--model", toy_checkpoints["lm"])
    assert result.exit_code == 0, result.output
    assert "note: choices 1 and 3 are the same answer ('saw'): they are scored alike" in flat(result)
    assert "Saw (same as choice 1)" in result.output
    data = json.loads(invoke("answer", QUESTION, "-c", "saw", "-c", "Saw", "--model", toy_checkpoints["lm"],
                             "--json").stdout)
    assert data["ranked"][0]["probability"] == data["ranked"][1]["probability"] == 0.5
    assert data["notes"] == ["choices 1 and 2 are the same answer ('saw'): they are scored alike"]


@pytest.mark.parametrize("option, value", [("--top-paths", "-1"), ("--max-nodes", "0"), ("--limit", "-2")])
def test_negative_counts_are_refused(toy_checkpoints, option, value):
    result = invoke("explain", QUESTION, "-c", "shovel", "-c", "hammer", "--model", toy_checkpoints["lm"],
                    option, value)
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in flat(result)
    assert "greater than or equal to" in flat(result)


def test_questions_with_the_same_slug_get_their_own_pages(tmp_path, toy_checkpoints):
    out = tmp_path / "out"
    for question in ("Что копает лопата?", "Кто копает землю?", "What digs?", "what digs"):
        result = invoke("explain", question, "-c", "shovel", "-c", "hammer", "--model", toy_checkpoints["lm"],
                        "--out", out, "--static", "none")
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 4 and [n.split("-")[0] for n in names] == ["question", "question", "what_digs", "what_digs"]


def test_terminal_output_never_carries_control_sequences(tmp_path, toy_checkpoints, toy_kg):
    """ESC/OSC sequences and rich markup in user text are shown escaped (or removed), never run."""
    title, clear = "\x1b]0;pwned\x07", "\x1b[2J"
    answered = invoke("answer", f"What {title}digs{clear}?", "-c", "shovel [/]", "-c", f"ham{clear}mer",
                      "--model", toy_checkpoints["lm"])
    assert answered.exit_code == 0, answered.output
    assert "\x1b" not in answered.output and "\x07" not in answered.output
    assert "shovel [/]" in answered.output and "note: removed 3 control characters from the question" in flat(answered)
    linked = invoke("link", f"a shovel{title}[/] to dig{clear}", "--graph", toy_kg.path)
    assert linked.exit_code == 0, linked.output
    assert "text: a shovel\\x1b]0;pwned\\x07[/] to dig\\x1b[2J" in linked.output and "\x1b" not in linked.output
    assert "shovel" in linked.output and "dig" in linked.output
    missing = invoke("explain", "--dataset", _dataset(tmp_path), "--ids", f"nope{title}",
                     "--model", toy_checkpoints["lm"], "--out", tmp_path / "out")
    assert missing.exit_code == 1 and "nope\\x1b]0;pwned\\x07" in flat(missing) and "\x1b" not in missing.output


def _dataset(root):
    """A CommonsenseQA-shaped dev split with ids that slug alike, a question that lists 'bar' twice
    (gold: the second), and one whose text is not valid Unicode (a lone surrogate)."""
    def record(qid, stem, choices, key):
        return json.dumps({"id": qid, "answerKey": key, "question": {
            "stem": stem, "question_concept": "x",
            "choices": [{"label": "ABCDE"[i], "text": t} for i, t in enumerate(choices)]}})

    directory = root / "csqa"
    directory.mkdir(exist_ok=True)
    lines = [record("Q-1", QUESTION, ["shovel", "hammer", "ladder", "saw"], "A"),
             record("q_1", "Where do flowers grow?", ["garden", "tool", "hammer", "nail"], "A"),
             record("dup", "Where is one likely to find poker chips?", ["supermarket", "pantry", "bar", "bar"], "D"),
             record("bad", "Where is the caf\udce9?", ["garden", "tool", "hammer", "nail"], "A")]
    (directory / "dev.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def test_dataset_batch_survives_odd_questions(tmp_path, toy_checkpoints):
    out = tmp_path / "pages"
    result = invoke("explain", "--dataset", _dataset(tmp_path), "--split", "dev", "--limit", "0",
                    "--model", toy_checkpoints["qagnn"], "--out", out, "--static", "none")
    assert result.exit_code == 0, result.output
    text = flat(result)
    assert "skipped bad: [E140] the question is not valid text: lone surrogate U+DCE9 at character 17" in text
    assert "wrote 3 pages, skipped 1; index:" in text
    q1 = f"q_1-{sha256(b'Q-1').hexdigest()[:8]}.html"
    assert sorted(p.name for p in out.iterdir()) == sorted(["dup.html", "explanations.json", "index.html", q1,
                                                            "q_1.html"])
    explanations = {e["id"]: e for e in json.loads((out / "explanations.json").read_text())}
    dup = explanations["dup"]
    assert dup["probabilities"][2] == dup["probabilities"][3]
    assert dup["notes"] == [  # the toy graph knows none of these words
        "choices 3 and 4 are the same answer ('bar'): they are scored alike",
        "the question links to no concept of the graph (no concept found): the answer uses no question concept",
        *(f"choice {i} links to no concept of the graph (no concept found)" for i in (1, 2, 3, 4))]
    index = (out / "index.html").read_text()
    assert 'data-questions="3" data-skipped="1"' in index and "skipped: [E140]" in index
    assert f'href="{q1}"' in index and 'href="q_1.html"' in index

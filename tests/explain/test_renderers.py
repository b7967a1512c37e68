"""Terminal, HTML and static renderers on the hand-made explanation."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from rich.console import Console

from kgqa.errors import KGQAError
from kgqa.explain.html import render_html, render_index, write_html
from kgqa.explain.static import render_static
from kgqa.explain.terminal import comparison_lines, print_answer, print_comparison, print_explanation
from tests.explain.fixtures import hand_explanation


def _text(render, *args, **kwargs) -> str:
    buffer = io.StringIO()
    render(*args, Console(file=buffer, width=160, color_system=None), **kwargs)
    return buffer.getvalue()


def test_terminal_shows_ranking_paths_and_nodes():
    out = _text(print_explanation, hand_explanation())
    assert out.index("shovel ✓ gold") < out.index("hammer") < out.index("ladder")
    assert "ranked by occlusion" in out and "drop  attention  path" in out
    assert "+0.600     2.50x  dig <-UsedFor-- shovel" in out
    assert "+0.300     0.80x  flower --AtLocation--> garden <-AtLocation-- shovel" in out
    assert "shovel is used to dig" in out
    assert "flower is found at garden; shovel is found at garden" in out
    # hammer: a negated relation is marked, its sentence negated, the uniform attention flagged
    assert "+0.050     1.00x  dig <-NotCapableOf-- hammer  [negated: NotCapableOf]" in out
    assert "hammer cannot dig" in out
    assert "within 10% of uniform: it singles out no path; paths are ranked by occlusion" in out
    assert "top nodes (attention): garden 0.300" in out
    assert "no graph evidence" in out  # ladder


def test_terminal_prints_user_text_escaped():
    """ESC/OSC/CSI sequences in a hand-made explanation are written as escapes; brackets stay text."""
    exp = hand_explanation()
    exp.question = "What \x1b]0;pwned\x07 digs?"
    exp.choices = [exp.choices[0], "ham[/]mer\x1b[2J", exp.choices[2]]  # a copy: the fixture shares its list
    exp.per_choice[1].choice = exp.choices[1]
    exp.notes = ["choice 2 \x9b31m was odd"]
    for out in (_text(print_explanation, exp), _text(print_answer, exp), _text(print_comparison, [exp, exp])):
        assert not any(ch in out for ch in "\x1b\x07\x9b")
        assert "ham[/]mer\\x1b[2J" in out and "note: choice 2 \\x9b31m was odd" in out
    assert "What \\x1b]0;pwned\\x07 digs?" in _text(print_explanation, exp)
    assert exp.question == "What \x1b]0;pwned\x07 digs?"  # the explanation itself is unchanged


def test_comparison_says_what_changed():
    a = hand_explanation()
    b = hand_explanation()
    b.question_concepts = ["man", "dig", "ground", "build", "house"]
    b.probabilities = [0.4, 0.5, 0.1]
    b.predicted = 1
    b.per_choice[0].paths = b.per_choice[0].paths[1:]  # the dig path is not shown in the second
    lines = comparison_lines([a, b])
    assert lines[0] == ("linked only in the first question: plant, flower; only in the second: "
                        "build, house")
    assert lines[1] == "answers: 'shovel' (0.700) vs 'hammer' (0.500)"
    assert lines[2] == "probability change from the first to the second context: shovel -0.300, hammer +0.300, ladder +0.000"
    assert lines[3] == "shovel: path shown only in the first context (drop +0.600): dig <-UsedFor-- shovel"
    assert lines[4] == ("The context changes the answer: 'shovel' (p = 0.700) in the first, 'hammer' "
                        "(p = 0.500) in the second. Probabilities (first / second context): hammer 0.200 / "
                        "0.500, shovel 0.700 / 0.400, ladder 0.100 / 0.100.")
    out = _text(print_comparison, [a, b])
    assert "answer: shovel" in out and "answer: hammer" in out


def test_comparison_says_plainly_when_the_answer_does_not_change():
    a, b = hand_explanation(), hand_explanation()
    b.probabilities = [0.5, 0.3, 0.2]
    assert comparison_lines([a, b])[-1] == (
        "The model answers 'shovel' in both contexts (p = 0.700 / 0.500): the context does not change "
        "its answer. Probabilities (first / second context): shovel 0.700 / 0.500, hammer 0.200 / 0.300, "
        "ladder 0.100 / 0.200.")


def test_html_embeds_the_data_and_the_code():
    exp = hand_explanation()
    exp.question = "What is </script><b>bold</b>?"
    page = render_html(exp)
    assert page.count("</script>") == 2  # the data cannot close its script element
    data = json.loads(re.search(r'id="kgqa-data">(.*?)</script>', page, flags=re.S).group(1))
    assert data[0]["question"] == exp.question and len(data) == 1
    assert "&lt;/script&gt;" in page.split("<body")[1].split("<script")[0]  # escaped in the header
    assert "window.kgqaRendered" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert 'id="kgqa-compare-data"' not in page  # one explanation: nothing to compare
    two = render_html([exp, hand_explanation()])
    diff = json.loads(re.search(r'id="kgqa-compare-data">(.*?)</script>', two, flags=re.S).group(1))
    assert diff["same_answer"] is True and diff["closing"].startswith("The model answers 'shovel' in both")


def test_index_page_counts_and_accuracy():
    rows = [{"href": "a.html", "id": "a", "question": "q1", "prediction": "x", "probability": 0.5, "gold": "x"},
            {"href": "b.html", "id": "b", "question": "q2", "prediction": "y", "probability": 0.6, "gold": "z"}]
    page = render_index(rows)
    assert 'data-questions="2"' in page and "accuracy 0.500 on 2 questions" in page
    assert page.count("<tr>") == 3 and "✗ (gold: z)" in page


@pytest.mark.parametrize("suffix, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_static_figure(tmp_path, suffix, magic):
    path = render_static(hand_explanation(), tmp_path / f"fig.{suffix}")
    data = path.read_bytes()
    assert data.startswith(magic) and len(data) > 5000
    if suffix == "svg":
        text = data.decode()
        for word in ("UsedFor", "garden", "shovel", "hammer", "question concept", "edges of the shown paths",
                     "+0.600     dig &lt;-UsedFor- - shovel", "[negated: NotCapableOf]"):  # "--" is "- -" in SVG comments
            assert word in text
    if suffix == "png":
        from PIL import Image

        assert Image.open(path).size[0] > Image.open(path).size[1]  # two choices side by side


def test_bad_output_paths(tmp_path):
    exp = hand_explanation()
    with pytest.raises(KGQAError, match=r"\[E015\].*\.png, \.svg or \.pdf"):
        render_static(exp, tmp_path / "fig.gif")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(KGQAError, match=r"\[E014\] Output path '.*file' is not writable: it is a file"):
        write_html(exp, blocker / "page.html")
    with pytest.raises(KGQAError, match=r"\[E014\].*is a directory"):
        write_html(exp, tmp_path)
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(KGQAError, match=r"\[E014\]"):
            write_html(exp, locked / "page.html")

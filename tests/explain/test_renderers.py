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
    assert "0.600  dig <-UsedFor-- shovel" in out
    assert "0.300  flower --AtLocation--> garden <-AtLocation-- shovel" in out
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
    lines = comparison_lines([a, b])
    assert lines[0] == ("linked only in the first question: plant, flower; only in the second: "
                        "build, house")
    assert lines[1] == "answers: 'shovel' (0.700) vs 'hammer' (0.500)"
    assert lines[2] == "probability change from the first to the second context: shovel -0.300, hammer +0.300, ladder +0.000"
    out = _text(print_comparison, [a, b])
    assert "answer: shovel" in out and "answer: hammer" in out


def test_html_embeds_the_data_and_the_code():
    exp = hand_explanation()
    exp.question = "What is </script><b>bold</b>?"
    page = render_html(exp)
    assert page.count("</script>") == 2  # the data cannot close its script element
    data = json.loads(re.search(r'id="kgqa-data">(.*?)</script>', page, flags=re.S).group(1))
    assert data[0]["question"] == exp.question and len(data) == 1
    assert "&lt;/script&gt;" in page.split("<body")[1].split("<script")[0]  # escaped in the header
    assert "window.kgqaRendered" in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")


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
        for word in ("UsedFor", "garden", "shovel", "hammer", "question concept"):
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

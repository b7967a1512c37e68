"""The explanation page as a person sees it: opened in headless Chromium, offline.

Chromium (Debian's ``chromium`` package; the set-up/CI script installs it) loads the generated
file with every network route pointed at a closed port, so the page must render from what it
holds. ``--dump-dom`` after a virtual-time budget gives the DOM after the script ran: the number
of node circles and edge paths drawn must equal the explanation's data, for each choice
(selected with the page's ``#choice=K`` fragment). ``--screenshot`` must not be blank: its pixels
vary and the question/answer colours are on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kgqa.explain.html import write_html
from tests.explain.fixtures import hand_explanation

pytestmark = pytest.mark.browser

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    env = os.environ.get("KGQA_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = find_chromium()
requires_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")


def run_chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            # offline: any http(s) request goes to a closed port and fails
            "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
            "--hide-scrollbars", "--window-size=1400,1000", "--virtual-time-budget=5000", *extra, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=90)


def dump_dom(page: Path, tmp_path: Path, fragment: str = "") -> str:
    result = run_chromium(page.as_uri() + fragment, tmp_path / f"profile-dom{len(fragment)}", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def drawn_counts(dom: str) -> list[dict[str, int]]:
    """Per graph ``<svg>``: its data attributes and the elements really in it."""
    out = []
    for match in re.finditer(r"<svg[^>]*class=\"graph\"[^>]*>(.*?)</svg>", dom, flags=re.S):
        tag = match.group(0)[:match.group(0).index(">") + 1]
        body = match.group(1)
        attrs = dict(re.findall(r"data-(nodes|edges|choice)=\"(\d+)\"", tag))
        out.append({"attr_nodes": int(attrs["nodes"]), "attr_edges": int(attrs["edges"]),
                    "choice": int(attrs["choice"]),
                    "circles": len(re.findall(r"<circle[^>]*class=\"node\"", body)),
                    "paths": len(re.findall(r"<path[^>]*class=\"edge", body))})
    return out


def test_page_is_self_contained(tmp_path):
    page = write_html(hand_explanation(), tmp_path / "page.html")
    text = page.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)  # nothing fetched
    assert "<link" not in text and "@import" not in text
    data = json.loads(re.search(r'<script type="application/json" id="kgqa-data">(.*?)</script>', text,
                                flags=re.S).group(1))
    assert [len(c["nodes"]) for c in data[0]["per_choice"]] == [5, 3, 0]


@requires_chromium
@pytest.mark.parametrize("choice, nodes, edges", [(None, 5, 5), (1, 3, 2), (2, 0, 0)])
def test_rendered_counts_match_the_data(tmp_path, choice, nodes, edges):
    explanation = hand_explanation()
    page = write_html([explanation, explanation], tmp_path / "page.html")
    dom = dump_dom(page, tmp_path, "" if choice is None else f"#choice={choice}")
    assert 'data-rendered="true"' in dom
    counts = drawn_counts(dom)
    assert len(counts) == 2  # two panels side by side
    shown = explanation.predicted if choice is None else choice
    expected = explanation.counts(shown)
    assert (expected["nodes"], expected["edges"]) == (nodes, edges)
    for panel in counts:
        assert panel == {"attr_nodes": nodes, "attr_edges": edges, "choice": shown,
                         "circles": nodes, "paths": edges}
    # relation labels on the edges, and hover text (SVG titles) with the scores
    if edges:
        assert dom.count(">UsedFor</text>" if shown == 0 else ">IsA</text>") == 2
        assert "attention 0.400" in dom if shown == 0 else "attention 0.500" in dom
    else:
        assert "no graph evidence" in dom
    # the edges of the shown paths are highlighted, the paths listed with their occlusion effect
    on_path = sum(e.path_rank is not None for e in explanation.per_choice[shown].edges)
    assert len(re.findall(r'<path[^>]*class="edge onpath', dom)) == 2 * on_path
    if shown == 0:
        assert dom.count('<span class="t">dig &lt;-UsedFor-- shovel</span>') == 2
        assert dom.count('<span class="s">shovel is used to dig</span>') == 2
    if shown == 1:
        assert dom.count('<span class="neg">negated: NotCapableOf</span>') == 2
        assert dom.count('class="edge onpath negated"') == 2
    # two explanations of the same choices: what differs between them, and the closing note
    assert dom.count('id="kgqa-compare"') == 1 and "The model answers 'shovel' in both contexts" in dom


@requires_chromium
def test_notes_are_shown(tmp_path):
    explanation = hand_explanation()
    explanation.notes = ["the question was not linked to the graph (text too long: 10,001 characters)",
                         "choices 1 and 3 are the same answer ('shovel'): they are scored alike"]
    dom = dump_dom(write_html(explanation, tmp_path / "page.html"), tmp_path)
    assert ('<div class="message note">note: the question was not linked to the graph (text too long: '
            '10,001 characters)</div><div class="message note">note: choices 1 and 3') in dom


@requires_chromium
def test_screenshot_is_not_blank(tmp_path):
    from PIL import Image, ImageStat

    page = write_html(hand_explanation(), tmp_path / "page.html")
    shot = tmp_path / "page.png"
    result = run_chromium(page.as_uri(), tmp_path / "profile-shot", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1000)
    assert max(ImageStat.Stat(image.convert("L")).stddev) > 10  # not one flat colour

    import numpy as np

    pixels = np.asarray(image).astype(int)

    def count(rgb, tol=40):
        return int((np.abs(pixels - np.array(rgb)).max(axis=-1) <= tol).sum())

    question, answer, other = count((0x1F, 0x77, 0xB4)), count((0xD6, 0x27, 0x28)), count((0x2C, 0xA0, 0x2C))
    assert question > 150 and answer > 300 and other > 150  # the coloured nodes are drawn
    keep = os.environ.get("KGQA_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


@requires_chromium
def test_model_explanation_renders_its_counts(tmp_path, answerers):
    """A page from a real (tiny) KagNet answer: every panel draws what its data holds."""
    from tests.explain.conftest import CHOICES, QUESTION

    results = answerers["kagnet"].answer_many([QUESTION, "Where do flowers grow?"],
                                              [CHOICES, ["garden", "tool", "hammer"]])
    explanations = [r.explanation for r in results]
    page = write_html(explanations, tmp_path / "model.html")
    counts = drawn_counts(dump_dom(page, tmp_path))
    assert len(counts) == 2
    for exp, panel in zip(explanations, counts):
        expected = exp.counts(exp.predicted)
        assert expected["nodes"] > 0
        assert panel == {"attr_nodes": expected["nodes"], "attr_edges": expected["edges"],
                         "choice": exp.predicted, "circles": expected["nodes"], "paths": expected["edges"]}

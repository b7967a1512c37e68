"""Explaining many dataset questions: one question that fails never costs the others their pages."""

from __future__ import annotations

import json

import pytest

from kgqa.data import load_dataset
from kgqa.errors import KGQAError
from kgqa.explain.batch import explain_dataset, select_examples
from kgqa.explain.files import page_name, unique_page_names
from tests.training.toys import write_csqa_fixture


def test_one_failing_question_is_reported_and_skipped(tmp_path, answerers, monkeypatch):
    data = write_csqa_fixture(tmp_path / "csqa")
    answerer = answerers["lm"]
    answer_batch = answerer._answer_batch
    failing = select_examples(load_dataset(str(data), "dev"), ["dev02"])[0].question

    def flaky(questions, choices, **kwargs):
        if failing in questions:
            raise RuntimeError("boom")
        return answer_batch(questions, choices, **kwargs)

    monkeypatch.setattr(answerer, "_answer_batch", flaky)
    with pytest.warns(UserWarning, match=r"\[W140\] 1 of 4 questions could not be answered or written and were "
                                         r"skipped \(the others were written\); first: dev02: RuntimeError: boom"):
        written = explain_dataset(str(data), "dev", limit=None, out_dir=tmp_path / "out", model=answerer)
    assert [r.id for r in written.results] == ["dev00", "dev01", "dev03"]
    assert [p.name for p in written.pages] == ["dev00.html", "dev01.html", "dev03.html"]
    assert written.failed == [{"id": "dev02", "question": failing, "error": "RuntimeError: boom"}]
    assert [e["id"] for e in json.loads((tmp_path / "out" / "explanations.json").read_text())] == \
        ["dev00", "dev01", "dev03"]
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'data-questions="3" data-skipped="1"' in index and "skipped: RuntimeError: boom" in index


def test_bad_limit_is_a_coded_error(tmp_path):
    data = load_dataset(str(write_csqa_fixture(tmp_path)), "dev")
    with pytest.raises(KGQAError, match=r"\[E141\] explain_dataset\(\): limit must be None or a whole number >= 0"):
        select_examples(data, limit=-1)
    assert len(select_examples(data, limit=0)) == len(select_examples(data, limit=None)) == 4


def test_page_names_are_unique():
    assert page_name("Что копает?").startswith("question-") and page_name("Что копает?") != page_name("Кто копает?")
    assert unique_page_names(["Q-1", "q_1", "dev01", "dev01"]) == [
        page_name("Q-1", 80), "q_1", "dev01", "dev01-2"]
    assert page_name("Q-1", 80).startswith("q_1-") and len(page_name("Q-1", 80)) == len("q_1-") + 8

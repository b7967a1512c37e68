"""Answering and explaining with a causal LM: knowledge in the prompt, occlusion, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from kgqa.errors import KGQAError
from kgqa.llm.answer import LLMAnswerer, load_llm_answerer, parse_llm_model
from kgqa.models.llm import CausalLMConfig, CausalLMScorer
from kgqa.retrieval.config import RetrievalConfig
from tests.conftest import cli_text
from tests.llm.conftest import CHOICES, QUESTION


def answerer(tiny_llama, toy_kg, toy_linker, **config) -> LLMAnswerer:
    model, tokenizer = tiny_llama
    scorer = CausalLMScorer(CausalLMConfig(model="tiny", mixed_precision="no", **config), model=model,
                            tokenizer=tokenizer)
    return LLMAnswerer(scorer, kg=toy_kg, retrieval=RetrievalConfig(ranker="degree"), linker=toy_linker)


@pytest.mark.parametrize("mode", ["shared", "per_choice"])
def test_occlusion_is_the_score_change_without_each_sentence(tiny_llama, toy_kg, toy_linker, mode):
    a = answerer(tiny_llama, toy_kg, toy_linker, knowledge=mode, knowledge_sentences=2, scoring="sum")
    result = a.answer(QUESTION, CHOICES)
    assert result.knowledge_mode == mode and result.occlusion
    scores = torch.tensor(result.logits)
    if mode == "shared":
        assert len(result.knowledge) == 2 and "shovel is found at garden" in result.knowledge[0]
        assert all(p.startswith("Facts: ") for p in result.prompts)
    else:
        assert result.knowledge[2] == [] and result.prompts[2].startswith("Question: ")
    for item in result.occlusion:
        if mode == "shared":
            kept = [[t for t in result.knowledge if t != item.text]]
        else:
            kept = [[[t for t in texts if not (c == item.choice and t == item.text)]
                     for c, texts in enumerate(result.knowledge)]]
        without = a.scorer.score([QUESTION], [CHOICES], kept).logits[0]
        assert item.change == pytest.approx((without - scores).tolist(), abs=1e-4)
        if mode == "per_choice":  # only the owner's prompt changed
            assert [c for c, d in enumerate(item.change) if abs(d) > 1e-6] in ([item.choice], [])
    plain = answerer(tiny_llama, toy_kg, toy_linker, knowledge="none")
    assert plain.answer(QUESTION, CHOICES).occlusion == []


def test_llm_model_strings():
    values, shots_from = parse_llm_model("llm:gemma-3-270m,calibrate=true,shots=5,knowledge=per_choice,"
                                         "shots_from=csqa:ih_train")
    assert values == {"model": "gemma-3-270m", "calibrate": True, "shots": 5, "knowledge": "per_choice"}
    assert shots_from == "csqa:ih_train"
    with pytest.raises(KGQAError, match=r"\[E232\]"):
        parse_llm_model("llm:")
    with pytest.raises(KGQAError, match=r"\[E231\].*'temperature=1'"):
        parse_llm_model("llm:x,temperature=1")
    with pytest.raises(KGQAError, match=r"\[E231\].*yes/no"):
        parse_llm_model("llm:x,calibrate=maybe")


def test_answer_and_explain_commands(tiny_llama_dir, toy_kg, tmp_path):
    from kgqa.cli import app

    runner = CliRunner()
    model = f"llm:{tiny_llama_dir},mixed_precision=no"
    result = runner.invoke(app, ["answer", QUESTION, "--model", model, "--graph", str(toy_kg.path),
                                 "--json", "--choices", *CHOICES])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{"):])
    assert data["model"] == f"llm:{tiny_llama_dir}" and len(data["ranked"]) == 3
    assert len(data["knowledge"]) == 3 and all("shovel" in t or "hammer" in t for t in data["knowledge"])
    result = runner.invoke(app, ["explain", QUESTION, "--model", model, "--graph", str(toy_kg.path),
                                 "--out", str(tmp_path), "--choices", *CHOICES])
    assert result.exit_code == 0, result.output
    text = cli_text(result)
    assert "knowledge given (all choices)" in text and f"- {data['knowledge'][0]}" in text
    assert "score change when each sentence is removed" in text
    saved = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert len(saved["occlusion"]) == len(saved["knowledge"]) == 3
    result = runner.invoke(app, ["answer", QUESTION, "--model", "llm:", "--choices", *CHOICES])
    assert result.exit_code == 1 and "[E232]" in cli_text(result)


def test_public_answer_accepts_llm_models(tiny_llama_dir, toy_kg):
    import kgqa

    a = load_llm_answerer(f"llm:{tiny_llama_dir},knowledge=none", graph=toy_kg)
    assert a.kg is None and a.config.knowledge == "none"
    result = kgqa.answer(QUESTION, CHOICES, model=a)
    assert result.prediction in CHOICES and result.knowledge == []

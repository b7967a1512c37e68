"""``kgqa llm eval``: the experiment configs are valid and run end to end on 5 questions with a
tiny model on the toy graph, writing a results.json that ``kgqa results`` reads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kgqa.data.records import QADataset, QAExample
from kgqa.errors import KGQAError
from kgqa.llm.evaluate import evaluate_llm, load_llm_config
from kgqa.training.results import RunResult, render_results_markdown

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "experiments" / "llm").glob("*.yaml"))


def toy_splits() -> dict:
    def split(name, n, offset):
        return QADataset(name="toy", split=name, examples=tuple(
            QAExample(id=f"{name}{i}", question=q, choices=("shovel", "hammer", "ladder"), label=(i + offset) % 3)
            for i, q in enumerate(["A man dug the ground to plant flowers. What tool did he use?",
                                   "What tool is used to dig in the garden?", "What do you use on a nail?",
                                   "Where do flowers grow?", "What is a shovel?", "What tool digs?"][:n])))

    return {"train": split("train", 6, 0), "dev": split("ih_dev", 5, 1), "test": split("ih_test", 5, 2)}


def test_the_experiment_configs_are_valid():
    assert len(CONFIGS) == 6
    seen = set()
    for path in CONFIGS:
        cfg = load_llm_config(path)
        kwargs = cfg["model"]["kwargs"]
        seen.add((kwargs["calibrate"], kwargs["shots"], kwargs["knowledge"]))
        assert cfg["name"] == path.stem and kwargs["model"] == "gemma-3-270m"
    assert seen == {(c, s, k) for c, s in ((False, 0), (True, 0), (False, 5)) for k in ("none", "shared")}


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E231\].*unknown key 'trainig'"):
        load_llm_config({"name": "x", "trainig": {}})
    with pytest.raises(KGQAError, match=r"\[E231\].*expected llm"):
        load_llm_config({"name": "x", "model": {"name": "qagnn"}})
    with pytest.raises(KGQAError, match=r"\[E231\].*scoring="):
        load_llm_config({"name": "x", "model": {"name": "llm", "kwargs": {"scoring": "max"}}})


def test_a_config_runs_on_five_questions_and_writes_results(tmp_path, tiny_llama, toy_kg):
    cfg = yaml.safe_load(CONFIGS[1].read_text())  # 5-shot with knowledge
    assert cfg["model"]["kwargs"]["shots"] == 5 and cfg["model"]["kwargs"]["knowledge"] == "shared"
    cfg["model"]["kwargs"]["mixed_precision"] = "no"
    cfg["graph"]["retrieval"] = {"ranker": "degree"}
    model, tokenizer = tiny_llama
    result = evaluate_llm(cfg, limit=5, out_dir=tmp_path, dataset=toy_splits(), graph=toy_kg,
                          model=model, tokenizer=tokenizer)
    assert set(result.metrics) == {"ih_dev", "ih_test"}
    assert all(m["num_questions"] == 5 and 0 <= m["accuracy"] <= 1 for m in result.metrics.values())
    assert len(result.training["shots"]) == 5 and result.regime == "prompt" and result.model == "llm"
    saved = RunResult.load(tmp_path / cfg["name"] / "seed-0" / "results.json")
    assert saved.metrics == result.metrics and saved.checksums["graph"]["checksum"] == toy_kg.checksum
    again = evaluate_llm(cfg, limit=5, out_dir=tmp_path / "again", dataset=toy_splits(), graph=toy_kg,
                         model=model, tokenizer=tokenizer)
    assert again.training["shots"] == result.training["shots"]  # same seed, same examples
    assert again.metrics["ih_test"]["accuracy"] == result.metrics["ih_test"]["accuracy"]
    table = render_results_markdown([saved])
    assert f"| {cfg['name']} | llm | prompt | gemma-3-270m |" in table


def test_several_configs_load_the_model_once_and_reuse_scored_prompts(tmp_path, tiny_llama, monkeypatch):
    import kgqa.models.llm as llm_module
    from kgqa.llm.evaluate import evaluate_llm_configs

    loads = []

    def fake_load(name, *, gguf_file=None):
        loads.append(name)
        return tiny_llama

    monkeypatch.setattr(llm_module, "load_causal_lm", fake_load)
    plain, calibrated = (yaml.safe_load(CONFIGS[i].read_text()) for i in (4, 2))
    assert (plain["model"]["kwargs"]["calibrate"], calibrated["model"]["kwargs"]["calibrate"]) == (False, True)
    assert plain["model"]["kwargs"]["knowledge"] == calibrated["model"]["kwargs"]["knowledge"] == "none"
    for cfg in (plain, calibrated):
        cfg["model"]["kwargs"]["mixed_precision"] = "no"
    first, second = evaluate_llm_configs([plain, calibrated], limit=5, out_dir=tmp_path, dataset=toy_splits())
    assert loads == ["gemma-3-270m"]
    assert "load" in first.timings and "load" not in second.timings  # loaded once, for the first
    # the toy dev and test splits ask the same five questions: the test split is read from the memo
    assert first.training["memo_questions"] == 5 and second.training["memo_questions"] == 10
    alone = evaluate_llm(calibrated, limit=5, out_dir=tmp_path / "alone", dataset=toy_splits(),
                         model=tiny_llama[0], tokenizer=tiny_llama[1])
    assert alone.training["memo_questions"] == 0  # no memo unless one is given
    assert second.metrics["ih_test"]["predictions"] == alone.metrics["ih_test"]["predictions"]

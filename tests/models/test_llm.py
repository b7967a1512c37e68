"""The causal-LM scorer (``llm``) on tiny random GPT-2 and Llama models built in code: scores
against a hand computation of the log-likelihoods, padding side, prompt caching, k-shot draws."""

from __future__ import annotations

import math

import pytest
import torch

from kgqa.errors import KGQAError
from kgqa.models.llm import (CausalLMConfig, CausalLMScorer, Shot, build_prompt, load_causal_lm,
                             resolve_llm, select_shots)

QUESTIONS = ["Where would you put ice cream?", "What tool is used to dig in the garden?"]
CHOICES = [["freezer", "library", "book"], ["shovel", "cat", "a dog at home"]]


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def tiny_lm(request, tmp_path_factory):
    from kgqa.backbones.tiny import save_tiny_causal_lm

    path = save_tiny_causal_lm(request.param, tmp_path_factory.mktemp(request.param) / "lm")
    model, tokenizer = load_causal_lm(str(path))
    return model, tokenizer


def scorer(tiny_lm, **config) -> CausalLMScorer:
    model, tokenizer = tiny_lm
    config.setdefault("mixed_precision", "no")
    return CausalLMScorer(CausalLMConfig(model="tiny", **config), model=model, tokenizer=tokenizer)


def hand_loglik(model, tokenizer, prompt: str, continuation: str) -> tuple[float, int]:
    """Summed log P of the continuation tokens, one unpadded forward pass, full logits."""
    context = tokenizer(prompt)["input_ids"]
    whole = tokenizer(prompt + continuation)["input_ids"]
    assert whole[:len(context)] == context
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([whole])).logits[0].double()
    logp = torch.log_softmax(logits, dim=-1)
    total = sum(float(logp[t - 1, whole[t]]) for t in range(len(context), len(whole)))
    return total, len(whole) - len(context)


def test_scores_match_hand_computation(tiny_lm):
    model, tokenizer = tiny_lm
    for scoring in ("sum", "mean"):
        out = scorer(tiny_lm, scoring=scoring).score(QUESTIONS, CHOICES)
        assert out.logits.shape == (2, 3)
        for b, question in enumerate(QUESTIONS):
            prompt = f"Question: {question}\nAnswer:"
            assert out.prompts[b] == [prompt] * 3
            for c, choice in enumerate(CHOICES[b]):
                total, n = hand_loglik(model, tokenizer, prompt, " " + choice)
                assert out.num_tokens[b, c] == n
                assert out.loglik[b, c].item() == pytest.approx(total, abs=1e-4)
                expected = total if scoring == "sum" else total / n
                assert out.logits[b, c].item() == pytest.approx(expected, abs=1e-4)


def test_calibrated_is_domain_conditional_pmi(tiny_lm):
    model, tokenizer = tiny_lm
    out = scorer(tiny_lm, calibrate=True).score(QUESTIONS, CHOICES)
    for b, question in enumerate(QUESTIONS):
        for c, choice in enumerate(CHOICES[b]):
            total, _ = hand_loglik(model, tokenizer, f"Question: {question}\nAnswer:", " " + choice)
            neutral, _ = hand_loglik(model, tokenizer, "Answer:", " " + choice)
            assert out.neutral_loglik[b, c].item() == pytest.approx(neutral, abs=1e-4)
            assert out.logits[b, c].item() == pytest.approx(total - neutral, abs=1e-4)


def test_padding_side_batching_and_prompt_cache_do_not_change_scores(tiny_lm):
    model, tokenizer = tiny_lm
    reference = scorer(tiny_lm, batch_size=1, cache_prompt=False, scoring="sum").score(QUESTIONS, CHOICES)
    for side in ("left", "right"):
        tokenizer.padding_side = side
        for batch_size, cache in ((16, False), (16, True), (2, False)):
            out = scorer(tiny_lm, batch_size=batch_size, cache_prompt=cache, scoring="sum").score(
                QUESTIONS, CHOICES)
            torch.testing.assert_close(out.loglik, reference.loglik, atol=1e-4, rtol=0)
    tokenizer.padding_side = "left"
    # choices of different token lengths really were padded in one batch
    assert len(set(reference.num_tokens.view(-1).tolist())) > 1


def test_a_shared_memo_gives_the_same_scores_without_running_the_model(tiny_lm):
    model, tokenizer = tiny_lm
    memo: dict = {}
    first = CausalLMScorer(CausalLMConfig(model="tiny", mixed_precision="no", scoring="sum"), model=model,
                           tokenizer=tokenizer, memo=memo)
    plain = first.score(QUESTIONS, CHOICES)
    assert first.memo_questions == 0 and len(memo) == 6
    calibrated = CausalLMScorer(CausalLMConfig(model="tiny", mixed_precision="no", calibrate=True), model=model,
                                tokenizer=tokenizer, memo=memo)
    calls = []
    hook = model.base_model.register_forward_hook(lambda *args: calls.append(1))
    try:
        out = calibrated.score(QUESTIONS, CHOICES)
        neutral_calls = len(calls)
        fresh = scorer(tiny_lm, calibrate=True).score(QUESTIONS, CHOICES)
    finally:
        hook.remove()
    assert calibrated.memo_questions == 2
    torch.testing.assert_close(out.loglik, plain.loglik, atol=0, rtol=0)
    torch.testing.assert_close(out.logits, fresh.logits, atol=1e-4, rtol=0)
    assert neutral_calls == 1  # one batch of the six neutral prompts; no question prompt ran
    # another question misses the memo; gradient scoring never reads or fills it
    calibrated.score(["Where do cats sleep?"], [["bed", "sky", "sea"]])
    assert calibrated.memo_questions == 2 and len(memo) == 9
    calibrated.score(QUESTIONS, CHOICES, grad=True)
    assert calibrated.memo_questions == 2 and len(memo) == 9


def test_per_choice_knowledge_prompts_and_scores(tiny_lm):
    model, tokenizer = tiny_lm
    knowledge = [[["freezer is used to keep ice cream cold", "x"], [], ["book is found at library"]],
                 [["shovel is used to dig"], ["cat is found at home"], []]]
    s = scorer(tiny_lm, knowledge="per_choice", knowledge_sentences=1, scoring="sum")
    out = s.score(QUESTIONS, CHOICES, knowledge)
    assert out.prompts[0][0] == ("Facts: Freezer is used to keep ice cream cold.\n"
                                 "Question: Where would you put ice cream?\nAnswer:")
    assert out.prompts[0][1] == "Question: Where would you put ice cream?\nAnswer:"
    total, _ = hand_loglik(model, tokenizer, out.prompts[1][0], " shovel")
    assert out.loglik[1, 0].item() == pytest.approx(total, abs=1e-4)
    shared = scorer(tiny_lm, knowledge="shared").score(QUESTIONS, CHOICES, [["a b", "c"], ["d"]])
    assert shared.prompts[0] == ["Facts: A b. C.\nQuestion: Where would you put ice cream?\nAnswer:"] * 3


def test_kshot_draws_are_deterministic_for_a_seed():
    from kgqa.data.records import QAExample

    pool = [QAExample(id=f"t{i}", question=f"q{i}?", choices=("a", "b", "c"), label=i % 3) for i in range(40)]
    first = select_shots(pool, 5, seed=3)
    assert [s.id for s in first] == [s.id for s in select_shots(pool, 5, seed=3)]
    assert [s.id for s in first] != [s.id for s in select_shots(pool, 5, seed=4)]
    assert first[0].answer == pool[int(first[0].id[1:])].choices[int(first[0].id[1:]) % 3]
    assert "t7" not in {s.id for s in select_shots(pool, 39, seed=0, exclude=["t7"])}
    prompt = build_prompt("Q?", shots=first[:2])
    assert prompt == (f"Question: {first[0].question}\nAnswer: {first[0].answer}\n\n"
                      f"Question: {first[1].question}\nAnswer: {first[1].answer}\n\n"
                      "Question: Q?\nAnswer:")
    with pytest.raises(KGQAError, match=r"\[E231\].*only 40"):
        select_shots(pool, 41)


def test_kshot_prompt_is_scored_with_the_shots(tiny_lm):
    model, tokenizer = tiny_lm
    shots = [Shot("Where is the dog?", "home")]
    s = scorer(tiny_lm, scoring="sum")
    s.shots = shots
    out = s.score(QUESTIONS[:1], CHOICES[:1])
    prompt = "Question: Where is the dog?\nAnswer: home\n\nQuestion: Where would you put ice cream?\nAnswer:"
    assert out.prompts[0][0] == prompt
    assert out.loglik[0, 2].item() == pytest.approx(hand_loglik(model, tokenizer, prompt, " book")[0], abs=1e-4)
    assert s._prefix is not None  # the shots' key/value cache was built once and reused
    again = s.score(QUESTIONS, CHOICES)
    s.config.cache_prompt = False
    torch.testing.assert_close(s.score(QUESTIONS, CHOICES).loglik, again.loglik, atol=1e-4, rtol=0)
    assert again.loglik[0, 2].item() == pytest.approx(out.loglik[0, 2].item(), abs=1e-5)


def test_registry_forward_gives_logits_and_loss(tiny_lm):
    from kgqa.models import build_model
    from kgqa.models.base import QABatch

    model, tokenizer = tiny_lm
    net = build_model("llm", {"model": "tiny", "mixed_precision": "no"}, model=model, tokenizer=tokenizer)
    batch = QABatch(ids=["a", "b"], num_choices=3, labels=torch.tensor([0, 0]),
                    extras={"questions": QUESTIONS, "choices": CHOICES})
    out = net(batch)
    assert out.logits.shape == (2, 3) and math.isfinite(float(out.loss))
    with pytest.raises(KGQAError, match=r"\[E231\]"):
        net(QABatch(ids=["a"], num_choices=3))


def test_config_and_loading_errors(tmp_path):
    with pytest.raises(KGQAError, match=r"\[E231\].*scoring='max'"):
        CausalLMConfig(scoring="max")
    with pytest.raises(KGQAError, match=r"\[E231\].*knowledge="):
        CausalLMConfig(knowledge="all")
    with pytest.raises(KGQAError, match=r"\[E180\].*kgqa backbones install gemma-3-270m"):
        resolve_llm("gemma-3-270m")
    with pytest.raises(KGQAError, match=r"\[E230\].*no such GGUF"):
        resolve_llm(tmp_path / "missing.gguf")
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert resolve_llm(tmp_path / "m.gguf") == (str(tmp_path), "m.gguf")
    assert resolve_llm("org/model") == ("org/model", None)
    with pytest.raises(KGQAError, match=r"\[E230\]"):
        load_causal_lm(tmp_path)  # a folder with no model


def test_lora_trains_only_the_adapters(tmp_path):
    """LoRA through peft (optional: skipped without it) on a fresh tiny Llama."""
    pytest.importorskip("peft")
    from kgqa.backbones.tiny import save_tiny_causal_lm
    from kgqa.models.base import QABatch
    from kgqa.models.llm import add_lora

    model, tokenizer = load_causal_lm(str(save_tiny_causal_lm("llama", tmp_path / "lm")))
    s = CausalLMScorer(CausalLMConfig(model="tiny", mixed_precision="no", scoring="sum"), model=model,
                       tokenizer=tokenizer)
    before = s.score(QUESTIONS, CHOICES).logits
    frozen = {n: p.detach().clone() for n, p in s.lm.named_parameters()}
    add_lora(s, r=4, alpha=8, dropout=0.0)
    trainable = [p for p in s.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 0.2 * sum(p.numel() for p in s.parameters())
    torch.testing.assert_close(s.score(QUESTIONS, CHOICES).logits, before)  # B = 0 at the start
    batch = QABatch(ids=["a", "b"], num_choices=3, labels=torch.tensor([0, 0]),
                    extras={"questions": QUESTIONS, "choices": CHOICES})
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    s.train()
    losses = []
    for _ in range(5):
        loss = s(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    s.eval()
    assert losses[-1] < losses[0]
    after = {n.replace(".base_layer", ""): p for n, p in s.lm.named_parameters() if "lora_" not in n}
    assert after.keys() == frozen.keys()
    for name, value in frozen.items():  # the base weights never moved
        torch.testing.assert_close(after[name].detach(), value)

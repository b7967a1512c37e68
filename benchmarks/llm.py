"""Benchmark: a causal LM answering CommonsenseQA by likelihood on the CPU (``kgqa.models.llm``).

The model is loaded once (``load_s``: for the GGUF ``gemma-3-270m``, dequantising the Q4_K_M
file to float32) and warmed up on ``--warmup`` IHdev questions (untimed); then the first ``--questions`` IHtest questions are answered with each
setting, one question per call (``seconds_per_question``; the graph knowledge setting includes
linking and retrieval, its first question also builds the linker and the retriever, so
``first_question_s`` is given apart and the per-question median excludes nothing):

* ``zero_shot``: "Question: ...\\nAnswer:" + " {choice}", mean token log-likelihood;
* ``five_shot``: 5 solved IH-train questions (seed 0) before it (prompt cached once per question
  and shared by the 5 choices);
* ``knowledge``: zero-shot with the top 3 retrieved graph paths of the default graph as
  sentences before the question;
* ``calibrated``: zero-shot with domain-conditional PMI (one more pass per distinct choice).

``link_and_retrieve_s_median`` is the knowledge setting's linking + retrieval + sentence
writing (with the ``relevance`` ranker embedding concept names lazily when the graph's name
table is not cached). The accuracy on so few questions is printed for orientation only, not as a result. Peak RSS is
the whole process's (model, graph, linker, MiniLM ranker).

    python benchmarks/llm.py [--model gemma-3-270m] [--questions 10] [--threads 2]
                             [--out benchmarks/results/llm.json]

Needs ``kgqa backbones install gemma-3-270m`` and the ``gguf`` package for the default model;
any hub id or directory works too. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import machine_info, peak_rss_mb  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--settings", default="zero_shot,five_shot,knowledge,calibrated")
    parser.add_argument("--warmup", type=int, default=5, help="IHdev questions scored first, untimed")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    import dataclasses

    import torch

    from kgqa.data import load_dataset
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.llm.answer import LLMAnswerer
    from kgqa.models.llm import CausalLMConfig, CausalLMScorer, select_shots
    from kgqa.utils.precision import resolve_mixed_precision

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    base = CausalLMScorer(CausalLMConfig(model=args.model))
    load_s = time.perf_counter() - t0
    test = load_dataset("csqa", "ih_test").examples[:args.questions]
    train = load_dataset("csqa", "ih_train").examples
    kg = KnowledgeGraph.load("default")
    settings = {"zero_shot": {}, "five_shot": {"shots": 5}, "knowledge": {"knowledge": "shared"},
                "calibrated": {"calibrate": True}}
    out = {"benchmark": "llm", "model": args.model, "questions": len(test), "threads": args.threads,
           "mixed_precision": resolve_mixed_precision(base.config.mixed_precision),
           "parameters": sum(p.numel() for p in base.lm.parameters()), "load_s": round(load_s, 2),
           "settings": {}}
    # warm-up, not timed: oneDNN builds its (bf16) kernels for each new shape on first use, which
    # made whichever setting ran first look several times slower
    dev = load_dataset("csqa", "ih_dev").examples[:args.warmup]
    if dev:
        base.score([ex.question for ex in dev], [list(ex.choices) for ex in dev])
    out["warmup_questions"] = len(dev)
    for name in args.settings.split(","):
        config = dataclasses.replace(base.config, **settings[name])
        scorer = CausalLMScorer(config, model=base.lm, tokenizer=base.tokenizer,
                                shots=select_shots(train, config.shots, seed=config.shot_seed))
        answerer = LLMAnswerer(scorer, kg=kg if config.knowledge != "none" else None)
        times, retrieve, correct = [], [], 0
        for ex in test:
            t0 = time.perf_counter()
            result = answerer.answer_many([ex.question], [list(ex.choices)], labels=[ex.label], explain=False)[0]
            times.append(time.perf_counter() - t0)
            retrieve.append(result.seconds["retrieve"])
            correct += bool(result.correct)
        out["settings"][name] = {
            "seconds_per_question": round(statistics.fmean(times), 3),
            "median_s": round(statistics.median(times), 3),
            "first_question_s": round(times[0], 3),
            "mean_after_first_s": round(statistics.fmean(times[1:]), 3) if len(times) > 1 else None,
            "link_and_retrieve_s_median": round(statistics.median(retrieve), 3),
            "correct": f"{correct}/{len(test)} (orientation only)",
            "prompt_tokens_first_question": len(scorer.tokenizer(result.prompts[0])["input_ids"]),
        }
        print(name, out["settings"][name], file=sys.stderr, flush=True)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    out["machine"] = machine_info()
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

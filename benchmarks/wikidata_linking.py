"""Benchmark: Wikidata entity linking on the CoDEx-M graph against the ERNIE sample's anchors.

The ERNIE sample (100 Wikipedia articles, 16,365 sentences, anchor links to QIDs) is the gold
standard: a linked QID is right when the sentence links it too. Two settings:

``in_sample``
    the graph as its recipe builds it (``kgqa graphs build codex_m``, labels from CoDEx types and
    ERNIE anchors) and the alias table :meth:`WikidataLinker.for_graph` makes from all 100
    articles; scored on ``--sentences`` sentences drawn from all articles. Optimistic: the
    aliases were mined from the very sentences scored.
``held_out``
    CoDEx-M with CoDEx's own labels only (no ERNIE labels), aliases mined from the first
    ``--train-docs`` articles; scored on sentences of the remaining articles.

Each setting is run with MiniLM context (the default linker) and with the priors only
(``encoder=None``). Metrics, over the scored sentences:

* ``sentences_linked``: share with at least one link;
* ``precision_sentence``: links whose QID the sentence links too. Wikipedia links an entity only
  at its first mention in an article, so a right link to a repeated entity counts as wrong here;
  ``precision_article`` counts a link right when the article links that QID anywhere;
* ``precision_on_gold_spans``: links overlapping a gold anchor that pick its QID. Most misses
  here are a shorter name inside a longer anchor to an item the graph lacks (``"azerbaijan"``
  in *Azerbaijan Democratic Republic*), so ``precision_on_graph_gold_spans`` counts only anchors
  whose QID is in the graph (disambiguation accuracy where the linker could be right), and
  ``..._ambiguous_...`` only those whose span had two or more candidates in the graph;
* ``ambiguous_anchors``: over all sentences of the setting (the whole sample, or the held-out
  articles), the anchors whose QID is in the graph and whose text has two or more candidates
  there; accuracy of the top candidate, with and without the MiniLM context;
* ``recall``: gold anchors whose QID is in the graph that are linked (overlapping span, same QID);
  ``candidate_recall`` the same for the right QID being among a detected span's candidates.

    python benchmarks/wikidata_linking.py [--sentences 500] [--train-docs 80] [--seed 0]

Prints one JSON object; the latest run is saved to ``benchmarks/results/wikidata_linking.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import emit, machine_info, peak_rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def recipe_graph(name: str):
    """The graph built by its recipe in KGQA_HOME (built now if missing)."""
    from kgqa.errors import KGQAError
    from kgqa.kg import KnowledgeGraph
    from kgqa.kg.recipes import build_recipe

    try:
        return KnowledgeGraph.load(name)
    except KGQAError:
        return build_recipe(name)


def codex_only_graph(codex_dir: Path, out_dir: Path):
    """CoDEx-M with CoDEx's own labels (entity types, relations) and none mined from ERNIE."""
    from kgqa.kg import GraphBuilder
    from kgqa.kg.importers.codex import read_codex, read_codex_entity_labels, read_codex_relation_labels

    builder = GraphBuilder()
    builder.add_all(read_codex(codex_dir))
    builder.add_labels({q: info.label for q, info in read_codex_entity_labels(codex_dir).items() if info.label})
    builder.relation_labels.update(read_codex_relation_labels(codex_dir))
    return builder.save(out_dir, name="codex_m_codex_labels")


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(linker, sentences, graph_qids: set[str], article_qids: dict[int, set[str]]) -> dict:
    """Link ``sentences`` (AnchoredSentence) and score the links against their anchors."""
    start = time.perf_counter()
    ranked = linker.rank([s.text for s in sentences])
    results = [linker._result(s.text, spans) for s, spans in zip(sentences, ranked)]
    seconds = time.perf_counter() - start
    links = right_sentence = right_article = on_gold = right_on_gold = 0
    on_graph_gold = right_on_graph_gold = ambiguous = right_ambiguous = 0
    gold_in_graph = found = in_candidates = linked_sentences = 0
    for sentence, result, spans in zip(sentences, results, ranked):
        gold = sentence.mentions
        gold_qids = {q for _, _, q in gold}
        linked_sentences += bool(result.mentions)
        choices = {(sp.start, sp.end): len(sp.candidates) for sp in spans}
        for m in result.mentions:
            links += 1
            right_sentence += m.node in gold_qids
            right_article += m.node in article_qids[sentence.doc]
            hits = [q for s, e, q in gold if overlaps((s, e), (m.start, m.end))]
            if hits:
                on_gold += 1
                right_on_gold += m.node in hits
            hits = [q for q in hits if q in graph_qids]
            if hits:
                on_graph_gold += 1
                right_on_graph_gold += m.node in hits
                if choices[(m.start, m.end)] > 1:
                    ambiguous += 1
                    right_ambiguous += m.node in hits
        for s, e, q in gold:
            if q not in graph_qids:
                continue
            gold_in_graph += 1
            found += any(m.node == q and overlaps((s, e), (m.start, m.end)) for m in result.mentions)
            in_candidates += any(overlaps((s, e), (sp.start, sp.end)) and any(c.qid == q for c in sp.candidates)
                                 for sp in spans)
    return {
        "sentences": len(sentences),
        "sentences_linked": round(linked_sentences / max(1, len(sentences)), 4),
        "links": links,
        "links_per_sentence": round(links / max(1, len(sentences)), 3),
        "precision_sentence": round(right_sentence / max(1, links), 4),
        "precision_article": round(right_article / max(1, links), 4),
        "links_on_gold_spans": on_gold,
        "precision_on_gold_spans": round(right_on_gold / max(1, on_gold), 4),
        "links_on_graph_gold_spans": on_graph_gold,
        "precision_on_graph_gold_spans": round(right_on_graph_gold / max(1, on_graph_gold), 4),
        "links_on_ambiguous_graph_gold_spans": ambiguous,
        "precision_on_ambiguous_graph_gold_spans": round(right_ambiguous / max(1, ambiguous), 4),
        "gold_mentions_in_graph": gold_in_graph,
        "recall": round(found / max(1, gold_in_graph), 4),
        "candidate_recall": round(in_candidates / max(1, gold_in_graph), 4),
        "link_s": round(seconds, 3),
        "sentences_per_s": round(len(sentences) / seconds, 1) if seconds else None,
    }


def ambiguous_anchors(linkers: dict, sentences, graph_qids: set[str]) -> dict:
    """Accuracy of the top candidate (before the NIL cut) on every gold anchor whose QID is in
    the graph and whose text has two or more candidates there."""
    from kgqa.linking.alias_table import normalise

    any_linker = next(iter(linkers.values()))
    cases = []
    for i, sentence in enumerate(sentences):
        for start, end, qid in sentence.mentions:
            alias = normalise(sentence.text[start:end])
            if qid in graph_qids and len(any_linker._candidates(alias)[0]) >= 2:
                cases.append((i, start, end, qid))
    rows = sorted({i for i, *_ in cases})
    out: dict = {"anchors": len(cases), "distinct_texts": len({normalise(sentences[i].text[s:e]) for i, s, e, _ in cases})}
    for name, linker in linkers.items():
        ranked = dict(zip(rows, linker.rank([sentences[i].text for i in rows])))
        detected = right = 0
        for i, start, end, qid in cases:
            span = next((sp for sp in ranked[i] if (sp.start, sp.end) == (start, end)), None)
            if span is not None:
                detected += 1
                right += span.best.qid == qid
        out[name] = {"detected": detected, "accuracy": round(right / max(1, detected), 4)}
    return out


def run_setting(graph, table, sentences, article_qids, pool, *, encoder_name="minilm") -> dict:
    from kgqa.linking.wikidata import WikidataLinker

    graph_qids = set(graph.node_names)
    out = {"aliases": len(table), "candidate_items": len(table.qids)}
    linker = WikidataLinker(graph, aliases=table, encoder=encoder_name, cache=False)
    start = time.perf_counter()
    linker.candidate_vectors()
    out["candidate_vectors_s"] = round(time.perf_counter() - start, 2)
    priors = WikidataLinker(graph, aliases=table, encoder=None, cache=False)
    out["minilm"] = evaluate(linker, sentences, graph_qids, article_qids)
    out["priors_only"] = evaluate(priors, sentences, graph_qids, article_qids)
    out["ambiguous_anchors"] = ambiguous_anchors({"minilm": linker, "priors_only": priors}, pool, graph_qids)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", default="codex_m")
    parser.add_argument("--sentences", type=int, default=500)
    parser.add_argument("--train-docs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "wikidata_linking.json"))
    args = parser.parse_args()

    from kgqa.linking.alias_table import AliasTable, read_ernie_sentences
    from kgqa.linking.wikidata import ERNIE_SAMPLE, WikidataLinker
    from kgqa.paths import data_dir

    ernie = data_dir() / ERNIE_SAMPLE
    total_start = time.perf_counter()
    sentences = list(read_ernie_sentences(ernie))
    article_qids: dict[int, set[str]] = {}
    for s in sentences:
        article_qids.setdefault(s.doc, set()).update(q for _, _, q in s.mentions)
    rng = random.Random(args.seed)
    report: dict = {"benchmark": "wikidata_linking", "graph": args.graph, "ernie_sentences": len(sentences),
                    "ernie_mentions": sum(len(s.mentions) for s in sentences), "seed": args.seed}

    # in-sample: the recipe graph and the table for_graph builds from the whole sample
    graph = recipe_graph(args.graph)
    start = time.perf_counter()
    table = AliasTable.for_graph(graph, ernie_sample=ernie, cache=False)
    build_s = time.perf_counter() - start
    defaults = WikidataLinker(graph, aliases=table, encoder=None)
    report["linker"] = {k: getattr(defaults, k) for k in ("nil_threshold", "prior_weight", "anchor_share",
                                                          "min_link_probability", "neighbours", "context_tokens")}
    detected = sum(bool(defaults.detect(s.text)) for s in sentences)
    linked_priors = sum(bool(r.mentions) for r in defaults.link_batch([s.text for s in sentences]))
    sample = rng.sample(sentences, min(args.sentences, len(sentences)))
    report["in_sample"] = {"graph_nodes": graph.num_nodes, "graph_labels": len(graph.node_labels),
                           "alias_table_build_s": round(build_s, 2),
                           "all_sentences_with_a_candidate_span": round(detected / len(sentences), 4),
                           "all_sentences_linked_priors_only": round(linked_priors / len(sentences), 4),
                           **run_setting(graph, table, sample, article_qids, sentences)}

    # held out: CoDEx labels only, aliases from the first train-docs articles
    docs = sorted(article_qids)
    train_docs = set(docs[:args.train_docs])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with gzip.open(ernie, "rt", encoding="utf-8") as src, \
                gzip.open(tmp / "train.jsonl.gz", "wt", encoding="utf-8") as dst:
            for line in src:
                if json.loads(line).get("doc") in train_docs:
                    dst.write(line)
        clean = codex_only_graph(data_dir() / "wikidata" / "codex-m", tmp / "graph")
        held_table = AliasTable.build(clean, ernie_sample=tmp / "train.jsonl.gz")
        test = [s for s in sentences if s.doc not in train_docs]
        test_sample = rng.sample(test, min(args.sentences, len(test)))
        report["held_out"] = {"train_articles": len(train_docs), "test_articles": len(docs) - len(train_docs),
                              "test_sentences": len(test), "graph_labels": len(clean.node_labels),
                              **run_setting(clean, held_table, test_sample, article_qids, test)}

    report["total_s"] = round(time.perf_counter() - total_start, 1)
    report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    report["machine"] = machine_info()
    emit(report, args.out)


if __name__ == "__main__":
    main()

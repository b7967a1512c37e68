"""``kgqa preprocess``: registered on the main app by :func:`register` (imports stay inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def preprocess_command(
        dataset: str = typer.Option("csqa", "--dataset", "-d", help="csqa, obqa or a .jsonl path."),
        graph: str = typer.Option("default", "--graph", "-g", help="Graph name or directory."),
        split: str = typer.Option("all", "--split", "-s", help="all, train, dev, test, ih_train... or a comma list (a .jsonl file is one split)."),
        workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Parallel workers (default: CPU cores)."),
        backend: str = typer.Option("process", "--backend", help="process, ray or serial."),
        ranker: str = typer.Option("relevance", help="Node relevance: relevance (MiniLM cosine), lm (QA-GNN's masked-LM score), degree or random."),
        relevance_lm: str = typer.Option("roberta-large", help="Masked LM of --ranker lm."),
        subgraph: str = typer.Option("bridging", help="bridging (nodes between Q and A) or qagnn (common neighbours of any two concepts)."),
        max_nodes: int = typer.Option(200, min=1, help="Most subgraph nodes per choice."),
        subgraph_hops: int = typer.Option(2, min=0, max=6, help="Bridging nodes v with d(Q,v) + d(v,A) <= this."),
        max_hops: int = typer.Option(3, min=0, max=8, help="Longest KagNet path, in hops."),
        max_paths: int = typer.Option(100, min=0, help="Paths kept per concept pair, shortest first (0 = all)."),
        path_relations: str = typer.Option("first", help="first (one path per node sequence) or all (one per relation combination)."),
        keep_paths: str = typer.Option("all", help="all (every path found, up to --max-paths per pair) or shortest (only each pair's shortest paths, after pruning)."),
        path_scorer: str = typer.Option("none", help="none (keep all paths), auto (newest TransE of the graph) or an embedding directory."),
        path_aggregate: str = typer.Option("mean", help="Path plausibility from its hops: mean or product (KagNet)."),
        node_embeddings: str = typer.Option("auto", help="Relevance ranker: embed all node names once (all), only the ones this job ranks (lazy), or lazy below 2,000 questions (auto)."),
        score_all_nodes: bool = typer.Option(True, help="Score every node of every choice (--no-score-all-nodes: only over the cap)."),
        shard_size: int = typer.Option(500, min=1, help="Questions per cache shard."),
        data_dir: Optional[Path] = typer.Option(None, help="The dataset's folder."),
        cache_dir: Optional[Path] = typer.Option(None, help="Cache root (default KGQA_HOME/cache/retrieval)."),
        progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
        as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Link every question, build per-choice subgraphs and KagNet paths, and cache them."""
    import json

    from rich.console import Console
    from rich.table import Table

    from kgqa.errors import KGQAError
    from kgqa.retrieval.config import RetrievalConfig
    from kgqa.retrieval.preprocess import preprocess

    console, err = Console(), Console(stderr=True)
    try:
        config = RetrievalConfig(max_hops=max_hops, max_paths=max_paths, path_relations=path_relations,
                                 keep_paths=keep_paths, subgraph=subgraph, subgraph_hops=subgraph_hops, max_nodes=max_nodes, ranker=ranker,
                                 relevance_lm=relevance_lm, node_embeddings=node_embeddings,
                                 score_all_nodes=score_all_nodes, path_scorer=path_scorer,
                                 path_aggregate=path_aggregate, shard_size=shard_size)
        caches = preprocess(dataset, graph, split, config=config, workers=workers, backend=backend,
                            cache_dir=cache_dir, data_dir=data_dir, progress=progress)
    except KGQAError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1)
    if as_json:
        console.print_json(json.dumps({s: {"path": str(c.path), "stats": c.stats} for s, c in caches.items()}))
        return
    table = Table("split", "questions", "nodes (mean/median)", "edges (mean/median)", "paths/pair", "no path",
                  "no q. concept", "seconds")
    for split_name, cache in caches.items():
        st = cache.stats
        run = cache.manifest.get("run", {})
        table.add_row(split_name, f"{st['questions']:,}",
                      f"{st['subgraph_nodes']['mean']:.1f} / {st['subgraph_nodes']['median']:.0f}",
                      f"{st['subgraph_edges']['mean']:.1f} / {st['subgraph_edges']['median']:.0f}",
                      f"{st['paths_per_pair']['mean']:.1f}", f"{st['share_of_pairs_without_path']:.1%}",
                      str(st["questions_without_question_concepts"]), f"{run.get('wall_seconds', 0):.1f}")
    console.print(table)
    for split_name, cache in caches.items():
        console.print(f"{split_name}: {cache.path}", highlight=False)
        if not cache.stats.get("pruned"):
            console.print(f"  paths not pruned: {cache.stats.get('pruning_note')}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``kgqa preprocess`` to the app."""
    app.command("preprocess")(preprocess_command)

"""``kgqa graphs embed GRAPH``: train entity embeddings beside a graph (added to the ``graphs`` group)."""

from __future__ import annotations

from typing import Optional

import typer


def graphs_embed(graph: str = typer.Argument("default", help="Graph name or directory."),
                 model: str = typer.Option("transe", "--model", "-m", help="transe, distmult or rotate."),
                 dim: int = typer.Option(100, min=1, help="Embedding dimension (ERNIE uses 100)."),
                 epochs: Optional[int] = typer.Option(None, min=1, help="Epochs (default: the config's)."),
                 batch_size: Optional[int] = typer.Option(None, min=1, help="Positive edges per step."),
                 lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate."),
                 holdout: Optional[float] = typer.Option(None, help="Share of edges held out for link prediction."),
                 eval_triples: Optional[int] = typer.Option(None, min=1, help="Held-out edges ranked (a sample)."),
                 seed: int = typer.Option(0, help="Seed of the split, initialisation and negatives."),
                 force: bool = typer.Option(False, "--force", help="Train again even when saved ones exist."),
                 ) -> None:
    """Train KGE (PyKEEN) of a graph's nodes; saved under <graph>/embeddings and reused when present."""
    import json

    from rich.console import Console

    from kgqa.errors import KGQAError
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.kge.train import KGEConfig, embeddings_dir, train_embeddings

    console = Console()
    overrides = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, learning_rate=lr,
                                       holdout=holdout, eval_triples=eval_triples).items() if v is not None}
    try:
        kg = KnowledgeGraph.load(graph)
        config = KGEConfig(model=model, dim=dim, seed=seed, **overrides)
        reused = not force and (embeddings_dir(kg, config) / "manifest.json").exists()
        emb = train_embeddings(kg, config, force=force, progress=True)
    except KGQAError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1)
    training = emb.manifest.get("training", {})
    console.print(f"{'reused' if reused else 'trained'} {emb.model} {emb.entity.shape} for {kg.name} "
                  f"in {training.get('seconds', '?')} s -> {emb.path}", highlight=False)
    if emb.manifest.get("metrics"):
        console.print_json(json.dumps(emb.manifest["metrics"]))


def register(app: typer.Typer) -> None:
    """Attach ``embed`` to the app's ``graphs`` group (or to the app when there is none)."""
    for group in getattr(app, "registered_groups", []):
        if group.name == "graphs" and group.typer_instance is not None:
            group.typer_instance.command("embed")(graphs_embed)
            return
    app.command("embed")(graphs_embed)

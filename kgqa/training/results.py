"""What a run leaves behind (``results.json``) and the table generated from many (RESULTS.md).

:class:`RunResult` is PyKEEN's ``PipelineResult`` for kgqa: the metrics per split plus everything
needed to trust and reproduce them (seed, full config, package versions, git commit, dataset and
graph checksums, wall time, peak memory). :func:`render_results_markdown` turns a folder of
``results.json`` files and the experiment configs (with the papers' ``reported`` numbers) into a
Markdown table, so the comparison "ours vs reported" is generated, never typed by hand.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kgqa.errors import Errors, KGQAError

RESULTS_FILE = "results.json"
FORMAT_VERSION = 1
#: Display order of regimes and models in the table.
REGIME_ORDER = {"zeroshot": 0, "frozen": 1, "finetune": 2, "prompt": 3}
MODEL_ORDER = {"zeroshot": 0, "lm": 1, "kagnet": 2, "rgcn": 3, "qagnn": 4, "ernie": 5, "llm": 6}


@dataclass
class RunResult:
    """The outcome of one run (one config, one seed).

    Attributes:
        name: the experiment name (the config's ``name``).
        model, regime, backbone: what was trained.
        seed: the random seed.
        metrics: split name -> ``{"accuracy", "loss", "num_questions"}`` (accuracy in [0, 1]).
        roles: ``{"dev": split, "test": split}``: which split plays which role.
        config: the full experiment config.
        versions: python and package versions.
        git: ``{"commit", "dirty"}`` of the source checkout (``None`` outside one).
        checksums: ``datasets`` (split -> content sha256 and source files' sha256), ``graph``
            (name, checksum), ``features`` (split -> frozen-state cache key).
        wall_seconds: the run's wall time (a resumed run adds its earlier segments' training time).
        peak_memory_mb: ``{"rss": ..., "cuda": ...}`` peak resident memory of the process (and
            peak CUDA allocation).
        training: steps, epochs, best step, stop reason and the evaluation history.
        timings: seconds per phase (``features``, ``train``, ``eval``).
        parameters: ``{"total", "trainable"}``.
        device: where it ran.
        checkpoint: the best checkpoint's directory, if any.
        created: ISO timestamp (UTC).
    """

    name: str
    model: str
    regime: str
    backbone: str
    seed: int
    metrics: dict[str, dict[str, float]]
    roles: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0
    peak_memory_mb: dict[str, float | None] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"
    checkpoint: str | None = None
    created: str = ""

    def accuracy(self, role: str) -> float | None:
        """Accuracy of the split playing ``role`` (``"dev"`` / ``"test"``), or ``None``."""
        split = self.roles.get(role, role)
        value = self.metrics.get(split, {}).get("accuracy")
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else value

    def correct(self, role: str) -> str | None:
        """Per-question correctness on the split playing ``role``: one ``"1"``/``"0"`` per
        question in split order (what :func:`paired_bootstrap` takes), or ``None``."""
        split = self.roles.get(role, role)
        return self.metrics.get(split, {}).get("correct")

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def save_to_directory(self, directory: str | Path) -> Path:
        """Write ``results.json`` into ``directory`` (atomically); returns its path."""
        from kgqa.utils.io import atomic_write_json

        path = Path(directory) / RESULTS_FILE
        atomic_write_json(path, _finite(self.to_dict()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RunResult:
        """Read a ``results.json`` (or the directory holding one).

        Raises:
            KGQAError: ``[E016]`` if missing, ``[E015]`` if it is not a results file.
        """
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS_FILE
        if not path.is_file():
            raise KGQAError(Errors.E016.format(what="Results file", path=path,
                                               hint="Run `kgqa train CONFIG` first."))
        try:
            data = json.loads(path.read_text())
            return cls.from_dict(data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise KGQAError(Errors.E015.format(problem=f"{path} is not a kgqa results file: {exc}")
                            ) from None


def run_seconds(result: "RunResult") -> float:
    """A run's wall time in seconds, earlier segments of a resumed run included.

    Runs written since ``training.resumed_at_step`` exists already count them in
    ``wall_seconds``; for older results, the training time recorded in the checkpoint's state
    (``training.train_seconds``) beyond this segment's (``timings.train``) is added.
    """
    training, timings = result.training or {}, result.timings or {}
    if "resumed_at_step" in training or "train" not in timings:
        return result.wall_seconds
    earlier = float(training.get("train_seconds", 0.0)) - float(timings["train"])
    return result.wall_seconds + max(0.0, earlier)


def _finite(value):
    """JSON has no NaN: write non-finite floats as ``null``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------------- collecting
def collect_results(root: str | Path) -> list[RunResult]:
    """Every ``results.json`` under ``root`` (recursively), sorted by path."""
    return [RunResult.load(p) for p in sorted(Path(root).rglob(RESULTS_FILE))]


def collect_configs(root: str | Path) -> list:
    """Every experiment config (``*.yaml``) directly in ``root``, validated."""
    from kgqa.training.config import load_config

    return [load_config(p, check_model=False) for p in sorted(Path(root).glob("*.yaml"))]


# ---------------------------------------------------------------------- rendering
def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (``None`` for a single value)."""
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def _pct(values: list[float]) -> str:
    if not values:
        return "—"
    mean, std = mean_std([100 * v for v in values])
    return f"{mean:.2f}" if std is None else f"{mean:.2f} ± {std:.2f}"


def _split_header(role: str, split: str | None) -> str:
    pretty = {"ih_dev": "IHdev", "ih_test": "IHtest", "dev": "dev", "test": "test"}
    return f"{pretty.get(split or role, split or role)} acc (%)"


#: Settings that may differ between a run and its config without making it another experiment:
#: neither staleness (:func:`is_stale`) nor resuming (``kgqa.training.runner``) looks at them.
#: ``baseline`` only says which row the results table compares with.
_RUN_ONLY = {("seeds",), ("description",), ("reported",), ("baseline",), ("training", "max_minutes"),
             ("training", "checkpoint_every"), ("training", "torch_threads"),
             ("training", "malloc_top_pad_mb"), ("training", "malloc_heap_only")}


def without_run_only(data: dict) -> dict:
    """A copy of a config dict without the :data:`_RUN_ONLY` settings (nested dicts copied, so
    ``data`` is left as it was)."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for path in _RUN_ONLY:
        if len(path) == 1:
            data.pop(path[0], None)
        elif isinstance(data.get(path[0]), dict):
            data[path[0]].pop(path[1], None)
    return data


def comparable_config(data: dict, *, source: str) -> dict:
    """A recorded config dict read through today's schema (so settings added since take their
    defaults), without the :data:`_RUN_ONLY` settings: what two runs must share to be the same
    experiment.

    Raises:
        KGQAError: ``[E030]`` when ``data`` is not a valid config today.
    """
    from kgqa.training.config import parse_config

    return without_run_only(parse_config(data, source=source).to_dict())


def is_stale(run: RunResult, config=None) -> bool:
    """Whether ``run`` was made with another config than ``config`` (both read through today's
    schema, so settings added since take their defaults) or by the training engine before
    budget-planned schedules and the frozen regime's zero-shot prior (its ``results.json`` has no
    ``training.planned_steps``)."""
    if run.regime != "zeroshot" and "planned_steps" not in (run.training or {}):
        return True
    if config is None or not run.config:
        return False
    from kgqa.errors import KGQAError

    try:
        recorded = comparable_config(run.config or {}, source="results.json")
    except KGQAError:
        return True
    return recorded != without_run_only(config.to_dict())


def paired_bootstrap(model: list[str], baseline: list[str], *, resamples: int = 10_000,
                     seed: int = 0) -> dict[str, float]:
    r"""Paired bootstrap test of a difference in accuracy on the same questions (Koehn 2004;
    Berg-Kirkpatrick et al. 2012), over seeds.

    Each argument holds one ``correct`` string per seed (``"1"``/``"0"`` per question, in split
    order, from ``results.json``). The per-question score is the mean over seeds,
    :math:`d_i = \bar a_i - \bar b_i` and :math:`\Delta = \frac1n \sum_i d_i`. Questions are
    resampled with replacement ``resamples`` times (numpy, fixed ``seed``).

    Returns:
        ``{"delta", "low", "high", "p"}``: :math:`\Delta`, its 95% percentile interval and the
        two-sided p-value :math:`\min(1, 2 \min(P(\Delta^* \le 0), P(\Delta^* \ge 0)))`.

    Raises:
        ValueError: no strings, or strings of different lengths.
    """
    import numpy as np

    if not model or not baseline:
        raise ValueError("paired_bootstrap needs at least one run on each side")
    lengths = {len(c) for c in (*model, *baseline)}
    if len(lengths) != 1:
        raise ValueError(f"runs scored different numbers of questions: {sorted(lengths)}")
    as_array = (lambda runs: np.array([[ch == "1" for ch in c] for c in runs], dtype=np.float64).mean(0))
    diff = as_array(model) - as_array(baseline)
    rng = np.random.default_rng(seed)
    n = len(diff)
    samples = np.empty(resamples)
    for lo in range(0, resamples, 1000):  # bounded memory: 1,000 resamples at a time
        hi = min(resamples, lo + 1000)
        samples[lo:hi] = diff[rng.integers(0, n, size=(hi - lo, n))].mean(1)
    low, high = np.percentile(samples, [2.5, 97.5])
    p = min(1.0, 2 * min(float((samples <= 0).mean()), float((samples >= 0).mean())))
    return {"delta": float(diff.mean()), "low": float(low), "high": float(high), "p": p}


def _versus(row: dict, baseline: dict) -> str:
    """The ``Δ test vs baseline`` cell: mean difference, its spread over seed pairs and, when both
    rows recorded per-question correctness, the paired bootstrap's 95% interval and p-value.

    All three are over the seeds both rows ran (a row with seeds 0-2 against a baseline with
    seeds 0-4 is compared with the baseline's seeds 0-2); rows with no seed in common compare
    all their runs."""
    seeds = {r.seed: r for r in baseline["runs"]}
    pairs = [(r, seeds[r.seed]) for r in row["runs"] if r.seed in seeds]
    mine, theirs_runs = ([a for a, _ in pairs], [b for _, b in pairs]) if pairs else (
        row["runs"], baseline["runs"])
    ours_acc = [a for a in (r.accuracy("test") for r in mine) if a is not None]
    theirs_acc = [a for a in (r.accuracy("test") for r in theirs_runs) if a is not None]
    if not ours_acc or not theirs_acc:
        return "—"
    delta = 100 * (statistics.fmean(ours_acc) - statistics.fmean(theirs_acc))
    cell = f"{delta:+.2f}"
    diffs = [100 * (a.accuracy("test") - b.accuracy("test")) for a, b in pairs
             if a.accuracy("test") is not None and b.accuracy("test") is not None]
    if len(diffs) > 1:
        cell += f" ± {statistics.stdev(diffs):.2f}"
    ours = [c for c in (r.correct("test") for r in mine) if c]
    theirs = [c for c in (r.correct("test") for r in theirs_runs) if c]
    if ours and theirs and len(ours) == len(mine) and len({len(c) for c in ours + theirs}) == 1:
        test = paired_bootstrap(ours, theirs)
        p = "p < 0.001" if test["p"] < 0.001 else f"p {test['p']:.3f}"
        cell += f"; 95% [{100 * test['low']:+.1f}, {100 * test['high']:+.1f}], {p}"
    return cell


def render_results_markdown(results: list[RunResult], configs: list = (), *,
                            title: str = "Results", command: str = "kgqa results experiments/"
                            ) -> str:
    """A Markdown table of accuracy (mean ± sample std over seeds) per experiment, beside the
    numbers the papers reported (from each config's ``reported`` block).

    Rows are grouped by experiment name; an experiment with a config but no results yet shows
    "—". The ``Δ test vs baseline`` column is the difference of mean test accuracy to the
    baseline row, ± its sample std over the seeds both ran, and (runs that recorded per-question
    correctness) the 95% interval and p-value of a paired bootstrap (:func:`paired_bootstrap`).
    The baseline is the experiment a config names in ``baseline:`` (LLM configs: the 5-shot row
    against the zero-shot one, the row with graph knowledge against the same row without),
    else the ``lm`` row of the same regime and backbone.

    Args:
        results: the runs (:func:`collect_results`).
        configs: the experiment configs (:func:`collect_configs`), for the reported numbers and
            for experiments not run yet.
        title: the page title.
        command: the command that regenerates the page (printed in it).
    """
    by_name: dict[str, dict[str, Any]] = {}
    for cfg in configs:
        by_name.setdefault(cfg.name, {"config": cfg.to_dict(), "runs": []})
    for run in results:
        entry = by_name.setdefault(run.name, {"config": run.config, "runs": []})
        entry["runs"].append(run)
        if not entry["config"]:
            entry["config"] = run.config

    def info(entry):
        cfg = entry["config"] or {}
        runs = entry["runs"]
        return {"model": runs[0].model if runs else cfg.get("model", {}).get("name", "?"),
                "regime": runs[0].regime if runs else cfg.get("regime", "?"),
                "backbone": runs[0].backbone if runs else cfg.get("backbone", {}).get("name", "?")}

    rows = []
    for name, entry in by_name.items():
        meta = info(entry)
        runs = sorted(entry["runs"], key=lambda r: r.seed)
        current = next((c for c in configs if c.name == name), None)
        meta["stale"] = [r.seed for r in runs if is_stale(r, current)]
        dev = [r.accuracy("dev") for r in runs if r.accuracy("dev") is not None]
        test = [r.accuracy("test") for r in runs if r.accuracy("test") is not None]
        rows.append({"name": name, **meta, "runs": runs, "dev": dev, "test": test,
                     "reported": (entry["config"] or {}).get("reported"),
                     "baseline": (entry["config"] or {}).get("baseline")})
    names = {r["name"]: r for r in rows}

    def depth(row, seen=()):  # how many baselines deep: a baseline row comes before its rows
        base = names.get(row["baseline"] or "")
        return 0 if base is None or base["name"] in seen else 1 + depth(base, (*seen, row["name"]))

    rows.sort(key=lambda r: (REGIME_ORDER.get(r["regime"], 9), r["backbone"],
                             MODEL_ORDER.get(r["model"], 9), depth(r), r["name"]))
    lm_rows = {}
    for r in rows:  # the LM-only row of each regime and backbone (the first by name)
        if r["model"] == "lm" and r["test"]:
            lm_rows.setdefault((r["regime"], r["backbone"]), r)

    roles = next((r.roles for row in rows for r in row["runs"] if r.roles), {})
    dev_h, test_h = _split_header("dev", roles.get("dev")), _split_header("test", roles.get("test"))
    lines = [f"# {title}", "",
             f"Generated by `{command}` from the `results.json` of each run and the "
             "`reported:` blocks of the configs; do not edit by hand. Accuracy is mean ± sample "
             "standard deviation over seeds; the Δ column compares the seeds both rows ran.", "",
             f"| experiment | model | regime | backbone | seeds | {dev_h} | {test_h} | "
             "Δ test vs baseline | min/run | paper: dev | paper: test | paper setting |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        seeds = ",".join(str(r.seed) for r in row["runs"]) or "—"
        delta = "—"
        key = (row["regime"], row["backbone"])
        named = names.get(row["baseline"] or "")
        if named is not None and row["test"] and named["test"]:
            delta = f"{_versus(row, named)} (vs {named['name']})"
        elif row["model"] != "lm" and row["test"] and key in lm_rows:
            delta = _versus(row, lm_rows[key])
        minutes = (f"{statistics.fmean(run_seconds(r) for r in row['runs']) / 60:.1f}"
                   if row["runs"] else "—")
        rep = row["reported"] or {}
        rep_results = rep.get("results", {})
        rep_dev = rep_results.get("ih_dev", rep_results.get("dev"))
        rep_test = rep_results.get("ih_test", rep_results.get("test"))
        setting = "—"
        if rep:
            md, pipe = rep.get("metadata", {}), rep.get("pipeline", {})
            cite = md.get("citation") or f"{md.get('authors', md.get('title', ''))} {md.get('year', '')}".strip()
            where = f", {md['table']}" if md.get("table") else ""
            what = ", ".join(str(v) for v in (pipe.get("backbone"), pipe.get("regime")) if v)
            setting = f"{cite}{where}" + (f" ({what})" if what else "")
        fmt = (lambda v: "—" if v is None else f"{v:.2f}")
        mark = " †" if row["stale"] else ""
        lines.append(f"| {row['name']}{mark} | {row['model']} | {row['regime']} | {row['backbone']} | "
                     f"{seeds} | {_pct(row['dev'])} | {_pct(row['test'])} | {delta} | {minutes} | "
                     f"{fmt(rep_dev)} | {fmt(rep_test)} | {setting} |")
    devices = sorted({r.device for row in rows for r in row["runs"]})
    commits = sorted({str((r.git or {}).get("commit") or "?")[:10] for row in rows for r in row["runs"]})
    lines += ["", f"Runs: {sum(len(r['runs']) for r in rows)}; devices: {', '.join(devices) or '—'}; "
                  f"git commits: {', '.join(commits) or '—'}.", ""]
    if any(row["stale"] for row in rows):
        lines += ["† Runs made with an earlier version of the experiment's config or of the training "
                  "engine (before the frozen regime's zero-shot prior and budget-planned schedules): "
                  "they are what was measured, not what the config runs today; regenerate them with "
                  "`kgqa train experiments/<name>.yaml --overwrite`.", ""]
    return "\n".join(lines)


def write_results_markdown(experiments_dir: str | Path, *, results_dir: str | Path | None = None,
                           out: str | Path | None = None) -> Path:
    """Render ``RESULTS.md`` for an experiments folder (configs in it, results under
    ``results_dir``, default the same folder) and write it atomically."""
    from kgqa.utils.io import atomic_write_bytes

    experiments_dir = Path(experiments_dir)
    results = collect_results(results_dir or experiments_dir)
    configs = collect_configs(experiments_dir)
    out = Path(out) if out is not None else experiments_dir / "RESULTS.md"
    text = render_results_markdown(results, configs,
                                   command=f"kgqa results {experiments_dir.as_posix()}/")
    atomic_write_bytes(out, text.encode())
    return out


# ---------------------------------------------------------------------- learning curves
CURVES_DIR = "curves"
#: Figure size (inches) and resolution of a learning-curve PNG.
CURVE_FIGSIZE = (13.0, 4.2)
CURVE_DPI = 100
_LR_STYLES = ("-", "--", ":", "-.")


def histories_by_experiment(results: list[RunResult]) -> dict[str, list[RunResult]]:
    """Runs with a non-empty ``training.history``, grouped by experiment name (names sorted,
    runs by seed); runs that did not train (zero-shot) are left out."""
    groups: dict[str, list[RunResult]] = {}
    for run in results:
        if (run.training or {}).get("history"):
            groups.setdefault(run.name, []).append(run)
    return {name: sorted(groups[name], key=lambda r: r.seed) for name in sorted(groups)}


def _series(history: list[dict], key: str, scale: float = 1.0) -> tuple[list[float], list[float]]:
    """(steps, values) of one history field, skipping records where it is missing or null (and
    training values at step 0, before any training: older runs recorded 0 there)."""
    steps, values = [], []
    for i, record in enumerate(history):
        value = record.get(key)
        if key.startswith("train_") and record.get("step") == 0:
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            steps.append(record.get("step", i + 1))
            values.append(scale * value)
    return steps, values


def render_learning_curves(name: str, runs: list[RunResult], *, dpi: int = CURVE_DPI) -> bytes:
    """One PNG of an experiment's learning curves, one colour per seed.

    Panels: loss (train solid, dev dashed), dev accuracy (%, the best evaluation starred) and
    the learning rate of each distinct parameter group (log scale when the rates differ tenfold
    and none is 0), all against the optimisation step. Drawn on a bare
    :class:`~matplotlib.figure.Figure` with the Agg canvas (no pyplot state, no display).
    """
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    figure = Figure(figsize=CURVE_FIGSIZE, layout="constrained")
    FigureCanvasAgg(figure)
    loss_ax, acc_ax, lr_ax = figure.subplots(1, 3)
    colors = [f"C{i % 10}" for i in range(len(runs))]
    handles = []
    lrs: list[float] = []
    for run, color in zip(runs, colors):
        history = run.training["history"]
        for key, style in (("train_loss", "-"), ("dev_loss", "--")):
            loss_ax.plot(*_series(history, key), style, color=color, marker=".", markersize=4)
        steps, acc = _series(history, "dev_accuracy", 100.0)
        acc_ax.plot(steps, acc, "-", color=color, marker=".", markersize=4)
        label = f"seed {run.seed}"
        if acc:
            best = max(range(len(acc)), key=acc.__getitem__)
            acc_ax.plot([steps[best]], [acc[best]], "*", color=color, markersize=11)
            label += f" (best dev {acc[best]:.1f}% at step {steps[best]})"
        groups = max((len(r.get("lr") or []) for r in history), default=0)
        drawn: list[list] = []
        for g in range(groups):
            points = [(r.get("step", i + 1), r["lr"][g]) for i, r in enumerate(history)
                      if len(r.get("lr") or []) > g and r["lr"][g] is not None]
            if points and points not in drawn:  # groups that differ only in weight decay
                lr_ax.plot(*zip(*points), _LR_STYLES[len(drawn) % len(_LR_STYLES)],
                           color=color, marker=".", markersize=4)
                drawn.append(points)
                lrs += [v for _, v in points]
        handles.append(Line2D([], [], color=color, marker=".", label=label))
    loss_ax.set_title("loss (solid: train, dashed: dev)", fontsize=10)
    acc_ax.set_title("dev accuracy (%), ★ best", fontsize=10)
    lr_ax.set_title("learning rate (line style: parameter group)", fontsize=10)
    if lrs and min(lrs) > 0 and max(lrs) > 10 * min(lrs):  # a log axis would drop a final 0
        lr_ax.set_yscale("log")
    for ax in (loss_ax, acc_ax, lr_ax):
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
    first = runs[0]
    figure.suptitle(f"{name}: {first.model}, {first.regime}, {first.backbone}", fontsize=12)
    figure.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3),
                  frameon=False, fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": "kgqa"})
    return buffer.getvalue()


def write_learning_curves(results_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write ``out_dir/<experiment>.png`` (atomically) for every experiment under
    ``results_dir`` whose ``results.json`` files have a training history; returns the paths."""
    from kgqa.utils.io import atomic_write_bytes

    paths = []
    for name, runs in histories_by_experiment(collect_results(results_dir)).items():
        path = Path(out_dir) / f"{name}.png"
        atomic_write_bytes(path, render_learning_curves(name, runs))
        paths.append(path)
    return paths

"""``kgqa answer``, ``kgqa explain`` and ``kgqa demo``: thin calls into :mod:`kgqa.explain`.

``--choices`` takes several values (``--choices shovel hammer saw``): the commands accept extra
arguments and append them to the choices (or, for ``explain --dataset``, to ``--ids``), so put
the question first. User text (questions, choices, ids, paths) is printed through
:mod:`kgqa.utils.terminal`: escaped, never run as terminal commands or rich markup.
"""

from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

DEMO_QUESTIONS = ("A man dug the ground to plant flowers. What tool did he use?",
                  "A man dug the ground to build a house. What tool did he use?")
DEMO_CHOICES = ("shovel", "excavator", "hammer", "saw", "ladder")
EXTRA_ARGS = {"allow_extra_args": True}

MODEL_HELP = ("Checkpoint directory (…/checkpoints/best), or llm:NAME[,key=value…] for a causal LM "
              "with graph knowledge in its prompt (e.g. llm:gemma-3-270m,shots=5); default: the "
              "model shipped with kgqa.")
GRAPH_HELP = "Graph name or directory; default: the graph the model was trained on."


def _show_note(console, message: str, *, paths: bool = True) -> None:
    """kgqa's own warnings as one dim line; others (library deprecations) are not for the reader,
    nor is the missing-TransE note for a model that reads no paths."""
    from kgqa.utils.terminal import plain

    if not message.startswith("[W") or (message.startswith("[W060]") and not paths):
        return
    console.print(plain(f"note: {message}", style="dim"))


@contextmanager
def _notes(console):
    """Show kgqa's warnings as dim notes instead of tracebacks."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        _show_note(console, message)


def _home(name: str) -> Path:
    """Default output folder: ``KGQA_HOME/<name>`` (outputs never land in the checkout)."""
    from kgqa.paths import kgqa_home

    return kgqa_home() / name


def _fail(exc: Exception):
    from kgqa.cli import fail

    fail(exc)


def _answerer(model: Optional[Path], graph: Optional[str], console):
    from kgqa.explain.answer import get_answerer

    t0 = time.perf_counter()
    with console.status("loading the model, graph and linker (first call only)…"):
        answerer = get_answerer(model, graph)
        if getattr(answerer, "kg", None) is not None:
            _ = answerer.linker  # built now, under the status line, not inside the first answer
        if answerer.uses_graphs:
            _ = answerer.retriever
    for note in answerer.notes:
        _show_note(console, note, paths=answerer.graph_view.get("paths", False))
    answerer.notes.clear()
    return answerer, time.perf_counter() - t0


def _check_static(static: str) -> None:
    if static not in ("png", "svg", "pdf", "none"):
        raise typer.BadParameter("--static must be png, svg, pdf or none")


def _outputs(out: Path, name: str, static: str) -> tuple[Path, Optional[Path]]:
    _check_static(static)
    return out / f"{name}.html", (None if static == "none" else out / f"{name}.{static}")


def _print_path(console, label: str, path: Path) -> None:
    from rich.text import Text

    from kgqa.utils.terminal import plain

    console.print(Text.assemble(label, plain(path.resolve(), style="bold")))


def register(app: typer.Typer) -> None:
    """Add ``answer``, ``explain`` and ``demo`` to the ``kgqa`` app."""

    @app.command("answer", context_settings=EXTRA_ARGS)
    def answer_cmd(ctx: typer.Context,
                   question: str = typer.Argument(..., help="The question (first)."),
                   choices: Optional[list[str]] = typer.Option(
                       None, "--choices", "-c", help="Answer choices: --choices shovel hammer saw"),
                   model: Optional[Path] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
                   graph: Optional[str] = typer.Option(None, "--graph", "-g", help=GRAPH_HELP),
                   as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
                   ) -> None:
        """Rank the answer choices of a question, with probabilities."""
        from rich.console import Console

        from kgqa.errors import KGQAError
        from kgqa.explain.terminal import print_answer

        console = Console(stderr=as_json)
        try:
            with _notes(console):
                answerer, _ = _answerer(model, graph, console)
                result = answerer.answer(question, [*(choices or []), *ctx.args])
        except KGQAError as exc:
            _fail(exc)
        if as_json:
            print(json.dumps({k: v for k, v in result.to_dict().items()
                              if k not in ("explanation", "occlusion", "prompts")}, indent=2))
            return
        if hasattr(answerer, "render"):  # a causal LM (llm:NAME): choices and prompt knowledge
            answerer.render(result, Console(), explain=False)
            return
        print_answer(result.explanation, Console())

    @app.command("explain", context_settings=EXTRA_ARGS)
    def explain_cmd(ctx: typer.Context,
                    question: Optional[str] = typer.Argument(None, help="The question (first)."),
                    choices: Optional[list[str]] = typer.Option(
                        None, "--choices", "-c", help="Answer choices: --choices shovel hammer saw"),
                    model: Optional[Path] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
                    graph: Optional[str] = typer.Option(None, "--graph", "-g", help=GRAPH_HELP),
                    out: Optional[Path] = typer.Option(
                        None, "--out", "-o", help="Folder for the HTML page(s) and figures "
                                                  "(default: KGQA_HOME/explanations)."),
                    static: str = typer.Option("png", help="Static figure: png, svg, pdf or none."),
                    dataset: Optional[str] = typer.Option(None, help="Explain dataset questions instead: "
                                                                     "csqa, obqa or a jsonl file."),
                    split: str = typer.Option("dev", help="Dataset split (with --dataset)."),
                    ids: Optional[list[str]] = typer.Option(None, "--ids", help="Question ids (with "
                                                            "--dataset): --ids ID1 ID2 …"),
                    limit: int = typer.Option(20, min=0, help="With --dataset and no --ids: the first N "
                                                              "(0 = all)."),
                    top_paths: int = typer.Option(5, min=1, help="Paths shown per choice."),
                    max_nodes: int = typer.Option(20, min=1, help="Subgraph nodes shown per choice."),
                    as_json: bool = typer.Option(False, "--json", help="Also write the explanation JSON."),
                    ) -> None:
        """Answer and explain: paths and nodes in the terminal, an offline HTML page, a PNG/SVG."""
        from rich.console import Console

        from kgqa.errors import KGQAError
        from kgqa.explain.files import check_writable_dir, page_name, write_file
        from kgqa.explain.html import write_html
        from kgqa.explain.terminal import print_explanation
        from kgqa.utils.terminal import plain

        console = Console()
        options = {"top_paths": top_paths, "max_nodes": max_nodes}
        out = out if out is not None else _home("explanations")
        try:
            with _notes(console):
                if dataset:
                    from kgqa.explain.batch import explain_dataset

                    wanted = [*(ids or []), *([question] if question else []), *ctx.args]
                    wanted = [i for item in wanted for i in item.split(",") if i]
                    check_writable_dir(out)
                    from kgqa.data import load_dataset
                    from kgqa.explain.batch import select_examples

                    select_examples(load_dataset(dataset, split), wanted, limit)  # bad ids fail fast
                    answerer, _ = _answerer(model, graph, console)
                    if hasattr(answerer, "render"):
                        from kgqa.errors import Errors

                        raise KGQAError(Errors.E231.format(problem=(
                            "`kgqa explain --dataset` pages are for trained models; score a dataset "
                            "with `kgqa llm eval CONFIG`, or explain one question at a time")))
                    written = explain_dataset(dataset, split, ids=wanted or None, limit=limit,
                                              out_dir=out, model=answerer,
                                              static=None if static == "none" else static, **options)
                    for result in written.results:
                        console.rule(plain(result.id, style="bold"))
                        print_explanation(result.explanation, console, top_paths=min(top_paths, 3),
                                          choices=result.explanation.ranking[:2])
                    for failure in written.failed:
                        console.print(plain(f"skipped {failure['id']}: {failure['error']}", style="red"))
                    if written.accuracy is not None:
                        console.print(f"accuracy {written.accuracy:.3f} on {len(written.results)} questions")
                    _print_path(console, f"wrote {len(written.pages)} pages"
                                f"{f', skipped {len(written.failed)}' if written.failed else ''}; index: ",
                                written.index)
                    if not written.results:
                        raise typer.Exit(1)
                    return
                if not question:
                    raise typer.BadParameter("give a question (or --dataset)")
                _check_static(static)
                check_writable_dir(out)
                answerer, _ = _answerer(model, graph, console)
                result = answerer.answer(question, [*(choices or []), *ctx.args], **options)
                if hasattr(answerer, "render"):  # a causal LM: knowledge sentences and occlusion
                    answerer.render(result, console, explain=True)
                    json_path = out / f"{page_name(result.question)}.json"
                    write_file(json_path, json.dumps(result.to_dict(), indent=1) + "\n")
                    console.print()
                    _print_path(console, "JSON: ", json_path)
                    return
                html_path, static_path = _outputs(out, page_name(result.question), static)
                explanation = result.explanation
                print_explanation(explanation, console, top_paths=top_paths)
                write_html(explanation, html_path)
                if static_path is not None:
                    from kgqa.explain.static import render_static

                    render_static(explanation, static_path)
                if as_json:
                    write_file(html_path.with_suffix(".json"), explanation.to_json(indent=1) + "\n")
        except KGQAError as exc:
            _fail(exc)
        console.print()
        _print_path(console, "HTML: ", html_path)
        if static_path:
            _print_path(console, "figure: ", static_path)

    @app.command("demo")
    def demo_cmd(model: Optional[Path] = typer.Option(None, "--model", "-m", help=MODEL_HELP),
                 graph: Optional[str] = typer.Option(None, "--graph", "-g", help=GRAPH_HELP),
                 out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the pages "
                                                    "(default: KGQA_HOME/demo)."),
                 ) -> None:
        """The running example: the same question in two contexts, answered and explained side by side."""
        from rich.console import Console

        from kgqa.errors import KGQAError
        from kgqa.explain.html import write_html
        from kgqa.explain.static import render_static
        from kgqa.explain.terminal import print_comparison
        from kgqa.utils.terminal import plain

        console = Console()
        out = out if out is not None else _home("demo")
        try:
            with _notes(console):
                from kgqa.explain.files import check_writable_dir

                check_writable_dir(out)
                answerer, load_s = _answerer(model, graph, console)
                t0 = time.perf_counter()
                results = answerer.answer_many(list(DEMO_QUESTIONS), [list(DEMO_CHOICES)] * 2)
                answer_s = time.perf_counter() - t0
                explanations = [r.explanation for r in results]
                console.print(plain(f"model: {answerer.model_name} ({answerer.source}), graph "
                                    f"{answerer.kg.name}; loading {load_s:.1f} s, answering both "
                                    f"{answer_s:.2f} s", style="dim"))
                print_comparison(explanations, console)
                page = write_html(explanations, out / "demo.html",
                                  title="kgqa demo: one question in two contexts")
                figures = [render_static(e, out / f"demo_{name}.png")
                           for e, name in zip(explanations, ("flowers", "house"))]
        except KGQAError as exc:
            _fail(exc)
        console.print()
        _print_path(console, "HTML (open in a browser, works offline): ", page)
        console.print(plain("figures: " + ", ".join(str(f.resolve()) for f in figures)))

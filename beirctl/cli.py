"""The ``beirctl`` command line: a thin layer over the Python API."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from typer.core import TyperGroup

from beirctl import __version__
from beirctl.errors import BeirctlError

console = Console()
err_console = Console(stderr=True)


class _Group(TyperGroup):
    """Turns user errors into one line on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click Context
        try:
            return super().invoke(ctx)
        except BeirctlError as exc:
            # One line, whatever the message quotes (a line break in a key, a file name...).
            text = " ".join(str(exc).splitlines())
            err_console.print(f"[red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; finished results are kept, run again to resume")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    help="Benchmark retrieval on BEIR: datasets, runs, official metrics, leaderboard JSON.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
datasets_app = typer.Typer(help="List and download BEIR datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")

DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Dataset cache root (default: $BEIRCTL_DATA_DIR, else a user cache folder)."),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"beirctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """beirctl: zero-shot retrieval benchmarks on BEIR."""


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.3g} TB"


@datasets_app.command("list")
def datasets_list(data_dir: DataDirOpt = None) -> None:
    """Every BEIR dataset with its size, licence note and whether it is cached locally."""
    from beirctl.datasets import catalog, paths

    root = paths.data_dir(data_dir)
    table = Table(title=f"BEIR datasets (data dir: {root})")
    for col in ("dataset", "split", "docs", "queries", "zip", "public", "cached", "licence"):
        table.add_column(col, justify="right" if col in ("docs", "queries", "zip") else "left")
    for name, info in catalog.DATASETS.items():
        table.add_row(
            name,
            info.split,
            f"{info.docs:,}",
            f"{info.queries:,}",
            _size(info.zip_bytes),
            "yes" if info.public else "no",
            "yes" if paths.is_cached(name, root) else "",
            info.license,
        )
    console.print(table)


@datasets_app.command("download")
def datasets_download(
    names: Annotated[list[str], typer.Argument(help="Dataset names (see `beirctl datasets list`), or 'cqadupstack'.")],
    data_dir: DataDirOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when cached.")] = False,
) -> None:
    """Download official BEIR zips (MD5-verified, resumable, safely extracted)."""
    from beirctl.datasets import download, paths

    root = paths.data_dir(data_dir)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    ) as progress:
        for name in names:
            task = progress.add_task(name, total=None)

            def update(done: int, total: int | None, task: Any = task) -> None:
                progress.update(task, completed=done, total=total)

            try:
                folder = download(name, root, force=force, progress=update)
            except OSError as exc:  # download() reports disk errors itself; this is the last resort
                where = exc.filename or root
                raise BeirctlError(
                    f"{where}: {exc.strerror or exc}; check the data dir or pass --data-dir to another folder"
                ) from None
            progress.update(task, description=f"{name} ✓")
            progress.console.print(f"{name}: {folder}")


@app.command("run")
def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG.yaml", help="Run config.")],
    force: Annotated[bool, typer.Option("--force", help="Redo pairs that are already finished.")] = False,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only this dataset (repeatable).")] = None,
    data_dir: DataDirOpt = None,
    executor: Annotated[
        Optional[str], typer.Option("--executor", help="local or ray (default: the config's executor).")
    ] = None,
    ray_address: Annotated[
        Optional[str], typer.Option("--ray-address", help="Ray cluster address (default: start a local one).")
    ] = None,
) -> None:
    """Run every (dataset, retriever) pair of a config and write results."""
    from beirctl.config import load_config
    from beirctl.results import collect
    from beirctl.runner import run_config

    config = load_config(config_path)

    def reporter(event: str, info: dict[str, Any]) -> None:
        pair = f"{info.get('dataset')} × {info.get('retriever')}"
        if event == "dataset":
            err_console.print(f"[bold]{info['dataset']}[/]: loading")
        elif event == "stage":
            err_console.print(f"  {pair}: {info['stage']}")
        elif event == "skipped":
            err_console.print(f"  {pair}: finished earlier, skipped (--force to redo)")
        elif event == "done":
            scores = "  ".join(f"{k} {v:.4f}" for k, v in info["aggregate"].items())
            err_console.print(f"  {pair}: [green]{scores}[/]")
        elif event == "failed":
            err_console.print(f"  {pair}: [red]failed[/]: {escape(info['error'])}")
        elif event == "warning":
            err_console.print(f"  {pair}: [yellow]warning[/]: {escape(info['message'])}")
        elif event == "waiting":
            err_console.print(f"  {pair}: another beirctl process holds {escape(info['path'])}; waiting for it")

    with err_console.status("running") if sys.stderr.isatty() else _null():
        summary = run_config(
            config,
            force=force,
            only=only,
            data_dir=data_dir,
            reporter=reporter,
            config_path=str(config_path),
            executor=executor,
            ray_address=ray_address,
        )
    if summary.failed:
        raise BeirctlError(
            f"{len(summary.failed)} pair(s) failed (finished results are kept; run again to resume): "
            + "; ".join(f"{d} × {r}: {e}" for d, r, e in summary.failed)
        )
    _print_table(collect(summary.results_dir), None, config.reference)
    console.print(f"results: {summary.results_dir}")
    if summary.leaderboard:
        console.print(f"leaderboard: {summary.leaderboard}")


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


@app.command("eval")
def eval_(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.trec", help="TREC run file (may be .gz).")],
    qrels_file: Annotated[Path, typer.Argument(metavar="QRELS", help="BEIR qrels TSV or TREC qrels.")],
    metrics: Annotated[
        Optional[list[str]], typer.Option("--metric", "-m", help="ir-measures name (repeatable).")
    ] = None,
    per_query: Annotated[bool, typer.Option("--per-query", help="Also print per-query values.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate a TREC run file (trec_eval -c semantics: every judged query counts)."""
    from beirctl.evaluation import DEFAULT_METRICS, evaluate, read_qrels, read_run

    result = evaluate(read_run(run_file), read_qrels(qrels_file), metrics or list(DEFAULT_METRICS))
    if as_json:
        data: dict[str, Any] = {"aggregate": result.aggregate, "num_queries": result.num_queries}
        if per_query:
            data["per_query"] = result.per_query
        console.print_json(json.dumps(data))
        return
    # trec_eval's layout: measure, query (or "all"), value
    if per_query:
        for name, values in result.per_query.items():
            for qid in sorted(values):
                typer.echo(f"{name}\t{qid}\t{values[qid]:.4f}")
    for name, value in result.aggregate.items():
        typer.echo(f"{name}\tall\t{value:.4f}")


def _print_table(entries: list[dict[str, Any]], metric: str | None, reference: str | None = None) -> None:
    """One table: a row per dataset, a column per (retriever, metric); with a reference, its
    published figure per metric and each score's difference to it."""
    from beirctl.results import table as make_table

    ref = None
    if reference:
        from beirctl.verify import load_reference

        ref = (reference, load_reference(reference))
    metrics = [metric] if metric else list(entries[0]["aggregate"]) if entries else []
    tables = [make_table(entries, name, ref) for name in metrics]
    if not tables:
        return
    labels = tables[0][1][1:]
    datasets = [row[0] for row in tables[0][2]]
    cells = {(m, r[0]): dict(zip(h[1:], r[1:])) for m, h, rows in tables for r in rows}
    table = Table()
    table.add_column("dataset")
    for label in labels:
        for name in metrics:
            table.add_column(f"{label}\n{name}", justify="right")
    for ds in datasets:
        table.add_row(ds, *(cells.get((m, ds), {}).get(lb, "") for lb in labels for m in metrics))
    console.print(table)


@app.command("show")
def show(
    results_dir: Annotated[Path, typer.Argument(metavar="RESULTS_DIR", help="A results folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, csv or json.")] = "table",
    metric: Annotated[Optional[str], typer.Option("--metric", "-m", help="Metric to show (default: all).")] = None,
    reference: Annotated[
        Optional[str], typer.Option("--reference", "-r", help="Show a published reference and the differences.")
    ] = None,
) -> None:
    """Show results as a datasets × retrievers table."""
    from beirctl.results import render

    entries = _collect_all([results_dir])
    if fmt == "table":
        _print_table(entries, metric, reference)
        return
    ref = None
    if reference:
        from beirctl.verify import load_reference

        ref = (reference, load_reference(reference))
    metrics = [metric] if metric else list(entries[0]["aggregate"])
    for name in metrics:
        sys.stdout.write(render(entries, fmt, name, ref))


@app.command("retrievers")
def retrievers() -> None:
    """Registered retrievers and their parameters with defaults."""
    from beirctl.retrievers import registry

    for name in registry.available():
        try:
            cls = registry.get(name)
        except BeirctlError as exc:
            console.print(f"[bold]{name}[/]: unavailable ({exc})")
            continue
        table = Table(title=f"{name} — {cls.description}", title_justify="left")
        for col in ("parameter", "default", "description"):
            table.add_column(col)
        for pname, field in cls.Params.model_fields.items():
            default = field.get_default(call_default_factory=True)
            table.add_row(escape(pname), escape(json.dumps(default)), escape(field.description or ""))
        console.print(table)


def run_cli() -> None:
    """Console-script entry point."""
    app()


def _collect_all(results: list[Path], check_stale: bool = True) -> list[dict[str, Any]]:
    from beirctl.results import collect

    entries = [m for path in results for m in collect(path)]
    if check_stale:
        _warn_stale(entries)
    return entries


def _warn_stale(entries: list[dict[str, Any]]) -> None:
    from beirctl.results import stale_notes

    for note in stale_notes(entries):
        err_console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)


@app.command("compare")
def compare_cmd(
    results: Annotated[list[Path], typer.Argument(metavar="RESULTS...", help="Results folders.")],
    baseline: Annotated[
        Optional[str], typer.Option("--baseline", "-b", help="Retriever label to test against.")
    ] = None,
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric to compare.")] = "nDCG@10",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, latex or csv.")] = "table",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (after Holm–Bonferroni).")] = 0.05,
) -> None:
    """Compare retrievers: best per dataset, deltas, paired significance against a baseline."""
    from beirctl.compare import LEGEND, PVALUE_HEADER, compare, pvalue_rows, render, rows

    comp = compare(_collect_all(results), metric, baseline, alpha)
    if fmt != "table":
        sys.stdout.write(render(comp, fmt))
        return
    table = Table(title=metric)
    table.add_column("dataset")
    for lb in comp.labels:
        table.add_column(f"{lb}\n(baseline)" if lb == comp.baseline else lb, justify="right")
    for row in rows(comp, ("[bold green]", "[/]")):
        table.add_row(*row)
    console.print(table)
    if comp.tests:
        ptable = Table(title="paired tests against the baseline")
        for col in PVALUE_HEADER:
            ptable.add_column(col, justify="left" if col in ("dataset", "retriever") else "right")
        for row in pvalue_rows(comp):
            ptable.add_row(*row)
        console.print(ptable)
    console.print(LEGEND, style="dim")


@app.command("verify")
def verify_cmd(
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="Results folder.")],
    reference: Annotated[str, typer.Option("--reference", "-r", help="Reference table (see --list).")] = "",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Largest allowed difference.")] = 0.0001,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="Check only this label.")] = None,
    datasets: Annotated[
        Optional[list[str]], typer.Option("--dataset", help="Datasets that must be present (repeatable).")
    ] = None,
    list_refs: Annotated[bool, typer.Option("--list", help="List the reference tables and their sources.")] = False,
) -> None:
    """Check results against published figures; exit 1 naming every row that is off."""
    from beirctl.verify import reference_names, reference_sources, verify

    if list_refs or not reference:
        for name in reference_names():
            typer.echo(name)
        for file, source in reference_sources().items():
            typer.echo(f"  {file}: {source}")
        if not reference:
            raise BeirctlError("give --reference NAME (one of the above)") if not list_refs else typer.Exit()
        return
    report = verify(_collect_all([results]), reference, tolerance, retriever, datasets)
    for c in report.checks:
        status = "ok  " if c.ok else "FAIL"
        if c.got is None:
            typer.echo(f"{status}  {c.dataset}  {c.label}  {c.note}")
        else:
            typer.echo(
                f"{status}  {c.dataset}  {c.label}  {c.metric}  got {c.got:.4f}  expected {c.expected:.4f}"
                f"  diff {c.diff:+.4f}"
            )
    n_bad = len(report.failures)
    typer.echo(f"{len(report.checks) - n_bad} ok, {n_bad} off (reference {reference}, tolerance {tolerance})")
    if n_bad:
        raise typer.Exit(1)


@app.command("leaderboard")
def leaderboard_cmd(
    args: Annotated[
        list[str],
        typer.Argument(metavar="RESULTS | validate BUNDLE", help="Build a bundle from RESULTS, or validate BUNDLE."),
    ],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the bundle (build).")] = None,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="Label to submit (build).")] = None,
    model_name: Annotated[Optional[str], typer.Option("--model-name", help="Model name (build).")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="Link to the model or paper (build).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a previous bundle of this label in --out (build).")
    ] = False,
    no_rescore: Annotated[
        bool,
        typer.Option(
            "--no-rescore",
            help="Do not re-score the runs against local qrels, nor check doc ids and checksums (validate).",
        ),
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Build a leaderboard submission bundle (zip), or `leaderboard validate BUNDLE`.

    Validation re-scores every run against the qrels in the data dir (--data-dir) and fails when
    a dataset is not there, unless --no-rescore.
    """
    from beirctl import submission

    if args[0] == "validate":
        if len(args) != 2:
            raise BeirctlError("usage: beirctl leaderboard validate BUNDLE")
        report = submission.validate(Path(args[1]), data_dir, rescore=not no_rescore)
        for note in report.notes:
            typer.echo(f"note: {note}")
        for problem in report.problems:
            typer.echo(f"problem: {problem}")
        if not report.ok:
            typer.echo(f"{args[1]}: invalid ({len(report.problems)} problem(s))")
            raise typer.Exit(1)
        typer.echo(f"{args[1]}: valid")
        return
    if len(args) != 1 or out is None:
        raise BeirctlError("usage: beirctl leaderboard RESULTS --out DIR")
    results = Path(args[0])
    zip_path = submission.build(
        _collect_all([results]), results, out, label=retriever, model_name=model_name, link=link, force=force
    )
    typer.echo(f"bundle: {zip_path}")


@app.command("report")
def report_cmd(
    results: Annotated[list[Path], typer.Argument(metavar="RESULTS...", help="Results folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    baseline: Annotated[
        Optional[str], typer.Option("--baseline", "-b", help="Retriever label to test against.")
    ] = None,
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric to report.")] = "nDCG@10",
    title: Annotated[Optional[str], typer.Option("--title", help="Page title.")] = None,
) -> None:
    """Write a self-contained HTML report (tables, charts, provenance)."""
    from beirctl.atomic import atomic_open
    from beirctl.report import build_report

    text = build_report(_collect_all(results), metric, baseline, title)
    with atomic_open(out) as fh:
        fh.write(text)
    typer.echo(f"report: {out}")


@app.command("doctor")
def doctor() -> None:
    """Which optional backends are usable here (Java, Anserini, torch, models) and how to fix the rest."""
    from beirctl.doctor import collect

    table = Table(title="beirctl doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for check in collect():
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[yellow]missing[/]", check.detail)
    console.print(table)

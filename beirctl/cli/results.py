"""``beirctl show``, ``compare``, ``verify`` and ``report``: reading results folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from beirctl.cli.common import _collect_all, _print_table, _reference, console
from beirctl.errors import BeirctlError


def show(
    results_dir: Annotated[Path, typer.Argument(metavar="RESULTS_DIR", help="A results folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, csv, json, latex or html.")] = "table",
    metric: Annotated[Optional[str], typer.Option("--metric", "-m", help="Metric to show (default: all).")] = None,
    reference: Annotated[
        Optional[str], typer.Option("--reference", "-r", help="Show a published reference and the differences.")
    ] = None,
) -> None:
    """Show results as a datasets × retrievers table (CQADupStack as the mean of its 12 forums)."""
    from beirctl.results import score_table
    from beirctl.tables import render

    entries = _collect_all([results_dir])
    if fmt == "table":
        _print_table(entries, metric, reference)
        return
    ref = _reference(reference)
    metrics = [metric] if metric else list(entries[0].aggregate)
    sys.stdout.write(render([score_table(entries, [name], ref) for name in metrics], fmt))


def compare_cmd(
    results: Annotated[list[Path], typer.Argument(metavar="RESULTS...", help="Results folders.")],
    baseline: Annotated[
        Optional[str], typer.Option("--baseline", "-b", help="Retriever label to test against.")
    ] = None,
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric to compare.")] = "nDCG@10",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, latex, csv or html.")] = "table",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (after Holm–Bonferroni).")] = 0.05,
) -> None:
    """Compare retrievers: best per dataset, deltas, paired significance against a baseline."""
    from beirctl.compare import compare, tables_for
    from beirctl.tables import render, to_rich

    if fmt == "json":
        raise BeirctlError("unknown format 'json' for compare (table, markdown, latex, csv, html)")
    comp = compare(_collect_all(results), metric, baseline, alpha)
    if fmt != "table":
        sys.stdout.write(render(tables_for(comp, fmt), fmt))
        return
    for table in tables_for(comp, fmt):
        console.print(to_rich(table))


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

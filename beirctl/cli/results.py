"""``beirctl show``, ``compare``, ``verify`` and ``report``: reading results folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from beirctl.cli.common import DataDirOpt, _collect_all, _print_table, _reference, console, err_console
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
    metric: Annotated[
        Optional[list[str]],
        typer.Option(
            "--metric", "-m", help="Metric (repeatable: column groups); one missing is computed from the runs."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, latex, csv, html or json.")] = "table",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (after the correction).")] = 0.05,
    test: Annotated[
        Optional[list[str]], typer.Option("--test", "-t", help="t, wilcoxon or randomization (repeatable).")
    ] = None,
    correction: Annotated[
        str, typer.Option("--correction", help="holm, bonferroni or none (across datasets).")
    ] = "holm",
    all_pairs: Annotated[
        bool, typer.Option("--all-pairs", help="Test every pair (ranx-style letters) instead of a baseline.")
    ] = False,
    deltas: Annotated[bool, typer.Option("--deltas/--no-deltas", help="Differences to the baseline.")] = True,
    wtl: Annotated[bool, typer.Option("--wtl", help="Wins/ties/losses columns against the baseline.")] = False,
    smd: Annotated[bool, typer.Option("--smd", help="Standardized mean change with its CI, per dataset.")] = False,
    digits: Annotated[int, typer.Option("--digits", help="Decimals shown (deltas of these figures).")] = 4,
    caption: Annotated[Optional[str], typer.Option("--caption", help="LaTeX caption (the legend follows).")] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="LaTeX label of the table.")] = None,
    pvalues: Annotated[
        Optional[Path],
        typer.Option("--pvalues", help="Write the paired tests to FILE (.csv, .json, .md, .tex, .html)."),
    ] = None,
    data_dir: DataDirOpt = None,
    resamples: Annotated[int, typer.Option("--resamples", help="Randomization test resamples.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Randomization test seed.")] = 0,
) -> None:
    """Compare retrievers: best per dataset, deltas, paired significance against a baseline or
    between all pairs, on one or several metrics (a metric not computed at run time is computed
    from the stored run files and the qrels)."""
    import json

    from beirctl.atomic import atomic_open
    from beirctl.compare import DEFAULT_TESTS, compare_metrics, comparison_tables, fill_metrics, pvalues_text
    from beirctl.evaluation import parse_metrics
    from beirctl.tables import FORMATS, render, to_rich

    if fmt not in ("table", *FORMATS):
        raise BeirctlError(f"unknown format {fmt!r} for compare (table, {', '.join(FORMATS)})")
    names = [str(m) for m in parse_metrics(metric or ["nDCG@10"])]
    entries, computed = fill_metrics(_collect_all(results), names, results, data_dir)
    for name, count in computed.items():
        err_console.print(f"note: {name} computed from the stored run files and qrels for {count} result(s)")
    mc = compare_metrics(
        entries,
        names,
        baseline,
        all_pairs=all_pairs,
        tests=test or DEFAULT_TESTS,
        correction=correction,
        alpha=alpha,
        digits=digits,
        smd=smd,
        seed=seed,
        n_resamples=resamples,
        computed=computed,
    )
    if pvalues is not None:
        suffixes = {".json": "json", ".md": "markdown", ".tex": "latex", ".html": "html"}
        with atomic_open(pvalues) as fh:
            fh.write(pvalues_text(mc, suffixes.get(pvalues.suffix.lower(), "csv")))
        err_console.print(f"p-values: {pvalues}")
    if fmt == "json":
        sys.stdout.write(json.dumps(mc.to_json(), indent=2, allow_nan=False) + "\n")
        return
    tables = comparison_tables(mc, fmt, deltas=deltas, wtl=wtl, caption=caption, label=label)
    if fmt != "table":
        sys.stdout.write(render(tables, fmt))
        return
    for table in tables:
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
    metrics: Annotated[
        Optional[list[str]],
        typer.Option("--metric", "-m", help="Metric to report (repeatable; the first drives the per-query plots)."),
    ] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="Page title.")] = None,
    effect: Annotated[
        str, typer.Option("--effect", help="Meta-analysis effect size: smd (standardized) or md (raw difference).")
    ] = "smd",
    method: Annotated[str, typer.Option("--method", help="Meta-analysis τ² estimator: dl, reml or pm.")] = "dl",
    knha: Annotated[bool, typer.Option("--knha", help="Hartung–Knapp CIs for the pooled effects.")] = False,
) -> None:
    """Write a self-contained HTML report (tables, charts, forest plots, timings, provenance)."""
    from beirctl.atomic import atomic_open
    from beirctl.report import build_report

    entries = _collect_all(results)
    if baseline is None and entries:  # build_report's choice, said
        typer.echo(f"baseline: {sorted({m.label for m in entries})[0]} (the first label; choose one with --baseline)")
    text = build_report(entries, metrics or ["nDCG@10"], baseline, title, effect=effect, method=method, knha=knha)
    with atomic_open(out) as fh:
        fh.write(text)
    typer.echo(f"report: {out}")

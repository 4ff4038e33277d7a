"""``beirctl show``, ``compare``, ``verify`` and ``report``: reading results folders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from beirctl.cli.common import (
    DataDirOpt,
    _collect_all,
    _print_table,
    _reference,
    _reference_notes,
    _select_metrics,
    _warn_stale,
    console,
    err_console,
)
from beirctl.errors import BeirctlError

if TYPE_CHECKING:
    from beirctl.results import PairResult


def show(
    results_dir: Annotated[Path, typer.Argument(metavar="RESULTS_DIR", help="A results folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, csv, json, latex or html.")] = "table",
    metric: Annotated[Optional[str], typer.Option("--metric", "-m", help="Metric to show (default: all).")] = None,
    reference: Annotated[
        Optional[str], typer.Option("--reference", "-r", help="Show a published reference and the differences.")
    ] = None,
    mixed_conventions: Annotated[
        bool, typer.Option("--mixed-conventions", help="Allow results of different conventions in one table.")
    ] = False,
) -> None:
    """Show results as a datasets × retrievers table (CQADupStack as the mean of its 12 forums).
    A folder holding the results of several configs shows one table per config's folder."""
    from beirctl.results import check_conventions, collect_groups
    from beirctl.tables import FORMATS

    if fmt not in ("table", *FORMATS):
        raise BeirctlError(f"unknown format {fmt!r} for show (table, {', '.join(FORMATS)})")
    groups = collect_groups(results_dir)
    _warn_stale([m for _, entries in groups for m in entries])
    for _, entries in groups:  # each folder is a table of its own
        check_conventions(entries, mixed_conventions)
    selected = [
        (folder, entries, _select_metrics(entries, metric, f"the results in {results_dir / folder}"))
        for folder, entries in groups
    ]
    several = len(groups) > 1
    if several:
        err_console.print(
            f"{results_dir} holds the results of {len(groups)} folders (configs); one table each", highlight=False
        )
    if fmt == "table":
        for folder, entries, metrics in selected:
            _print_table(
                entries, metrics, reference, title=_group_title(results_dir, folder, entries) if several else None
            )
        return
    sys.stdout.write(_show_text(results_dir, selected, fmt, _reference(reference)))


def _group_title(root: Path, folder: str, entries: list[PairResult]) -> str:
    names = sorted({m.config.name for m in entries if m.config.name})
    return f"{root / folder}" + (f" (config {', '.join(names)})" if names else "")


def _show_text(
    root: Path,
    selected: list[tuple[str, list[PairResult], list[str]]],
    fmt: str,
    ref: tuple[str, dict[str, dict[str, float]]] | None,
) -> str:
    """``show`` in a text format: json is one document (a table's, or ``{"tables": [...]}``
    holding one per folder and metric, each naming its ``results`` folder), with the unrounded
    values of metrics.json; csv is one table (every metric a column; with several folders, a
    ``results`` column first); the others one table per folder and metric."""
    import json

    from beirctl.results import score_table
    from beirctl.tables import Cell, Column, Row, Table, render, to_json

    several = len(selected) > 1
    if fmt == "json":
        docs = []
        for folder, entries, metrics in selected:
            for name in metrics:
                doc = to_json(score_table(entries, [name], ref), exact=True)
                docs.append({"results": folder, **doc} if several else doc)
        return json.dumps(docs[0] if len(docs) == 1 else {"tables": docs}, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        wide = [(folder, score_table(entries, metrics, ref)) for folder, entries, metrics in selected]
        if not several:
            return render([wide[0][1]], "csv")
        columns = [Column("_results", "results", align="left")]
        for _, t in wide:
            columns += [c for c in t.columns if c.key not in {k.key for k in columns}]
        rows = [Row({"_results": Cell(text=folder), **r.cells}) for folder, t in wide for r in t.rows]
        return render([Table(columns, rows)], "csv")
    tables = []
    for folder, entries, metrics in selected:
        for name in metrics:
            table = score_table(entries, [name], ref)
            if several:
                table.title = f"{_group_title(root, folder, entries)}: {name}"
            tables.append(table)
    return render(tables, fmt)


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
    reference: Annotated[
        Optional[str],
        typer.Option("--reference", "-r", help="Also a table against a reference (name, or an MTEB results folder)."),
    ] = None,
    mixed_conventions: Annotated[
        bool, typer.Option("--mixed-conventions", help="Allow comparing results of different conventions.")
    ] = False,
) -> None:
    """Compare retrievers: best per dataset, deltas, paired significance against a baseline or
    between all pairs, on one or several metrics (a metric not computed at run time is computed
    from the stored run files and the qrels); with ``--reference``, then the published figures
    and each score's difference to them."""
    import json

    from beirctl.atomic import atomic_open
    from beirctl.compare import DEFAULT_TESTS, compare_metrics, comparison_tables, fill_metrics, pvalues_text
    from beirctl.evaluation import parse_metrics
    from beirctl.results import check_conventions, score_table
    from beirctl.tables import FORMATS, render, to_json, to_rich

    if fmt not in ("table", *FORMATS):
        raise BeirctlError(f"unknown format {fmt!r} for compare (table, {', '.join(FORMATS)})")
    names = [str(m) for m in parse_metrics(metric or ["nDCG@10"])]
    collected = _collect_all(results)
    check_conventions(collected, mixed_conventions)
    entries, computed = fill_metrics(collected, names, results, data_dir)
    for name, count in computed.items():
        err_console.print(f"note: {name} computed from the stored run files and qrels for {count} result(s)")
    ref = _reference(reference)
    for note in _reference_notes(reference, entries):
        err_console.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)
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
        doc = mc.to_json()
        if ref is not None:
            doc["reference"] = to_json(score_table(entries, names, ref), exact=True)
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return
    tables = comparison_tables(mc, fmt, deltas=deltas, wtl=wtl, caption=caption, label=label)
    if ref is not None:
        tables = [*tables, score_table(entries, names, ref)]
    if fmt != "table":
        sys.stdout.write(render(tables, fmt))
        return
    for table in tables:
        console.print(to_rich(table))


def verify_cmd(
    results: Annotated[
        Optional[Path], typer.Argument(metavar="[RESULTS]", help="Results folder (not needed with --list).")
    ] = None,
    reference: Annotated[
        str,
        typer.Option("--reference", "-r", help="Reference table (see --list), or an MTEB results folder (a model's)."),
    ] = "",
    tolerance: Annotated[float, typer.Option("--tolerance", help="Largest allowed difference.")] = 0.0001,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="Check only this label.")] = None,
    datasets: Annotated[
        Optional[list[str]], typer.Option("--dataset", help="Datasets that must be present (repeatable).")
    ] = None,
    list_refs: Annotated[bool, typer.Option("--list", help="List the reference tables and their sources.")] = False,
    revision: Annotated[
        Optional[str], typer.Option("--revision", help="With an MTEB folder: the model revision to check against.")
    ] = None,
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
    if results is None:
        raise BeirctlError("give the RESULTS folder to verify (or --list for the reference tables)")
    report = verify(_collect_all([results]), reference, tolerance, retriever, datasets, revision)
    for note in report.notes:
        typer.echo(f"note: {note}")
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
    typer.echo(f"{len(report.checks) - n_bad} ok, {n_bad} off (reference {report.reference}, tolerance {tolerance})")
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
    reference: Annotated[
        Optional[str],
        typer.Option("--reference", "-r", help="Also tables against a reference (name, or an MTEB results folder)."),
    ] = None,
) -> None:
    """Write a self-contained HTML report (tables, charts, forest plots, timings, provenance)."""
    from beirctl.atomic import atomic_open
    from beirctl.report import build_report

    entries = _collect_all(results)
    if baseline is None and entries:  # build_report's choice, said
        typer.echo(f"baseline: {sorted({m.label for m in entries})[0]} (the first label; choose one with --baseline)")
    text = build_report(
        entries,
        metrics or ["nDCG@10"],
        baseline,
        title,
        effect=effect,
        method=method,
        knha=knha,
        reference=_reference(reference),
        reference_notes=_reference_notes(reference, entries),
    )
    with atomic_open(out) as fh:
        fh.write(text)
    typer.echo(f"report: {out}")

"""What the command modules share: the consoles, common options and result helpers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from beirctl.progress import stderr_console

if TYPE_CHECKING:
    from beirctl.results import PairResult
    from beirctl.runner import RunSummary
    from beirctl.tables import Table

console = Console()
err_console = stderr_console()  # the one progress bars draw on: a status line and bars share it

# Third-party progress bars (hub downloads, model loading, tqdm loops) would interleave with
# beirctl's own; the command line silences them unless the user asked otherwise.
for _name in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
    os.environ.setdefault(_name, "1")


def _flags_without_type() -> None:
    """Typer (0.2x on click 8.2+) shows a flag as ``--force <bool>``; a flag takes no value, so its
    help shows none (``--force``), as click's own help does."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if self.is_flag and not self.count:
            return None
        return shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()

DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Dataset cache root (default: $BEIRCTL_DATA_DIR, else a user cache folder)."),
]


def _collect_all(results: list[Path], check_stale: bool = True) -> list[PairResult]:
    from beirctl.results import collect

    entries = [m for path in results for m in collect(path)]
    if check_stale:
        _warn_stale(entries)
    return entries


def _warn_stale(entries: list[PairResult]) -> None:
    from beirctl.results import stale_notes

    for note in stale_notes(entries):
        err_console.print(f"[yellow]warning:[/] {escape(note)}", highlight=False, soft_wrap=True)


def _reference(name: str | None) -> tuple[str, dict[str, dict[str, float]]] | None:
    if not name:
        return None
    from beirctl.mteb import is_mteb_folder, load_mteb_reference
    from beirctl.verify import load_reference

    if is_mteb_folder(name):  # an MTEB results folder, named as mteb:<org>/<name>@<revision>
        ref = load_mteb_reference(name)
        return ref.name, ref.table
    return name, load_reference(name)


def _reference_notes(name: str | None, entries: list[PairResult]) -> list[str]:
    """For an MTEB results folder: what it ignored and which of MTEB's conventions differ from
    how ``entries`` were made (nothing for a shipped table)."""
    from beirctl.mteb import convention_notes, is_mteb_folder, load_mteb_reference

    if not name or not is_mteb_folder(name):
        return []
    ref = load_mteb_reference(name)
    return [*ref.notes, *convention_notes(ref, entries)]


def _select_metrics(entries: list[PairResult], metric: str | None, where: str = "the results") -> list[str]:
    """``metric`` as the results name it (exact, then case-insensitive, then as the evaluator
    parses it: aliases), or every metric they carry; one they lack is an error naming those."""
    from beirctl.results import metric_names

    available = metric_names(entries)
    if metric is None:
        return available
    if metric in available:
        return [metric]
    folded = {name.lower(): name for name in available}
    if metric.lower() in folded:
        return [folded[metric.lower()]]
    from beirctl.errors import BeirctlError

    try:
        from beirctl.evaluation import parse_metrics

        parsed = str(parse_metrics([metric])[0])
    except BeirctlError:
        parsed = ""
    if parsed in available:
        return [parsed]
    import difflib

    close = difflib.get_close_matches(metric, available, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise BeirctlError(f"{where} have no metric {metric!r} (they have: {', '.join(available) or 'none'}){hint}")


def _print_table(
    entries: list[PairResult], metric: str | list[str] | None, reference: str | None = None, title: str | None = None
) -> None:
    """The results as tables that fit the terminal: a row per dataset and a column per
    (retriever, metric); where that is too wide, a table per metric; then retrievers as rows; then
    a row per (dataset, retriever) and a column per metric. With a reference, its published
    figure per metric and each score's difference to it."""
    from beirctl.results import score_table
    from beirctl.tables import fitting, long_form, to_rich, transpose

    if not entries:
        return
    metrics = metric if isinstance(metric, list) else _select_metrics(entries, metric)
    ref = _reference(reference)

    def per_metric() -> list[Table]:
        return [score_table(entries, [m], ref) for m in metrics]

    layouts: list[Callable[[], list[Table]]] = [lambda: [score_table(entries, metrics, ref)]]
    if len(metrics) > 1:
        layouts.append(per_metric)
    layouts += [lambda: [transpose(t) for t in per_metric()], lambda: [long_form(per_metric())]]
    if title:
        console.print(f"[bold]{escape(title)}[/]", highlight=False)
    for table in fitting(layouts, console.width):
        console.print(to_rich(table))


def pair_reporter(skipped: str = "finished earlier", stages: bool = True) -> Callable[[str, dict[str, Any]], None]:
    """The runner's events as lines on stderr (``skipped``: how a reused pair is described;
    ``stages``: also the loading, index, search and eval steps)."""

    running: dict[str, tuple[str, float]] = {}  # pair -> (its step now, when it began)

    def finish(pair: str) -> None:
        if pair in running:
            stage, t0 = running.pop(pair)
            if stages:
                err_console.print(f"  {pair}: {stage} {time.perf_counter() - t0:.1f}s", highlight=False)

    def report(event: str, info: dict[str, Any]) -> None:
        pair = f"{info.get('dataset')} × {info.get('retriever')}"
        if event == "stage":  # a step is said with its time when it ends
            finish(pair)
            running[pair] = (info["stage"], time.perf_counter())
            return
        if event in ("done", "failed"):
            finish(pair)
        if event in ("dataset", "waiting") and not stages:
            return
        if event == "dataset":
            err_console.print(f"[bold]{info['dataset']}[/]: loading")
        elif event == "skipped":
            err_console.print(f"  {pair}: {skipped}, skipped (--force to redo)")
        elif event == "done":
            scores = "  ".join(f"{k} {v:.4f}" for k, v in info["aggregate"].items())
            err_console.print(f"  {pair}: [green]{scores}[/]")
        elif event == "failed":
            err_console.print(f"  {pair}: [red]failed[/]: {escape(info['error'])}")
        elif event == "warning":
            err_console.print(f"  {pair}: [yellow]warning[/]: {escape(info['message'])}")
        elif event == "waiting":
            err_console.print(f"  {pair}: another beirctl process holds {escape(info['path'])}; waiting for it")

    return report


def print_summary(summary: RunSummary, reference: str | None) -> None:
    """After a run: the results table, where the results and the leaderboard are."""
    from beirctl.results import collect

    _print_table(collect(summary.results_dir), None, reference)
    console.print(f"results: {summary.results_dir}")
    if summary.leaderboard:
        console.print(f"leaderboard: {summary.leaderboard}")

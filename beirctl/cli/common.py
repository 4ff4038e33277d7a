"""What the command modules share: the consoles, common options and result helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from beirctl.results import PairResult
    from beirctl.runner import RunSummary

console = Console()
err_console = Console(stderr=True)

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
    from beirctl.verify import load_reference

    return name, load_reference(name)


def _print_table(entries: list[PairResult], metric: str | None, reference: str | None = None) -> None:
    """One table: a row per dataset, a column per (retriever, metric); with a reference, its
    published figure per metric and each score's difference to it."""
    from beirctl.results import score_table
    from beirctl.tables import to_rich

    metrics = [metric] if metric else list(entries[0].aggregate) if entries else []
    if metrics:
        console.print(to_rich(score_table(entries, metrics, _reference(reference))))


def pair_reporter(skipped: str = "finished earlier", stages: bool = True) -> Callable[[str, dict[str, Any]], None]:
    """The runner's events as lines on stderr (``skipped``: how a reused pair is described;
    ``stages``: also the loading, index, search and eval steps)."""

    def report(event: str, info: dict[str, Any]) -> None:
        pair = f"{info.get('dataset')} × {info.get('retriever')}"
        if event in ("dataset", "stage", "waiting") and not stages:
            return
        if event == "dataset":
            err_console.print(f"[bold]{info['dataset']}[/]: loading")
        elif event == "stage":
            err_console.print(f"  {pair}: {info['stage']}")
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

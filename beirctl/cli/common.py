"""What the command modules share: the consoles, common options and result helpers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from beirctl.results import PairResult

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

"""What the command modules share: the consoles, common options and result helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

DataDirOpt = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Dataset cache root (default: $BEIRCTL_DATA_DIR, else a user cache folder)."),
]


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: object) -> None:
        return None


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

"""``beirctl datasets list`` and ``beirctl datasets download``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from beirctl.cli.common import DataDirOpt, console, err_console
from beirctl.errors import BeirctlError

datasets_app = typer.Typer(help="List and download BEIR datasets.", no_args_is_help=True)


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

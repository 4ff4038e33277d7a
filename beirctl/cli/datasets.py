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


def _sources(found: dict[str, str]) -> str:
    return " ".join(k for k in found if k != "zip") or "-"  # the zip: every public dataset


def _sources_caption() -> str:
    from beirctl.datasets import catalog

    split_ids = sorted(n for n, i in catalog.IRDS_IDS.items() if i == f"beir/{n}/{catalog.DATASETS[n].split}")
    return (
        "A public dataset comes as its BEIR zip (beirctl datasets download); also from hf = {name: NAME, source: hf} "
        "(BeIR/NAME), irds = {irds: ID} through ir_datasets, ID beir/NAME, beir/NAME/SPLIT for "
        + ", ".join(split_ids)
        + ", beir/webis-touche2020/v2"
    )


@datasets_app.command("list")
def datasets_list(data_dir: DataDirOpt = None) -> None:
    """Every BEIR dataset with its size, licence note, whether it is cached locally, and where it
    can come from: the BEIR zip, Hugging Face (``source: hf``), ir_datasets (``irds: ID``)."""
    from beirctl.datasets import catalog, paths

    root = paths.data_dir(data_dir)
    table = Table(title=f"BEIR datasets (data dir: {root})", caption=_sources_caption())
    for col in ("dataset", "split", "docs", "queries", "zip", "public", "cached", "from", "licence"):
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
            _sources(catalog.sources(name)),
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
    # The bar appears with the first bytes: a cached or unknown dataset draws none.
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
    )
    try:
        for name in names:
            tasks: list[Any] = []

            def update(done: int, total: int | None, name: str = name, tasks: list[Any] = tasks) -> None:
                if not tasks:
                    progress.start()
                    tasks.append(progress.add_task(name, total=total))
                progress.update(tasks[0], completed=done, total=total)

            try:
                folder = download(name, root, force=force, progress=update)
            except OSError as exc:  # download() reports disk errors itself; this is the last resort
                where = exc.filename or root
                raise BeirctlError(
                    f"{where}: {exc.strerror or exc}; check the data dir or pass --data-dir to another folder"
                ) from None
            if tasks:
                progress.update(tasks[0], description=f"{name} ✓")
                progress.stop()
                progress.remove_task(tasks[0])
                err_console.print(f"{name}: {folder}", highlight=False, soft_wrap=True)
            else:
                note = f"{name}: {folder} (cached; --force to download again)"
                err_console.print(note, highlight=False, soft_wrap=True)
    finally:
        progress.stop()

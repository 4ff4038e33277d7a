"""``beirctl export mteb``: results in other toolkits' layouts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from beirctl.cli.common import DataDirOpt, console, err_console

export_app = typer.Typer(help="Write results in other toolkits' layouts (MTEB).", no_args_is_help=True)


@export_app.command("mteb")
def export_mteb_cmd(
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="Results folder.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write <org>__<name>/<revision>/ into.")],
    model_name: Annotated[str, typer.Option("--model-name", help="The model's name, ORG/NAME.")],
    revision: Annotated[str, typer.Option("--revision", help="The model's revision (commit hash or tag).")],
    retriever: Annotated[
        Optional[str], typer.Option("--retriever", help="Retriever label to export (needed when there are several).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """MTEB's results-repository layout: a TaskResult file per BEIR task MTEB has and
    model_meta.json, every score recomputed from the stored run files and the qrels as MTEB
    computes it."""
    from beirctl.mteb import export_mteb

    done = export_mteb(results, out, model_name, revision, retriever, data_dir)
    for line in done.skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(line)}", highlight=False, soft_wrap=True)
    console.print(f"{len(done.files) - 1} task file(s) and model_meta.json: {done.folder}", soft_wrap=True)

"""``beirctl leaderboard build`` and ``beirctl leaderboard validate``: submission bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from beirctl.cli.common import DataDirOpt, _collect_all
from beirctl.errors import BeirctlError


class _DefaultBuild(TyperGroup):
    """``beirctl leaderboard RESULTS --out DIR`` stays an alias of ``leaderboard build``: a first
    argument that is no subcommand (nor --help) goes to ``build``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors its own click Context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["build", *args]
        return super().parse_args(ctx, args)


leaderboard_app = typer.Typer(
    cls=_DefaultBuild,
    help="Build a leaderboard submission bundle (zip), or validate one.",
    no_args_is_help=True,
)


@leaderboard_app.command("build")
def build_cmd(
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="Results folder.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the bundle.")] = None,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="Label to submit.")] = None,
    model_name: Annotated[Optional[str], typer.Option("--model-name", help="Model name.")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="Link to the model or paper.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a previous bundle of this label in --out.")] = False,
) -> None:
    """Build a submission bundle (zip) from RESULTS (also `beirctl leaderboard RESULTS --out DIR`)."""
    from beirctl import submission

    if out is None:
        raise BeirctlError("usage: beirctl leaderboard build RESULTS --out DIR")
    zip_path = submission.build(
        _collect_all([results]), results, out, label=retriever, model_name=model_name, link=link, force=force
    )
    typer.echo(f"bundle: {zip_path}")


@leaderboard_app.command("validate")
def validate_cmd(
    bundle: Annotated[Path, typer.Argument(metavar="BUNDLE", help="Bundle folder or zip.")],
    data_dir: DataDirOpt = None,
    no_rescore: Annotated[
        bool,
        typer.Option(
            "--no-rescore", help="Do not re-score the runs against local qrels, nor check doc ids and checksums."
        ),
    ] = False,
) -> None:
    """Check a bundle (folder or zip) before submitting it.

    Validation re-scores every run against the qrels in the data dir (--data-dir) and fails when
    a dataset is not there, unless --no-rescore.
    """
    from beirctl import submission

    report = submission.validate(bundle, data_dir, rescore=not no_rescore)
    for note in report.notes:
        typer.echo(f"note: {note}")
    for problem in report.problems:
        typer.echo(f"problem: {problem}")
    if not report.ok:
        typer.echo(f"{bundle}: invalid ({len(report.problems)} problem(s))")
        raise typer.Exit(1)
    typer.echo(f"{bundle}: valid")

"""The ``beirctl`` command line: a thin layer over the Python API.

One module per command group: :mod:`.datasets`, :mod:`.run` (run, eval), :mod:`.imports`
(import), :mod:`.results` (show, compare, verify, report), :mod:`.meta` (meta), :mod:`.leaderboard`
(bundle, build, validate), :mod:`.info` (retrievers, doctor), :mod:`.export` (export mteb); :mod:`.common`
holds the consoles, shared options and result helpers.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from beirctl.cli import imports, info, meta, results, run
from beirctl.cli.common import console, err_console
from beirctl.cli.datasets import datasets_app
from beirctl.cli.export import export_app
from beirctl.cli.leaderboard import leaderboard_app
from beirctl.errors import BeirctlError
from beirctl.version import __version__

__all__ = ["app", "run_cli"]


class _Group(TyperGroup):
    """Turns user errors into one line on stderr and exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors its own click Context
        try:
            return super().invoke(ctx)
        except BeirctlError as exc:
            # One line per problem (a config reports all of its own), whatever the message quotes
            # (a line break in a key, a file name...).
            for problem in getattr(exc, "problems", None) or [str(exc)]:
                text = " ".join(str(problem).splitlines())
                err_console.print(f"[red]error:[/] {escape(text)}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; finished results are kept, run again to resume")
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_Group,
    help="Benchmark retrieval on BEIR: datasets, runs, official metrics, leaderboard JSON.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"beirctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """beirctl: zero-shot retrieval benchmarks on BEIR."""


app.command("run")(run.run)
app.command("eval")(run.eval_)
app.command("show")(results.show)
app.command("retrievers")(info.retrievers)
app.command("compare")(results.compare_cmd)
app.command("verify")(results.verify_cmd)
app.command("report")(results.report_cmd)
app.command("meta")(meta.meta_cmd)
app.command("doctor")(info.doctor)
app.command("import")(imports.import_cmd)
app.add_typer(datasets_app, name="datasets")
app.add_typer(leaderboard_app, name="leaderboard")
app.add_typer(export_app, name="export")


def run_cli() -> None:
    """Console-script entry point."""
    app()

"""``beirctl leaderboard``: submission bundles (``bundle``, ``validate``) and the static site (``build``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape
from typer.core import TyperGroup

from beirctl.cli.common import DataDirOpt, _warn_stale, err_console
from beirctl.errors import BeirctlError

if TYPE_CHECKING:
    from beirctl.results import PairResult


class _DefaultBundle(TyperGroup):
    """``beirctl leaderboard RESULTS --out DIR`` stays an alias of ``leaderboard bundle``: a first
    argument that is no subcommand (nor --help) goes to ``bundle``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer vendors its own click Context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["bundle", *args]
        return super().parse_args(ctx, args)


leaderboard_app = typer.Typer(
    cls=_DefaultBundle,
    help="Submission bundles (bundle, validate) and the static leaderboard site built from them (build).",
    no_args_is_help=True,
)


def _results_of(results: Path, label: str | None) -> tuple[Path, list[PairResult]]:
    """The one config's results folder under ``results`` (itself, or the only one holding
    ``label``) and its results; several candidates are an error naming them."""
    from beirctl.results import collect_groups

    groups = collect_groups(results)
    if len(groups) > 1 and label is not None:
        groups = [g for g in groups if any(m.retriever.label == label for m in g[1])] or groups
    if len(groups) > 1:
        names = ", ".join(str(results / folder) for folder, _ in groups)
        raise BeirctlError(
            f"{results} holds the results of {len(groups)} configs ({names}); give one of them"
            + ("" if label else " or --retriever LABEL")
        )
    folder, entries = groups[0]
    _warn_stale(entries)
    return results / folder, entries


@leaderboard_app.command("bundle")
def bundle_cmd(
    results: Annotated[Path, typer.Argument(metavar="RESULTS", help="Results folder.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the bundle.")] = None,
    retriever: Annotated[Optional[str], typer.Option("--retriever", help="Label to submit.")] = None,
    model_name: Annotated[Optional[str], typer.Option("--model-name", help="Model name.")] = None,
    link: Annotated[Optional[str], typer.Option("--link", help="Link to the model or paper.")] = None,
    meta: Annotated[
        Optional[list[str]],
        typer.Option(
            "--meta",
            metavar="KEY=VALUE",
            help="Submission metadata, e.g. model.revision=abc123, training.zero_shot=false, "
            "training.training_data=msmarco, training.saw_beir_test=false, code.repository=URL, code.commit=SHA, "
            "hardware.gpu=A100, reference=pyserini-bm25-flat (repeatable).",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a previous bundle of this label in --out.")] = False,
) -> None:
    """Build a submission bundle (zip) from RESULTS (also `beirctl leaderboard RESULTS --out DIR`)."""
    from beirctl import submission

    if out is None:
        raise BeirctlError("usage: beirctl leaderboard bundle RESULTS --out DIR")
    results, entries = _results_of(results, retriever)
    zip_path = submission.build(
        entries,
        results,
        out,
        label=retriever,
        model_name=model_name,
        link=link,
        meta=submission.parse_meta(meta or []),
        force=force,
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


@leaderboard_app.command("build")
def build_cmd(
    submissions: Annotated[list[Path], typer.Argument(metavar="SUBMISSIONS...", help="Bundles (folders or zips).")],
    out: Annotated[
        Optional[Path], typer.Option("-o", "--out", help="Site folder (index.html, leaderboard.json).")
    ] = None,
    data_dir: DataDirOpt = None,
    baseline: Annotated[
        Optional[str],
        typer.Option("--baseline", "-b", help="Submission label to compare against (default: bm25-flat, else bm25)."),
    ] = None,
    references: Annotated[
        Optional[list[str]],
        typer.Option("--references", "-r", help="Reference tables shown as rows (repeatable; default all; 'none')."),
    ] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", help="Re-scoring cache (default: SITE/.beirctl-cache).")
    ] = None,
    summary_json: Annotated[
        Optional[Path], typer.Option("--summary-json", help="Write a JSON summary for bots here ('-': stdout).")
    ] = None,
) -> None:
    """Build the static leaderboard site from SUBMISSIONS (bundles, each validated and re-scored).

    Exit 1 when any bundle is rejected (a line each on stderr); the site still lists the others.
    """
    from beirctl import site as site_mod

    if out is None:
        raise BeirctlError("usage: beirctl leaderboard build SUBMISSIONS... -o SITE")
    refs: list[str] | None = None
    if references is not None:
        refs = [r for item in references for r in item.split(",") if r and r != "none"]
    site = site_mod.build_site(
        submissions, out, data_dir=data_dir, baseline=baseline, references=refs, cache_dir=cache_dir
    )
    for sub in site.rejected:
        err_console.print(
            f"[red]rejected:[/] {escape(sub.source)}: {escape(sub.reason())}", highlight=False, soft_wrap=True
        )
    if summary_json is not None:
        text = json.dumps(site.summary(), indent=2)
        if str(summary_json) == "-":
            typer.echo(text)
        else:
            from beirctl.atomic import atomic_open

            with atomic_open(summary_json) as fh:
                fh.write(text + "\n")
    if summary_json is None or str(summary_json) != "-":
        cached = sum(1 for s in site.accepted + site.rejected if s.cached)
        typer.echo(
            f"site: {out / 'index.html'} ({len(site.accepted)} accepted, {len(site.rejected)} rejected, "
            f"{cached} from the cache)"
        )
    if not site.ok:
        raise typer.Exit(1)

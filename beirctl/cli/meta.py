"""``beirctl meta``: effect sizes per dataset and a random-effects meta-analysis across datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from beirctl.cli.common import _collect_all, console
from beirctl.errors import BeirctlError


def meta_cmd(
    results: Annotated[list[Path], typer.Argument(help="Results folders (several are merged).")],
    baseline: Annotated[str, typer.Option("--baseline", "-b", help="Label of the baseline retriever.")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric (its per-query scores).")] = "nDCG@10",
    effect: Annotated[
        str, typer.Option("--effect", help="smd (standardized mean change, metafor SMCRH) or md (mean difference).")
    ] = "smd",
    method: Annotated[
        str, typer.Option("--method", help="τ² estimator: dl (DerSimonian-Laird), reml or pm (Paule-Mandel).")
    ] = "dl",
    knha: Annotated[bool, typer.Option("--knha", help="Hartung-Knapp CI and prediction interval (t, k-1 df).")] = False,
    allow_missing: Annotated[
        bool,
        typer.Option("--allow-missing", help="Pool over the datasets a system shares with the baseline."),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, markdown, latex, csv or json.")] = "table",
) -> None:
    """Per-dataset effect of each system over the baseline with 95% CIs, pooled across datasets
    (random effects: estimate, CI, prediction interval, τ², I², Q; and the fixed effect)."""
    from beirctl.meta import EFFECTS, METHODS, meta_analysis, meta_table, result_scores
    from beirctl.tables import render, to_rich

    if effect not in EFFECTS:
        raise BeirctlError(f"--effect {effect}: one of {', '.join(EFFECTS)}")
    if method not in METHODS:
        raise BeirctlError(f"--method {method}: one of {', '.join(METHODS)}")
    if fmt not in ("table", "markdown", "latex", "csv", "json"):
        raise BeirctlError(f"--format {fmt}: one of table, markdown, latex, csv, json")
    entries = _collect_all(results)
    if not entries:
        raise BeirctlError(f"{', '.join(map(str, results))}: no results found")
    analysis = meta_analysis(
        result_scores(entries, metric),
        baseline,
        metric=metric,
        effect=effect,  # type: ignore[arg-type]  # checked above
        method=method,  # type: ignore[arg-type]
        knha=knha,
        allow_missing=allow_missing,
    )
    if fmt == "json":
        typer.echo(json.dumps(analysis.to_json(), indent=2))
    elif fmt == "table":
        console.print(to_rich(meta_table(analysis)))
    else:
        typer.echo(render([meta_table(analysis)], fmt), nl=False)

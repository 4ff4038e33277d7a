"""``beirctl run`` and ``beirctl eval``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from beirctl.cli.common import DataDirOpt, console, err_console, pair_reporter, print_summary
from beirctl.errors import BeirctlError


def run(
    config_path: Annotated[
        Optional[str],
        typer.Argument(
            metavar="CONFIG.yaml", help="Run config; - reads it from stdin; none with --dataset and --retriever."
        ),
    ] = None,
    datasets: Annotated[
        Optional[list[str]],
        typer.Option("--dataset", "-d", metavar="NAME", help="Without a config: a dataset (repeatable)."),
    ] = None,
    retrievers: Annotated[
        Optional[list[str]],
        typer.Option(
            "--retriever", "-r", metavar="TYPE", help="Without a config: a retriever type, e.g. bm25 (repeatable)."
        ),
    ] = None,
    sets: Annotated[
        Optional[list[str]],
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a config key (top_k=100, retrievers.0.params.k1=1.2) or, a bare name, "
            "a parameter of every retriever (k1=1.2); VALUE is YAML (repeatable).",
        ),
    ] = None,
    print_config: Annotated[
        bool, typer.Option("--print-config", help="Print the config as YAML (runnable as saved) and exit.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Redo pairs that are already finished.")] = False,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Run only this dataset (repeatable).")] = None,
    data_dir: DataDirOpt = None,
    executor: Annotated[
        Optional[str], typer.Option("--executor", help="local or ray (default: the config's executor).")
    ] = None,
    ray_address: Annotated[
        Optional[str], typer.Option("--ray-address", help="Ray cluster address (default: start a local one).")
    ] = None,
) -> None:
    """Run every (dataset, retriever) pair of a config and write results.

    Without a config file: beirctl run -d scifact -r bm25 --set k1=1.2 (--print-config to save it).
    """
    from beirctl.config import config_from_flags, config_yaml, load_config, parse_config

    if config_path is not None and (datasets or retrievers):
        raise BeirctlError("give a config or --dataset/--retriever, not both (--set overrides a config's keys)")
    if config_path is None:
        config = config_from_flags(datasets or [], retrievers or [], sets or [], data_dir=data_dir)
    elif config_path == "-":
        config = parse_config(sys.stdin.read(), "<stdin>", sets or [], default_name="stdin", data_dir=data_dir)
    else:
        config = load_config(config_path, sets or [], data_dir=data_dir)
    if print_config:
        typer.echo(config_yaml(config), nl=False)
        return

    from beirctl.runner import run_config

    reporter = pair_reporter()

    with err_console.status("running") if sys.stderr.isatty() else contextlib.nullcontext():
        summary = run_config(
            config,
            force=force,
            only=only,
            data_dir=data_dir,
            reporter=reporter,
            config_path=config_path if config_path not in (None, "-") else None,
            executor=executor,
            ray_address=ray_address,
        )
    if summary.failed:
        raise BeirctlError(
            f"{len(summary.failed)} pair(s) failed (finished results are kept; run again to resume): "
            + "; ".join(f"{d} × {r}: {e}" for d, r, e in summary.failed)
        )
    print_summary(summary, config.reference)


def eval_(
    run_file: Annotated[Path, typer.Argument(metavar="RUN.trec", help="TREC run file (may be .gz).")],
    qrels_file: Annotated[Path, typer.Argument(metavar="QRELS", help="BEIR qrels TSV or TREC qrels.")],
    metrics: Annotated[
        Optional[list[str]],
        typer.Option("--metric", "-m", help="ir-measures or trec_eval name, e.g. nDCG@10, ndcg_cut_10 (repeatable)."),
    ] = None,
    per_query: Annotated[bool, typer.Option("--per-query", help="Also print per-query values.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Evaluate a TREC run file (trec_eval -c semantics: every judged query counts)."""
    from beirctl.evaluation import DEFAULT_METRICS, evaluate, read_qrels, read_run

    result = evaluate(read_run(run_file), read_qrels(qrels_file), metrics or list(DEFAULT_METRICS))
    if as_json:
        data: dict[str, Any] = {"aggregate": result.aggregate, "num_queries": result.num_queries}
        if per_query:
            data["per_query"] = result.per_query
        console.print_json(json.dumps(data))
        return
    # trec_eval's layout: measure, query (or "all"), value
    if per_query:
        for name, values in result.per_query.items():
            for qid in sorted(values):
                typer.echo(f"{name}\t{qid}\t{values[qid]:.4f}")
    for name, value in result.aggregate.items():
        typer.echo(f"{name}\tall\t{value:.4f}")

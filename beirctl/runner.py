"""Run a config: decide which (dataset, retriever) pairs need running, hand them to an
executor, and write the leaderboard once every pair of the config is current."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from beirctl.atomic import sweep_temp_files
from beirctl.config import Config
from beirctl.datasets.paths import cache_dir as default_cache_dir
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.errors import BeirctlError
from beirctl.executors import get_executor
from beirctl.jobs import (
    Context,
    Pair,
    Reporter,
    Target,
    Todo,
    data_checksums,
    os_error_text,
    plan_pairs,
    previous_result,
    reusable,
    sweep_if_free,
    targets,
)
from beirctl.results import METRICS_FILE, PairResult, write_leaderboard

__all__ = ["RunSummary", "run_config"]


@dataclass
class RunSummary:
    results_dir: Path
    done: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    leaderboard: Path | None = None


def run_config(
    config: Config,
    *,
    force: bool = False,
    only: list[str] | None = None,
    data_dir: str | Path | None = None,
    reporter: Reporter | None = None,
    config_path: str | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
) -> RunSummary:
    """Run every (dataset, retriever) pair of ``config``; finished pairs are skipped unless ``force``.

    A finished pair is reused only when its corpus, queries and qrels are the same bytes, and
    its retriever, parameters, settings and results version are the same; changed qrels or
    metrics alone re-evaluate the stored run. A failing pair does not stop the others.
    ``executor`` (default: the config's) is ``local`` (pairs one after another in this
    process) or ``ray`` (each pair a Ray task with the resources its retriever declares).
    """
    report = reporter or (lambda event, info: None)
    ctx = Context(
        results_dir=config.results_dir(),
        data_root=resolve_data_dir(data_dir or config.data_dir),
        index_cache=default_cache_dir(config.cache_dir),
        top_k=config.top_k,
        remove_query_id_hits=config.identical_ids_override(),
        conventions=config.conventions,
        metrics=tuple(config.metrics),
        config_info={
            "name": config.name,
            "file": config_path,
            "sha256": config.sha256(),
            "resolved": config.results_fields(),
        },
        encode_workers=config.ray_encode_workers,
        force=force,
    )
    _check_output_dir(ctx.results_dir)
    runner = get_executor(executor or config.executor, ray_address or config.ray_address)
    summary = RunSummary(ctx.results_dir)
    data: dict[Target, dict[str, str]] = {}
    broken: dict[Target, str] = {}
    for target in {t: None for ds in config.datasets for t in targets(ds)}:
        try:
            data[target] = data_checksums(target, ctx.data_root)
        except BeirctlError as exc:
            broken[target] = str(exc)
        except OSError as exc:
            broken[target] = os_error_text(exc)
    pairs, every = plan_pairs(config, only, data)
    finished: dict[Pair, PairResult] = {}
    todo: list[Todo] = []
    for pair in pairs:
        info = {"dataset": pair.target.name, "retriever": pair.label}
        if pair.target in broken:
            report("failed", {**info, "error": broken[pair.target]})
            summary.failed.append((pair.target.name, pair.label, broken[pair.target]))
            continue
        previous = None if force else previous_result(pair.out_dir(ctx.results_dir) / METRICS_FILE, pair.key)
        if previous is not None and reusable(previous, pair, config.metrics):
            report("skipped", info)
            summary.skipped.append((pair.target.name, pair.label))
            finished[pair] = previous
            sweep_if_free(pair.out_dir(ctx.results_dir))
        else:
            todo.append((pair, previous))
    outcomes = runner.run(todo, ctx, report)
    for pair, outcome in outcomes:
        if isinstance(outcome, str):
            summary.failed.append((pair.target.name, pair.label, outcome))
        else:
            summary.done.append((pair.target.name, pair.label))
            finished[pair] = outcome
    if summary.failed:
        return summary
    for pair in every:  # with --only, the other pairs count when they finished earlier
        if pair not in finished:
            if pair.target in broken:
                return summary
            previous = previous_result(pair.out_dir(ctx.results_dir) / METRICS_FILE, pair.key)
            if previous is None or not reusable(previous, pair, config.metrics):
                return summary
            finished[pair] = previous
    try:
        sweep_temp_files(ctx.results_dir, min_age_s=3600)  # leftovers of a killed leaderboard write
        summary.leaderboard = write_leaderboard(
            ctx.results_dir, [finished[p] for p in _board_order(every)], ctx.config_info
        )
    except OSError as exc:
        raise BeirctlError(os_error_text(exc)) from None
    return summary


def _check_output_dir(results_dir: Path) -> None:
    """The results folder must be a folder we can create and write in: say so before any work."""
    for parent in (results_dir, *results_dir.parents):
        if parent.exists():
            if not parent.is_dir():
                raise BeirctlError(
                    f"{parent}: is a file, not a folder; set output_dir (or --output-dir) to a folder for the results"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise BeirctlError(f"{parent}: cannot write here (permission denied); choose a writable output_dir")
            return


def _board_order(pairs: list[Pair]) -> list[Pair]:
    """Retrievers in config order, then datasets by name: the same bytes whatever ran when."""
    order: dict[str, int] = {}
    for p in pairs:
        order.setdefault(p.label, len(order))
    return sorted(pairs, key=lambda p: (order[p.label], p.target.name))

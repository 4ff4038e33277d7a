"""The local executor: pairs one after another in this process."""

from __future__ import annotations

import os
import time

from beirctl.errors import BeirctlError
from beirctl.jobs import (
    Context,
    Outcome,
    Reporter,
    Target,
    Todo,
    failure_text,
    load_target,
    pair_lock,
    previous_result,
    reusable,
    run_pair,
)
from beirctl.results import METRICS_FILE
from beirctl.types import Dataset


class LocalExecutor:
    """Pairs in this process, in order; a dataset is loaded once for all its retrievers."""

    name = "local"

    def run(self, todo: list[Todo], ctx: Context, report: Reporter) -> list[Outcome]:
        return run_local(todo, ctx, report)


def run_local(todo: list[Todo], ctx: Context, report: Reporter) -> list[Outcome]:
    """Pairs one after another; a dataset is loaded once for all its retrievers. A pair that
    fails (bad data, full disk, a retriever's exception) is reported and the others still run."""
    outcomes: list[Outcome] = []
    loaded: dict[Target, tuple[Dataset, float]] = {}
    broken: dict[Target, str] = {}
    for pair, previous in todo:
        info = {"dataset": pair.target.name, "retriever": pair.label}
        if pair.target in broken:
            outcomes.append((pair, broken[pair.target]))
            continue
        try:
            with pair_lock(pair, ctx, report):
                if not ctx.force:  # another process may have finished it while we waited
                    previous = previous_result(pair.out_dir(ctx.results_dir) / METRICS_FILE, pair.key)
                    if previous is not None and reusable(previous, pair, list(ctx.metrics)):
                        report("skipped", info)
                        outcomes.append((pair, previous))
                        continue
                if pair.target not in loaded:
                    loaded.clear()  # keep one corpus in memory at a time
                    report("dataset", {"dataset": pair.target.name})
                    t0 = time.perf_counter()
                    loaded[pair.target] = (load_target(pair.target, ctx.data_root), time.perf_counter() - t0)
                    for note in loaded[pair.target][0].notes:
                        report("warning", {**info, "message": note})
                dataset, load_s = loaded[pair.target]
                result = run_pair(pair, ctx, previous, dataset, load_s, report)
        except Exception as exc:
            if os.environ.get("BEIRCTL_DEBUG"):
                raise
            text = failure_text(exc)
            report("failed", {**info, "error": text})
            if pair.target not in loaded and isinstance(exc, BeirctlError):
                broken[pair.target] = text  # the dataset itself failed: no retriever can run on it
            outcomes.append((pair, text))
            continue
        report("done", {**info, "aggregate": result.aggregate})
        outcomes.append((pair, result))
    return outcomes

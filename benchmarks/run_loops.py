"""The per-hit steps of a search's run, compiled (``beirctl.evaluation._runs``) against the same
steps in Python, on one synthetic top-1000 run; both sides' results are checked equal.

    python benchmarks/run_loops.py [--queries 2000] [--k 1000] [--docs 1000000]

Steps, as ``beirctl run`` takes them after lucene-exact's compiled search: building the hit
lists from the search's arrays (``hit_lists``: doc ids picked from a list of ``--docs`` ids made in
shuffled order, so that they lie scattered over the heap as a loaded corpus's do), finding the
self-hits (``identical_id_hits``), rounding the scores to the run file's 6 decimals
(``round_run``: here from 7, so every hit is rebuilt) and writing the gzipped run file
(``write_run``). Prints seconds per step on each side and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from beirctl.evaluation import runs
from beirctl.evaluation.trec import write_run
from beirctl.jobs import round_run


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    gc.disable()  # as beirctl builds runs (gc_paused): no collection passes over the new tuples
    try:
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out
    finally:
        gc.enable()


def _steps(
    doc_ids: list[str], idx: np.ndarray, scores: np.ndarray, sizes: list[int], qids: list[str]
) -> dict[str, tuple[float, Any]]:
    """Each step's seconds and result, on the path :mod:`beirctl.evaluation.runs` is set to."""
    steps: dict[str, tuple[float, Any]] = {}
    steps["hit_lists"] = _timed(lambda: dict(zip(qids, runs.hit_lists(doc_ids, idx, scores, sizes))))
    run = steps["hit_lists"][1]
    steps["identical_id_hits"] = _timed(lambda: runs.identical_id_hits(run))
    steps["round_run"] = _timed(lambda: round_run(run))
    rounded = steps["round_run"][1]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.trec.gz"
        seconds, _ = _timed(lambda: write_run(path, rounded, tag="bm25"))
        steps["write_run"] = (seconds, path.read_bytes())
    return steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--docs", type=int, default=1_000_000)
    args = ap.parse_args()
    if not runs.compiled():
        raise SystemExit("beirctl.evaluation._runs is not in use (not built, or BEIRCTL_NATIVE=0)")
    rng = np.random.default_rng(0)
    order = rng.permutation(args.docs)
    made = {int(i): f"{int(i) + 10_000_000}" for i in order}  # created in shuffled order
    doc_ids = [made[i] for i in range(args.docs)]
    del made
    idx = np.concatenate([rng.choice(args.docs, args.k, replace=False) for _ in range(args.queries)])
    scores = np.sort(rng.uniform(0, 40, (args.queries, args.k)), axis=1)[:, ::-1].round(7).reshape(-1)
    sizes = [args.k] * args.queries
    qids = [doc_ids[i] for i in rng.choice(args.docs, args.queries, replace=False)]  # some find themselves

    compiled_path = runs._runs
    results: dict[str, dict[str, tuple[float, Any]]] = {}
    for side in ("compiled", "python"):
        runs._runs = compiled_path if side == "compiled" else None
        results[side] = _steps(doc_ids, idx, scores, sizes, qids)
    runs._runs = compiled_path
    print(f"run: {args.queries:,} queries x {args.k:,} hits over {args.docs:,} doc ids")
    print(f"{'step':<20}{'compiled s':>12}{'python s':>10}{'ratio':>8}")
    total = [0.0, 0.0]
    for step in results["compiled"]:
        (c, a), (p, b) = results["compiled"][step], results["python"][step]
        if a != b:
            raise SystemExit(f"{step}: the compiled and Python results differ")
        total[0] += c
        total[1] += p
        print(f"{step:<20}{c:>12.2f}{p:>10.2f}{p / c:>7.1f}x")
    print(f"{'all four':<20}{total[0]:>12.2f}{total[1]:>10.2f}{total[1] / total[0]:>7.1f}x  (results equal)")


if __name__ == "__main__":
    main()

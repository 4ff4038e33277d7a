"""Compare two TREC run files document by document.

Usage: python benchmarks/compare_runs.py RUN_A RUN_B [--depth 10]

Prints the share of queries whose top-``depth`` lists are identical, the mean Kendall tau
between the two rankings over the documents both runs return for a query, and the largest
absolute score difference of a (query, document) pair present in both.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from scipy.stats import kendalltau

from beirctl.evaluation import read_run
from beirctl.types import Run


@dataclass
class Comparison:
    queries: int
    identical_top: int
    mean_tau: float
    max_score_diff: float
    depth: int

    def lines(self) -> list[str]:
        share = self.identical_top / self.queries if self.queries else float("nan")
        return [
            f"queries compared:            {self.queries}",
            f"identical top-{self.depth} lists:     {self.identical_top} ({share:.2%})",
            f"mean Kendall tau (shared):   {self.mean_tau:.6f}",
            f"largest score difference:    {self.max_score_diff:.6g}",
        ]


def compare(a: Run, b: Run, depth: int = 10) -> Comparison:
    """Compare ``a`` and ``b`` over the union of their queries (a query missing in one is a miss)."""
    qids = sorted(set(a) | set(b))
    identical = 0
    taus: list[float] = []
    max_diff = 0.0
    for q in qids:
        ha, hb = a.get(q, []), b.get(q, [])
        if [d for d, _ in ha[:depth]] == [d for d, _ in hb[:depth]]:
            identical += 1
        rank_b = {d: i for i, (d, _) in enumerate(hb)}
        score_b = dict(hb)
        shared = [(i, rank_b[d]) for i, (d, _) in enumerate(ha) if d in rank_b]
        if len(shared) >= 2:
            tau = kendalltau([x for x, _ in shared], [y for _, y in shared]).statistic
            if not math.isnan(tau):
                taus.append(float(tau))
        elif len(shared) == 1:
            taus.append(1.0)
        for d, s in ha:
            if d in score_b:
                max_diff = max(max_diff, abs(s - score_b[d]))
    mean_tau = sum(taus) / len(taus) if taus else float("nan")
    return Comparison(len(qids), identical, mean_tau, max_diff, depth)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--depth", type=int, default=10, help="depth of the identical-list check")
    args = parser.parse_args(argv)
    result = compare(read_run(args.run_a), read_run(args.run_b), args.depth)
    print("\n".join(result.lines()))


if __name__ == "__main__":
    main()

"""Compare retrievers across datasets: best per dataset, deltas against a baseline, and paired
significance tests on per-query scores (paired t-test and Fisher's randomization test, each
Holm–Bonferroni-corrected across datasets)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from beirctl.errors import BeirctlError

N_RESAMPLES = 10_000


@dataclass
class Test:
    """Paired tests of one retriever against the baseline on one dataset."""

    t_p: float
    rand_p: float
    t_p_holm: float = 1.0
    rand_p_holm: float = 1.0
    n: int = 0


@dataclass
class Comparison:
    metric: str
    labels: list[str]
    datasets: list[str]
    scores: dict[str, dict[str, float]]  # dataset -> label -> score
    baseline: str | None
    alpha: float
    tests: dict[str, dict[str, Test]] = field(default_factory=dict)  # dataset -> label -> test

    def best(self, dataset: str) -> str | None:
        row = self.scores.get(dataset, {})
        return max(row, key=lambda lb: row[lb]) if row else None

    def delta(self, dataset: str, label: str) -> float | None:
        row = self.scores.get(dataset, {})
        if self.baseline is None or label not in row or self.baseline not in row:
            return None
        return row[label] - row[self.baseline]


def paired_tests(a: np.ndarray, b: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES) -> Test:
    """Two-sided paired t-test (scipy) and Fisher's randomization test (scipy's paired
    permutation test: the sign of each per-query difference is flipped at random)."""
    diff = a - b
    if not np.any(diff):
        return Test(1.0, 1.0, n=len(a))
    t_p = float(stats.ttest_rel(a, b).pvalue)
    rand = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=n_resamples,
        alternative="two-sided",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    return Test(t_p, float(rand.pvalue), n=len(a))


def holm(pvalues: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (scipy has no Holm step-down; this is its definition:
    sort ascending, multiply the i-th smallest by m - i, enforce monotonicity, cap at 1)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def compare(
    entries: list[dict[str, Any]],
    metric: str = "nDCG@10",
    baseline: str | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> Comparison:
    """Build the comparison of every retriever in ``entries`` (metrics.json documents)."""
    labels = sorted({m["retriever"]["label"] for m in entries})
    if baseline is not None and baseline not in labels:
        raise BeirctlError(f"baseline {baseline!r} not among the results (have: {', '.join(labels)})")
    scores: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for m in entries:
        if metric not in m["aggregate"]:
            continue
        ds, lb = m["dataset"]["name"], m["retriever"]["label"]
        if lb in scores.get(ds, {}):
            raise BeirctlError(
                f"two results for {ds} × {lb}; compare results of different configs only when their labels differ"
            )
        scores.setdefault(ds, {})[lb] = m["aggregate"][metric]
        per_query.setdefault(ds, {})[lb] = m["per_query"][metric]
    if not scores:
        raise BeirctlError(f"no results carry metric {metric!r}")
    datasets = sorted(scores)
    comp = Comparison(metric, labels, datasets, scores, baseline, alpha)
    if baseline is None:
        return comp
    for label in labels:
        if label == baseline:
            continue
        tested: list[str] = []
        for ds in datasets:
            pq = per_query[ds]
            if label not in pq or baseline not in pq:
                continue
            qids = sorted(set(pq[label]) & set(pq[baseline]))
            a = np.array([pq[label][q] for q in qids])
            b = np.array([pq[baseline][q] for q in qids])
            comp.tests.setdefault(ds, {})[label] = paired_tests(a, b, seed, n_resamples)
            tested.append(ds)
        for attr in ("t_p", "rand_p"):
            adjusted = holm([getattr(comp.tests[ds][label], attr) for ds in tested])
            for ds, p in zip(tested, adjusted):
                setattr(comp.tests[ds][label], f"{attr}_holm", p)
    return comp


LEGEND = (
    "bold = best on the dataset; (±x) = difference to the baseline; * = paired t-test, "
    "† = Fisher randomization test, both p < alpha after Holm–Bonferroni across datasets"
)


def _cell(comp: Comparison, ds: str, label: str, bold: tuple[str, str]) -> str:
    if label not in comp.scores[ds]:
        return ""
    text = f"{comp.scores[ds][label]:.4f}"
    if comp.best(ds) == label:
        text = f"{bold[0]}{text}{bold[1]}"
    delta = comp.delta(ds, label)
    if delta is not None and label != comp.baseline:
        text += f" ({delta:+.4f})"
        test = comp.tests.get(ds, {}).get(label)
        if test is not None:
            text += ("*" if test.t_p_holm < comp.alpha else "") + ("†" if test.rand_p_holm < comp.alpha else "")
    return text


def rows(comp: Comparison, bold: tuple[str, str] = ("", "")) -> list[list[str]]:
    out = [[ds] + [_cell(comp, ds, lb, bold) for lb in comp.labels] for ds in comp.datasets]
    if len(comp.datasets) > 1:
        avg = []
        for lb in comp.labels:
            vals = [comp.scores[ds][lb] for ds in comp.datasets if lb in comp.scores[ds]]
            avg.append(f"{np.mean(vals):.4f}" if len(vals) == len(comp.datasets) else "")
        out.append(["average", *avg])
    return out


def pvalue_rows(comp: Comparison) -> list[list[str]]:
    """dataset, retriever, n, t-test p, t-test p (Holm), randomization p, randomization p (Holm)."""
    out = []
    for ds in comp.datasets:
        for label, t in sorted(comp.tests.get(ds, {}).items()):
            out.append(
                [ds, label, str(t.n), f"{t.t_p:.4g}", f"{t.t_p_holm:.4g}", f"{t.rand_p:.4g}", f"{t.rand_p_holm:.4g}"]
            )
    return out


PVALUE_HEADER = [
    "dataset",
    "retriever",
    "queries",
    "t-test p",
    "t-test p (Holm)",
    "randomization p",
    "randomization p (Holm)",
]


def render(comp: Comparison, fmt: str) -> str:
    """Markdown, LaTeX or CSV text of the comparison (the rich table is the CLI's)."""
    header = ["dataset", *(f"{lb} (baseline)" if lb == comp.baseline else lb for lb in comp.labels)]
    if fmt == "markdown":
        body = rows(comp, ("**", "**"))
        lines = [f"{comp.metric}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        if comp.tests:
            lines += ["", "| " + " | ".join(PVALUE_HEADER) + " |", "|" + "---|" * len(PVALUE_HEADER)]
            lines += ["| " + " | ".join(r) + " |" for r in pvalue_rows(comp)]
        lines += ["", LEGEND]
        return "\n".join(lines) + "\n"
    if fmt == "latex":
        body = rows(comp, ("\\textbf{", "}"))

        def esc(s: str) -> str:
            return s.replace("_", "\\_").replace("%", "\\%").replace("†", "$^\\dagger$").replace("*", "$^*$")

        lines = [
            "\\begin{tabular}{l" + "r" * len(comp.labels) + "}",
            "\\toprule",
            " & ".join(esc(h) for h in header) + " \\\\",
            "\\midrule",
        ]
        lines += [" & ".join(esc(c) for c in r) + " \\\\" for r in body]
        lines += ["\\bottomrule", "\\end{tabular}", f"% {comp.metric}; {LEGEND}"]
        return "\n".join(lines) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["dataset", "retriever", comp.metric, "delta", *PVALUE_HEADER[2:], "best"])
        for ds in comp.datasets:
            for lb in comp.labels:
                if lb not in comp.scores[ds]:
                    continue
                t = comp.tests.get(ds, {}).get(lb)
                delta = comp.delta(ds, lb)
                writer.writerow(
                    [
                        ds,
                        lb,
                        f"{comp.scores[ds][lb]:.6f}",
                        "" if delta is None else f"{delta:.6f}",
                        t.n if t else "",
                        f"{t.t_p:.6g}" if t else "",
                        f"{t.t_p_holm:.6g}" if t else "",
                        f"{t.rand_p:.6g}" if t else "",
                        f"{t.rand_p_holm:.6g}" if t else "",
                        "yes" if comp.best(ds) == lb else "",
                    ]
                )
        return buf.getvalue()
    raise BeirctlError(f"unknown format {fmt!r} (table, markdown, latex, csv)")

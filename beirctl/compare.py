"""Compare retrievers across datasets: best per dataset, deltas against a baseline, and paired
significance tests on per-query scores (paired t-test and Fisher's randomization test, each
Holm–Bonferroni-corrected across datasets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from beirctl.datasets.catalog import CQADUPSTACK
from beirctl.errors import BeirctlError
from beirctl.results import PairResult, benchmark_scores
from beirctl.tables import Cell, Column, Row, Table

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
    averages: dict[str, float | None] = field(default_factory=dict)  # label -> the leaderboard's average
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # dataset -> label -> qid

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


def stratified_tests(
    a: np.ndarray, b: np.ndarray, strata: np.ndarray, seed: int = 0, n_resamples: int = N_RESAMPLES
) -> Test:
    """The paired tests of a dataset made of strata counted equally (CQADupStack: the unweighted
    mean of its forums), so that what is tested is the difference the table shows: the mean
    over strata of each stratum's mean per-query difference.

    Randomization: the same sign flips as :func:`paired_tests`, of that weighted statistic.
    t-test: the stratified t statistic (the statistic over its standard error, the sum of the
    strata's squared standard errors) with Welch–Satterthwaite degrees of freedom; one stratum
    is exactly :func:`scipy.stats.ttest_rel`.
    """
    diff = a - b
    if not np.any(diff):
        return Test(1.0, 1.0, n=len(a))
    groups, index, counts = np.unique(strata, return_inverse=True, return_counts=True)
    k = len(groups)
    weights = 1.0 / (k * counts[index])
    statistic = float(np.sum(weights * diff))
    # each stratum's squared standard error of the mean, scaled by the 1/k of the mean over strata
    var = np.array([np.var(diff[index == g], ddof=1) / counts[g] if counts[g] > 1 else 0.0 for g in range(k)])
    var /= k * k
    if var.sum() == 0:
        t_p = 0.0  # a constant, nonzero difference within every stratum
    else:
        dof_terms = [var[g] ** 2 / (counts[g] - 1) for g in range(k) if counts[g] > 1]
        dof = var.sum() ** 2 / sum(dof_terms)
        t_p = float(2 * stats.t.sf(abs(statistic) / np.sqrt(var.sum()), dof))
    rand = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.sum(weights * (x - y), axis=axis),
        permutation_type="samples",
        n_resamples=n_resamples,
        alternative="two-sided",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    return Test(t_p, float(rand.pvalue), n=len(a))


def compare(
    entries: Sequence[PairResult],
    metric: str = "nDCG@10",
    baseline: str | None = None,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> Comparison:
    """Build the comparison of every retriever in ``entries``.

    Scores and averages are :func:`beirctl.results.retriever_scores`' (CQADupStack one dataset,
    the mean of its 12 forums; fewer is an error), so the average is the leaderboard's. Its
    paired tests are :func:`stratified_tests` over the forums' queries, one test in the
    Holm–Bonferroni correction like any other dataset.
    """
    labels = sorted({m.retriever.label for m in entries})
    if baseline is not None and baseline not in labels:
        raise BeirctlError(f"baseline {baseline!r} not among the results (have: {', '.join(labels)})")
    by_label = benchmark_scores(entries, metric)
    scores: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    for lb, s in by_label.items():
        for ds, value in s.datasets.items():
            scores.setdefault(ds, {})[lb] = value
            per_query.setdefault(ds, {})[lb] = s.per_query.get(ds, {})
    if not scores:
        raise BeirctlError(f"no results carry metric {metric!r}")
    datasets = sorted(scores)
    averages = {lb: s.average for lb, s in by_label.items()}
    grouped = any(s.forums and CQADUPSTACK in s.datasets for s in by_label.values())  # forums folded
    comp = Comparison(metric, labels, datasets, scores, baseline, alpha, averages=averages, per_query=per_query)
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
            if grouped and ds == CQADUPSTACK:
                strata = np.array([q.split("/", 1)[0] for q in qids])
                comp.tests.setdefault(ds, {})[label] = stratified_tests(a, b, strata, seed, n_resamples)
            else:
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

PVALUE_HEADER = [
    "dataset",
    "retriever",
    "queries",
    "t-test p",
    "t-test p (Holm)",
    "randomization p",
    "randomization p (Holm)",
]


def _label_column(comp: Comparison, label: str) -> Column:
    return Column(label, label, "(baseline)" if label == comp.baseline else "")


def comparison_table(comp: Comparison) -> Table:
    """Datasets × retrievers: scores, best per dataset, deltas and significance marks against
    the baseline, and the average row (the leaderboard's average)."""
    columns = [Column("dataset", "dataset", align="left", role="other")]
    columns += [_label_column(comp, lb) for lb in comp.labels]
    rows = []
    for ds in comp.datasets:
        cells = {"dataset": Cell(text=ds)}
        for lb in comp.labels:
            if lb not in comp.scores[ds]:
                continue
            delta = comp.delta(ds, lb) if lb != comp.baseline else None
            marks = ""
            test = comp.tests.get(ds, {}).get(lb)
            if delta is not None and test is not None:
                marks = ("*" if test.t_p_holm < comp.alpha else "") + ("†" if test.rand_p_holm < comp.alpha else "")
            cells[lb] = Cell(comp.scores[ds][lb], delta=delta, marks=marks, best=comp.best(ds) == lb)
        rows.append(Row(cells))
    if len(comp.datasets) > 1:
        cells = {"dataset": Cell(text="average")}
        for lb in comp.labels:
            covers = all(lb in comp.scores[ds] for ds in comp.datasets)
            cells[lb] = Cell(comp.averages.get(lb) if covers else None)
        rows.append(Row(cells, summary=True))
    meta = {"metric": comp.metric, "baseline": comp.baseline, "alpha": comp.alpha}
    return Table(columns, rows, title=comp.metric, footnotes=[LEGEND], meta=meta)


def _test_columns(fmt: str) -> list[Column]:
    names = ["t_p", "t_p_holm", "rand_p", "rand_p_holm"]
    return [
        Column("dataset", "dataset", align="left", role="other"),
        Column("retriever", "retriever", align="left", role="other"),
        Column("queries", "queries", role="other"),
        *(Column(key, title, fmt=fmt, role="other") for key, title in zip(names, PVALUE_HEADER[3:])),
    ]


def _test_cells(test: Test) -> dict[str, Cell]:
    return {
        "queries": Cell(text=str(test.n)),
        "t_p": Cell(test.t_p),
        "t_p_holm": Cell(test.t_p_holm),
        "rand_p": Cell(test.rand_p),
        "rand_p_holm": Cell(test.rand_p_holm),
    }


def tests_table(comp: Comparison) -> Table:
    """A row per (dataset, retriever) tested against the baseline: queries and p-values."""
    rows = [
        Row({"dataset": Cell(text=ds), "retriever": Cell(text=lb), **_test_cells(t)})
        for ds in comp.datasets
        for lb, t in sorted(comp.tests.get(ds, {}).items())
    ]
    return Table(_test_columns(".4g"), rows, title="paired tests against the baseline")


def long_table(comp: Comparison) -> Table:
    """One row per (dataset, retriever): score, delta, queries, p-values, best (csv's layout)."""
    columns = [
        Column("dataset", "dataset", align="left", role="other"),
        Column("retriever", "retriever", align="left", role="other"),
        Column("score", comp.metric, fmt=".6f"),
        Column("delta", "delta", fmt=".6f", role="other"),
        *_test_columns(".6g")[2:],
        Column("best", "best", align="left", role="other"),
    ]
    rows = []
    for ds in comp.datasets:
        for lb in comp.labels:
            if lb not in comp.scores[ds]:
                continue
            test = comp.tests.get(ds, {}).get(lb)
            cells = {
                "dataset": Cell(text=ds),
                "retriever": Cell(text=lb),
                "score": Cell(comp.scores[ds][lb]),
                "delta": Cell(comp.delta(ds, lb)),
                **(_test_cells(test) if test else {}),
                "best": Cell(text="yes" if comp.best(ds) == lb else ""),
            }
            rows.append(Row(cells))
    return Table(columns, rows)


def tables_for(comp: Comparison, fmt: str) -> list[Table]:
    """The tables a format shows: csv the long table; latex the comparison; the others the
    comparison and, with a baseline, the paired tests."""
    if fmt == "csv":
        return [long_table(comp)]
    if fmt == "latex":
        return [comparison_table(comp)]
    return [comparison_table(comp)] + ([tests_table(comp)] if comp.tests else [])

"""Compare retrievers across datasets: best per dataset, deltas against a baseline, and paired
significance tests on per-query scores (paired t-test and Fisher's randomization test, each
Holm–Bonferroni-corrected across datasets)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from beirctl.datasets.catalog import CQADUPSTACK
from beirctl.datasets.loader import load_qrels, qrels_path
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate, read_run
from beirctl.results import RUN_FILE, PairResult, benchmark_scores, pair_dir
from beirctl.tables import Cell, Column, Row, Table
from beirctl.types import Qrels

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
    if not np.any(a - b):
        return Test(1.0, 1.0, n=len(a))
    t_p = float(stats.ttest_rel(a, b).pvalue)
    return Test(t_p, randomization_test(a, b, None, seed, n_resamples), n=len(a))


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
    if not np.any(a - b):
        return Test(1.0, 1.0, n=len(a))
    t_p = t_test(a, b, strata)[0]
    return Test(t_p, randomization_test(a, b, strata, seed, n_resamples), n=len(a))


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
    return Table(columns, rows, title=comp.metric, footnotes=[LEGEND] if comp.tests else [], meta=meta)


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


# --- the comparison a paper prints: several metrics, tests and corrections, all pairs -----------

TESTS: dict[str, str] = {
    "t": "paired t-test",
    "wilcoxon": "Wilcoxon signed-rank test",
    "randomization": "Fisher randomization test",
}
TEST_TITLES = {"t": "t-test", "wilcoxon": "Wilcoxon", "randomization": "randomization"}
TEST_SYMBOLS = {"t": "*", "randomization": "†", "wilcoxon": "‡"}
CORRECTIONS = {"holm": "Holm", "bonferroni": "Bonferroni", "none": "none"}
DEFAULT_TESTS = ("t", "randomization")
BETTER, WORSE = "↑", "↓"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
COMPARE_SCHEMA = "beirctl.compare/1"


def _strata(diff: np.ndarray, strata: np.ndarray) -> tuple[float, float, float, np.ndarray]:
    """The stratified mean difference (the mean over strata of each stratum's mean), its squared
    standard error, Welch–Satterthwaite degrees of freedom (inf when the error is 0) and the
    per-query weights; see :func:`stratified_tests`."""
    groups, index, counts = np.unique(strata, return_inverse=True, return_counts=True)
    k = len(groups)
    weights = 1.0 / (k * counts[index])
    var = np.array([np.var(diff[index == g], ddof=1) / counts[g] if counts[g] > 1 else 0.0 for g in range(k)])
    var /= k * k
    total = float(var.sum())
    dof_terms = [var[g] ** 2 / (counts[g] - 1) for g in range(k) if counts[g] > 1]
    dof = total**2 / sum(dof_terms) if total > 0 else float("inf")
    return float(np.sum(weights * diff)), total, float(dof), weights


def t_test(
    a: np.ndarray, b: np.ndarray, strata: np.ndarray | None = None, level: float = 0.95
) -> tuple[float, float, float, float]:
    """Two-sided paired t-test of ``a − b``: (p, mean difference, CI low, CI high), the CI the
    ``level`` t interval of the mean difference. Without strata :func:`scipy.stats.ttest_rel`
    and its ``confidence_interval``; with strata (CQADupStack's forums, counted equally) the
    stratified statistic of :func:`stratified_tests` with its Welch–Satterthwaite t interval.
    Identical runs: p 1, difference 0; a constant nonzero difference: p 0, a zero-width CI."""
    diff = a - b
    if not np.any(diff):
        return 1.0, 0.0, 0.0, 0.0
    if strata is None:
        mean = float(np.mean(diff))
        if len(diff) < 2 or np.ptp(diff) == 0:
            return (0.0 if len(diff) > 1 else 1.0), mean, mean, mean
        res = stats.ttest_rel(a, b)
        ci = res.confidence_interval(level)
        return float(res.pvalue), mean, float(ci.low), float(ci.high)
    statistic, var, dof, _ = _strata(diff, strata)
    if var == 0:
        return 0.0, statistic, statistic, statistic
    se = float(np.sqrt(var))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return float(2 * stats.t.sf(abs(statistic) / se, dof)), statistic, statistic - half, statistic + half


def randomization_test(
    a: np.ndarray, b: np.ndarray, strata: np.ndarray | None = None, seed: int = 0, n_resamples: int = N_RESAMPLES
) -> float:
    """Fisher's two-sided randomization test (scipy's paired permutation test: random sign flips
    of the per-query differences) of the mean difference; with strata, of the stratified mean."""
    diff = a - b
    if not np.any(diff) or len(diff) < 2:
        return 1.0  # one query: its two sign flips give ±d, both as extreme as d (scipy refuses n=1)
    weights = np.full(len(diff), 1.0 / len(diff)) if strata is None else _strata(diff, strata)[3]
    rand = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.sum(weights * (x - y), axis=axis),
        permutation_type="samples",
        n_resamples=n_resamples,
        alternative="two-sided",
        vectorized=True,
        random_state=np.random.default_rng(seed),
    )
    return float(rand.pvalue)


def _signed_rank(diff: np.ndarray) -> tuple[float, float, int]:
    """W+ minus its null mean, its null variance (tie-corrected) and n, zero differences dropped."""
    d = diff[diff != 0]
    n = len(d)
    if n == 0:
        return 0.0, 0.0, 0
    ranks = stats.rankdata(np.abs(d))
    _, ties = np.unique(np.abs(d), return_counts=True)
    centred = float(ranks[d > 0].sum()) - n * (n + 1) / 4
    var = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(ties**3 - ties)) / 48
    return centred, var, n


def wilcoxon_test(a: np.ndarray, b: np.ndarray, strata: np.ndarray | None = None) -> tuple[float, int]:
    """Two-sided Wilcoxon signed-rank test of ``a − b`` (zero differences dropped): (p, direction),
    the direction the sign of W+ − W−. Without strata :func:`scipy.stats.wilcoxon` (its default
    method). With strata, the stratified (van Elteren) form, which scipy does not have: each
    stratum's centred W+ weighted by 1/(n_s + 1), the normal approximation with the
    tie-corrected variances; one stratum is scipy's ``method="approx"`` without continuity
    correction."""
    diff = a - b
    if not np.any(diff):
        return 1.0, 0
    if strata is None:
        centred, _, _ = _signed_rank(diff)
        return float(stats.wilcoxon(a, b).pvalue), int(np.sign(centred))
    total, var = 0.0, 0.0
    for g in np.unique(strata):
        centred, v, n = _signed_rank(diff[strata == g])
        if n:
            total += centred / (n + 1)
            var += v / (n + 1) ** 2
    if var == 0:
        return 1.0, 0
    return float(2 * stats.norm.sf(abs(total) / np.sqrt(var))), int(np.sign(total))


def adjust(pvalues: Sequence[float], correction: str) -> list[float]:
    """Corrected p-values of one family: ``holm`` (:func:`holm`), ``bonferroni`` (m·p, capped at
    1) or ``none``."""
    if correction == "holm":
        return holm(list(pvalues))
    if correction == "bonferroni":
        return [min(1.0, len(pvalues) * p) for p in pvalues]
    if correction == "none":
        return list(pvalues)
    raise BeirctlError(f"unknown correction {correction!r} (one of {', '.join(CORRECTIONS)})")


@dataclass
class PairTest:
    """``system`` against ``against`` on one dataset and metric: the paired sample (``n``
    queries), the mean difference system − against (for CQADupStack the mean over forums, as the
    score is) with its 95% t CI, optionally the standardized mean change with its CI
    (:func:`beirctl.meta.standardized_mean_change`), per-query wins/ties/losses, and per test
    the p-value, the corrected one (across datasets) and the direction (+1: system higher)."""

    system: str
    against: str
    n: int
    difference: float
    ci_low: float
    ci_high: float
    wins: int
    ties: int
    losses: int
    p: dict[str, float] = field(default_factory=dict)
    p_adjusted: dict[str, float] = field(default_factory=dict)
    direction: dict[str, int] = field(default_factory=dict)
    smd: tuple[float, float, float] | None = None  # estimate, ci_low, ci_high

    def better(self, test: str, alpha: float) -> bool:
        return self.p_adjusted[test] < alpha and self.direction[test] > 0

    def worse(self, test: str, alpha: float) -> bool:
        return self.p_adjusted[test] < alpha and self.direction[test] < 0


def _direction(x: float) -> int:
    return 1 if x > 0 else -1 if x < 0 else 0


def pair_test(
    system: str,
    against: str,
    a: np.ndarray,
    b: np.ndarray,
    strata: np.ndarray | None,
    tests: Sequence[str],
    *,
    smd: bool = False,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
) -> PairTest:
    """The tests in ``tests`` of ``a`` (system) against ``b`` on one dataset (uncorrected)."""
    t_p, difference, low, high = t_test(a, b, strata)
    diff = a - b
    result = PairTest(
        system,
        against,
        len(a),
        difference,
        low,
        high,
        int(np.sum(diff > 0)),
        int(np.sum(diff == 0)),
        int(np.sum(diff < 0)),
    )
    for test in tests:
        if test == "t":
            result.p[test], result.direction[test] = t_p, _direction(difference)
        elif test == "randomization":
            result.p[test] = randomization_test(a, b, strata, seed, n_resamples)
            result.direction[test] = _direction(difference)
        else:
            result.p[test], result.direction[test] = wilcoxon_test(a, b, strata)
    if smd:
        result.smd = _smd(a, b, strata)
    return result


def _smd(a: np.ndarray, b: np.ndarray, strata: np.ndarray | None) -> tuple[float, float, float] | None:
    """The standardized mean change of :mod:`beirctl.meta` (CQADupStack: its forums combined by
    fixed effect, as the meta-analysis does); None where it is undefined (SD 0, under 3 queries)."""
    from beirctl.meta import MetaAnalysisError, dataset_effects, standardized_mean_change

    try:
        if strata is None:
            eff = standardized_mean_change(a.tolist(), b.tolist())
        else:
            groups = sorted(set(strata.tolist()))
            sys_: dict[str, dict[str, float]] = {}
            base: dict[str, dict[str, float]] = {}
            for g in groups:
                idx = np.flatnonzero(strata == g)
                sys_[f"{CQADUPSTACK}/{g}"] = {str(i): float(a[i]) for i in idx}
                base[f"{CQADUPSTACK}/{g}"] = {str(i): float(b[i]) for i in idx}
            eff = dataset_effects(sys_, base, effect="smd")[CQADUPSTACK]
    except MetaAnalysisError:
        return None
    return eff.estimate, eff.ci_low, eff.ci_high


@dataclass
class MultiComparison:
    """Retrievers compared on several metrics: scores (as :func:`beirctl.results.retriever_scores`
    counts them), and either no tests, tests against a ``baseline``, or tests of ``all_pairs``."""

    metrics: list[str]
    labels: list[str]
    datasets: list[str]
    scores: dict[str, dict[str, dict[str, float]]]  # metric -> dataset -> label -> score
    averages: dict[str, dict[str, float | None]]  # metric -> label -> the leaderboard's average
    baseline: str | None = None
    all_pairs: bool = False
    tests: list[str] = field(default_factory=lambda: list(DEFAULT_TESTS))
    correction: str = "holm"
    alpha: float = 0.05
    digits: int = 4
    seed: int = 0
    n_resamples: int = N_RESAMPLES
    pairs: dict[str, dict[str, list[PairTest]]] = field(default_factory=dict)  # metric -> dataset -> tests
    family: int = 0  # the most datasets in one corrected family
    computed: dict[str, int] = field(default_factory=dict)  # metric -> results it was computed for from runs

    @property
    def tested(self) -> bool:
        return any(tests for per_ds in self.pairs.values() for tests in per_ds.values())

    @property
    def letters(self) -> dict[str, str]:
        return {lb: LETTERS[i] for i, lb in enumerate(self.labels)} if self.all_pairs else {}

    def rounded(self, x: float) -> float:
        return float(format(x, f".{self.digits}f"))

    def shown(self, metric: str, dataset: str, label: str) -> float | None:
        """The score as printed (rounded to ``digits``)."""
        v = self.scores[metric].get(dataset, {}).get(label)
        return None if v is None else self.rounded(v)

    def best(self, metric: str, dataset: str) -> list[str]:
        """The labels with the highest score as printed (ties all best)."""
        row = {lb: self.rounded(v) for lb, v in self.scores[metric].get(dataset, {}).items()}
        top = max(row.values(), default=None)
        return [lb for lb in self.labels if lb in row and row[lb] == top]

    def delta(self, metric: str, dataset: str, label: str) -> float | None:
        """The difference to the baseline of the printed (rounded) figures, so they add up on the page."""
        if self.baseline is None or label == self.baseline:
            return None
        a, b = self.shown(metric, dataset, label), self.shown(metric, dataset, self.baseline)
        return None if a is None or b is None else self.rounded(a - b)

    def pair(self, metric: str, dataset: str, label: str, other: str) -> PairTest | None:
        for p in self.pairs.get(metric, {}).get(dataset, []):
            if {p.system, p.against} == {label, other}:
                return p
        return None

    def marks(self, metric: str, dataset: str, label: str) -> str:
        """Baseline mode: ``↑`` and the symbols of the tests by which ``label`` is significantly
        better than the baseline, ``↓`` and those by which it is worse."""
        if self.baseline is None or label == self.baseline:
            return ""
        p = self.pair(metric, dataset, label, self.baseline)
        if p is None:
            return ""
        up = "".join(TEST_SYMBOLS[t] for t in self.tests if p.better(t, self.alpha))
        down = "".join(TEST_SYMBOLS[t] for t in self.tests if p.worse(t, self.alpha))
        return (BETTER + up if up else "") + (WORSE + down if down else "")

    def superiors(self, metric: str, dataset: str, label: str) -> str:
        """All-pairs mode (ranx's letters): the letters of the systems ``label`` is significantly
        better than by every test."""
        if not self.all_pairs:
            return ""
        out = ""
        for other, letter in self.letters.items():
            p = self.pair(metric, dataset, label, other) if other != label else None
            if p is None:
                continue
            if p.system == label:
                wins = all(p.better(t, self.alpha) for t in self.tests)
            else:
                wins = all(p.worse(t, self.alpha) for t in self.tests)
            out += letter if wins else ""
        return out

    def legend(self) -> list[str]:
        """What the marks mean; nothing when no test ran."""
        if not self.tested:
            return []
        names = [f"{TESTS[t]} ({TEST_SYMBOLS[t]})" for t in self.tests]
        by = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        corrected = (
            "uncorrected"
            if self.correction == "none"
            else f"{CORRECTIONS[self.correction]}-corrected across {self.family} datasets"
        )
        test = f"two-sided p < {self.alpha:g}, {corrected}"
        if self.all_pairs:
            who = ", ".join(f"{letter} = {lb}" for lb, letter in self.letters.items())
            every = "every test" if len(self.tests) > 1 else "the test"
            tests = ", ".join(TESTS[t] for t in self.tests)
            return [
                f"Superscript letters: significantly better than the systems with those letters ({who}) "
                f"by {every} ({tests}; {test}). Bold: best on the dataset."
            ]
        return [
            f"{BETTER}/{WORSE}: significantly better/worse than the baseline {self.baseline} by the {by}; "
            f"{test}. Bold: best on the dataset; (±x): difference to the baseline of the figures shown."
        ]

    def to_json(self) -> dict[str, Any]:
        """The whole comparison as one JSON document (numbers at full precision, NaN as null)."""
        mode = "all-pairs" if self.all_pairs else "baseline" if self.baseline is not None else "none"
        doc: dict[str, Any] = {
            "schema": COMPARE_SCHEMA,
            "metrics": self.metrics,
            "systems": self.labels,
            "datasets": self.datasets,
            "mode": mode,
            "baseline": self.baseline,
            "tests": self.tests if mode != "none" else [],
            "correction": self.correction,
            "alpha": self.alpha,
            "digits": self.digits,
            "randomization": {"resamples": self.n_resamples, "seed": self.seed},
        }
        if self.all_pairs:
            doc["letters"] = self.letters
        doc["scores"] = self.scores
        doc["averages"] = self.averages
        doc["best"] = {
            m: {ds: self.best(m, ds) for ds in self.datasets if self.scores[m].get(ds)} for m in self.metrics
        }
        if self.baseline is not None:
            doc["deltas"] = {
                m: {
                    ds: {lb: d for lb in self.labels if (d := self.delta(m, ds, lb)) is not None}
                    for ds in self.datasets
                }
                for m in self.metrics
            }
        with_smd = any(p.smd is not None for p in self._all())
        doc["comparisons"] = [
            {
                "metric": m,
                "dataset": ds,
                "system": p.system,
                "against": p.against,
                "n": p.n,
                "difference": _finite(p.difference),
                "ci_low": _finite(p.ci_low),
                "ci_high": _finite(p.ci_high),
                **({"smd": _smd_json(p.smd)} if with_smd else {}),
                "wins": p.wins,
                "ties": p.ties,
                "losses": p.losses,
                "p": {t: _finite(v) for t, v in p.p.items()},
                "p_adjusted": {t: _finite(v) for t, v in p.p_adjusted.items()},
                "better": [t for t in self.tests if p.better(t, self.alpha)],
                "worse": [t for t in self.tests if p.worse(t, self.alpha)],
            }
            for m in self.metrics
            for ds in self.datasets
            for p in self.pairs.get(m, {}).get(ds, [])
        ]
        doc["computed_from_runs"] = self.computed
        doc["notes"] = self.legend()
        return doc

    def _all(self) -> list[PairTest]:
        return [p for per_ds in self.pairs.values() for ps in per_ds.values() for p in ps]


def _smd_json(smd: tuple[float, float, float] | None) -> dict[str, float] | None:
    return None if smd is None else {"estimate": smd[0], "ci_low": smd[1], "ci_high": smd[2]}


def _finite(x: float) -> float | None:
    return x if np.isfinite(x) else None


def compare_metrics(
    entries: Sequence[PairResult],
    metrics: Sequence[str] = ("nDCG@10",),
    baseline: str | None = None,
    *,
    all_pairs: bool = False,
    tests: Sequence[str] = DEFAULT_TESTS,
    correction: str = "holm",
    alpha: float = 0.05,
    digits: int = 4,
    smd: bool = False,
    seed: int = 0,
    n_resamples: int = N_RESAMPLES,
    computed: dict[str, int] | None = None,
) -> MultiComparison:
    """Compare every retriever in ``entries`` on ``metrics`` (each already in the results; see
    :func:`fill_metrics` for those that are not).

    Scores and averages are :func:`beirctl.results.benchmark_scores`' (CQADupStack once, the mean
    of its 12 forums, tested with the stratified tests over its forums' queries). Baseline mode
    tests each retriever against ``baseline``; ``all_pairs`` every pair. Each test's p-values are
    corrected per (metric, pair) across the datasets tested.
    """
    metrics = list(dict.fromkeys(metrics))
    tests = list(dict.fromkeys(tests))
    unknown = [t for t in tests if t not in TESTS]
    if unknown or not tests:
        raise BeirctlError(f"unknown test {', '.join(unknown) or '(none)'} (one or more of {', '.join(TESTS)})")
    if correction not in CORRECTIONS:
        raise BeirctlError(f"unknown correction {correction!r} (one of {', '.join(CORRECTIONS)})")
    if not 0 < alpha < 1:
        raise BeirctlError(f"alpha must be between 0 and 1, got {alpha}")
    if not 0 <= digits <= 10:
        raise BeirctlError(f"digits must be between 0 and 10, got {digits}")
    labels = sorted({m.retriever.label for m in entries})
    if all_pairs and baseline is not None:
        raise BeirctlError("--all-pairs tests every pair; leave out --baseline")
    if all_pairs and len(labels) > len(LETTERS):
        raise BeirctlError(f"--all-pairs letters run out at {len(LETTERS)} systems (have {len(labels)})")
    if baseline is not None and baseline not in labels:
        raise BeirctlError(f"baseline {baseline!r} not among the results (have: {', '.join(labels)})")
    mc = MultiComparison(
        metrics,
        labels,
        [],
        {},
        {},
        baseline,
        all_pairs,
        tests,
        correction,
        alpha,
        digits,
        seed,
        n_resamples,
        computed=dict(computed or {}),
    )
    if all_pairs:
        pairs = [(x, y) for i, x in enumerate(labels) for y in labels[i + 1 :]]
    elif baseline is not None:
        pairs = [(lb, baseline) for lb in labels if lb != baseline]
    else:
        pairs = []
    datasets: set[str] = set()
    for metric in metrics:
        by_label = benchmark_scores(entries, metric)
        scores: dict[str, dict[str, float]] = {}
        for lb, s in by_label.items():
            for ds, value in s.datasets.items():
                scores.setdefault(ds, {})[lb] = value
        if not scores:
            raise BeirctlError(f"no results carry metric {metric!r}")
        datasets |= set(scores)
        mc.scores[metric] = dict(sorted(scores.items()))
        mc.averages[metric] = {lb: s.average for lb, s in by_label.items()}
        per_ds: dict[str, list[PairTest]] = {}
        for x, y in pairs:
            tested: list[PairTest] = []
            for ds in sorted(scores):
                px, py = by_label[x].per_query.get(ds), by_label[y].per_query.get(ds)
                if px is None or py is None:
                    continue
                qids = sorted(set(px) & set(py))
                a = np.array([px[q] for q in qids])
                b = np.array([py[q] for q in qids])
                grouped = ds == CQADUPSTACK and bool(by_label[x].forums)
                strata = np.array([q.split("/", 1)[0] for q in qids]) if grouped else None
                pt = pair_test(x, y, a, b, strata, tests, smd=smd, seed=seed, n_resamples=n_resamples)
                per_ds.setdefault(ds, []).append(pt)
                tested.append(pt)
            for test in tests:
                for pt, p in zip(tested, adjust([pt.p[test] for pt in tested], correction)):
                    pt.p_adjusted[test] = p
            mc.family = max(mc.family, len(tested))
        mc.pairs[metric] = per_ds
    mc.datasets = sorted(datasets)
    return mc


# --- metrics not computed at run time: from the stored run files -------------------------------


def _run_file(roots: Sequence[Path], entry: PairResult) -> Path:
    candidates = [pair_dir(root, entry.dataset.name, entry.retriever.label) / RUN_FILE for root in roots]
    for path in candidates:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in candidates)
    raise BeirctlError(f"{entry.dataset.name} × {entry.retriever.label}: no run file ({where})")


def _qrels(entry: PairResult, data_dir: Path | None, cache: dict[Path, tuple[Qrels, str]]) -> Qrels:
    """The qrels ``entry`` was evaluated on: ``<data_dir>/<dataset>`` when given and there, else
    the dataset folder recorded in metrics.json; their md5 must be the one recorded."""
    ds = entry.dataset
    folders = [Path(data_dir) / ds.name] if data_dir is not None else []
    if ds.source and not ds.source.startswith("hf:"):
        folders.append(Path(ds.source))
    paths = [qrels_path(folder, ds.split) for folder in folders]
    path = next((p for p in paths if p.is_file()), None)
    if path is None:
        where = ", ".join(str(p) for p in paths) or f"the dataset came from the hub ({ds.source})"
        raise BeirctlError(
            f"{ds.name} × {entry.retriever.label}: no qrels to compute metrics from ({where}); "
            "give the datasets folder with --data-dir"
        )
    if path not in cache:
        qrels, _, md5 = load_qrels(path)
        cache[path] = (qrels, md5)
    qrels, md5 = cache[path]
    recorded = ds.checksums.get(f"qrels/{ds.split}.tsv:md5")
    if recorded and recorded != md5:
        raise BeirctlError(
            f"{path} is not the qrels {ds.name} × {entry.retriever.label} was evaluated on "
            f"(md5 {md5}, recorded {recorded}); run the config again or point --data-dir at that copy"
        )
    return qrels


def fill_metrics(
    entries: Sequence[PairResult], metrics: Sequence[str], roots: Sequence[Path], data_dir: Path | None = None
) -> tuple[list[PairResult], dict[str, int]]:
    """``entries`` with every metric of ``metrics`` they lack computed from the run file beside
    their metrics.json (``<root>/<dataset>/<label>/run.trec.gz``) and the dataset's qrels
    (:func:`beirctl.evaluation.evaluate`, the runner's own evaluation), and per metric how many
    results it was computed for. Nothing is written."""
    cache: dict[Path, tuple[Qrels, str]] = {}
    out: list[PairResult] = []
    computed: dict[str, int] = {}
    for m in entries:
        missing = [x for x in metrics if x not in m.aggregate]
        if not missing:
            out.append(m)
            continue
        qrels = _qrels(m, data_dir, cache)
        result = evaluate(read_run(_run_file(roots, m)), qrels, missing)
        update = {
            "aggregate": {**m.aggregate, **result.aggregate},
            "per_query": {**m.per_query, **result.per_query},
        }
        out.append(m.model_copy(update=update))
        for x in missing:
            computed[x] = computed.get(x, 0) + 1
    return out, computed


# --- its tables --------------------------------------------------------------------------------


def _key(mc: MultiComparison, metric: str, label: str) -> str:
    return label if len(mc.metrics) == 1 else f"{metric}/{label}"


def paper_table(
    mc: MultiComparison,
    *,
    deltas: bool = True,
    wtl: bool = False,
    caption: str | None = None,
    label: str | None = None,
) -> Table:
    """Datasets × (metric, retriever): the printed scores, best in bold, deltas to the baseline
    (of the rounded figures), significance marks (baseline mode) or ranx letters (all pairs),
    optionally wins/ties/losses against the baseline, and the average row. ``caption``/``label``
    make its LaTeX a complete ``table`` environment (the caption LaTeX as is, the legend after)."""
    from beirctl.tables import latex_escape

    multi = len(mc.metrics) > 1
    fmt = f".{mc.digits}f"
    columns = [Column("dataset", "dataset", align="left", role="other")]
    letters = mc.letters
    for metric in mc.metrics:
        group = metric if multi else ""
        for lb in mc.labels:
            sub = "(baseline)" if lb == mc.baseline else f"({letters[lb]})" if lb in letters else ""
            columns.append(Column(_key(mc, metric, lb), lb, sub, fmt=fmt, group=group))
            if wtl and mc.baseline is not None and lb != mc.baseline:
                columns.append(Column(_key(mc, metric, lb) + "/wtl", "W/T/L", lb, role="other", group=group))
    rows = []
    for ds in mc.datasets:
        cells: dict[str, Cell] = {"dataset": Cell(text=ds)}
        for metric in mc.metrics:
            row = mc.scores[metric].get(ds, {})
            best = mc.best(metric, ds)
            for lb in mc.labels:
                if lb not in row:
                    continue
                key = _key(mc, metric, lb)
                cells[key] = Cell(
                    row[lb],
                    delta=mc.delta(metric, ds, lb) if deltas else None,
                    marks=mc.marks(metric, ds, lb),
                    best=lb in best,
                    sup=mc.superiors(metric, ds, lb),
                )
                p = mc.pair(metric, ds, lb, mc.baseline) if wtl and mc.baseline and lb != mc.baseline else None
                if p is not None:
                    cells[key + "/wtl"] = Cell(text=f"{p.wins}/{p.ties}/{p.losses}")
        rows.append(Row(cells))
    if len(mc.datasets) > 1:
        cells = {"dataset": Cell(text="average")}
        for metric in mc.metrics:
            avg = mc.averages[metric]
            covers = {lb for lb in mc.labels if all(lb in mc.scores[metric].get(ds, {}) for ds in mc.datasets)}
            for lb in mc.labels:  # the leaderboard's average, as `show` prints it: no marks
                if lb in covers and (v := avg.get(lb)) is not None:
                    cells[_key(mc, metric, lb)] = Cell(v)
        rows.append(Row(cells, summary=True))
    title = " · ".join(mc.metrics)
    meta: dict[str, Any] = {"metrics": mc.metrics, "baseline": mc.baseline, "alpha": mc.alpha}
    if caption is None and label is not None:
        caption = latex_escape(f"{' and '.join(mc.metrics)} on {len(mc.datasets)} datasets.")
    return Table(columns, rows, title=title, footnotes=mc.legend(), meta=meta, caption=caption, label=label)


PAIR_TITLE = {True: "paired tests between all pairs", False: "paired tests against the baseline"}


def pairs_table(mc: MultiComparison, pfmt: str = ".4g", fmt: str | None = None) -> Table:
    """A row per (dataset, metric, pair) tested: queries, the mean difference and its 95% CI,
    the standardized one where computed, wins/ties/losses, each test's p and corrected p
    (``pfmt``; differences in ``fmt``, by default the comparison's digits)."""
    multi = len(mc.metrics) > 1
    fmt = fmt or f".{mc.digits}f"
    with_smd = any(p.smd is not None for p in mc._all())
    corr = CORRECTIONS[mc.correction]
    columns = [Column("dataset", "dataset", align="left", role="other")]
    if multi:
        columns.append(Column("metric", "metric", align="left", role="other"))
    columns.append(Column("retriever", "retriever", align="left", role="other"))
    if mc.all_pairs:
        columns.append(Column("against", "vs", align="left", role="other"))
    columns += [
        Column("queries", "queries", role="other"),
        Column("difference", "difference", fmt=fmt, role="other"),
        Column("ci_low", "95% CI low", fmt=fmt, role="other"),
        Column("ci_high", "95% CI high", fmt=fmt, role="other"),
    ]
    if with_smd:
        columns += [
            Column("smd", "SMD", fmt=".3f", role="other"),
            Column("smd_low", "SMD CI low", fmt=".3f", role="other"),
            Column("smd_high", "SMD CI high", fmt=".3f", role="other"),
        ]
    columns += [Column(k, k, role="other") for k in ("wins", "ties", "losses")]
    for t in mc.tests:
        columns.append(Column(f"{t}_p", f"{TEST_TITLES[t]} p", fmt=pfmt, role="other"))
        if mc.correction != "none":
            columns.append(Column(f"{t}_p_adj", f"{TEST_TITLES[t]} p ({corr})", fmt=pfmt, role="other"))
    rows = []
    for ds in mc.datasets:
        for metric in mc.metrics:
            for p in mc.pairs.get(metric, {}).get(ds, []):
                cells = {
                    "dataset": Cell(text=ds),
                    "metric": Cell(text=metric),
                    "retriever": Cell(text=p.system),
                    "against": Cell(text=p.against),
                    "queries": Cell(text=str(p.n)),
                    "difference": Cell(p.difference),
                    "ci_low": Cell(p.ci_low),
                    "ci_high": Cell(p.ci_high),
                    "wins": Cell(text=str(p.wins)),
                    "ties": Cell(text=str(p.ties)),
                    "losses": Cell(text=str(p.losses)),
                }
                if p.smd is not None:
                    cells.update(smd=Cell(p.smd[0]), smd_low=Cell(p.smd[1]), smd_high=Cell(p.smd[2]))
                for t in mc.tests:
                    cells[f"{t}_p"] = Cell(p.p[t])
                    cells[f"{t}_p_adj"] = Cell(p.p_adjusted[t])
                rows.append(Row(cells))
    return Table(columns, rows, title=PAIR_TITLE[mc.all_pairs])


def scores_long_table(mc: MultiComparison) -> Table:
    """One row per (dataset, metric, retriever): score, the difference to the baseline (raw),
    in baseline mode queries and p-values against it, and whether best (csv's layout)."""
    multi = len(mc.metrics) > 1
    columns = [Column("dataset", "dataset", align="left", role="other")]
    if multi:
        columns.append(Column("metric", "metric", align="left", role="other"))
    columns += [
        Column("retriever", "retriever", align="left", role="other"),
        Column("score", "score" if multi else mc.metrics[0], fmt=".6f"),
        Column("delta", "delta", fmt=".6f", role="other"),
    ]
    tested = mc.baseline is not None and mc.tested
    if tested:
        columns.append(Column("queries", "queries", role="other"))
        for t in mc.tests:
            columns.append(Column(f"{t}_p", f"{TEST_TITLES[t]} p", fmt=".6g", role="other"))
            if mc.correction != "none":
                title = f"{TEST_TITLES[t]} p ({CORRECTIONS[mc.correction]})"
                columns.append(Column(f"{t}_p_adj", title, fmt=".6g", role="other"))
    columns.append(Column("best", "best", align="left", role="other"))
    rows = []
    for ds in mc.datasets:
        for metric in mc.metrics:
            row = mc.scores[metric].get(ds, {})
            for lb in mc.labels:
                if lb not in row:
                    continue
                base = row.get(mc.baseline) if mc.baseline is not None else None
                cells = {
                    "dataset": Cell(text=ds),
                    "metric": Cell(text=metric),
                    "retriever": Cell(text=lb),
                    "score": Cell(row[lb]),
                    "delta": Cell(None if base is None else row[lb] - base),
                    "best": Cell(text="yes" if lb in mc.best(metric, ds) else ""),
                }
                p = mc.pair(metric, ds, lb, mc.baseline) if tested and mc.baseline and lb != mc.baseline else None
                if p is not None:
                    cells["queries"] = Cell(text=str(p.n))
                    for t in mc.tests:
                        cells[f"{t}_p"] = Cell(p.p[t])
                        cells[f"{t}_p_adj"] = Cell(p.p_adjusted[t])
                rows.append(Row(cells))
    return Table(columns, rows)


def comparison_tables(
    mc: MultiComparison,
    fmt: str,
    *,
    deltas: bool = True,
    wtl: bool = False,
    caption: str | None = None,
    label: str | None = None,
) -> list[Table]:
    """The tables a format shows: csv the long table; latex the paper table; the others the
    paper table and, when tests ran, the paired tests."""
    if fmt == "csv":
        return [scores_long_table(mc)]
    main = paper_table(mc, deltas=deltas, wtl=wtl, caption=caption, label=label)
    if fmt == "latex":
        return [main]
    return [main] + ([pairs_table(mc)] if mc.tested else [])


def pvalues_text(mc: MultiComparison, fmt: str) -> str:
    """The paired tests (p-values, corrected p-values, differences and CIs) in ``fmt``: csv,
    markdown, latex, html, or json (the comparisons of :meth:`MultiComparison.to_json`)."""
    import json

    from beirctl.tables import render

    if fmt == "json":
        doc = mc.to_json()
        keys = ("schema", "metrics", "mode", "baseline", "tests", "correction", "alpha", "comparisons")
        return json.dumps({k: doc[k] for k in keys}, indent=2, allow_nan=False) + "\n"
    table = pairs_table(mc, ".6g", ".6f") if fmt == "csv" else pairs_table(mc)
    if fmt == "csv":
        table.title = None
    return render([table], fmt)

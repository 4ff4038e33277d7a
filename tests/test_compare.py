"""compare: deltas, best marks, and p-values checked against scipy computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from beirctl.compare import compare, holm, paired_tests, stratified_tests, tables_for
from beirctl.errors import BeirctlError
from beirctl.results import PairResult
from beirctl.tables import render as render_tables
from tests.result_factory import make_result


def entry(dataset: str, label: str, values: dict[str, float]) -> PairResult:
    return make_result(dataset, label, values)


def render(comp, fmt: str) -> str:  # type: ignore[no-untyped-def]
    return render_tables(tables_for(comp, fmt), fmt)


RNG = np.random.default_rng(7)
BASE = {f"d{i}": {f"q{j}": float(RNG.uniform()) for j in range(40)} for i in range(3)}
# "better" is the baseline plus 0.1 on dataset d0 (clearly significant), noise elsewhere
BETTER = {
    ds: {q: min(1.0, v + (0.1 if ds == "d0" else float(RNG.normal(0, 0.05)))) for q, v in qs.items()}
    for ds, qs in BASE.items()
}
ENTRIES = [entry(ds, "base", v) for ds, v in BASE.items()] + [entry(ds, "better", v) for ds, v in BETTER.items()]


def test_pvalues_match_scipy() -> None:
    comp = compare(ENTRIES, "nDCG@10", baseline="base", n_resamples=2000)
    raw_t, raw_r = [], []
    for ds in ["d0", "d1", "d2"]:
        q = sorted(BASE[ds])
        a = np.array([BETTER[ds][x] for x in q])
        b = np.array([BASE[ds][x] for x in q])
        t = comp.tests[ds]["better"]
        assert t.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
        # randomization test: exact same resampling with the same seed
        expected = stats.permutation_test(
            (a, b),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            permutation_type="samples",
            n_resamples=2000,
            vectorized=True,
            random_state=np.random.default_rng(0),
        ).pvalue
        assert t.rand_p == pytest.approx(expected)
        raw_t.append(t.t_p)
        raw_r.append(t.rand_p)
        assert comp.delta(ds, "better") == pytest.approx(np.mean(a) - np.mean(b))
    assert [comp.tests[ds]["better"].t_p_holm for ds in ["d0", "d1", "d2"]] == pytest.approx(holm(raw_t))
    assert comp.tests["d0"]["better"].t_p_holm < 0.05 and comp.best("d0") == "better"


def test_holm_by_hand() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, 0.06, 0.06 (monotone), 0.5
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


def test_identical_runs_are_not_significant() -> None:
    a = np.array([0.1, 0.5, 0.9])
    assert paired_tests(a, a.copy()).t_p == 1.0


def test_renderings() -> None:
    comp = compare(ENTRIES, "nDCG@10", baseline="base", n_resamples=500)
    md = render(comp, "markdown")
    assert "| dataset | base (baseline) | better |" in md and "**" in md and "t-test p (Holm)" in md
    assert "\\begin{tabular}{lrr}" in render(comp, "latex")
    csv_text = render(comp, "csv")
    assert csv_text.splitlines()[0].startswith("dataset,retriever,nDCG@10,delta")
    assert len(csv_text.splitlines()) == 1 + 6
    with pytest.raises(BeirctlError, match="unknown format"):
        render(comp, "xml")
    with pytest.raises(BeirctlError, match="baseline 'nope' not among"):
        compare(ENTRIES, baseline="nope")


def test_rendered_cells() -> None:
    comp = compare(ENTRIES, "nDCG@10", baseline="base", n_resamples=500)
    md = render(comp, "markdown").splitlines()
    d0 = next(line for line in md if line.startswith("| d0 |"))
    delta = comp.delta("d0", "better")
    assert d0 == f"| d0 | {comp.scores['d0']['base']:.4f} | **{comp.scores['d0']['better']:.4f}** ({delta:+.4f})*† |"
    latex = render(comp, "latex")
    assert f"\\textbf{{{comp.scores['d0']['better']:.4f}}} ({delta:+.4f})$^{{*\\dagger}}$" in latex
    assert latex.rstrip().splitlines()[-1].startswith("% nDCG@10; bold = best")
    rows = [line.split(",") for line in render(comp, "csv").splitlines()[1:]]
    assert [r[:2] for r in rows][:2] == [["d0", "base"], ["d0", "better"]]
    assert rows[0][3] == "0.000000" and rows[0][4] == "" and float(rows[1][3]) == pytest.approx(delta, abs=1e-6)
    average = next(line for line in md if line.startswith("| average |"))
    assert average == f"| average | {comp.averages['base']:.4f} | {comp.averages['better']:.4f} |"


def test_stratified_tests_are_paired_tests_of_the_forum_mean() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(size=60)
    b = np.clip(a - rng.normal(0.05, 0.1, size=60), 0, 1)
    # one stratum: exactly the plain paired t-test, and the same randomization p
    one = stratified_tests(a, b, np.array(["x"] * 60), n_resamples=1000)
    plain = paired_tests(a, b, n_resamples=1000)
    assert one.t_p == pytest.approx(plain.t_p) and one.rand_p == pytest.approx(plain.rand_p)
    # strata of 10 and 50 queries, counted equally: the statistic is the mean of the strata's means
    strata = np.array(["s"] * 10 + ["t"] * 50)
    weights = np.where(strata == "s", 1 / 20, 1 / 100)
    test = stratified_tests(a, b, strata, n_resamples=1000)
    expected = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.sum(weights * (x - y), axis=axis),
        permutation_type="samples",
        n_resamples=1000,
        vectorized=True,
        random_state=np.random.default_rng(0),
    ).pvalue
    assert test.rand_p == pytest.approx(expected) and test.n == 60
    d = a - b
    v = [np.var(d[:10], ddof=1) / 10 / 4, np.var(d[10:], ddof=1) / 50 / 4]
    t = (d[:10].mean() + d[10:].mean()) / 2 / np.sqrt(sum(v))
    dof = sum(v) ** 2 / (v[0] ** 2 / 9 + v[1] ** 2 / 49)
    assert test.t_p == pytest.approx(2 * stats.t.sf(abs(t), dof))


def test_legend_only_when_tests_ran() -> None:
    assert tables_for(compare(ENTRIES, "nDCG@10"), "markdown")[0].footnotes == []
    assert tables_for(compare(ENTRIES, "nDCG@10", baseline="base", n_resamples=100), "markdown")[0].footnotes


def test_randomization_test_exact_on_one_and_two_queries() -> None:
    from beirctl.compare import randomization_test

    # one query: the sign flips give +d and -d, both as extreme as d; scipy itself refuses n=1
    assert randomization_test(np.array([0.5]), np.array([0.1])) == 1.0
    # two queries, differences 0.4 and 0.1: flips give means ±0.25, ±0.15; two of four reach 0.25
    assert randomization_test(np.array([0.5, 0.2]), np.array([0.1, 0.1])) == pytest.approx(0.5)

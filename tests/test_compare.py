"""compare: deltas, best marks, and p-values checked against scipy computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from beirctl.compare import compare, holm, paired_tests, render
from beirctl.errors import BeirctlError


def entry(dataset: str, label: str, values: dict[str, float]) -> dict:
    return {
        "dataset": {"name": dataset},
        "retriever": {"label": label},
        "aggregate": {"nDCG@10": float(np.mean(list(values.values())))},
        "per_query": {"nDCG@10": values},
    }


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

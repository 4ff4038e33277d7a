"""`beirctl compare` for a paper: several metrics (missing ones computed from the run files),
t / Wilcoxon / randomization tests with Holm, Bonferroni or no correction, ranx-style all-pairs
letters, better/worse marks, effect sizes with CIs, wins/ties/losses, LaTeX, JSON, p-values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.compare import (
    adjust,
    compare_metrics,
    comparison_tables,
    fill_metrics,
    paper_table,
    stratified_tests,
    t_test,
    wilcoxon_test,
)
from beirctl.datasets.catalog import CQADUPSTACK_FORUMS
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate
from beirctl.results import PairResult
from beirctl.tables import render
from tests.result_factory import make_result, write_results

runner = CliRunner()


# --- the statistics, against scipy / statsmodels on the same inputs ----------------------------


def test_t_test_and_its_ci_are_scipys() -> None:
    rng = np.random.default_rng(5)
    a = rng.uniform(size=50)
    b = np.clip(a - rng.normal(0.03, 0.1, size=50), 0, 1)
    p, diff, low, high = t_test(a, b)
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert (p, diff, low, high) == pytest.approx((ref.pvalue, np.mean(a - b), ci.low, ci.high))
    # one stratum: the stratified form is the same test and interval
    assert t_test(a, b, np.array(["x"] * 50)) == pytest.approx((p, diff, low, high))
    # two strata counted equally: the mean of the strata's means, Welch–Satterthwaite t interval
    strata = np.array(["s"] * 10 + ["t"] * 40)
    d = a - b
    v = [np.var(d[:10], ddof=1) / 10 / 4, np.var(d[10:], ddof=1) / 40 / 4]
    est = (d[:10].mean() + d[10:].mean()) / 2
    dof = sum(v) ** 2 / (v[0] ** 2 / 9 + v[1] ** 2 / 39)
    half = stats.t.ppf(0.975, dof) * np.sqrt(sum(v))
    p2, diff2, low2, high2 = t_test(a, b, strata)
    assert (diff2, low2, high2) == pytest.approx((est, est - half, est + half))
    assert p2 == pytest.approx(stratified_tests(a, b, strata, n_resamples=100).t_p)
    # identical runs and a constant shift
    assert t_test(a, a.copy()) == (1.0, 0.0, 0.0, 0.0)
    assert t_test(a + 0.25, a) == pytest.approx((0.0, 0.25, 0.25, 0.25))


def test_wilcoxon_is_scipys_and_its_stratified_form() -> None:
    rng = np.random.default_rng(0)
    a = np.round(rng.uniform(size=40), 1)  # ties and zero differences
    b = np.round(rng.uniform(size=40), 1)
    p, direction = wilcoxon_test(a, b)
    assert p == pytest.approx(stats.wilcoxon(a, b).pvalue)
    d = (a - b)[a != b]
    ranks = stats.rankdata(np.abs(d))
    assert direction == np.sign(ranks[d > 0].sum() - ranks[d < 0].sum())
    # one stratum: scipy's normal approximation (tie-corrected, no continuity correction)
    one = wilcoxon_test(a, b, np.array(["x"] * 40))
    assert one[0] == pytest.approx(stats.wilcoxon(a, b, method="approx", correction=False).pvalue)
    # van Elteren by hand on two strata: sum of (W+ - n(n+1)/4)/(n+1), variances / (n+1)^2
    x = np.array([0.5, 0.7, 0.2, 0.9, 0.4, 0.6, 0.3])
    y = np.array([0.1, 0.4, 0.3, 0.2, 0.1, 0.5, 0.1])
    strata = np.array(["s", "s", "s", "t", "t", "t", "t"])
    # s: d = .4 .3 -.1 -> ranks 3 2 1, W+ = 5, mean 3, var 3*4*7/24 = 3.5
    # t: d = .7 .3 .1 .2 -> W+ = 10, mean 5, var 4*5*9/24 = 7.5
    total = (5 - 3) / 4 + (10 - 5) / 5
    var = 3.5 / 16 + 7.5 / 25
    assert wilcoxon_test(x, y, strata) == pytest.approx((2 * stats.norm.sf(total / np.sqrt(var)), 1))


def test_corrections_are_statsmodels() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    assert adjust(p, "holm") == pytest.approx(multipletests(p, method="holm")[1])
    assert adjust(p, "bonferroni") == pytest.approx(multipletests(p, method="bonferroni")[1])
    assert adjust(p, "none") == p
    with pytest.raises(BeirctlError, match="unknown correction"):
        adjust(p, "fdr")


# --- constructed comparisons ---------------------------------------------------------------------

BASE = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.35]


def _results(shifts: dict[str, float], datasets: tuple[str, ...] = ("d0", "d1")) -> list[PairResult]:
    """Per label, the base scores plus a constant shift (a constant difference: t p = 0, exact
    randomization p = 2/2^10), clipped to [0, 1]."""
    return [
        make_result(ds, lb, {f"q{i}": min(1.0, max(0.0, v + s)) for i, v in enumerate(BASE)})
        for ds in datasets
        for lb, s in shifts.items()
    ]


def test_ranx_letters_on_a_constructed_case() -> None:
    # a = high (+0.05), b = low (-0.05), c = mid (0), d = mid2 (equal to mid: no difference)
    entries = _results({"high": 0.05, "low": -0.05, "mid": 0.0, "mid2": 0.0})
    mc = compare_metrics(entries, ["nDCG@10"], all_pairs=True, tests=["t", "randomization"], n_resamples=5000)
    assert mc.letters == {"high": "a", "low": "b", "mid": "c", "mid2": "d"}
    assert [mc.superiors("nDCG@10", "d0", lb) for lb in mc.labels] == ["bcd", "", "b", "b"]
    md = render([paper_table(mc)], "markdown")
    assert "| dataset | high (a) | low (b) | mid (c) | mid2 (d) |" in md
    assert "| d0 | **0.5350**<sup>bcd</sup> | 0.4350 | 0.4850<sup>b</sup> | 0.4850<sup>b</sup> |" in md
    # randomization p of a constant shift of 10 queries: exactly 2 / 1024 (all sign flips enumerated)
    p = mc.pair("nDCG@10", "d0", "high", "mid")
    assert p is not None and p.p["randomization"] == pytest.approx(2 / 1024) and p.p["t"] < 1e-12
    assert (p.wins, p.ties, p.losses) == (10, 0, 0)
    assert p.p_adjusted["randomization"] == pytest.approx(2 * 2 / 1024)  # Holm over 2 datasets, equal p


def test_latex_of_a_small_case_exactly() -> None:
    entries = _results({"base": 0.0, "better": 0.05})
    mc = compare_metrics(entries, ["nDCG@10"], "base", tests=["t"], correction="bonferroni", n_resamples=100)
    text = render(comparison_tables(mc, "latex", caption="BM25 variants.", label="tab:bm25"), "latex")
    assert text == (
        "% needs \\usepackage{booktabs}\n"
        "\\begin{table}[t]\n"
        "\\centering\n"
        "\\caption{BM25 variants. $^{\\uparrow}$/$^{\\downarrow}$: significantly better/worse than the baseline "
        "base by the paired t-test ($^{*}$); two-sided p \\textless{} 0.05, Bonferroni-corrected across 2 datasets. "
        "Bold: best on the dataset; (±x): difference to the baseline of the figures shown.}\n"
        "\\label{tab:bm25}\n"
        "\\begin{tabular}{lrr}\n"
        "\\toprule\n"
        "dataset & base (baseline) & better \\\\\n"
        "\\midrule\n"
        "d0 & 0.4850 & \\textbf{0.5350} (+0.0500)$^{\\uparrow*}$ \\\\\n"
        "d1 & 0.4850 & \\textbf{0.5350} (+0.0500)$^{\\uparrow*}$ \\\\\n"
        "\\midrule\n"
        "average & 0.4850 & 0.5350 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n"
    )


def test_several_metrics_are_column_groups_and_worse_is_marked() -> None:
    entries = [
        make_result(ds, lb, {"nDCG@10": {f"q{i}": v + s for i, v in enumerate(BASE)}, "R@100": {"q0": 1.0, "q1": r}})
        for ds in ("d0", "d1")
        for lb, s, r in (("base", 0.0, 0.0), ("worse", -0.05, 1.0))
    ]
    mc = compare_metrics(entries, ["nDCG@10", "R@100"], "base", tests=["t", "randomization"], n_resamples=2000)
    latex = render([paper_table(mc)], "latex")
    assert (
        " & \\multicolumn{2}{c}{nDCG@10} & \\multicolumn{2}{c}{R@100} \\\\\n\\cmidrule(lr){2-3} \\cmidrule(lr){4-5}\n"
        in latex
    )
    assert (
        "d0 & \\textbf{0.4850} & 0.4350 (-0.0500)$^{\\downarrow*\\dagger}$ & 0.5000 & \\textbf{1.0000} (+0.5000) \\\\"
        in latex
    )
    md = render([paper_table(mc)], "markdown")
    assert "| dataset | nDCG@10 base (baseline) | nDCG@10 worse | R@100 base (baseline) | R@100 worse |" in md


def test_deltas_are_of_the_rounded_figures() -> None:
    # 0.66547 and 0.68154 are shown as 0.6655 and 0.6815: the delta shown is 0.0160, not round(0.01607) = 0.0161
    entries = [
        make_result("d0", "base", {"q0": 0.66547, "q1": 0.66547}),
        make_result("d0", "new", {"q0": 0.68154, "q1": 0.68154}),
    ]
    mc = compare_metrics(entries, ["nDCG@10"], "base")
    assert mc.delta("nDCG@10", "d0", "new") == 0.016
    assert "| d0 | 0.6655 | **0.6815** (+0.0160)" in render([paper_table(mc)], "markdown")


def test_the_legend_appears_only_when_tests_ran() -> None:
    entries = _results({"base": 0.0, "better": 0.05})
    untested = compare_metrics(entries, ["nDCG@10"])
    assert paper_table(untested).footnotes == [] and not untested.tested
    assert "significantly" not in render(comparison_tables(untested, "markdown"), "markdown")
    tested = compare_metrics(entries, ["nDCG@10"], "base", tests=["t"])
    assert tested.legend() and "significantly better/worse" in render([paper_table(tested)], "markdown")


def test_cqadupstack_counts_once_and_is_tested_stratified() -> None:
    rng = np.random.default_rng(2)
    entries = []
    for k, forum in enumerate(CQADUPSTACK_FORUMS):
        base = {f"q{j}": float(rng.uniform()) for j in range(3 + k)}  # forums of different sizes
        new = {q: min(1.0, v + float(rng.normal(0.02, 0.05))) for q, v in base.items()}
        entries += [
            make_result(f"cqadupstack/{forum}", "base", base, group="cqadupstack"),
            make_result(f"cqadupstack/{forum}", "new", new, group="cqadupstack"),
        ]
    mc = compare_metrics(entries, ["nDCG@10"], "base", tests=["t", "randomization", "wilcoxon"], n_resamples=500)
    assert mc.datasets == ["cqadupstack"]
    p = mc.pair("nDCG@10", "cqadupstack", "new", "base")
    assert p is not None and p.n == sum(3 + k for k in range(12))
    scores = mc.scores["nDCG@10"]["cqadupstack"]
    assert p.difference == pytest.approx(scores["new"] - scores["base"])  # the forum mean, as the score
    qids = sorted(f"{f}/q{j}" for k, f in enumerate(CQADUPSTACK_FORUMS) for j in range(3 + k))
    pq = {m.label: {} for m in entries}
    for m in entries:
        pq[m.label].update({f"{m.dataset.name.split('/')[1]}/{q}": v for q, v in m.per_query["nDCG@10"].items()})
    a, b = np.array([pq["new"][q] for q in qids]), np.array([pq["base"][q] for q in qids])
    strata = np.array([q.split("/")[0] for q in qids])
    ref = stratified_tests(a, b, strata, n_resamples=500)
    assert p.p["t"] == pytest.approx(ref.t_p) and p.p["randomization"] == pytest.approx(ref.rand_p)
    assert p.p["wilcoxon"] == pytest.approx(wilcoxon_test(a, b, strata)[0])


def test_bad_options() -> None:
    entries = _results({"base": 0.0, "better": 0.05})
    with pytest.raises(BeirctlError, match="unknown test anova"):
        compare_metrics(entries, tests=["anova"])
    with pytest.raises(BeirctlError, match="leave out --baseline"):
        compare_metrics(entries, baseline="base", all_pairs=True)
    with pytest.raises(BeirctlError, match="baseline 'x' not among"):
        compare_metrics(entries, baseline="x")


# --- metrics from the run files, and the CLI -----------------------------------------------------


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    """Results (nDCG@10 only; run files with one hit, d1, per query) and a data folder whose
    qrels judge d1 relevant for q0 and q1 only."""
    results = write_results(tmp_path / "res", _results({"base": 0.0, "better": 0.05}))
    for ds in ("d0", "d1"):
        qrels = tmp_path / "data" / ds / "qrels" / "test.tsv"
        qrels.parent.mkdir(parents=True)
        qrels.write_text(
            "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{'d1' if i < 2 else 'd9'}\t1\n" for i in range(10))
        )
    return results, tmp_path / "data"


def test_a_missing_metric_is_computed_from_the_runs(tmp_path: Path) -> None:
    results, data = _folders(tmp_path)
    entries = _results({"base": 0.0, "better": 0.05})
    with pytest.raises(BeirctlError, match="no qrels to compute metrics from .*--data-dir"):
        fill_metrics(entries, ["nDCG@10", "R@100"], [results])
    filled, computed = fill_metrics(entries, ["nDCG@10", "R@100"], [results], data)
    assert computed == {"R@100": 4}
    # the run's only hit is d1, relevant for q0 and q1 of 10 judged queries: R@100 = 2/10
    assert {m.aggregate["R@100"] for m in filled} == {0.2}
    qrels = {f"q{i}": {"d1" if i < 2 else "d9": 1} for i in range(10)}
    expected = evaluate({f"q{i}": {"d1": 1.0} for i in range(10)}, qrels, ["R@100"])
    assert filled[0].per_query["R@100"] == expected.per_query["R@100"]


def test_cli_paper_options(tmp_path: Path) -> None:
    results, data = _folders(tmp_path)
    args = ["compare", str(results), "-b", "base", "-m", "nDCG@10", "-m", "R@100", "--data-dir", str(data)]
    out = runner.invoke(app, [*args, "-f", "json", "-t", "t", "-t", "wilcoxon", "--pvalues", str(tmp_path / "p.csv")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["metrics"] == ["nDCG@10", "R@100"] and doc["tests"] == ["t", "wilcoxon"]
    assert doc["computed_from_runs"] == {"R@100": 4} and doc["scores"]["R@100"]["d0"] == {"base": 0.2, "better": 0.2}
    first = doc["comparisons"][0]
    assert (first["metric"], first["dataset"], first["system"], first["against"]) == ("nDCG@10", "d0", "better", "base")
    assert first["difference"] == pytest.approx(0.05) and first["better"] == ["t", "wilcoxon"]
    # Wilcoxon on ten positive differences: scipy's exact p (2/1024)
    a = np.array([min(1.0, v + 0.05) for v in BASE])
    assert first["p"]["wilcoxon"] == pytest.approx(stats.wilcoxon(a, np.array(BASE)).pvalue)
    recall = [c for c in doc["comparisons"] if c["metric"] == "R@100"]
    assert len(recall) == 2 and recall[0]["p"] == {"t": 1.0, "wilcoxon": 1.0} and recall[0]["difference"] == 0.0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == (
        "dataset,metric,retriever,queries,difference,95% CI low,95% CI high,wins,ties,losses,"
        "t-test p,t-test p (Holm),Wilcoxon p,Wilcoxon p (Holm)"
    )
    row = lines[1].split(",")
    assert row[:10] == ["d0", "nDCG@10", "better", "10", "0.050000", "0.050000", "0.050000", "10", "0", "0"]
    assert float(row[10]) < 1e-100 and row[12:] == ["0.00195312", "0.00390625"]  # 2/1024, Holm over 2 datasets
    md = runner.invoke(app, [*args, "-f", "markdown", "--all-pairs"])
    assert md.exit_code == 2 and "leave out --baseline" in md.output
    allp = runner.invoke(app, ["compare", str(results), "--all-pairs", "-f", "markdown", "--data-dir", str(data)])
    assert allp.exit_code == 0 and "| d0 | 0.4850 | **0.5350**<sup>a</sup> |" in allp.output
    assert "paired tests between all pairs" in allp.output
    none = runner.invoke(app, ["compare", str(results), "-f", "markdown"])
    assert none.exit_code == 0 and "significantly" not in none.output and "paired tests" not in none.output


def test_report_says_which_baseline_it_chose(tmp_path: Path) -> None:
    results, _ = _folders(tmp_path)
    out = runner.invoke(app, ["report", str(results), "-o", str(tmp_path / "r.html")])
    assert out.exit_code == 0, out.output
    assert "baseline: base (the first label; choose one with --baseline)" in out.output

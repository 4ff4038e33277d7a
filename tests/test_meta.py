"""beirctl.meta: each formula on a hand-computed case, edge cases, the JSON schema, and agreement
with R metafor (escalc + rma.uni + predict) to 1e-6 on synthetic and real per-query scores."""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from beirctl.datasets.catalog import CQADUPSTACK_FORUMS
from beirctl.meta import (
    Effect,
    MetaAnalysisError,
    Method,
    mean_difference,
    meta_analysis,
    meta_schema,
    pool,
    standardized_mean_change,
    tau2_pm,
    tau2_reml,
)
from tests.conftest import SHARED_BEIR, needs_shared

Scores = dict[str, dict[str, dict[str, float]]]
TOL = 1e-6
METHODS: tuple[Method, ...] = ("dl", "reml", "pm")


# --- hand-computed cases -----------------------------------------------------------------------

X = [0.5, 0.7, 0.2, 0.9]  # system
Y = [0.4, 0.5, 0.3, 0.6]  # baseline
# d = X - Y = [0.1, 0.2, -0.1, 0.3]; mean 0.125; squared deviations from it sum to
# 0.025² + 0.075² + 0.225² + 0.175² = 0.0875, so var(d) = 0.0875 / 3.
# Y: mean 0.45; squared deviations 0.05² + 0.05² + 0.15² + 0.15² = 0.05, var = 0.05 / 3.


def test_mean_difference_by_hand() -> None:
    eff = mean_difference(X, Y)
    assert eff.n == 4
    assert eff.estimate == pytest.approx(0.125, abs=1e-15)
    assert eff.variance == pytest.approx(0.0875 / 3 / 4, abs=1e-15)
    half = 1.959963984540054 * math.sqrt(0.0875 / 3 / 4)
    assert (eff.ci_low, eff.ci_high) == pytest.approx((0.125 - half, 0.125 + half), abs=1e-12)


def test_standardized_mean_change_by_hand() -> None:
    # n = 4, m = n - 1 = 3: c(3) = Γ(3/2) / (√(3/2) Γ(1)) = (√π / 2) / √1.5.
    c = (math.sqrt(math.pi) / 2) / math.sqrt(1.5)
    sd_b = math.sqrt(0.05 / 3)  # standardized by the baseline's SD
    y = c * 0.125 / sd_b
    v = c**2 * ((0.0875 / 3) / (sd_b**2 * 3) + y**2 / (2 * 3))
    eff = standardized_mean_change(X, Y)
    assert eff.n == 4
    assert eff.estimate == pytest.approx(y, abs=1e-12)
    assert eff.variance == pytest.approx(v, abs=1e-12)


# Three studies: w = 1/v = [100, 50, 25], Σw = 175, Σw·y = 37.5, μ_FE = 37.5/175 = 3/14.
YI = [0.1, 0.3, 0.5]
VI = [0.01, 0.02, 0.04]
MU_FE = 37.5 / 175
Q = 100 * (0.1 - MU_FE) ** 2 + 50 * (0.3 - MU_FE) ** 2 + 25 * (0.5 - MU_FE) ** 2  # = 3.7142857...
C = 175 - (100**2 + 50**2 + 25**2) / 175  # = 100
TAU2_DL = (Q - 2) / C  # = 0.0171428...


def test_fixed_effect_by_hand() -> None:
    _, fixed = pool(YI, VI)
    se = math.sqrt(1 / 175)
    assert fixed.estimate == pytest.approx(MU_FE, abs=1e-14)
    assert fixed.se == pytest.approx(se, abs=1e-14)
    assert fixed.ci_low == pytest.approx(MU_FE - 1.959963984540054 * se, abs=1e-12)


def test_dersimonian_laird_by_hand() -> None:
    pooled, _ = pool(YI, VI, method="dl")
    assert abs(Q - 3.7142857142857) < 1e-12
    assert pooled.q == pytest.approx(Q, abs=1e-12)
    assert pooled.q_df == 2
    assert pooled.q_p == pytest.approx(math.exp(-Q / 2), abs=1e-12)  # χ²₂ survival: e^(-Q/2)
    assert pooled.tau2 == pytest.approx(TAU2_DL, abs=1e-14)
    w = [1 / (0.01 + TAU2_DL), 1 / (0.02 + TAU2_DL), 1 / (0.04 + TAU2_DL)]
    mu = (w[0] * 0.1 + w[1] * 0.3 + w[2] * 0.5) / sum(w)
    se = math.sqrt(1 / sum(w))
    assert pooled.estimate == pytest.approx(mu, abs=1e-14)
    assert pooled.se == pytest.approx(se, abs=1e-14)
    half_pi = 1.959963984540054 * math.sqrt(se**2 + TAU2_DL)
    assert (pooled.pi_low, pooled.pi_high) == pytest.approx((mu - half_pi, mu + half_pi), abs=1e-12)
    # I² = 100 τ² / (τ² + s²), s² = (k - 1) / C; for DL this happens to equal (Q - df) / Q.
    assert pooled.i2 == pytest.approx(100 * TAU2_DL / (TAU2_DL + 2 / C), abs=1e-10)
    assert pooled.i2 == pytest.approx(100 * (Q - 2) / Q, abs=1e-10)


def test_dl_tau2_clamped_and_knha_not_truncated() -> None:
    # Nearly equal effects: Q < df, so DL τ² = 0 and the Knapp–Hartung factor s² = Q / 2 < 1 is
    # used as is (metafor 3.8's test="knha"; only test="adhoc" truncates it at 1).
    y, v = [0.1, 0.12, 0.11], [0.01, 0.02, 0.04]
    mu = (100 * 0.1 + 50 * 0.12 + 25 * 0.11) / 175
    q = 100 * (0.1 - mu) ** 2 + 50 * (0.12 - mu) ** 2 + 25 * (0.11 - mu) ** 2
    assert q < 2
    z, kh = pool(y, v, method="dl")[0], pool(y, v, method="dl", knha=True)[0]
    assert z.tau2 == 0.0 and z.i2 == 0.0
    assert kh.se == pytest.approx(math.sqrt(1 / 175) * math.sqrt(q / 2), abs=1e-14)
    assert kh.se < z.se
    t2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # t quantile with 2 df: (2p - 1) / √(2p(1 - p)), p = 0.975
    assert kh.ci_high == pytest.approx(mu + t2 * kh.se, abs=1e-12)
    assert kh.pi_high == pytest.approx(mu + t2 * kh.se, abs=1e-12)  # τ² = 0


def test_paule_mandel_and_reml_solve_their_equations() -> None:
    def weights(t: float) -> tuple[list[float], float]:
        w = [1 / (vi + t) for vi in VI]
        return w, sum(wi * yi for wi, yi in zip(w, YI)) / sum(w)

    t = tau2_pm(np.array(YI), np.array(VI))
    w, mu = weights(t)
    assert sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, YI)) == pytest.approx(2, abs=1e-10)  # Q(τ²) = k - 1
    t = tau2_reml(np.array(YI), np.array(VI))
    w, mu = weights(t)
    sw = sum(w)
    score = sum(wi**2 * (yi - mu) ** 2 for wi, yi in zip(w, YI)) - (sw - sum(wi**2 for wi in w) / sw)
    assert t > 0 and score == pytest.approx(0, abs=1e-8)
    pooled = pool(YI, VI, method="reml")[0]
    s2 = 2 / C
    assert pooled.i2 == pytest.approx(100 * t / (t + s2), abs=1e-10)
    assert abs(pooled.i2 - 100 * (Q - 2) / Q) > 0.05  # not the (Q - df)/Q form


# --- edge cases --------------------------------------------------------------------------------


def _scores(rng: np.random.Generator, datasets: Mapping[str, int], shift: float = 0.05) -> Scores:
    out: Scores = {"base": {}, "sys": {}}
    for name, n in datasets.items():
        base = rng.beta(2, 3, n)
        sys_ = np.clip(base + shift + rng.normal(0, 0.1, n), 0, 1)
        out["base"][name] = {f"q{i}": float(s) for i, s in enumerate(base)}
        out["sys"][name] = {f"q{i}": float(s) for i, s in enumerate(sys_)}
    return out


def test_identical_runs_are_zero_not_a_division_by_zero() -> None:
    assert (mean_difference(Y, Y).estimate, mean_difference(Y, Y).variance) == (0.0, 0.0)
    assert (standardized_mean_change(Y, Y).estimate, standardized_mean_change(Y, Y).variance) == (0.0, 0.0)
    scores = _scores(np.random.default_rng(1), {"a": 20, "b": 30})
    scores["same"] = scores["base"]
    result = meta_analysis(scores, "base", metric="nDCG@10")
    same = result.systems["same"]
    assert same.pooled.estimate == same.pooled.se == same.pooled.tau2 == same.fixed.estimate == 0.0
    assert same.pooled.q_p == 1.0
    jsonschema.validate(result.to_json(), meta_schema())
    # identical on one dataset only: that study would get an infinite weight
    scores["half"] = {"a": scores["base"]["a"], "b": scores["sys"]["b"]}
    with pytest.raises(MetaAnalysisError, match=r"half: .*zero sampling variance .* on a"):
        meta_analysis(scores, "base", metric="m", effect="md")


def test_constant_baseline_has_no_smd() -> None:
    with pytest.raises(MetaAnalysisError, match="baseline's per-query scores are all equal"):
        standardized_mean_change(Y, [0.0, 0.0, 0.0, 0.0])


def test_bad_input_is_named() -> None:
    scores = _scores(np.random.default_rng(2), {"a": 20, "b": 30, "c": 25})
    del scores["sys"]["b"]["q7"]
    with pytest.raises(MetaAnalysisError, match=r"sys vs baseline on b: .*only in only the baseline: q7"):
        meta_analysis(scores, "base", metric="m")
    scores = _scores(np.random.default_rng(2), {"a": 20, "b": 30, "c": 25})
    del scores["sys"]["c"]
    with pytest.raises(MetaAnalysisError, match=r"sys: datasets differ .*missing c"):
        meta_analysis(scores, "base", metric="m")
    result = meta_analysis(scores, "base", metric="m", allow_missing=True)
    assert list(result.systems["sys"].datasets) == ["a", "b"]
    del scores["sys"]["b"]
    with pytest.raises(MetaAnalysisError, match=r"only 1 dataset \(a\) .*no pooling"):
        meta_analysis(scores, "base", metric="m", allow_missing=True)
    with pytest.raises(MetaAnalysisError, match="baseline 'nope' not among"):
        meta_analysis(scores, "nope", metric="m")


def test_cqadupstack_counts_once() -> None:
    rng = np.random.default_rng(3)
    sizes = {f"cqadupstack/{f}": 15 + i for i, f in enumerate(CQADUPSTACK_FORUMS)} | {"scifact": 40}
    scores = _scores(rng, sizes)
    result = meta_analysis(scores, "base", metric="m", effect="md")
    studies = result.systems["sys"].datasets
    assert list(studies) == ["cqadupstack", "scifact"]
    # by hand: each forum's mean difference and var(d)/n, combined with weights 1/v
    num = den = 0.0
    for name in sizes:
        if name.startswith("cqadupstack/"):
            d = [scores["sys"][name][q] - scores["base"][name][q] for q in scores["base"][name]]
            mean = sum(d) / len(d)
            v = sum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d)
            num, den = num + mean / v, den + 1 / v
    assert studies["cqadupstack"].estimate == pytest.approx(num / den, abs=1e-12)
    assert studies["cqadupstack"].variance == pytest.approx(1 / den, abs=1e-14)
    assert studies["cqadupstack"].n == sum(15 + i for i in range(12))
    assert result.systems["sys"].pooled.q_df == 1
    for who in ("base", "sys"):
        del scores[who]["cqadupstack/gis"]
    with pytest.raises(MetaAnalysisError, match=r"all 12 forums; missing 1: gis"):
        meta_analysis(scores, "base", metric="m")


# --- R metafor ---------------------------------------------------------------------------------

R_SCRIPT = r"""
args <- commandArgs(TRUE)
suppressMessages(library(metafor))
d <- read.csv(args[1], colClasses = c("character", "character", "character", "numeric"))
base <- args[2]
ctrl <- list(threshold = 1e-15, tol = 1e-15, maxiter = 10000)  # metafor's defaults: 1e-5, eps^0.25
rows <- list()
add <- function(effect, system, block, key, value)
  rows[[length(rows) + 1]] <<- data.frame(effect = effect, system = system, block = block, key = key,
                                          value = sprintf("%.17g", value))
b <- d[d$system == base, ]
for (effect in c("smd", "md")) {
  measure <- if (effect == "smd") "SMCRH" else "MC"
  for (s in setdiff(unique(d$system), base)) {
    x <- d[d$system == s, ]
    yi <- c(); vi <- c(); ni <- c(); nm <- c(); fy <- c(); fv <- c(); fn <- 0
    for (ds in sort(unique(x$dataset))) {
      m <- merge(x[x$dataset == ds, c("qid", "score")], b[b$dataset == ds, c("qid", "score")],
                 by = "qid", suffixes = c(".1", ".2"))
      if (effect == "smd") {  # SMCRH standardizes by group 1: the baseline first, sign reversed
        e <- escalc(measure = measure, m1i = mean(m$score.2), m2i = mean(m$score.1), sd1i = sd(m$score.2),
                    sd2i = sd(m$score.1), ri = cor(m$score.1, m$score.2), ni = nrow(m))
        e$yi <- -e$yi
      } else {
        e <- escalc(measure = measure, m1i = mean(m$score.1), m2i = mean(m$score.2), sd1i = sd(m$score.1),
                    sd2i = sd(m$score.2), ri = cor(m$score.1, m$score.2), ni = nrow(m))
      }
      if (startsWith(ds, "cqadupstack/")) {
        fy <- c(fy, e$yi); fv <- c(fv, e$vi); fn <- fn + nrow(m)
      } else {
        yi <- c(yi, e$yi); vi <- c(vi, e$vi); ni <- c(ni, nrow(m)); nm <- c(nm, ds)
      }
    }
    if (length(fy)) {
      f <- rma(fy, fv, method = "FE")
      yi <- c(yi, f$beta[1]); vi <- c(vi, f$se^2); ni <- c(ni, fn); nm <- c(nm, "cqadupstack")
    }
    for (i in seq_along(yi)) {
      add(effect, s, paste0("ds:", nm[i]), "estimate", yi[i])
      add(effect, s, paste0("ds:", nm[i]), "variance", vi[i])
      add(effect, s, paste0("ds:", nm[i]), "n", ni[i])
    }
    fe <- rma(yi, vi, method = "FE")
    add(effect, s, "fixed", "estimate", fe$beta[1]); add(effect, s, "fixed", "se", fe$se)
    add(effect, s, "fixed", "ci_low", fe$ci.lb); add(effect, s, "fixed", "ci_high", fe$ci.ub)
    for (meth in c("DL", "REML", "PM")) for (kn in c(FALSE, TRUE)) for (tight in c(TRUE, FALSE)) {
      r <- if (tight) rma(yi, vi, method = meth, test = if (kn) "knha" else "z", control = ctrl)
           else rma(yi, vi, method = meth, test = if (kn) "knha" else "z")
      p <- predict(r)
      blk <- paste0(tolower(meth), if (kn) "+knha" else "", if (tight) "" else ":default")
      vals <- list(estimate = r$beta[1], se = r$se, ci_low = r$ci.lb, ci_high = r$ci.ub, pi_low = p$pi.lb,
                   pi_high = p$pi.ub, tau2 = r$tau2, i2 = r$I2, q = r$QE, q_df = r$k - r$p, q_p = r$QEp)
      for (key in names(vals)) add(effect, s, blk, key, vals[[key]])
    }
  }
}
write.csv(do.call(rbind, rows), args[3], row.names = FALSE)
"""


@functools.cache
def _r_missing() -> str | None:
    """Why R metafor cannot be used here, or None."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found (apt-get install --no-install-recommends r-cran-metafor)"
    probe = subprocess.run([rscript, "-e", "library(metafor)"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"R package metafor not installed: {probe.stderr.strip()[-200:]}"
    return None


def _require_r() -> str:
    why = _r_missing()
    if why is not None:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI is set but R metafor is unavailable: {why}")
        pytest.skip(why)
    rscript = shutil.which("Rscript")
    assert rscript is not None
    return rscript


def _metafor(scores: Scores, baseline: str, tmp: Path) -> dict[tuple[str, str, str, str], float]:
    """metafor's figures: (effect, system, block, key) -> value; block "ds:<name>", "fixed",
    "<method>[+knha]" (tightened convergence) or "<method>[+knha]:default" (metafor's defaults)."""
    rscript = _require_r()
    data, out, script = tmp / "scores.csv", tmp / "metafor.csv", tmp / "meta.R"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["system", "dataset", "qid", "score"])
        for label, per_ds in scores.items():
            for ds, per_q in per_ds.items():
                writer.writerows([label, ds, q, repr(s)] for q, s in per_q.items())
    script.write_text(R_SCRIPT, encoding="utf-8")
    proc = subprocess.run([rscript, str(script), str(data), baseline, str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(out, newline="", encoding="utf-8") as fh:
        return {(r["effect"], r["system"], r["block"], r["key"]): float(r["value"]) for r in csv.DictReader(fh)}


def _ours(scores: Scores, baseline: str) -> Iterator[tuple[tuple[str, str, str, str], float, dict[str, Any]]]:
    effects: tuple[Effect, ...] = ("smd", "md")
    for effect in effects:
        for method in METHODS:
            for knha in (False, True):
                result = meta_analysis(scores, baseline, metric="m", effect=effect, method=method, knha=knha)
                doc = result.to_json()
                jsonschema.validate(doc, meta_schema())
                json.dumps(doc, allow_nan=False)
                block = method + ("+knha" if knha else "")
                for label, sysdoc in doc["systems"].items():
                    for key, value in sysdoc["pooled"].items():
                        yield (effect, label, block, key), value, doc
                    if method == "dl" and not knha:
                        for key, value in sysdoc["fixed"].items():
                            yield (effect, label, "fixed", key), value, doc
                        for ds, study in sysdoc["datasets"].items():
                            for key in ("estimate", "variance", "n"):
                                yield (effect, label, f"ds:{ds}", key), study[key], doc


def _compare(scores: Scores, baseline: str, tmp: Path) -> dict[str, float]:
    ref = _metafor(scores, baseline, tmp)
    worst: dict[str, float] = {}
    seen = set()
    for key, value, _ in _ours(scores, baseline):
        seen.add(key)
        diff = abs(value - ref[key])
        assert diff <= TOL, f"{key}: ours {value!r}, metafor {ref[key]!r}"
        worst["tight"] = max(worst.get("tight", 0.0), diff)
        default = (*key[:2], key[2] + ":default", key[3])
        if default in ref:
            worst["default"] = max(worst.get("default", 0.0), abs(value - ref[default]))
    assert seen == {k for k in ref if not k[2].endswith(":default")}  # every metafor figure compared
    return worst


def _synthetic() -> Scores:
    """Three systems vs a baseline on 5 datasets plus 12 CQADupStack forums, seeded: one system
    heterogeneous across datasets (τ² > 0), one homogeneous (DL τ² clamped at 0)."""
    rng = np.random.default_rng(20240713)
    names = [f"ds{i}" for i in range(5)] + [f"cqadupstack/{f}" for f in CQADUPSTACK_FORUMS]
    scores: Scores = {"bm25": {}, "het": {}, "hom": {}, "neg": {}}
    for name in names:
        n = int(rng.integers(25, 120))
        base = rng.beta(2, 3, n) * (rng.random(n) > 0.15)  # some queries score 0
        shift = rng.normal(0.04, 0.06)
        systems = {
            "bm25": base,
            "het": np.clip(base + shift + rng.normal(0, 0.12, n), 0, 1),
            "hom": np.clip(base + 0.01 + rng.normal(0, 0.15, n), 0, 1),
            "neg": np.clip(0.9 * base - 0.02 + rng.normal(0, 0.1, n), 0, 1),
        }
        for label, values in systems.items():
            scores[label][name] = {f"q{j}": float(v) for j, v in enumerate(values)}
    return scores


def test_agrees_with_metafor_on_synthetic_scores(tmp_path: Path) -> None:
    scores = _synthetic()
    worst = _compare(scores, "bm25", tmp_path)
    print(f"synthetic: max |ours - metafor| = {worst['tight']:.3g} (metafor defaults: {worst['default']:.3g})")
    tau2 = [
        meta_analysis(scores, "bm25", metric="m", method=m).systems[s].pooled.tau2
        for m in METHODS
        for s in ("het", "hom")
    ]
    assert min(tau2) == 0.0 < max(tau2), "the synthetic set should cover both τ² = 0 and τ² > 0"


@pytest.fixture(scope="module")
def real_scores(tmp_path_factory: pytest.TempPathFactory) -> Scores:
    """nDCG@10 per query of bm25, bm25 multifield and rank-bm25 on SciFact and NFCorpus (test)."""
    import beirctl

    _require_r()
    out: Scores = {"bm25": {}, "bm25-multifield": {}, "rank-bm25": {}}
    retrievers = {"bm25": ("bm25", {}), "bm25-multifield": ("bm25", {"fields": "multifield"})}
    retrievers["rank-bm25"] = ("rank-bm25", {})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BEIRCTL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        for name in ("scifact", "nfcorpus"):
            ds = beirctl.load_dataset(str(SHARED_BEIR / name), download=False)
            for label, (kind, params) in retrievers.items():
                run = beirctl.search(beirctl.retriever(kind, **params), ds, k=100)
                per_query = beirctl.evaluate(run, ds.qrels, ["nDCG@10"]).per_query["nDCG@10"]
                assert set(per_query) == set(ds.qrels)  # trec_eval -c: every judged query
                out[label][name] = dict(per_query)
    return out


@needs_shared
def test_agrees_with_metafor_on_real_scores(real_scores: Scores, tmp_path: Path) -> None:
    _require_r()
    worst = _compare(real_scores, "bm25", tmp_path)
    print(f"real: max |ours - metafor| = {worst['tight']:.3g} (metafor defaults: {worst['default']:.3g})")
    result = meta_analysis(real_scores, "bm25", metric="nDCG@10")
    assert list(result.systems) == ["bm25-multifield", "rank-bm25"]
    assert set(result.systems["rank-bm25"].datasets) == {"scifact", "nfcorpus"}

"""Random-effects meta-analysis of per-query score differences across BEIR datasets.

Per dataset, each system is compared with the baseline on the paired per-query scores (the judged
queries, trec_eval ``-c``): an effect size ``y_i`` with sampling variance ``v_i``. CQADupStack's 12
forums are first combined by fixed effect into one study, ``cqadupstack``. The studies are then
pooled with a random-effects model (τ² by DerSimonian–Laird, REML or Paule–Mandel) and a
fixed-effect model. Every figure is the one R's metafor 3.8 gives (``escalc`` + ``rma.uni`` +
``predict.rma``; the tests check this to 1e-6, with metafor's convergence tolerances tightened).

    result = meta_analysis(scores, "bm25", metric="nDCG@10")   # label -> dataset -> qid -> score
    result.systems["bm25-mf"].pooled.estimate
    result.to_json()                                            # beirctl/schemas/meta.schema.json
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.errors import BeirctlError
from beirctl.tables import Cell, Column, Row, Table

if TYPE_CHECKING:
    from beirctl.results import PairResult

Effect = Literal["smd", "md"]
Method = Literal["dl", "reml", "pm"]
EFFECTS: tuple[str, ...] = get_args(Effect)
METHODS: tuple[str, ...] = get_args(Method)
META_SCHEMA_FILE = "meta.schema.json"

FloatArray = NDArray[np.float64]


class MetaAnalysisError(BeirctlError):
    """Input a meta-analysis cannot use: missing queries or datasets, too few studies, an undefined
    effect size (a system whose per-query scores are all equal), a zero sampling variance."""


# --- result tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetEffect:
    """One study: effect ``estimate`` (y_i), sampling ``variance`` (v_i), its normal-quantile CI
    ``y_i ± z·√v_i`` and the number of paired queries ``n`` (for ``cqadupstack``: over 12 forums)."""

    estimate: float
    variance: float
    ci_low: float
    ci_high: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "variance": self.variance,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
        }


@dataclass(frozen=True)
class Pooled:
    """The random-effects summary; ``i2`` is a percentage (0–100) as metafor reports it."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    q: float
    q_df: int
    q_p: float

    def to_json(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "pi_low": self.pi_low,
            "pi_high": self.pi_high,
            "tau2": self.tau2,
            "i2": self.i2,
            "q": self.q,
            "q_df": self.q_df,
            "q_p": self.q_p,
        }


@dataclass(frozen=True)
class Fixed:
    """The fixed-effect (inverse-variance) summary; its CI always uses the normal quantile."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_json(self) -> dict[str, Any]:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class SystemMeta:
    """One system against the baseline: its studies (sorted by name) and the two summaries."""

    datasets: Mapping[str, DatasetEffect]
    pooled: Pooled
    fixed: Fixed

    def to_json(self) -> dict[str, Any]:
        return {
            "datasets": {name: d.to_json() for name, d in self.datasets.items()},
            "pooled": self.pooled.to_json(),
            "fixed": self.fixed.to_json(),
        }


@dataclass(frozen=True)
class MetaAnalysis:
    """Every system (in input order, the baseline left out) against ``baseline`` on ``metric``.
    ``level`` (the CI/PI coverage) is not part of the JSON document, which assumes 0.95."""

    metric: str
    baseline: str
    effect: Effect
    method: Method
    knha: bool
    systems: Mapping[str, SystemMeta]
    level: float = 0.95

    def to_json(self) -> dict[str, Any]:
        """The documented JSON document (``beirctl/schemas/meta.schema.json``)."""
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "effect": self.effect,
            "method": self.method,
            "knha": self.knha,
            "systems": {label: s.to_json() for label, s in self.systems.items()},
        }


def meta_schema() -> dict[str, Any]:
    """The JSON schema of :meth:`MetaAnalysis.to_json` (``beirctl/schemas/meta.schema.json``)."""
    doc: dict[str, Any] = json.loads((resources.files("beirctl.schemas") / META_SCHEMA_FILE).read_text("utf-8"))
    return doc


# --- per-dataset effect sizes ------------------------------------------------------------------


def _crit(level: float, df: int | None = None) -> float:
    """Two-sided critical value: the normal quantile, or Student's t with ``df`` degrees of freedom."""
    upper = 1.0 - (1.0 - level) / 2.0
    return float(stats.norm.ppf(upper) if df is None else stats.t.ppf(upper, df))


def _study(estimate: float, variance: float, n: int, level: float) -> DatasetEffect:
    half = _crit(level) * math.sqrt(variance)
    return DatasetEffect(float(estimate), float(variance), float(estimate - half), float(estimate + half), n)


def small_sample_correction(m: float) -> float:
    """metafor's ``.cmicalc(m)``: c(m) = exp(lnΓ(m/2) − ln√(m/2) − lnΓ((m−1)/2)) = Γ(m/2) /
    (√(m/2)·Γ((m−1)/2)), the exact Hedges (1981) correction J(m); undefined (error) for m ≤ 1."""
    if m <= 1:
        raise MetaAnalysisError(f"the small-sample correction needs more than 2 paired queries (m = {m:g})")
    return math.exp(math.lgamma(m / 2) - math.log(math.sqrt(m / 2)) - math.lgamma((m - 1) / 2))


def mean_difference(system: Sequence[float], baseline: Sequence[float], *, level: float = 0.95) -> DatasetEffect:
    """Raw mean change (metafor ``escalc(measure="MC")``): with d_j = system_j − baseline_j over the
    n paired queries, y = mean(d) and v = var(d)/n (var with ddof = 1, i.e. (sd1² + sd2² −
    2·r·sd1·sd2)/n). Identical runs (or a constant shift) give v = 0, which is returned as is."""
    x, y = _pair_arrays(system, baseline)
    if x.size < 2:
        raise MetaAnalysisError(f"a mean difference needs at least 2 paired queries, got {x.size}")
    d = x - y
    return _study(float(d.mean()), float(d.var(ddof=1)) / d.size, int(d.size), level)


def standardized_mean_change(
    system: Sequence[float], baseline: Sequence[float], *, level: float = 0.95
) -> DatasetEffect:
    """The standardized mean change of ``system`` over ``baseline`` on paired queries, on the
    baseline's scale: R metafor 3.8's ``escalc(measure="SMCRH", m1i, m2i, sd1i, sd2i, ni, ri)``
    (Bonett 2008, raw-score standardization, heteroscedastic variances) with 1 = baseline and
    2 = system, sign reversed so that a better system is positive. As metafor 3.8 computes it:

        m = n − 1,  c = small_sample_correction(m),  s_d² = sd_b² + sd_s² − 2·r·sd_b·sd_s = var(d)
        y = c · (mean_s − mean_b) / sd_b
        v = c² · ( s_d² / (sd_b² · (n − 1)) + y² / (2·(n − 1)) )

    (m: means, sd: per-query SDs with ddof = 1, r: their Pearson correlation, d = system −
    baseline). metafor 3.8's SMCRH divides by the first group's SD (its ``sd1i``), not by
    √((sd1² + sd2²)/2), which is metafor ≥ 4.0's ``"SMCRP"`` and absent from 3.8; putting the
    baseline first makes every system's effect a change in units of the same (the baseline's)
    spread, so effects of different systems against one baseline are comparable. s_d² is
    computed directly as var(d) (algebraically the same; exactly 0 for identical runs).

    Edge cases: identical runs (every d_j = 0) give the defined result y = 0, v = 0; a baseline
    whose scores are all equal (sd_b = 0) gives no SMD and is an error, as is n < 3 (c undefined)."""
    x, y = _pair_arrays(system, baseline)
    n = int(x.size)
    cmi = small_sample_correction(n - 1)
    d = x - y
    var_d = float(d.var(ddof=1))
    sd_b = float(y.std(ddof=1))
    if not np.any(d):
        return _study(0.0, 0.0, n, level)
    if sd_b == 0.0:
        raise MetaAnalysisError("the baseline's per-query scores are all equal (SD 0): no standardized effect")
    yi = cmi * float(x.mean() - y.mean()) / sd_b
    vi = cmi**2 * (var_d / (sd_b**2 * (n - 1)) + yi**2 / (2 * (n - 1)))
    return _study(yi, vi, n, level)


def _pair_arrays(system: Sequence[float], baseline: Sequence[float]) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(system, dtype=np.float64)
    y = np.asarray(baseline, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise MetaAnalysisError(f"paired scores differ in length: {x.shape} vs {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MetaAnalysisError("per-query scores must be finite numbers")
    return x, y


_EFFECT_FUNCS: dict[str, Callable[..., DatasetEffect]] = {"md": mean_difference, "smd": standardized_mean_change}


def paired_scores(
    system: Mapping[str, float], baseline: Mapping[str, float], *, where: str = ""
) -> tuple[list[float], list[float]]:
    """The two systems' scores on the same queries (sorted by query id); a query only one of them
    has is an error naming it (under trec_eval -c every judged query has a score)."""
    only_sys = sorted(set(system) - set(baseline))
    only_base = sorted(set(baseline) - set(system))
    if only_sys or only_base:
        parts = []
        for label, ids in (("only the system", only_sys), ("only the baseline", only_base)):
            if ids:
                shown = ", ".join(ids[:5]) + (f" (+{len(ids) - 5} more)" if len(ids) > 5 else "")
                parts.append(f"{len(ids)} quer{'y' if len(ids) == 1 else 'ies'} only in {label}: {shown}")
        raise MetaAnalysisError(f"{where}: unpaired queries; " + "; ".join(parts))
    qids = sorted(baseline)
    return [float(system[q]) for q in qids], [float(baseline[q]) for q in qids]


# --- pooling -----------------------------------------------------------------------------------


def _check_variances(y: FloatArray, v: FloatArray, names: Sequence[str], what: str) -> bool:
    """True when every study is an identical-run study (y = 0, v = 0): the pooled result is then
    defined as exactly 0 with zero width. Any other zero variance would get an infinite
    inverse-variance weight: an error naming the studies."""
    zero = v <= 0.0
    if not zero.any():
        return False
    if zero.all() and not np.any(y):
        return True
    bad = [n for n, z in zip(names, zero) if z]
    raise MetaAnalysisError(
        f"{what}: zero sampling variance (identical per-query differences) on {', '.join(bad)}: "
        "its inverse-variance weight would be infinite; leave it out to pool the others"
    )


def _combine(y: FloatArray, v: FloatArray) -> Any:
    """statsmodels ``combine_effects(y, v, method_re="dl")``. Its random-effects part uses the
    unclamped DL τ², whose square roots may be NaN when τ² < 0: only its fixed-effect part, Q and
    the raw τ² are used here, so those warnings are silenced."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return combine_effects(y, v, method_re="dl")


def fixed_effect(y: FloatArray, v: FloatArray) -> tuple[float, float]:
    """Inverse-variance fixed effect (statsmodels ``combine_effects``): w_i = 1/v_i,
    μ̂ = Σw_i·y_i / Σw_i, Var(μ̂) = 1/Σw_i. Returns (μ̂, Var(μ̂))."""
    res = _combine(y, v)
    return float(res.mean_effect_fe), float(res.var_eff_w_fe)


def _q(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """Generalized Cochran Q(τ²) = Σ w_i (y_i − μ̂_w)², w_i = 1/(v_i + τ²)."""
    w = 1.0 / (v + tau2)
    mu = float(w @ y / w.sum())
    return float(w @ (y - mu) ** 2)


def _upper_bracket(f: Callable[[float], float], start: float) -> float:
    hi = max(start, 1e-8)
    for _ in range(200):
        if f(hi) < 0:
            return hi
        hi *= 4.0
    raise MetaAnalysisError("τ² search did not find an upper bracket")  # pragma: no cover


def tau2_pm(y: FloatArray, v: FloatArray) -> float:
    """Paule–Mandel (1982) τ²: the root of Q(τ²) = k − 1 (Q decreases in τ²; 0 when Q(0) < k − 1), as
    metafor's ``rma(method="PM")`` (which uses ``uniroot``).

    Hand-written (scipy ``brentq``) rather than statsmodels' PM (``combine_effects(method_re="pm")``):
    statsmodels stops at |Q − (k−1)| < 1e-5 (τ² off by up to ~1e-4 relative, too coarse for 1e-6
    agreement), and with a tighter ``atol`` its ``ee < 0 → τ² = 0`` branch fires on round-off and
    returns 0 for a positive τ²."""
    k = y.size

    def f(t: float) -> float:
        return _q(y, v, t) - (k - 1)

    if f(0.0) < 0:
        return 0.0
    hi = _upper_bracket(f, 10.0 * float(np.var(y)) + float(v.max()))
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))


def _reml_ll(y: FloatArray, v: FloatArray, tau2: float) -> float:
    """Restricted log-likelihood (up to a constant): −½[Σ ln(v_i + τ²) + ln Σw_i + Σw_i(y_i − μ̂_w)²]."""
    w = 1.0 / (v + tau2)
    mu = float(w @ y / w.sum())
    return -0.5 * (float(np.log(v + tau2).sum()) + math.log(float(w.sum())) + float(w @ (y - mu) ** 2))


def tau2_reml(y: FloatArray, v: FloatArray) -> float:
    """REML τ² (Viechtbauer 2005): the root of the restricted score ½[y'PPy − tr(P)] with
    P = W − w·w'/Σw, W = diag(w), w_i = 1/(v_i + τ²), i.e. ½[Σw_i²(y_i − μ̂_w)² − (Σw_i − Σw_i²/Σw_i)];
    τ² = 0 when the score at 0 is ≤ 0, and, as metafor's ``ll0check``, 0 when the likelihood there
    is higher than at the root.

    Hand-written (scipy ``brentq``): statsmodels' meta-analysis has no REML. metafor finds the same
    maximum by Fisher scoring, stopping when a step is below ``threshold`` (1e-5 by default)."""

    def score(t: float) -> float:
        w = 1.0 / (v + t)
        sw = float(w.sum())
        mu = float(w @ y / sw)
        return 0.5 * (float(w**2 @ (y - mu) ** 2) - (sw - float(w @ w) / sw))

    if score(0.0) <= 0:
        return 0.0
    hi = _upper_bracket(score, 10.0 * float(np.var(y)) + float(v.max()))
    root = float(optimize.brentq(score, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500))
    return 0.0 if _reml_ll(y, v, 0.0) > _reml_ll(y, v, root) else root


def tau2_dl(y: FloatArray, v: FloatArray) -> float:
    """DerSimonian–Laird (1986) τ² = max(0, (Q − (k−1)) / (Σw_i − Σw_i²/Σw_i)), w_i = 1/v_i (statsmodels
    ``combine_effects(method_re="dl")``, which does not clamp; the clamp at 0 is metafor's)."""
    return max(0.0, float(_combine(y, v).tau2))


_TAU2: dict[str, Callable[[FloatArray, FloatArray], float]] = {"dl": tau2_dl, "reml": tau2_reml, "pm": tau2_pm}


def pool(
    y: Sequence[float],
    v: Sequence[float],
    *,
    method: Method = "dl",
    knha: bool = False,
    level: float = 0.95,
    names: Sequence[str] | None = None,
) -> tuple[Pooled, Fixed]:
    """Random- and fixed-effect summaries of k ≥ 2 studies, as metafor's ``rma.uni`` + ``predict``:

    - τ² by ``method`` (:func:`tau2_dl`, :func:`tau2_reml`, :func:`tau2_pm`); w_i* = 1/(v_i + τ²),
      μ̂ = Σw_i*·y_i / Σw_i*, SE = √(1/Σw_i*) (statsmodels' inverse-variance combination of v_i + τ²);
    - ``knha`` (Hartung & Knapp 2001, Knapp & Hartung 2003; metafor ``test="knha"``): SE² multiplied by
      s² = Σw_i*(y_i − μ̂)² / (k − 1) — not truncated at 1 (metafor 3.8 truncates only under
      ``test="adhoc"``), s² = 0 when that sum is ≤ machine epsilon — and t(k−1) quantiles instead of z;
    - CI μ̂ ± crit·SE; prediction interval μ̂ ± crit·√(SE² + τ²) (``predict.rma``; the same crit);
    - Cochran's Q = Σw_i(y_i − μ̂_FE)², w_i = 1/v_i, df = k − 1, p = P(χ²_df > Q) (statsmodels);
    - I² = 100·τ²/(τ² + s̃²) with metafor's typical within-study variance s̃² = (k−1)/(Σw_i −
      Σw_i²/Σw_i) (Higgins & Thompson 2002, eq. 9) for every method — not (Q − df)/Q, which is
      what statsmodels' ``i2`` is and what metafor uses only for fixed-effect models;
    - fixed effect: μ̂_FE, SE_FE = √(1/Σw_i), CI with z always.

    All studies with y = v = 0 (identical runs everywhere) give the defined all-zero summary (Q = 0,
    p = 1, τ² = I² = 0); any other zero variance is an error."""
    ya = np.asarray(y, dtype=np.float64)
    va = np.asarray(v, dtype=np.float64)
    k = int(ya.size)
    labels = list(names) if names is not None else [str(i) for i in range(k)]
    if k < 2:
        raise MetaAnalysisError(f"a single study ({', '.join(labels) or 'none'}): nothing to pool; need ≥ 2 datasets")
    if method not in _TAU2:
        raise MetaAnalysisError(f"unknown τ² method {method!r} (one of {', '.join(METHODS)})")
    if _check_variances(ya, va, labels, "pooling"):
        return Pooled(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, k - 1, 1.0), Fixed(0.0, 0.0, 0.0, 0.0)

    fe = _combine(ya, va)
    z = _crit(level)
    fe_est, fe_se = float(fe.mean_effect_fe), math.sqrt(float(fe.var_eff_w_fe))
    fixed = Fixed(fe_est, fe_se, fe_est - z * fe_se, fe_est + z * fe_se)
    q = max(0.0, float(fe.q))  # metafor: QE <- max(0, QE)
    q_p = float(stats.chi2.sf(q, k - 1))

    tau2 = _TAU2[method](ya, va)
    # The random-effects estimate is the inverse-variance combination of v_i + τ²: statsmodels'
    # fixed-effect part of combine_effects on those variances (its scale_hksj_fe is then exactly
    # the Knapp–Hartung s² = Σw_i*(y_i − μ̂)²/(k − 1)).
    re = _combine(ya, va + tau2)
    est, var = float(re.mean_effect_fe), float(re.var_eff_w_fe)
    if knha:
        rss = float(re.scale_hksj_fe) * (k - 1)
        var *= 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        crit = _crit(level, k - 1)
    else:
        crit = z
    se = math.sqrt(var)
    pi_half = crit * math.sqrt(var + tau2)

    # I² as metafor (i2def = "1"): hand-written, statsmodels has only the (Q − df)/Q form.
    w = 1.0 / va
    typical_v = (k - 1) / (float(w.sum()) - float(w @ w) / float(w.sum()))
    i2 = 100.0 * tau2 / (typical_v + tau2)
    pooled = Pooled(est, se, est - crit * se, est + crit * se, est - pi_half, est + pi_half, tau2, i2, q, k - 1, q_p)
    return pooled, fixed


# --- across datasets ---------------------------------------------------------------------------


def _forum(name: str) -> str | None:
    prefix = CQADUPSTACK + "/"
    return name[len(prefix) :] if name.startswith(prefix) else None


def _combine_cqadupstack(forums: Mapping[str, DatasetEffect], where: str, level: float) -> DatasetEffect:
    """The 12 forums' effects combined by fixed effect (:func:`fixed_effect`) into one study whose
    n is the total number of queries; fewer than 12 forums, or an unknown one, is an error."""
    have = set(forums)
    unknown = sorted(have - set(CQADUPSTACK_FORUMS))
    if unknown:
        raise MetaAnalysisError(f"{where}: CQADupStack has no forum {', '.join(unknown)}")
    missing = [f for f in CQADUPSTACK_FORUMS if f not in have]
    if missing:
        raise MetaAnalysisError(
            f"{where}: CQADupStack counts once, from all 12 forums; missing {len(missing)}: {', '.join(missing)}"
        )
    names = list(CQADUPSTACK_FORUMS)
    y = np.array([forums[f].estimate for f in names])
    v = np.array([forums[f].variance for f in names])
    n = sum(forums[f].n for f in names)
    if _check_variances(y, v, [f"{CQADUPSTACK}/{f}" for f in names], f"{where}: combining CQADupStack"):
        return _study(0.0, 0.0, n, level)
    est, var = fixed_effect(y, v)
    return _study(est, var, n, level)


def dataset_effects(
    system: Mapping[str, Mapping[str, float]],
    baseline: Mapping[str, Mapping[str, float]],
    *,
    effect: Effect = "smd",
    level: float = 0.95,
    label: str = "system",
    allow_missing: bool = False,
) -> dict[str, DatasetEffect]:
    """One system's studies against the baseline (dataset -> qid -> score each), sorted by name,
    with ``cqadupstack/<forum>`` combined into ``cqadupstack``. A dataset only one side has is an
    error naming it, unless ``allow_missing`` (then only the shared ones are used)."""
    if effect not in _EFFECT_FUNCS:
        raise MetaAnalysisError(f"unknown effect {effect!r} (one of {', '.join(EFFECTS)})")
    only_sys = sorted(set(system) - set(baseline))
    only_base = sorted(set(baseline) - set(system))
    if (only_sys or only_base) and not allow_missing:
        parts = [f"missing {', '.join(only_base)}"] if only_base else []
        parts += [f"not in the baseline: {', '.join(only_sys)}"] if only_sys else []
        raise MetaAnalysisError(f"{label}: datasets differ from the baseline's ({'; '.join(parts)})")
    shared = sorted(set(system) & set(baseline))
    if CQADUPSTACK in shared and any(_forum(n) is not None for n in shared):
        raise MetaAnalysisError(f"{label}: both {CQADUPSTACK} and its forums given; give the 12 forums only")
    func = _EFFECT_FUNCS[effect]
    out: dict[str, DatasetEffect] = {}
    forums: dict[str, DatasetEffect] = {}
    for name in shared:
        where = f"{label} vs baseline on {name}"
        xs, ys = paired_scores(system[name], baseline[name], where=where)
        try:
            eff = func(xs, ys, level=level)
        except MetaAnalysisError as exc:
            raise MetaAnalysisError(f"{where}: {exc}") from None
        forum = _forum(name)
        if forum is None:
            out[name] = eff
        else:
            forums[forum] = eff
    if forums:
        out[CQADUPSTACK] = _combine_cqadupstack(forums, label, level)
    return dict(sorted(out.items()))


def meta_analysis(
    scores: Mapping[str, Mapping[str, Mapping[str, float]]],
    baseline: str,
    *,
    metric: str,
    effect: Effect = "smd",
    method: Method = "dl",
    knha: bool = False,
    level: float = 0.95,
    allow_missing: bool = False,
) -> MetaAnalysis:
    """Meta-analysis of every system in ``scores`` (label -> dataset -> query id -> score of
    ``metric``) against ``baseline``: per-dataset effects (:func:`dataset_effects`; ``effect`` "smd"
    = metafor SMCRH, "md" = raw mean difference), pooled by :func:`pool` (τ² by ``method``, optional
    Knapp–Hartung ``knha``). Needs ≥ 2 studies per system (CQADupStack counting as one)."""
    if baseline not in scores:
        raise MetaAnalysisError(f"baseline {baseline!r} not among the systems ({', '.join(scores) or 'none'})")
    if effect not in EFFECTS:
        raise MetaAnalysisError(f"unknown effect {effect!r} (one of {', '.join(EFFECTS)})")
    if method not in METHODS:
        raise MetaAnalysisError(f"unknown τ² method {method!r} (one of {', '.join(METHODS)})")
    if not 0.0 < level < 1.0:
        raise MetaAnalysisError(f"level must be in (0, 1), got {level}")
    labels = [label for label in scores if label != baseline]
    if not labels:
        raise MetaAnalysisError(f"no system to compare with the baseline {baseline!r}")
    systems: dict[str, SystemMeta] = {}
    for label in labels:
        studies = dataset_effects(
            scores[label], scores[baseline], effect=effect, level=level, label=label, allow_missing=allow_missing
        )
        names = list(studies)
        if len(names) < 2:
            raise MetaAnalysisError(
                f"{label}: only {len(names)} dataset{'' if len(names) == 1 else 's'} "
                f"({', '.join(names) or 'none'}) shared with the baseline: no pooling (needs ≥ 2)"
            )
        try:
            pooled, fixed = pool(
                [s.estimate for s in studies.values()],
                [s.variance for s in studies.values()],
                method=method,
                knha=knha,
                level=level,
                names=names,
            )
        except MetaAnalysisError as exc:
            raise MetaAnalysisError(f"{label}: {exc}") from None
        systems[label] = SystemMeta(studies, pooled, fixed)
    return MetaAnalysis(metric, baseline, effect, method, knha, systems, level)


# --- from results, to tables ------------------------------------------------------------------


def result_scores(entries: Sequence[PairResult], metric: str) -> dict[str, dict[str, dict[str, float]]]:
    """Per-query scores of ``metric`` from stored results: label -> dataset -> query id -> score
    (every judged query, as metrics.json holds them: trec_eval -c, a query without hits scores 0).
    Two results for one (dataset, label), or a result without ``metric``, is an error."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for entry in entries:
        per_query = entry.per_query.get(metric)
        if per_query is None:
            computed = ", ".join(entry.per_query) or "none"
            raise MetaAnalysisError(
                f"{entry.label} on {entry.name}: no per-query {metric} in its metrics.json (computed: {computed}); "
                "add the metric to the config and run again"
            )
        datasets = out.setdefault(entry.label, {})
        if entry.name in datasets:
            raise MetaAnalysisError(f"{entry.label} on {entry.name}: two results; pass one results folder per run")
        datasets[entry.name] = dict(per_query)
    return out


def meta_table(analysis: MetaAnalysis) -> Table:
    """One row per (system, dataset), then the system's random-effects and fixed-effect rows."""
    pct = f"{round(analysis.level * 100):g}%"
    columns = [
        Column("system", "system", align="left", role="other"),
        Column("study", "dataset", align="left", role="other"),
        Column("estimate", analysis.effect.upper(), subtitle=f"vs {analysis.baseline}"),
        Column("ci_low", f"{pct} CI", subtitle="low"),
        Column("ci_high", f"{pct} CI", subtitle="high"),
        Column("n", "n", fmt=".0f", role="other"),
        Column("pi_low", f"{pct} PI", subtitle="low"),
        Column("pi_high", f"{pct} PI", subtitle="high"),
        Column("tau2", "τ²", fmt=".5f", role="other"),
        Column("i2", "I² %", fmt=".1f", role="other"),
        Column("q", "Q", fmt=".3f", role="other"),
        Column("q_df", "df", fmt=".0f", role="other"),
        Column("q_p", "p(Q)", fmt=".4f", role="other"),
    ]
    rows: list[Row] = []
    for label, system in analysis.systems.items():
        for name, study in system.datasets.items():
            rows.append(
                Row(
                    {
                        "system": Cell(text=label),
                        "study": Cell(text=name),
                        "estimate": Cell(study.estimate),
                        "ci_low": Cell(study.ci_low),
                        "ci_high": Cell(study.ci_high),
                        "n": Cell(float(study.n)),
                    }
                )
            )
        p, f = system.pooled, system.fixed
        method = {"dl": "DerSimonian-Laird", "reml": "REML", "pm": "Paule-Mandel"}[analysis.method]
        rows.append(
            Row(
                {
                    "system": Cell(text=label),
                    "study": Cell(text=f"random effects ({method})"),
                    "estimate": Cell(p.estimate),
                    "ci_low": Cell(p.ci_low),
                    "ci_high": Cell(p.ci_high),
                    "n": Cell(float(len(system.datasets))),
                    "pi_low": Cell(p.pi_low),
                    "pi_high": Cell(p.pi_high),
                    "tau2": Cell(p.tau2),
                    "i2": Cell(p.i2),
                    "q": Cell(p.q),
                    "q_df": Cell(float(p.q_df)),
                    "q_p": Cell(p.q_p),
                },
                summary=True,
            )
        )
        rows.append(
            Row(
                {
                    "system": Cell(text=label),
                    "study": Cell(text="fixed effect"),
                    "estimate": Cell(f.estimate),
                    "ci_low": Cell(f.ci_low),
                    "ci_high": Cell(f.ci_high),
                    "n": Cell(float(len(system.datasets))),
                },
                summary=True,
            )
        )
    what = (
        "standardized mean change (metafor SMCRH, on the baseline's per-query SD)"
        if analysis.effect == "smd"
        else "mean per-query difference"
    )
    notes = [
        f"{analysis.metric}: {what} of each system over {analysis.baseline}, per dataset on its judged queries; "
        "CQADupStack's forums combined first (fixed effect) into one study.",
        "Random-effects CI by Hartung-Knapp (t, k-1 df)." if analysis.knha else "Random-effects CI by the normal z.",
        "n: paired queries (datasets for the pooled rows); PI: where a new dataset's effect is expected.",
    ]
    return Table(
        columns, rows, title=f"Meta-analysis: {analysis.metric} vs {analysis.baseline}", footnotes=notes, meta={}
    )

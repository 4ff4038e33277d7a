"""A self-contained HTML report: tables, charts as inline SVG, meta-analysis, timings, provenance.

Nothing is fetched when the page is viewed: no scripts, fonts or images from the network. Its
sections (each an ``<h2>`` with the id given here):

- ``summary``: what was compared, and which baseline (and why that one);
- ``comparison`` / ``significance`` / ``wins``: per metric, the comparison table of
  :mod:`beirctl.compare`, its paired tests, and per-query wins / ties / losses;
- ``charts``: per metric and dataset, a bar per retriever with its 95% CI and significance marks
  (▲/▼ better/worse than the baseline, * t-test, † randomization test; Holm-corrected); the axis
  starts above 0 when from 0 the differences would not show (:func:`bar_axis_bottom`);
- ``radar``: per metric, the retrievers' scores on every dataset (≥ 3 datasets);
- ``meta``: per metric and system, a forest plot against the baseline (:mod:`beirctl.meta`: a row
  per dataset with its CI, the pooled random-effects diamond, the prediction interval, I², τ², Q);
- ``differences``: per dataset, the per-query differences to the baseline, sorted (wins above 0,
  losses below), for the first metric;
- ``distributions``: per dataset, box plots of the per-query scores, for the first metric;
- ``efficiency``: the recorded timings (index s, documents indexed/s — for a dense retriever the
  passages encoded/s —, search s, queries/s);
- ``provenance``: what made each result.

Every figure is built by a function returning a matplotlib :class:`~matplotlib.figure.Figure`
with constrained layout, so that all its text lies inside it (a test checks every tick label),
and is saved with ``bbox_inches="tight"``.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from beirctl import provenance
from beirctl.compare import Comparison, compare, comparison_table, tests_table
from beirctl.datasets.catalog import CQADUPSTACK
from beirctl.errors import BeirctlError
from beirctl.results import PairResult, retriever_scores, score_table
from beirctl.tables import Cell, Column, Row, Table, to_html
from beirctl.version import __version__

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from beirctl.meta import Effect, MetaAnalysis, Method

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
h3{font-size:1.05rem;margin-top:1.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}.best{font-weight:bold;background:#eef7ee}
.legend{color:#555;font-size:.9rem}.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{flex:0 0 auto;margin:0}
.chart svg{max-width:100%;height:auto}
code{background:#f5f5f5;padding:0 .2rem}table.text td{text-align:left;font-size:.85rem}.note{color:#a33}
"""

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]
WIN, LOSS = "#2e8b57", "#c0392b"
CRIT95 = 1.959963984540054  # the normal 97.5% quantile
TRUNCATE_BELOW = 0.2  # bars: spread of the scores below this share of the largest → axis not from 0

SECTIONS = {
    "summary": "Summary",
    "comparison": "Comparison",
    "significance": "Significance against the baseline",
    "wins": "Wins / ties / losses against the baseline (per query)",
    "charts": "Scores per dataset",
    "radar": "Retrievers across datasets",
    "meta": "Meta-analysis against the baseline (forest plots)",
    "differences": "Per-query differences to the baseline",
    "distributions": "Per-query distributions",
    "efficiency": "Efficiency",
    "provenance": "Provenance",
}


# --- matplotlib --------------------------------------------------------------------------------


def _mpl() -> None:
    try:
        import matplotlib
    except ImportError:
        raise BeirctlError("the HTML report needs matplotlib: pip install 'beirctl[report]'") from None
    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: searchable, small
    matplotlib.rcParams["svg.hashsalt"] = "beirctl"  # the same ids for the same figure, run after run


def _figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A figure with constrained layout, outside pyplot (no global state, nothing to close)."""
    _mpl()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained", **kwargs)


_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def svg(fig: Figure, prefix: str) -> str:
    """The figure as inline ``<svg>`` text. matplotlib's own ids (``figure_1``, clip paths, ...)
    repeat from figure to figure; they get ``prefix`` so that each id is unique in the page.
    Ids the report sets itself (``bc-...``) are kept as they are."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.05)
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prologue and doctype

    def fix(name: str) -> str:
        return name if name.startswith("bc-") else f"{prefix}-{name}"

    text = _ID.sub(lambda m: f'id="{fix(m.group(1))}"', text)
    return _REF.sub(lambda m: m.group(1) + fix(m.group(2)), text)


def _fit(width: float, *texts: tuple[str, float]) -> float:
    """``width`` (inches), widened so that each (text, font size) fits on one line (titles are not
    shrunk by the layout): about 0.6 em per character, plus margins."""
    need = max((0.6 * size / 72 * max(len(line) for line in t.split("\n")) + 0.4 for t, size in texts), default=0)
    return max(width, need)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


# --- statistics for the pictures ---------------------------------------------------------------


def mean_ci(per_query: Mapping[str, float], *, stratified: bool = False) -> tuple[float, float, float]:
    """(mean, low, high): the per-query mean and its 95% CI, t-based (``scipy.stats.t``). With
    ``stratified`` (CQADupStack, query ids ``<forum>/<qid>``) the mean is the unweighted mean of the
    strata means (the score the benchmark counts), its SE √(Σ s_f²/n_f)/k, and the CI normal."""
    from scipy import stats

    values = list(per_query.values())
    if not values:
        return math.nan, math.nan, math.nan
    if stratified:
        groups: dict[str, list[float]] = {}
        for qid, v in per_query.items():
            groups.setdefault(qid.split("/", 1)[0], []).append(v)
        k = len(groups)
        mean = math.fsum(math.fsum(g) / len(g) for g in groups.values()) / k
        var = math.fsum(_var(g) / len(g) for g in groups.values()) / (k * k)
        half = CRIT95 * math.sqrt(var)
        return mean, mean - half, mean + half
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(_var(values) / n)
    return mean, mean - half, mean + half


def _var(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    m = math.fsum(values) / n
    return math.fsum((v - m) ** 2 for v in values) / (n - 1)


def bar_axis_bottom(values: Sequence[float], lows: Sequence[float]) -> float:
    """Where the bar chart's axis starts: 0, unless the scores differ by less than
    ``TRUNCATE_BELOW`` of the largest (bars from 0 would then look the same); then a little below
    the lowest score or CI end, so the differences fill the chart (the chart says so)."""
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2 or max(finite) <= 0:
        return 0.0
    top, bottom = max(finite), min(finite)
    if top - bottom >= TRUNCATE_BELOW * top:
        return 0.0
    low = min([bottom, *(x for x in lows if math.isfinite(x))])
    span = max(top - low, 0.01 * top)
    return max(0.0, low - 0.5 * span)


def wins_ties_losses(per_query: dict[str, dict[str, float]], label: str, baseline: str) -> tuple[int, int, int]:
    a, b = per_query[label], per_query[baseline]
    qids = set(a) & set(b)
    wins = sum(1 for q in qids if a[q] > b[q])
    losses = sum(1 for q in qids if a[q] < b[q])
    return wins, len(qids) - wins - losses, losses


def meta_scores(entries: Sequence[PairResult], labels: Sequence[str], metric: str) -> dict[str, Any]:
    """label -> dataset -> qid -> score for :func:`beirctl.meta.meta_analysis`, from
    :func:`beirctl.results.retriever_scores` (the one definition of the datasets); CQADupStack is
    given as its forums ``cqadupstack/<forum>``, which the meta-analysis combines into one study."""
    out: dict[str, Any] = {}
    for label in labels:
        s = retriever_scores(entries, label, metric)
        mine: dict[str, dict[str, float]] = {}
        for ds, pq in s.per_query.items():
            if ds == CQADUPSTACK and s.forums:
                for key, v in pq.items():
                    forum, qid = key.split("/", 1)
                    mine.setdefault(f"{CQADUPSTACK}/{forum}", {})[qid] = v
            else:
                mine[ds] = dict(pq)
        out[label] = mine
    return out


# --- figures -----------------------------------------------------------------------------------


def _sig(comp: Comparison, dataset: str, label: str) -> tuple[str, str]:
    """The marks of ``label`` against the baseline on ``dataset`` and their colour."""
    test = comp.tests.get(dataset, {}).get(label)
    delta = comp.delta(dataset, label)
    if test is None or delta is None or label == comp.baseline:
        return "", "#222"
    marks = ("*" if test.t_p_holm < comp.alpha else "") + ("†" if test.rand_p_holm < comp.alpha else "")
    if not marks:
        return "", "#222"
    return ("▲" if delta > 0 else "▼") + marks, WIN if delta > 0 else LOSS


def bar_figure(comp: Comparison, dataset: str) -> Figure:
    """A bar per retriever on ``dataset``: its score, 95% CI (:func:`mean_ci`), significance marks;
    the axis from :func:`bar_axis_bottom` (a bar's id ``bc-bar-<metric>-<dataset>-<label>``)."""
    labels = [lb for lb in comp.labels if lb in comp.scores[dataset]]
    per_query = comp.per_query.get(dataset, {})
    stratified = dataset == CQADUPSTACK and any("/" in q for pq in per_query.values() for q in pq)
    values = [comp.scores[dataset][lb] for lb in labels]
    cis = [
        mean_ci(per_query[lb], stratified=stratified) if per_query.get(lb) else (v,) * 3
        for lb, v in zip(labels, values)
    ]
    lows = [c[1] for c in cis]
    highs = [c[2] for c in cis]
    bottom = bar_axis_bottom(values, lows)
    fig = _figure(_fit(max(2.8, 0.65 * len(labels) + 1.6), (dataset, 10)), 2.9)
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    bars = ax.bar(
        x,
        [v - bottom for v in values],
        bottom=bottom,
        color=[_color(comp.labels.index(lb)) for lb in labels],
    )
    for bar, lb in zip(bars, labels):
        bar.set_gid(f"bc-bar-{_slug(comp.metric)}-{_slug(dataset)}-{_slug(lb)}")
    err_low = [max(0.0, v - lo) for v, lo in zip(values, lows)]
    err_high = [max(0.0, hi - v) for v, hi in zip(values, highs)]
    ax.errorbar(x, values, yerr=[err_low, err_high], fmt="none", ecolor="#333", elinewidth=0.9, capsize=3)
    top_data = max([*highs, *values]) if values else 1.0
    top = bottom + max(top_data - bottom, 1e-6) * 1.28
    ax.set_ylim(bottom, top)
    for xi, lb, hi, v in zip(x, labels, highs, values):
        marks, color = _sig(comp, dataset, lb)
        text = f"{v:.4f}" + (f"\n{marks}" if marks else "")
        ax.annotate(
            text,
            (xi, max(hi, v)),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
            color=color,
        )
    ax.set_xticks(x, labels, rotation=25, ha="right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(dataset, fontsize=10)
    ylabel = comp.metric
    if bottom > 0:
        ylabel += f" (axis from {bottom:.3g})"
        ax.spines["bottom"].set_linestyle((0, (4, 2)))  # a broken baseline: this is not 0
    ax.set_ylabel(ylabel, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def radar_figure(comp: Comparison) -> Figure:
    """A polar chart: an axis per dataset, a polygon per retriever (its score there)."""
    datasets = comp.datasets
    n = len(datasets)
    angles = [2 * math.pi * i / n for i in range(n)]
    fig = _figure(5.4, 5.0)
    ax = fig.add_subplot(projection="polar")
    top = max((v for row in comp.scores.values() for v in row.values()), default=1.0)
    for i, lb in enumerate(comp.labels):
        vals = [comp.scores[ds].get(lb, math.nan) for ds in datasets]
        ax.plot(
            [*angles, angles[0]],
            [*vals, vals[0]],
            color=_color(i),
            linewidth=1.4,
            label=lb,
            gid=f"bc-radar-{_slug(comp.metric)}-{i}",
        )
        ax.fill([*angles, angles[0]], [*vals, vals[0]], color=_color(i), alpha=0.08)
    ax.set_xticks(angles, datasets, fontsize=8)
    ax.set_ylim(0, top * 1.08 if top > 0 else 1.0)
    ax.tick_params(axis="y", labelsize=6.5)
    ax.tick_params(axis="x", pad=6)  # dataset names clear of the outer circle
    ax.set_title(comp.metric, fontsize=10)
    fig.legend(loc="outside lower center", ncols=min(3, len(comp.labels)), fontsize=8, frameon=False)
    return fig


def _effect_name(result: MetaAnalysis) -> str:
    if result.effect == "smd":
        return f"standardized mean change in {result.metric} (SMCRH)"
    return f"mean difference in {result.metric}"


def forest_figure(result: MetaAnalysis, label: str, fig_id: str) -> Figure:
    """``label`` against the baseline: a row per dataset (its effect and 95% CI, the square sized by
    its random-effects weight), the pooled diamond, the prediction interval, and I², τ², Q printed.

    SVG group ids: ``bc-forest-<fig_id>-study-<i>`` per dataset row, ``bc-forest-<fig_id>-pooled``
    (the diamond), ``bc-forest-<fig_id>-pi`` (the prediction interval)."""
    from matplotlib.patches import Polygon

    sysm = result.systems[label]
    names = list(sysm.datasets)
    k = len(names)
    p = sysm.pooled
    fig = _figure(_fit(6.8, (f"{label} vs {result.baseline}", 10)), 1.25 + 0.32 * (k + 1))
    ax = fig.add_subplot()
    weights = [1.0 / (d.variance + p.tau2) if d.variance + p.tau2 > 0 else 1.0 for d in sysm.datasets.values()]
    wmax = max(weights)
    ys = list(range(k, 0, -1))
    for i, (name, y, w) in enumerate(zip(names, ys, weights)):
        d = sysm.datasets[name]
        ax.plot(
            [d.ci_low, d.ci_high],
            [y, y],
            color="#333",
            linewidth=1.1,
            solid_capstyle="butt",
            gid=f"bc-forest-{fig_id}-study-{i}",
        )
        ax.plot(
            [d.estimate], [y], marker="s", color="#4c72b0", markersize=3.5 + 6.5 * math.sqrt(w / wmax), linestyle="none"
        )
    h = 0.32
    ax.plot(
        [p.pi_low, p.pi_high],
        [0, 0],
        color="#c44e52",
        linewidth=1.2,
        linestyle=(0, (3, 2)),
        gid=f"bc-forest-{fig_id}-pi",
    )
    ax.add_patch(
        Polygon(
            [(p.ci_low, 0), (p.estimate, h), (p.ci_high, 0), (p.estimate, -h)],
            closed=True,
            color="#222",
            gid=f"bc-forest-{fig_id}-pooled",
        )
    )
    ax.axvline(0.0, color="#888", linewidth=0.8, linestyle="--")
    ax.axvline(p.estimate, color="#222", linewidth=0.6, linestyle=":")
    xs = [
        0.0,
        p.pi_low,
        p.pi_high,
        *(d.ci_low for d in sysm.datasets.values()),
        *(d.ci_high for d in sysm.datasets.values()),
    ]
    xs = [x for x in xs if math.isfinite(x)]
    lo, hi = min(xs), max(xs)
    pad = 0.05 * (hi - lo or 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.8, k + 0.7)
    method = result.method.upper() + (", Knapp–Hartung" if result.knha else "")
    left = [f"{n} (n={sysm.datasets[n].n})" for n in names] + [f"random effects ({method})"]
    ax.set_yticks([*ys, 0], left, fontsize=8)
    right = ax.secondary_yaxis("right")
    right.set_yticks(
        [*ys, 0],
        [f"{d.estimate:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]" for d in sysm.datasets.values()]
        + [f"{p.estimate:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]"],
        fontsize=8,
    )
    right.tick_params(length=0)
    right.spines["right"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", labelsize=7.5)
    ax.set_title(f"{label} vs {result.baseline}", fontsize=10)
    ax.set_xlabel(
        f"{_effect_name(result)}; > 0: {label} better\n"
        f"I² = {p.i2:.1f}%   τ² = {p.tau2:.4g}   Q = {p.q:.2f} (df = {p.q_df}, p = {p.q_p:.3g})   "
        f"95% prediction interval [{p.pi_low:+.3f}, {p.pi_high:+.3f}] (dashed)",
        fontsize=7.5,
    )
    ax.spines[["top", "right", "left"]].set_visible(False)
    return fig


def difference_figure(
    per_query: Mapping[str, Mapping[str, float]], dataset: str, labels: Sequence[str], baseline: str, metric: str
) -> Figure:
    """Per system (a panel each), the per-query differences to ``baseline`` on ``dataset``, sorted
    from the largest win to the largest loss: wins above 0 (green), losses below (red). Each side is
    one step path, so the picture stays small for thousands of queries."""
    import numpy as np

    titles = [(f"{lb} − {baseline}", 8.5) for lb in labels]
    fig = _figure(
        _fit(5.6, (dataset, 10), *titles, ("0000 wins, 0000 ties, 0000 losses (mean +0.0000)", 8.5)),
        0.6 + 1.75 * len(labels),
    )
    axes = fig.subplots(len(labels), 1, squeeze=False)[:, 0]
    base = per_query[baseline]
    for ax, lb in zip(axes, labels):
        mine = per_query[lb]
        qids = sorted(set(mine) & set(base))
        d = np.sort(np.array([mine[q] - base[q] for q in qids], dtype=float))[::-1]
        edges = np.arange(d.size + 1)
        slug = f"{_slug(metric)}-{_slug(dataset)}-{_slug(lb)}"
        ax.stairs(np.where(d > 0, d, 0.0), edges, fill=True, color=WIN, gid=f"bc-diff-{slug}-wins")
        ax.stairs(np.where(d < 0, d, 0.0), edges, fill=True, color=LOSS, gid=f"bc-diff-{slug}-losses")
        ax.axhline(0.0, color="#444", linewidth=0.7)
        if d.size:
            ax.axhline(float(d.mean()), color="#222", linewidth=0.8, linestyle=":")
        wins, losses = int((d > 0).sum()), int((d < 0).sum())
        ties = int(d.size) - wins - losses
        mean = float(d.mean()) if d.size else 0.0
        ax.set_title(f"{lb} − {baseline}\n{wins} wins, {ties} ties, {losses} losses (mean {mean:+.4f})", fontsize=8.5)
        ax.set_xlim(0, max(1, d.size))
        ax.set_ylabel(f"Δ {metric}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlabel("queries, sorted by difference", fontsize=8)
    fig.suptitle(dataset, fontsize=10)
    return fig


def box_figure(comp: Comparison, dataset: str) -> Figure:
    per_query = comp.per_query[dataset]
    labels = [lb for lb in comp.labels if lb in per_query]
    title = f"{dataset}: per-query {comp.metric}"
    fig = _figure(_fit(max(2.8, 0.65 * len(labels) + 1.6), (title, 10)), 2.8)
    ax = fig.add_subplot()
    ax.boxplot([list(per_query[lb].values()) for lb in labels], showmeans=True)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=25, ha="right", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(-0.05, 1.05)
    return fig


# --- tables ------------------------------------------------------------------------------------


def _text_columns(header: list[str]) -> list[Column]:
    return [Column(h, h, align="left", role="other") for h in header]


def _text_row(header: list[str], values: list[str]) -> Row:
    return Row({h: Cell(text=v) for h, v in zip(header, values)})


def _untitled(table: Table) -> Table:
    """The table without its title (the section heading says it)."""
    table.title = None
    return table


def efficiency_table(entries: Sequence[PairResult]) -> Table:
    """A row per (dataset, retriever) from the recorded timings, CQADupStack's forums summed into
    one row; docs/s is ``num_docs / index_s`` (for a dense retriever: passages encoded per second),
    queries/s ``num_queries / search_s``; a rate is empty when its time is 0 (not recorded)."""
    agg: dict[tuple[str, str], list[float]] = {}
    for m in entries:
        ds = CQADUPSTACK if m.dataset.group == CQADUPSTACK else m.dataset.name
        t = m.timings
        row = agg.setdefault((ds, m.retriever.label), [0.0] * 6)
        for i, v in enumerate((m.dataset.num_docs, m.dataset.num_queries, t.load_s, t.index_s, t.search_s, t.eval_s)):
            row[i] += v
    columns = [
        Column("dataset", "dataset", align="left", role="other"),
        Column("retriever", "retriever", align="left", role="other"),
        Column("docs", "documents", fmt=".0f", role="other"),
        Column("queries", "queries", fmt=".0f", role="other"),
        Column("load_s", "load s", fmt=".2f", role="other"),
        Column("index_s", "index s", fmt=".2f", role="other"),
        Column("docs_per_s", "docs/s (index, encode)", fmt=".0f", role="other"),
        Column("search_s", "search s", fmt=".2f", role="other"),
        Column("queries_per_s", "queries/s", fmt=".1f", role="other"),
        Column("eval_s", "eval s", fmt=".2f", role="other"),
    ]

    def rate(count: float, seconds: float) -> float | None:
        return count / seconds if seconds > 0 else None

    rows = []
    for (ds, lb), (docs, queries, load_s, index_s, search_s, eval_s) in sorted(agg.items()):
        cells = {
            "dataset": Cell(text=ds),
            "retriever": Cell(text=lb),
            "docs": Cell(docs),
            "queries": Cell(queries),
            "load_s": Cell(load_s),
            "index_s": Cell(index_s),
            "docs_per_s": Cell(rate(docs, index_s)),
            "search_s": Cell(search_s),
            "queries_per_s": Cell(rate(queries, search_s)),
            "eval_s": Cell(eval_s),
        }
        rows.append(Row(cells))
    notes = [
        "docs/s = documents / index s (for a dense retriever the passages it encoded per second); "
        "queries/s = queries / search s; empty where the time was not recorded (0)."
    ]
    return Table(columns, rows, footnotes=notes)


def meta_table(result: MetaAnalysis) -> Table:
    """A row per system: the pooled random-effects figures and the fixed-effect estimate."""
    keys = [
        ("estimate", "estimate", ".4f"),
        ("ci", "95% CI", ""),
        ("pi", "95% PI", ""),
        ("tau2", "τ²", ".4g"),
        ("i2", "I² %", ".1f"),
        ("q", "Q", ".3f"),
        ("q_p", "Q p", ".3g"),
        ("fixed", "fixed effect", ".4f"),
    ]
    columns = [Column("system", "system", align="left", role="other"), Column("k", "datasets", role="other")]
    columns += [Column(k, t, fmt=f or ".4f", role="other") for k, t, f in keys]
    rows = []
    for label, s in result.systems.items():
        p = s.pooled
        rows.append(
            Row(
                {
                    "system": Cell(text=label),
                    "k": Cell(text=str(len(s.datasets))),
                    "estimate": Cell(p.estimate),
                    "ci": Cell(text=f"[{p.ci_low:+.4f}, {p.ci_high:+.4f}]"),
                    "pi": Cell(text=f"[{p.pi_low:+.4f}, {p.pi_high:+.4f}]"),
                    "tau2": Cell(p.tau2),
                    "i2": Cell(p.i2),
                    "q": Cell(p.q),
                    "q_p": Cell(p.q_p),
                    "fixed": Cell(s.fixed.estimate),
                }
            )
        )
    return Table(columns, rows)


def provenance_table(entries: Sequence[PairResult]) -> Table:
    header = ["dataset", "retriever", "type", "parameters", "corpus sha256", "config sha256", "beirctl", "created"]
    rows = [
        _text_row(
            header,
            [
                m.dataset.name,
                m.retriever.label,
                m.retriever.type,
                ", ".join(f"{k}={v}" for k, v in sorted(m.retriever.params.items())),
                m.dataset.checksums.get("corpus:sha256", "")[:16],
                m.config.sha256[:16],
                m.provenance.packages.get("beirctl", ""),
                m.provenance.created,
            ],
        )
        for m in entries
    ]
    return Table(_text_columns(header), rows)


# --- the page ----------------------------------------------------------------------------------


class _Page:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n_figures = 0

    def add(self, *texts: str) -> None:
        self.parts.extend(texts)

    def section(self, key: str) -> None:
        self.parts.append(f"<h2 id='{key}'>{html.escape(SECTIONS[key])}</h2>")

    def figure(self, fig: Figure, kind: str, **data: str | int) -> None:
        self.n_figures += 1
        attrs = "".join(f" data-{k.replace('_', '-')}='{html.escape(str(v), quote=True)}'" for k, v in data.items())
        body = svg(fig, f"f{self.n_figures}")
        self.parts.append(f"<figure class='chart {kind}'{attrs}>{body}</figure>")

    def note(self, text: str) -> None:
        self.parts.append(f"<p class='note'>{html.escape(text)}</p>")


def _metrics(metric: str | Sequence[str]) -> list[str]:
    names = [metric] if isinstance(metric, str) else list(metric)
    out = list(dict.fromkeys(names))
    if not out:
        raise BeirctlError("the report needs at least one metric")
    return out


def _check_meta_options(effect: str, method: str) -> None:
    try:
        from beirctl.meta import EFFECTS, METHODS
    except ImportError:  # no statsmodels: the section says so
        return
    if effect not in EFFECTS:
        raise BeirctlError(f"unknown effect {effect!r} (one of {', '.join(EFFECTS)})")
    if method not in METHODS:
        raise BeirctlError(f"unknown τ² method {method!r} (one of {', '.join(METHODS)})")


def build_report(
    entries: Sequence[PairResult],
    metric: str | Sequence[str] = "nDCG@10",
    baseline: str | None = None,
    title: str | None = None,
    *,
    effect: str = "smd",
    method: str = "dl",
    knha: bool = False,
    alpha: float = 0.05,
    reference: tuple[str, Mapping[str, Mapping[str, float]]] | None = None,
    reference_notes: Sequence[str] = (),
) -> str:
    """The HTML text of the report (sections: see the module docstring). ``metric``: one or several;
    the per-query pictures use the first. ``effect``/``method``/``knha``: the meta-analysis's
    (:func:`beirctl.meta.meta_analysis`). Without ``baseline``, the first label in sorted order.
    ``reference`` (name, dataset -> metric -> figure): after the comparison, a table per metric
    of its figures and each score's difference to them, ``reference_notes`` under it."""
    metrics = _metrics(metric)
    _check_meta_options(effect, method)
    labels = sorted({m.retriever.label for m in entries})
    if not labels:
        raise BeirctlError("no results to report")
    chosen = baseline if baseline is not None else labels[0]
    comps = {m: compare(entries, m, chosen, alpha) for m in metrics}
    first = comps[metrics[0]]
    page = _Page()
    heading = html.escape(title or "beirctl report")
    page.add(
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{heading}</title><style>{CSS}</style></head><body>",
        f"<h1>{heading}</h1>",
    )
    page.section("summary")
    why = "" if baseline is not None else " (none given: the first label in sorted order; choose with --baseline)"
    page.add(
        f"<p>{len(first.datasets)} dataset(s), {len(labels)} retriever(s), "
        f"metric{'s' if len(metrics) > 1 else ''} {', '.join(f'<code>{html.escape(m)}</code>' for m in metrics)}, "
        f"baseline <code>{html.escape(chosen)}</code>{html.escape(why)}.</p>"
    )
    page.add(
        "<nav><p>" + " · ".join(f"<a href='#{k}'>{html.escape(v)}</a>" for k, v in SECTIONS.items()) + "</p></nav>"
    )
    others = [lb for lb in labels if lb != chosen]

    page.section("comparison")
    for m in metrics:
        page.add(to_html(comparison_table(comps[m])))
    if reference is not None:
        page.add(f"<h3>against {html.escape(reference[0])}</h3>")
        for m in metrics:
            page.add(to_html(score_table(entries, [m], reference)))
        page.add(*(f"<p class='legend'>{html.escape(note)}</p>" for note in reference_notes))

    page.section("significance")
    for m in metrics:
        if comps[m].tests:
            page.add(f"<h3>{html.escape(m)}</h3>", to_html(_untitled(tests_table(comps[m]))))
    if not others:
        page.add("<p>Only one retriever: nothing to test.</p>")

    page.section("wins")
    _wins(page, comps, metrics, chosen)

    page.section("charts")
    page.add(
        "<p class='legend'>Bars: the score; whiskers: its 95% CI over the queries; ▲/▼: significantly better/worse "
        f"than the baseline (* paired t-test, † randomization test, Holm-corrected, α = {alpha:g}). A dashed "
        "x axis means the y axis does not start at 0, so that the differences show.</p>"
    )
    for m in metrics:
        page.add(f"<h3>{html.escape(m)}</h3><div class='charts'>")
        for ds in comps[m].datasets:
            page.figure(bar_figure(comps[m], ds), "bars", metric=m, dataset=ds)
        page.add("</div>")

    page.section("radar")
    for m in metrics:
        if len(comps[m].datasets) < 3:
            page.add(
                f"<p>{html.escape(m)}: a radar chart needs 3 datasets or more (have {len(comps[m].datasets)}).</p>"
            )
            continue
        page.figure(radar_figure(comps[m]), "radar", metric=m)

    page.section("meta")
    _meta(page, entries, metrics, chosen, others, effect, method, knha)

    m0 = metrics[0]
    page.section("differences")
    if others:
        page.add(f"<p class='legend'>{html.escape(m0)}; dotted: the mean difference.</p><div class='charts'>")
        for ds in first.datasets:
            pq = first.per_query.get(ds, {})
            mine = [lb for lb in others if pq.get(lb)]
            if pq.get(chosen) and mine:
                page.figure(difference_figure(pq, ds, mine, chosen, m0), "differences", metric=m0, dataset=ds)
        page.add("</div>")
    else:
        page.add("<p>Only one retriever: nothing to compare.</p>")

    page.section("distributions")
    page.add("<div class='charts'>")
    for ds in first.datasets:
        if ds in first.per_query:
            page.figure(box_figure(first, ds), "box", metric=m0, dataset=ds)
    page.add("</div>")

    page.section("efficiency")
    page.add(to_html(efficiency_table(entries)))

    page.section("provenance")
    page.add(to_html(provenance_table(entries), css_class="text"))
    prov = entries[0].provenance
    page.add(
        "<p>Packages: " + html.escape(", ".join(f"{k} {v}" for k, v in sorted(prov.packages.items()))) + "</p>",
        "<p>Machine: " + html.escape(", ".join(f"{k}: {v}" for k, v in prov.machine.items())) + "</p>",
        f"<p class='legend'>Generated by beirctl {__version__} at {provenance.now()}.</p></body></html>",
    )
    return "\n".join(page.parts)


def _wins(page: _Page, comps: Mapping[str, Comparison], metrics: Sequence[str], baseline: str) -> None:
    header = ["dataset", "retriever"] + [f"{m} {w}" for m in metrics for w in ("wins", "ties", "losses")]
    if len(metrics) == 1:
        header = ["dataset", "retriever", "wins", "ties", "losses"]
    rows = []
    first = comps[metrics[0]]
    for ds in first.datasets:
        for lb in first.labels:
            if lb == baseline:
                continue
            values = [ds, lb]
            for m in metrics:
                pq = comps[m].per_query.get(ds, {})
                if lb in pq and baseline in pq:
                    values += [str(x) for x in wins_ties_losses(pq, lb, baseline)]
                else:
                    values += ["", "", ""]
            if any(values[2:]):
                rows.append(_text_row(header, values))
    page.add(to_html(Table(_text_columns(header), rows)) if rows else "<p>Only one retriever: nothing to compare.</p>")


def _meta(
    page: _Page,
    entries: Sequence[PairResult],
    metrics: Sequence[str],
    baseline: str,
    others: Sequence[str],
    effect: str,
    method: str,
    knha: bool,
) -> None:
    if not others:
        page.add("<p>Only one retriever: nothing to compare.</p>")
        return
    try:
        from beirctl.meta import MetaAnalysisError, meta_analysis
    except ImportError as exc:  # statsmodels missing
        page.note(f"no meta-analysis: {exc}")
        return
    page.add(
        "<p class='legend'>Per dataset: the effect of each system against the baseline on the paired per-query "
        "scores, with its 95% CI (square: random-effects weight); diamond: the pooled random-effects estimate "
        "and its CI; dashed: the 95% prediction interval (where the effect on a new dataset is expected). "
        "CQADupStack counts as one study (its 12 forums combined by fixed effect).</p>"
    )
    for m in metrics:
        page.add(f"<h3>{html.escape(m)}</h3>")
        try:
            result = meta_analysis(
                meta_scores(entries, [baseline, *others], m),
                baseline,
                metric=m,
                effect=cast("Effect", effect),  # checked there: an unknown one is an error
                method=cast("Method", method),
                knha=knha,
            )
        except (MetaAnalysisError, BeirctlError) as exc:
            page.note(f"no meta-analysis for {m}: {exc}")
            continue
        page.add(to_html(meta_table(result)), "<div class='charts'>")
        for lb, s in result.systems.items():
            fig_id = f"{_slug(m)}-{_slug(lb)}"
            page.figure(
                forest_figure(result, lb, fig_id),
                "forest",
                metric=m,
                system=lb,
                forest_id=fig_id,
                rows=len(s.datasets) + 1,
            )
        page.add("</div>")

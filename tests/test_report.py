"""The HTML report: its sections, the forest plots' structure, tick labels inside every figure, and
the page in headless Chromium (a screenshot that is not blank, every section there)."""

from __future__ import annotations

import html
import math
import random
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from beirctl.config import load_config
from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.results import PairResult, Timings, collect
from beirctl.runner import run_config
from tests.conftest import SHARED_BEIR, needs_shared, write_dataset
from tests.result_factory import make_result, write_results

pytest.importorskip("matplotlib")
from beirctl import report as rp  # noqa: E402
from beirctl.compare import compare  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METRICS = ["nDCG@10", "R@100"]
# long names on purpose: the tick labels must still fit
PLAIN = ["scifact", "webis-touche2020", "a-rather-long-dataset-name"]
SYSTEMS = {"bm25": 0.0, "bm25-multifield-with-a-long-label": 0.03, "dense": -0.05}


def _scores(rng: random.Random, n: int, shift: float) -> dict[str, float]:
    return {f"q{i}": min(1.0, max(0.0, rng.random() * 0.8 + 0.1 + shift * rng.random() * 2)) for i in range(n)}


def synthetic(cqadupstack: bool = True) -> list[PairResult]:
    """3 systems on 3 datasets (+ CQADupStack's 12 forums), 2 metrics, with recorded timings."""
    rng = random.Random(13)
    out = []
    names = [(ds, None) for ds in PLAIN]
    if cqadupstack:
        names += [(f"{CQADUPSTACK}/{f}", CQADUPSTACK) for f in CQADUPSTACK_FORUMS]
    for ds, group in names:
        n = 8 if group else 40
        for label, shift in SYSTEMS.items():
            pq = {m: _scores(rng, n, shift) for m in METRICS}
            r = make_result(ds, label, pq, group=group)
            timings = Timings(load_s=0.5, index_s=2.0, search_s=0.25, eval_s=0.1)
            out.append(r.model_copy(update={"timings": timings}))
    return out


N_DATASETS = len(PLAIN) + 1  # CQADupStack counts once


@pytest.fixture(scope="module")
def page() -> str:
    return rp.build_report(synthetic(), METRICS, "bm25", "Synthetic benchmark")


# --- the page's structure ----------------------------------------------------------------------


def test_every_section_present(page: str) -> None:
    for key, heading in rp.SECTIONS.items():
        assert f"<h2 id='{key}'>{html.escape(heading)}</h2>" in page, key
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing to fetch at view time
    for metric in METRICS:
        assert f"<caption>{metric}</caption>" in page  # a comparison table per metric
    assert page.count("class='chart radar'") == len(METRICS)
    assert page.count("class='chart bars'") == len(METRICS) * N_DATASETS
    assert page.count("class='chart differences'") == N_DATASETS  # the first metric
    assert page.count("class='chart forest'") == len(METRICS) * (len(SYSTEMS) - 1)


def test_forest_rows_are_datasets_plus_pooled(page: str) -> None:
    figures = re.findall(r"<figure class='chart forest'([^>]*)>(.*?)</figure>", page, re.S)
    assert len(figures) == 4
    for attrs, body in figures:
        fid = re.search(r"data-forest-id='([^']+)'", attrs)
        rows = re.search(r"data-rows='(\d+)'", attrs)
        assert fid and rows
        studies = re.findall(rf'id="bc-forest-{re.escape(fid.group(1))}-study-(\d+)"', body)
        pooled = re.findall(rf'id="bc-forest-{re.escape(fid.group(1))}-pooled"', body)
        assert len(studies) == N_DATASETS and len(pooled) == 1
        assert len(studies) + len(pooled) == int(rows.group(1))
        assert f'id="bc-forest-{fid.group(1)}-pi"' in body  # the prediction interval
        for text in ("I² = ", "τ² = ", "prediction interval", "random effects (DL)", "cqadupstack (n=96)"):
            assert text in body, text


def test_ids_unique(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r"url\(#([^)]+)\)", page))
    assert refs <= set(ids)  # every clip path a figure uses is its own


def test_forest_figures_match_meta_analysis() -> None:
    from beirctl.meta import meta_analysis

    entries = synthetic()
    labels = sorted(SYSTEMS)
    result = meta_analysis(rp.meta_scores(entries, labels, "nDCG@10"), "bm25", metric="nDCG@10")
    assert list(result.systems["dense"].datasets) == sorted([*PLAIN, CQADUPSTACK])
    p = result.systems["dense"].pooled
    text = rp.build_report(entries, "nDCG@10", "bm25")
    assert f"{p.estimate:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]" in text
    assert f"I² = {p.i2:.1f}%" in text and f"τ² = {p.tau2:.4g}" in text
    md = rp.build_report(entries, "nDCG@10", "bm25", effect="md", method="reml", knha=True)
    assert "random effects (REML, Knapp–Hartung)" in md and "mean difference in nDCG@10" in md


def test_meta_problems_are_said_not_fatal() -> None:
    one = [r for r in synthetic(cqadupstack=False) if r.dataset.name == "scifact"]
    text = rp.build_report(one, "nDCG@10", "bm25")
    assert "no meta-analysis for nDCG@10" in text and "no pooling" in text
    assert "a radar chart needs 3 datasets or more (have 1)" in text


def test_baseline_chosen_is_said() -> None:
    text = rp.build_report(synthetic(cqadupstack=False), "nDCG@10")
    assert "baseline <code>bm25</code> (none given: the first label in sorted order" in text


# --- the pictures' ingredients -----------------------------------------------------------------


def test_bar_axis_starts_above_zero_only_when_zero_hides_differences() -> None:
    assert rp.bar_axis_bottom([0.32, 0.33], [0.29, 0.30]) > 0.2
    assert rp.bar_axis_bottom([0.2, 0.6], [0.15, 0.55]) == 0.0
    assert rp.bar_axis_bottom([0.5], [0.4]) == 0.0
    assert rp.bar_axis_bottom([0.0, 0.0], [0.0, 0.0]) == 0.0
    low = rp.bar_axis_bottom([0.90, 0.91, 0.92], [0.85, 0.86, 0.87])
    assert 0 < low < 0.85  # the lowest CI end stays in view


def test_mean_ci() -> None:
    from scipy import stats

    values = {"a": 0.1, "b": 0.4, "c": 0.7, "d": 0.2}
    mean, lo, hi = rp.mean_ci(values)
    sd = stats.tstd(list(values.values()))
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert mean == pytest.approx(0.35) and lo == pytest.approx(0.35 - half) and hi == pytest.approx(0.35 + half)
    # stratified: the mean of the strata means (CQADupStack's score), SE √(Σ s²/n)/k
    strata = {"x/1": 0.0, "x/2": 1.0, "y/1": 0.5, "y/2": 0.5, "y/3": 0.5}
    mean, lo, hi = rp.mean_ci(strata, stratified=True)
    assert mean == pytest.approx(0.5)
    assert hi - mean == pytest.approx(1.959963984540054 * math.sqrt(0.5 / 2) / 2)


def test_meta_scores_give_cqadupstack_as_forums() -> None:
    scores = rp.meta_scores(synthetic(), ["bm25"], "nDCG@10")["bm25"]
    assert sorted(scores) == sorted([*PLAIN, *(f"{CQADUPSTACK}/{f}" for f in CQADUPSTACK_FORUMS)])
    assert sorted(scores[f"{CQADUPSTACK}/android"]) == sorted(f"q{i}" for i in range(8))


def test_efficiency_table() -> None:
    table = rp.efficiency_table(synthetic())
    rows = {(r.cells["dataset"].text, r.cells["retriever"].text): r.cells for r in table.rows}
    assert len(rows) == N_DATASETS * len(SYSTEMS)  # CQADupStack's forums summed into one row
    cqa = rows[(CQADUPSTACK, "bm25")]
    assert cqa["docs"].value == 120 and cqa["queries"].value == 96 and cqa["index_s"].value == pytest.approx(24.0)
    assert cqa["docs_per_s"].value == pytest.approx(5.0) and cqa["queries_per_s"].value == pytest.approx(384.0 / 12)
    assert rows[("scifact", "dense")]["queries_per_s"].value == pytest.approx(160.0)
    zero = rp.efficiency_table([make_result("scifact", "bm25", {"q1": 1.0})])
    assert zero.rows[0].cells["docs_per_s"].value is None  # no time recorded: no rate
    assert "queries/s" in rp.to_html(table)


# --- tick labels never clipped -----------------------------------------------------------------


def _figures() -> list[tuple[str, object]]:
    from beirctl.meta import meta_analysis

    entries = synthetic()
    comp = compare(entries, "nDCG@10", "bm25", n_resamples=200)
    result = meta_analysis(rp.meta_scores(entries, sorted(SYSTEMS), "nDCG@10"), "bm25", metric="nDCG@10")
    others = [lb for lb in comp.labels if lb != "bm25"]
    figs: list[tuple[str, object]] = [("radar", rp.radar_figure(comp))]
    for ds in comp.datasets:
        figs += [
            (f"bars {ds}", rp.bar_figure(comp, ds)),
            (f"box {ds}", rp.box_figure(comp, ds)),
            (f"diff {ds}", rp.difference_figure(comp.per_query[ds], ds, others, "bm25", "nDCG@10")),
        ]
    figs += [(f"forest {lb}", rp.forest_figure(result, lb, "t")) for lb in others]
    return figs


@pytest.mark.parametrize("name_fig", _figures(), ids=lambda nf: nf[0])
def test_tick_labels_inside_the_figure(name_fig: tuple[str, object]) -> None:
    """Before saving (no bbox_inches cropping): every tick label and every other text lies inside
    the figure, so nothing is cut off whatever the saved bounding box."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    name, fig = name_fig
    assert isinstance(fig, Figure)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    box = fig.bbox
    axes = [*fig.axes, *(sub for ax in fig.axes for sub in ax.child_axes)]  # + the forest's right column
    every_tick = {id(t) for ax in axes for t in (*ax.get_xticklabels(), *ax.get_yticklabels())}
    ticks = [t for ax in axes for axis in (ax.xaxis, ax.yaxis) for t in _drawn_tick_labels(axis)]
    others = [t for t in fig.findobj(Text) if id(t) not in every_tick and t.get_visible() and t.get_text().strip()]
    assert ticks, name
    for text in [*ticks, *others]:
        ext = text.get_window_extent(renderer)
        assert ext.x0 >= box.x0 - 1 and ext.y0 >= box.y0 - 1, (name, text.get_text(), ext, box)
        assert ext.x1 <= box.x1 + 1 and ext.y1 <= box.y1 + 1, (name, text.get_text(), ext, box)


def _drawn_tick_labels(axis: Any) -> list[Any]:
    """The tick labels matplotlib draws: those with text at a location inside the view interval
    (``get_ticklabels`` also has the locator's ticks just outside it, which are not drawn)."""
    lo, hi = sorted(axis.get_view_interval())
    eps = 1e-9 * max(1.0, abs(hi - lo))
    return [
        label
        for loc, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
        if lo - eps <= loc <= hi + eps and label.get_visible() and label.get_text().strip()
    ]


def test_saved_svg_keeps_its_text() -> None:
    fig = rp.forest_figure(
        __import__("beirctl.meta", fromlist=["meta_analysis"]).meta_analysis(
            rp.meta_scores(synthetic(), sorted(SYSTEMS), "nDCG@10"), "bm25", metric="nDCG@10"
        ),
        "dense",
        "x",
    )
    text = rp.svg(fig, "f1")
    assert text.startswith("<svg") and "webis-touche2020 (n=40)" in text
    assert 'id="f1-figure_1"' in text and 'id="bc-forest-x-pooled"' in text


# --- the CLI and a run of the real pipeline ----------------------------------------------------


@pytest.fixture
def report(tmp_path: Path) -> Path:
    from typer.testing import CliRunner

    from beirctl.cli import app

    data = tmp_path / "data"
    write_dataset(data / "tiny")
    write_dataset(data / "other")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"datasets: [tiny, other]\nretrievers: [{{type: bm25}}, {{type: rank-bm25, params: {{k1: 1.5}}}}]\n"
        f"output_dir: {tmp_path / 'res'}\ndata_dir: {data}\n"
    )
    run_config(load_config(cfg))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "res"), "-o", str(out), "-b", "bm25", "--title", "Tiny benchmark"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    # per dataset a bar chart, a difference plot and a box plot; one forest plot (2 datasets)
    assert text.count("<svg") == 2 * 3 + 1
    assert not re.search(r"""(src|href)=["']?https?:""", text)
    assert "<script" not in text
    for heading in ("Comparison", "Significance against the baseline", "Wins / ties / losses", "Provenance"):
        assert heading in text


def test_cli_several_metrics_and_meta_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from beirctl.cli import app

    res = write_results(tmp_path / "res", synthetic())
    out = tmp_path / "r.html"
    args = ["report", str(res), "-o", str(out), "-b", "bm25", "-m", "nDCG@10", "-m", "R@100"]
    result = CliRunner().invoke(app, [*args, "--effect", "md", "--method", "pm", "--knha"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "<caption>R@100</caption>" in text and "random effects (PM, Knapp–Hartung)" in text
    bad = CliRunner().invoke(app, [*args, "--effect", "odds"])
    assert bad.exit_code != 0 and "odds" in bad.output


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chrome'}", *args], capture_output=True, text=True, timeout=120
    )


def _check_in_chromium(html_file: Path, tmp: Path, n_forest_rows: int, height: int = 2400) -> str:
    import matplotlib.image

    dom = _chromium("--dump-dom", html_file.as_uri(), tmp=tmp).stdout
    for key, heading in rp.SECTIONS.items():
        assert f'id="{key}"' in dom, key
        assert heading.replace("&", "&amp;") in dom, heading
    # the forest plots as the browser holds them: datasets + pooled rows each
    for fid, rows in re.findall(r'data-forest-id="([^"]+)" data-rows="(\d+)"', dom):
        studies = len(re.findall(rf'id="bc-forest-{re.escape(fid)}-study-\d+"', dom))
        assert studies == n_forest_rows and studies + 1 == int(rows)
        assert dom.count(f'id="bc-forest-{fid}-pooled"') == 1
    shot = tmp / "report.png"
    _chromium(f"--screenshot={shot}", f"--window-size=1200,{height}", html_file.as_uri(), tmp=tmp)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] == height and pixels.shape[1] == 1200
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05  # not blank: text, tables, charts
    r, g, b = (int(rp.COLORS[0][i : i + 2], 16) / 255 for i in (1, 3, 5))
    bar = (abs(pixels[..., 0] - r) < 0.03) & (abs(pixels[..., 1] - g) < 0.03) & (abs(pixels[..., 2] - b) < 0.03)
    assert bar.sum() > 500  # the first retriever's bars are drawn
    return dom


@needs_chromium
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    dom = _check_in_chromium(report, tmp_path, n_forest_rows=2)
    for text in ("Tiny benchmark", "rank-bm25", "bm25 (baseline)", "tiny: per-query nDCG@10", "wins"):
        assert text in dom
    assert dom.count("<svg") == 7


@needs_chromium
def test_synthetic_report_renders_in_chromium(page: str, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text(page, encoding="utf-8")
    dom = _check_in_chromium(out, tmp_path, n_forest_rows=N_DATASETS, height=7000)
    assert dom.count('class="chart forest"') == 4 and dom.count('class="chart radar"') == 2


@needs_shared
def test_real_scifact_nfcorpus(tmp_path: Path) -> None:
    """bm25 vs bm25 multifield on SciFact and NFCorpus: the forest plot has 2 + 1 rows and its
    figures are the meta-analysis's; in Chromium when it is there."""
    from beirctl.meta import meta_analysis

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "datasets: [scifact, nfcorpus]\nretrievers: [{type: bm25, label: bm25}, "
        "{type: bm25, label: bm25-multifield, params: {fields: multifield}}]\nmetrics: [nDCG@10, R@100]\n"
        f"output_dir: {tmp_path / 'res'}\ndata_dir: {SHARED_BEIR}\n"
    )
    run_config(load_config(cfg))
    entries = collect(tmp_path / "res")
    text = rp.build_report(entries, METRICS, "bm25", "SciFact + NFCorpus")
    result = meta_analysis(rp.meta_scores(entries, ["bm25", "bm25-multifield"], "nDCG@10"), "bm25", metric="nDCG@10")
    p = result.systems["bm25-multifield"].pooled
    assert f"{p.estimate:+.3f} [{p.ci_low:+.3f}, {p.ci_high:+.3f}]" in text
    assert text.count("class='chart forest'") == 2
    assert "scifact (n=300)" in text and "nfcorpus (n=323)" in text
    assert "queries/s" in text
    if CHROMIUM is not None:
        out = tmp_path / "real.html"
        out.write_text(text, encoding="utf-8")
        _check_in_chromium(out, tmp_path, n_forest_rows=2)

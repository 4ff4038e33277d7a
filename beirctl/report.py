"""A self-contained HTML report: comparison table, charts as inline SVG, provenance.

Nothing is fetched when the page is viewed: no scripts, fonts or images from the network.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from typing import Any

from beirctl import provenance
from beirctl.compare import Comparison, compare, comparison_table, tests_table
from beirctl.errors import BeirctlError
from beirctl.results import PairResult
from beirctl.tables import Cell, Column, Row, Table, to_html
from beirctl.version import __version__

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}.best{font-weight:bold;background:#eef7ee}
.legend{color:#555;font-size:.9rem}.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{flex:0 0 auto}
code{background:#f5f5f5;padding:0 .2rem}table.text td{text-align:left;font-size:.85rem}
"""


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue and doctype


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise BeirctlError("the HTML report needs matplotlib: pip install 'beirctl[report]'") from None
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.fonttype"] = "none"  # keep text as text: searchable, small
    import matplotlib.pyplot as plt

    return plt


def _bar_chart(comp: Comparison, dataset: str) -> str:
    plt = _plt()
    labels = [lb for lb in comp.labels if lb in comp.scores[dataset]]
    values = [comp.scores[dataset][lb] for lb in labels]
    fig, ax = plt.subplots(figsize=(3.6, 2.6))
    bars = ax.bar(
        range(len(labels)),
        values,
        color=["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"][: len(labels)] * (len(labels) // 5 + 1),
    )
    ax.bar_label(bars, fmt="%.4f", fontsize=7)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_title(dataset, fontsize=10)
    ax.set_ylabel(comp.metric, fontsize=8)
    ax.set_ylim(0, max(values + [0.01]) * 1.2)
    return _svg(fig)


def _box_plot(comp: Comparison, dataset: str, per_query: dict[str, dict[str, float]]) -> str:
    plt = _plt()
    labels = [lb for lb in comp.labels if lb in per_query]
    fig, ax = plt.subplots(figsize=(3.6, 2.6))
    ax.boxplot([list(per_query[lb].values()) for lb in labels], showmeans=True)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=20, ha="right", fontsize=8)
    ax.set_title(f"{dataset}: per-query {comp.metric}", fontsize=10)
    ax.set_ylim(-0.05, 1.05)
    return _svg(fig)


def wins_ties_losses(per_query: dict[str, dict[str, float]], label: str, baseline: str) -> tuple[int, int, int]:
    a, b = per_query[label], per_query[baseline]
    qids = set(a) & set(b)
    wins = sum(1 for q in qids if a[q] > b[q])
    losses = sum(1 for q in qids if a[q] < b[q])
    return wins, len(qids) - wins - losses, losses


def build_report(
    entries: Sequence[PairResult], metric: str = "nDCG@10", baseline: str | None = None, title: str | None = None
) -> str:
    """The HTML text of the report."""
    comp = compare(entries, metric, baseline or sorted({m.retriever.label for m in entries})[0])
    per_query = comp.per_query  # CQADupStack: its forums' queries together, as it is tested
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title or 'beirctl report')}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title or 'beirctl report')}</h1>",
        f"<p>{len(comp.datasets)} dataset(s), {len(comp.labels)} retriever(s), "
        f"metric <code>{html.escape(metric)}</code>, baseline <code>{html.escape(comp.baseline or '')}</code>.</p>",
        "<h2 id='comparison'>Comparison</h2>",
        to_html(comparison_table(comp)),
    ]
    if comp.tests:
        parts += ["<h2 id='significance'>Significance against the baseline</h2>", to_html(_untitled(tests_table(comp)))]
    parts.append("<h2 id='wins'>Wins / ties / losses against the baseline (per query)</h2>")
    wtl_rows = []
    for ds in comp.datasets:
        for lb in comp.labels:
            if lb == comp.baseline or lb not in per_query.get(ds, {}) or comp.baseline not in per_query.get(ds, {}):
                continue
            w, t, lo = wins_ties_losses(per_query[ds], lb, comp.baseline or "")
            wtl_rows.append(
                _text_row(["dataset", "retriever", "wins", "ties", "losses"], [ds, lb, str(w), str(t), str(lo)])
            )
    parts.append(
        to_html(Table(_text_columns(["dataset", "retriever", "wins", "ties", "losses"]), wtl_rows))
        if wtl_rows
        else "<p>Only one retriever: nothing to compare.</p>"
    )
    parts.append("<h2 id='charts'>Scores per dataset</h2><div class='charts'>")
    parts += [f"<div class='chart'>{_bar_chart(comp, ds)}</div>" for ds in comp.datasets]
    parts.append("</div><h2 id='distributions'>Per-query distributions</h2><div class='charts'>")
    parts += [
        f"<div class='chart'>{_box_plot(comp, ds, per_query[ds])}</div>" for ds in comp.datasets if ds in per_query
    ]
    parts.append("</div><h2 id='provenance'>Provenance</h2>")
    prov_header = ["dataset", "retriever", "type", "parameters", "corpus sha256", "config sha256", "beirctl", "created"]
    prov_rows = []
    for m in entries:
        prov_rows.append(
            _text_row(
                prov_header,
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
        )
    parts.append(to_html(Table(_text_columns(prov_header), prov_rows), css_class="text"))
    first = entries[0].provenance
    parts.append(
        "<p>Packages: " + html.escape(", ".join(f"{k} {v}" for k, v in sorted(first.packages.items()))) + "</p>"
    )
    parts.append("<p>Machine: " + html.escape(", ".join(f"{k}: {v}" for k, v in first.machine.items())) + "</p>")
    parts.append(f"<p class='legend'>Generated by beirctl {__version__} at {provenance.now()}.</p></body></html>")
    return "\n".join(parts)


def _untitled(table: Table) -> Table:
    """The table without its title (the section heading says it)."""
    table.title = None
    return table


def _text_columns(header: list[str]) -> list[Column]:
    return [Column(h, h, align="left", role="other") for h in header]


def _text_row(header: list[str], values: list[str]) -> Row:
    return Row({h: Cell(text=v) for h, v in zip(header, values)})

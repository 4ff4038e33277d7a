"""The table model and each renderer, on one small table with best marks, deltas and footnotes."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from beirctl.errors import BeirctlError
from beirctl.tables import Cell, Column, Row, Table, render, to_html, to_json, to_rich


def table() -> Table:
    columns = [
        Column("dataset", "dataset", align="left", role="other"),
        Column("ref", "published", role="reference"),
        Column("a", "a", "(baseline)"),
        Column("b_x", "b_x"),
    ]
    rows = [
        Row({"dataset": Cell(text="sci_fact"), "ref": Cell(0.5), "a": Cell(0.51234)}),
        Row({"dataset": Cell(text="nf"), "a": Cell(0.2), "b_x": Cell(0.3, delta=0.1, marks="*†", best=True)}),
        Row({"dataset": Cell(text="average"), "a": Cell(0.35617)}, summary=True),
    ]
    return Table(columns, rows, title="nDCG@10", footnotes=["* = significant"], meta={"metric": "nDCG@10"})


def test_markdown() -> None:
    assert render([table()], "markdown") == (
        "nDCG@10\n\n"
        "| dataset | published | a (baseline) | b_x |\n"
        "|---|---|---|---|\n"
        "| sci_fact | 0.5000 | 0.5123 |  |\n"
        "| nf |  | 0.2000 | **0.3000** (+0.1000)*† |\n"
        "| average |  | 0.3562 |  |\n"
        "\n* = significant\n"
    )


def test_csv_cells_are_numbers() -> None:
    assert render([table()], "csv") == (
        "dataset (nDCG@10),published,a (baseline),b_x,b_x delta\n"
        "sci_fact,0.5000,0.5123,,\n"
        "nf,,0.2000,0.3000,0.1000\n"
        "average,,0.3562,,\n"
    )


def test_json() -> None:
    doc = to_json(table())
    assert doc == {
        "metric": "nDCG@10",
        "scores": {"sci_fact": {"a": 0.5123}, "nf": {"a": 0.2, "b_x": 0.3}, "average": {"a": 0.3562}},
        "reference": {"name": "published", "scores": {"sci_fact": 0.5}},
        "deltas": {"nf": {"b_x": 0.1}},
        "marks": {"nf": {"b_x": "*†"}},
        "best": {"nf": ["b_x"]},
        "notes": ["* = significant"],
    }
    assert json.loads(render([table()], "json")) == doc


def test_latex() -> None:
    assert render([table()], "latex") == (
        "\\begin{tabular}{lrrr}\n"
        "\\toprule\n"
        "dataset & published & a (baseline) & b\\_x \\\\\n"
        "\\midrule\n"
        "sci\\_fact & 0.5000 & 0.5123 &  \\\\\n"
        "nf &  & 0.2000 & \\textbf{0.3000} (+0.1000)$^*$$^\\dagger$ \\\\\n"
        "average &  & 0.3562 &  \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "% nDCG@10; * = significant\n"
    )


def test_html() -> None:
    text = to_html(table(), css_class="text")
    assert text.startswith("<table class='text'><caption>nDCG@10</caption><thead><tr><th>dataset</th>")
    assert '<td class="best">0.3000 (+0.1000)*†</td>' in text
    assert text.endswith("</tbody></table>\n<p class='legend'>* = significant</p>")
    assert "<script" not in text


def test_rich() -> None:
    console = Console(record=True, width=120)
    console.print(to_rich(table()))
    text = console.export_text()
    assert "nDCG@10" in text and "(baseline)" in text and "0.3000 (+0.1000)*†" in text
    assert "* = significant" in text


def test_unknown_format() -> None:
    with pytest.raises(BeirctlError, match="unknown format 'xml'"):
        render([table()], "xml")

"""The table model and each renderer, on one small table with best marks, deltas and footnotes."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from beirctl.errors import BeirctlError
from beirctl.tables import (
    Cell,
    Column,
    Row,
    Table,
    latex_escape,
    latex_marks,
    render,
    superscript,
    to_html,
    to_json,
    to_rich,
)


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
        "nf &  & 0.2000 & \\textbf{0.3000} (+0.1000)$^{*\\dagger}$ \\\\\n"
        "\\midrule\n"
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


def grouped() -> Table:
    columns = [
        Column("dataset", "dataset", align="left", role="other"),
        Column("n/a", "a", group="nDCG@10"),
        Column("n/b", "b", group="nDCG@10"),
        Column("r/a", "a", group="R@100"),
    ]
    rows = [
        Row({"dataset": Cell(text="x"), "n/a": Cell(0.5, sup="b"), "n/b": Cell(0.25, marks="↓*"), "r/a": Cell(1.0)})
    ]
    return Table(columns, rows, caption="Scores.", label="tab:s", footnotes=["↓ = worse; p < 0.05"])


def test_column_groups_letters_and_a_table_environment() -> None:
    assert render([grouped()], "latex") == (
        "% needs \\usepackage{booktabs}\n"
        "\\begin{table}[t]\n"
        "\\centering\n"
        "\\caption{Scores. $^{\\downarrow}$ = worse; p \\textless{} 0.05}\n"
        "\\label{tab:s}\n"
        "\\begin{tabular}{lrrr}\n"
        "\\toprule\n"
        " & \\multicolumn{2}{c}{nDCG@10} & \\multicolumn{1}{c}{R@100} \\\\\n"
        "\\cmidrule(lr){2-3} \\cmidrule(lr){4-4}\n"
        "dataset & a & b & a \\\\\n"
        "\\midrule\n"
        "x & 0.5000$^{b}$ & 0.2500$^{\\downarrow*}$ & 1.0000 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
        "\\end{table}\n"
    )
    assert render([grouped()], "markdown").splitlines()[:3] == [
        "| dataset | nDCG@10 a | nDCG@10 b | R@100 a |",
        "|---|---|---|---|",
        "| x | 0.5000<sup>b</sup> | 0.2500↓* | 1.0000 |",
    ]
    html = to_html(grouped())
    assert "<thead><tr><th></th><th colspan='2'>nDCG@10</th><th>R@100</th></tr>" in html
    assert "<td>0.5000<sup>b</sup></td>" in html
    console = Console(record=True, width=120)
    console.print(to_rich(grouped()))
    assert "0.5000ᵇ" in console.export_text()


def test_latex_helpers() -> None:
    assert latex_escape("a_b & 50% #1 $x {y} ~^ <>") == (
        "a\\_b \\& 50\\% \\#1 \\$x \\{y\\} \\textasciitilde{}\\textasciicircum{} \\textless{}\\textgreater{}"
    )
    assert latex_marks("0.5↑*†‡ ok ↓") == "0.5$^{\\uparrow*\\dagger\\ddagger}$ ok $^{\\downarrow}$"
    assert superscript("abz") == "ᵃᵇᶻ" and superscript("aq") == "^aq"

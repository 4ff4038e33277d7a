"""One table model (columns, rows of cells, best marks, deltas, footnotes) and its renderers:
rich (the terminal), markdown, csv, json, latex and html.

A cell holds numbers, not text: ``value`` (formatted by its column's ``fmt``), an optional
``delta`` (shown as `` (+0.0123)`` after it; its own column in csv), significance ``marks``
and whether it is the ``best`` of its row. Builders (``results.score_table``,
``compare.comparison_table``, ...) decide what goes in; the renderers only lay it out.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from beirctl.errors import BeirctlError

if TYPE_CHECKING:
    from rich.console import RenderableType

FORMATS = ("markdown", "csv", "json", "latex", "html")


@dataclass(frozen=True)
class Column:
    """``key`` names the column in json; ``title`` (and ``subtitle``, a second header line)
    heads it; ``fmt`` formats its numbers. ``role``: ``score`` (a result), ``reference`` (a
    published figure) or ``other`` (names, counts, p-values)."""

    key: str
    title: str
    subtitle: str = ""
    align: Literal["left", "right"] = "right"
    fmt: str = ".4f"
    role: Literal["score", "reference", "other"] = "score"

    def header(self, sep: str = " ") -> str:
        return f"{self.title}{sep}{self.subtitle}" if self.subtitle else self.title


@dataclass(frozen=True)
class Cell:
    value: float | None = None
    text: str | None = None  # instead of a number: names, counts
    delta: float | None = None  # difference to a baseline or a reference
    marks: str = ""  # e.g. "*" and "†" for significant differences
    best: bool = False


EMPTY = Cell()


@dataclass(frozen=True)
class Row:
    cells: dict[str, Cell]  # column key -> cell; a missing key is an empty cell
    summary: bool = False  # e.g. the average row

    def cell(self, column: Column) -> Cell:
        return self.cells.get(column.key, EMPTY)


@dataclass
class Table:
    columns: list[Column]
    rows: list[Row]
    title: str | None = None
    footnotes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # leads the json document, e.g. the metric

    def key(self, row: Row) -> str:
        """A row's name: its first cell."""
        first = row.cell(self.columns[0])
        return first.text if first.text is not None else _number(self.columns[0], first)

    def has_deltas(self, column: Column) -> bool:
        return any(row.cell(column).delta is not None for row in self.rows)


def _number(column: Column, cell: Cell) -> str:
    if cell.text is not None:
        return cell.text
    return "" if cell.value is None else format(cell.value, column.fmt)


def cell_text(column: Column, cell: Cell, bold: tuple[str, str] = ("", "")) -> str:
    """``0.5000 (+0.0100)*``: the number (bold when best), the delta, the marks."""
    core = _number(column, cell)
    if not core:
        return ""
    if cell.best:
        core = f"{bold[0]}{core}{bold[1]}"
    return core + _tail(column, cell)


def _tail(column: Column, cell: Cell) -> str:
    delta = "" if cell.delta is None else f" ({format(cell.delta, '+' + column.fmt)})"
    return delta + cell.marks


# --- text formats ------------------------------------------------------------------------------


def to_markdown(table: Table) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = [table.title, ""] if table.title else []
    header = [esc(c.header()) for c in table.columns]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(esc(cell_text(c, row.cell(c), ("**", "**"))) for c in table.columns) + " |")
    if table.footnotes:
        lines += ["", *table.footnotes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Numbers only: a delta gets a column of its own; marks and best are left out. The title
    (e.g. the metric) goes into the first header cell."""
    columns = [(c, table.has_deltas(c)) for c in table.columns]
    header: list[str] = []
    for i, (c, deltas) in enumerate(columns):
        header.append(f"{c.header()} ({table.title})" if i == 0 and table.title else c.header())
        if deltas:
            header.append(f"{c.header()} delta")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        out: list[str] = []
        for c, deltas in columns:
            cell = row.cell(c)
            out.append(_number(c, cell))
            if deltas:
                out.append("" if cell.delta is None else format(cell.delta, c.fmt))
        writer.writerow(out)
    return buf.getvalue()


def to_json(table: Table) -> dict[str, Any]:
    """``meta``, then ``scores`` (row -> score column -> number, as printed), ``reference``
    (name and row -> figure), and where there are any ``deltas``, ``marks``, ``best`` and ``notes``."""

    def num(column: Column, v: float) -> float:
        return float(format(v, column.fmt))

    doc: dict[str, Any] = dict(table.meta)
    scores = [c for c in table.columns if c.role == "score"]
    refs = [c for c in table.columns if c.role == "reference"]
    doc["scores"] = {
        table.key(r): {c.key: num(c, v) for c in scores if (v := r.cell(c).value) is not None} for r in table.rows
    }
    if refs:
        figures = {c.key: {table.key(r): v for r in table.rows if (v := r.cell(c).value) is not None} for c in refs}
        if len(refs) == 1:
            doc["reference"] = {"name": refs[0].title, "scores": figures[refs[0].key]}
        else:
            doc["reference"] = {"name": refs[0].title, "scores": figures}
    extras: dict[str, dict[str, dict[str, Any]]] = {"deltas": {}, "marks": {}}
    best: dict[str, list[str]] = {}
    for r in table.rows:
        for c in scores:
            cell = r.cell(c)
            if cell.delta is not None:
                extras["deltas"].setdefault(table.key(r), {})[c.key] = num(c, cell.delta)
            if cell.marks:
                extras["marks"].setdefault(table.key(r), {})[c.key] = cell.marks
            if cell.best:
                best.setdefault(table.key(r), []).append(c.key)
    doc.update({k: v for k, v in extras.items() if v})
    if best:
        doc["best"] = best
    if table.footnotes:
        doc["notes"] = list(table.footnotes)
    return doc


def to_latex(table: Table) -> str:
    """A booktabs tabular; the title and footnotes follow as a comment."""

    def esc(s: str) -> str:
        for a, b in (("_", "\\_"), ("%", "\\%"), ("&", "\\&"), ("#", "\\#")):
            s = s.replace(a, b)
        return s

    def marks(s: str) -> str:
        return s.replace("†", "$^\\dagger$").replace("*", "$^*$")

    def cell(c: Column, x: Cell) -> str:
        core = esc(_number(c, x))
        if not core:
            return ""
        if x.best:
            core = f"\\textbf{{{core}}}"
        delta = "" if x.delta is None else f" ({format(x.delta, '+' + c.fmt)})"
        return core + delta + marks(x.marks)

    lines = [
        "\\begin{tabular}{" + "".join("l" if c.align == "left" else "r" for c in table.columns) + "}",
        "\\toprule",
        " & ".join(marks(esc(c.header())) for c in table.columns) + " \\\\",
        "\\midrule",
    ]
    lines += [" & ".join(cell(c, row.cell(c)) for c in table.columns) + " \\\\" for row in table.rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    comment = "; ".join(([table.title] if table.title else []) + table.footnotes)
    if comment:
        lines.append(f"% {comment}")
    return "\n".join(lines) + "\n"


def to_html(table: Table, css_class: str = "") -> str:
    """A ``<table>`` (best cells ``class="best"``), footnotes as ``<p class='legend'>`` after it."""
    esc = html.escape
    out = [f"<table class='{esc(css_class)}'>" if css_class else "<table>"]
    if table.title:
        out.append(f"<caption>{esc(table.title)}</caption>")
    out.append("<thead><tr>")
    out += [f"<th>{esc(c.header())}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for c in table.columns:
            cell = row.cell(c)
            cls = ' class="best"' if cell.best else ""
            out.append(f"<td{cls}>{esc(cell_text(c, cell))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "\n".join(["".join(out), *(f"<p class='legend'>{esc(n)}</p>" for n in table.footnotes)])


def render(tables: Sequence[Table], fmt: str) -> str:
    """The tables as one text in ``fmt`` (markdown, csv, json, latex, html)."""
    if fmt == "json":
        docs = [to_json(t) for t in tables]
        return json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n"
    renderers = {"markdown": to_markdown, "csv": to_csv, "latex": to_latex, "html": to_html}
    if fmt not in renderers:
        raise BeirctlError(f"unknown format {fmt!r} (table, {', '.join(FORMATS)})")
    return "\n".join(renderers[fmt](t) for t in tables)


# --- the terminal ------------------------------------------------------------------------------


def to_rich(table: Table) -> RenderableType:
    """A rich Table (best in bold green, a line above summary rows), footnotes dim below it."""
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    out = RichTable(title=table.title)
    for c in table.columns:
        out.add_column(c.header("\n"), justify=c.align)
    for i, row in enumerate(table.rows):
        cells = []
        for c in table.columns:
            cell = row.cell(c)
            core = _number(c, cell)
            text = Text(core, style="bold green" if cell.best and core else "")
            if core:
                text.append(_tail(c, cell))
            cells.append(text)
        following = table.rows[i + 1] if i + 1 < len(table.rows) else None
        out.add_row(*cells, end_section=following is not None and following.summary)
    if not table.footnotes:
        return out
    return Group(out, *(Text(n, style="dim") for n in table.footnotes))

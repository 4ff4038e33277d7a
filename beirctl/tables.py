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
from collections.abc import Callable, Sequence
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
    group: str = ""  # a header spanning consecutive columns of the same group (e.g. the metric)

    def header(self, sep: str = " ") -> str:
        return f"{self.title}{sep}{self.subtitle}" if self.subtitle else self.title


@dataclass(frozen=True)
class Cell:
    value: float | None = None
    text: str | None = None  # instead of a number: names, counts
    delta: float | None = None  # difference to a baseline or a reference
    marks: str = ""  # e.g. "*" and "†" for significant differences
    best: bool = False
    sup: str = ""  # superscript letters (ranx style: the systems this one is significantly better than)


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
    caption: str | None = None  # latex: with caption or label, a complete table environment;
    label: str | None = None  # the caption is LaTeX as is, the footnotes follow it escaped

    def key(self, row: Row) -> str:
        """A row's name: its first cell."""
        first = row.cell(self.columns[0])
        return first.text if first.text is not None else _number(self.columns[0], first)

    def has_deltas(self, column: Column) -> bool:
        return any(row.cell(column).delta is not None for row in self.rows)

    def groups(self) -> list[tuple[str, int]]:
        """Consecutive columns of the same ``group``: (group, span), left to right; empty when
        no column has a group."""
        if not any(c.group for c in self.columns):
            return []
        spans: list[tuple[str, int]] = []
        for c in self.columns:
            if spans and spans[-1][0] == c.group:
                spans[-1] = (c.group, spans[-1][1] + 1)
            else:
                spans.append((c.group, 1))
        return spans

    def heading(self, column: Column, sep: str = " ") -> str:
        """A column's header with its group in front (for formats without spanning headers)."""
        return f"{column.group}{sep}{column.header(sep)}" if column.group else column.header(sep)


def _number(column: Column, cell: Cell) -> str:
    if cell.text is not None:
        return cell.text
    return "" if cell.value is None else format(cell.value, column.fmt)


def cell_text(column: Column, cell: Cell, bold: tuple[str, str] = ("", ""), sup: tuple[str, str] = ("^", "")) -> str:
    """``0.5000 (+0.0100)*``: the number (bold when best), superscript letters, the delta, the marks."""
    core = _number(column, cell)
    if not core:
        return ""
    if cell.best:
        core = f"{bold[0]}{core}{bold[1]}"
    return core + _tail(column, cell, sup)


def _tail(column: Column, cell: Cell, sup: tuple[str, str] = ("^", "")) -> str:
    delta = "" if cell.delta is None else f" ({format(cell.delta, '+' + column.fmt)})"
    letters = f"{sup[0]}{cell.sup}{sup[1]}" if cell.sup else ""
    return letters + delta + cell.marks


_SUPERSCRIPTS = dict(zip("abcdefghijklmnoprstuvwxyz", "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ"))


def superscript(letters: str) -> str:
    """Letters as Unicode superscripts (``ᵃᵇ``); ``^`` and the letters where one has none (q)."""
    if all(ch in _SUPERSCRIPTS for ch in letters):
        return "".join(_SUPERSCRIPTS[ch] for ch in letters)
    return "^" + letters


# --- text formats ------------------------------------------------------------------------------


def to_markdown(table: Table) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = [table.title, ""] if table.title else []
    header = [esc(table.heading(c)) for c in table.columns]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in table.rows:
        texts = (cell_text(c, row.cell(c), ("**", "**"), ("<sup>", "</sup>")) for c in table.columns)
        lines.append("| " + " | ".join(esc(t) for t in texts) + " |")
    if table.footnotes:
        lines += ["", *table.footnotes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """Numbers only: a delta gets a column of its own; marks and best are left out. The title
    (e.g. the metric) goes into the first header cell."""
    columns = [(c, table.has_deltas(c)) for c in table.columns]
    header: list[str] = []
    for i, (c, deltas) in enumerate(columns):
        header.append(f"{table.heading(c)} ({table.title})" if i == 0 and table.title else table.heading(c))
        if deltas:
            header.append(f"{table.heading(c)} delta")
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


def to_json(table: Table, exact: bool = False) -> dict[str, Any]:
    """``meta``, then ``scores`` (row -> score column -> number, as printed, or with ``exact``
    unrounded), ``reference`` (name and row -> figure), and where there are any ``deltas``,
    ``marks``, ``best`` and ``notes``."""

    def num(column: Column, v: float) -> float:
        return float(v) if exact else float(format(v, column.fmt))

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


def latex_escape(s: str) -> str:
    """Text for LaTeX: ``\\ _ % & # $ { } ~ ^ < >`` escaped."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\textbackslash{}")
        elif ch in "_%&#${}":
            out.append("\\" + ch)
        elif ch == "~":
            out.append("\\textasciitilde{}")
        elif ch == "^":
            out.append("\\textasciicircum{}")
        elif ch in "<>":
            out.append("\\textless{}" if ch == "<" else "\\textgreater{}")
        else:
            out.append(ch)
    return "".join(out)


_LATEX_MARKS = {"*": "*", "†": "\\dagger", "‡": "\\ddagger", "↑": "\\uparrow", "↓": "\\downarrow"}


def latex_marks(s: str) -> str:
    """Each run of significance marks (``* † ‡ ↑ ↓``) as one math superscript: ``↑*†`` ->
    ``$^{\\uparrow*\\dagger}$``; other text as is."""
    out: list[str] = []
    run: list[str] = []
    for ch in s + "\0":
        if ch in _LATEX_MARKS:
            run.append(_LATEX_MARKS[ch])
            continue
        if run:
            out.append("$^{" + "".join(run) + "}$")
            run = []
        if ch != "\0":
            out.append(ch)
    return "".join(out)


def to_latex(table: Table) -> str:
    """A booktabs tabular (a spanning header with ``\\cmidrule`` per column group). With a
    ``caption`` or ``label``, a complete ``table`` environment whose caption is the caption
    followed by the footnotes; otherwise the title and footnotes follow as a comment."""

    def cell(c: Column, x: Cell) -> str:
        core = latex_escape(_number(c, x))
        if not core:
            return ""
        if x.best:
            core = f"\\textbf{{{core}}}"
        letters = f"$^{{{x.sup}}}$" if x.sup else ""
        delta = "" if x.delta is None else f" ({format(x.delta, '+' + c.fmt)})"
        return core + letters + delta + latex_marks(x.marks)

    lines = [
        "\\begin{tabular}{" + "".join("l" if c.align == "left" else "r" for c in table.columns) + "}",
        "\\toprule",
    ]
    groups = table.groups()
    if groups:
        spans, rules, first = [], [], 1
        for name, width in groups:
            spans.append(f"\\multicolumn{{{width}}}{{c}}{{{latex_escape(name)}}}" if name else " & ".join([""] * width))
            if name:
                rules.append(f"\\cmidrule(lr){{{first}-{first + width - 1}}}")
            first += width
        lines += [" & ".join(spans) + " \\\\", " ".join(rules)]
    lines += [
        " & ".join(latex_marks(latex_escape(c.header())) for c in table.columns) + " \\\\",
        "\\midrule",
    ]
    for i, row in enumerate(table.rows):
        if row.summary and i > 0 and not table.rows[i - 1].summary:
            lines.append("\\midrule")
        lines.append(" & ".join(cell(c, row.cell(c)) for c in table.columns) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.caption is None and table.label is None:
        comment = "; ".join(([table.title] if table.title else []) + table.footnotes)
        if comment:
            lines.append(f"% {comment}")
        return "\n".join(lines) + "\n"
    caption = " ".join(
        ([table.caption] if table.caption else []) + [latex_marks(latex_escape(n)) for n in table.footnotes]
    )
    head = ["% needs \\usepackage{booktabs}", "\\begin{table}[t]", "\\centering"]
    if caption:
        head.append(f"\\caption{{{caption}}}")
    if table.label:
        head.append(f"\\label{{{table.label}}}")
    return "\n".join([*head, *lines, "\\end{table}"]) + "\n"


def to_html(table: Table, css_class: str = "") -> str:
    """A ``<table>`` (best cells ``class="best"``), footnotes as ``<p class='legend'>`` after it."""
    esc = html.escape
    out = [f"<table class='{esc(css_class)}'>" if css_class else "<table>"]
    if table.title:
        out.append(f"<caption>{esc(table.title)}</caption>")
    out.append("<thead>")
    if groups := table.groups():
        out.append("<tr>")
        out += [
            f"<th colspan='{width}'>{esc(name)}</th>" if width > 1 else f"<th>{esc(name)}</th>"
            for name, width in groups
        ]
        out.append("</tr>")
    out.append("<tr>")
    out += [f"<th>{esc(c.header())}</th>" for c in table.columns]
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for c in table.columns:
            cell = row.cell(c)
            cls = ' class="best"' if cell.best else ""
            text = esc(cell_text(c, cell, sup=("\0", "\1"))).replace("\0", "<sup>").replace("\1", "</sup>")
            out.append(f"<td{cls}>{text}</td>")
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


# --- other layouts (for narrow terminals) ------------------------------------------------------


def transpose(table: Table) -> Table:
    """Rows as columns: a row per column of ``table`` (the first column's title heads the new
    first column, e.g. ``dataset``... becomes the retrievers), a column per row."""
    first = table.columns[0]
    keys = [table.key(r) for r in table.rows]
    columns = [Column("_", first.title, align="left"), *(Column(k, k) for k in keys)]
    rows = [
        Row({"_": Cell(text=table.heading(c)), **{k: r.cell(c) for k, r in zip(keys, table.rows)}})
        for c in table.columns[1:]
    ]
    return Table(columns, rows, title=table.title, footnotes=table.footnotes, meta=table.meta)


def long_form(tables: Sequence[Table], row_title: str = "retriever") -> Table:
    """Tables of the same rows and columns, one per metric (their titles), as one table with a
    row per (row, column) pair and a column per metric: ``dataset | retriever | nDCG@10 | R@100``."""
    base = tables[0]
    first = base.columns[0]
    names = [t.title or str(i) for i, t in enumerate(tables)]
    columns = [Column("_row", first.title, align="left"), Column("_col", row_title, align="left")]
    columns += [Column(f"_m{i}", name) for i, name in enumerate(names)]
    rows = []
    for i, row in enumerate(base.rows):
        for c in base.columns[1:]:
            cells = {"_row": Cell(text=base.key(row)), "_col": Cell(text=base.heading(c))}
            cells.update({f"_m{j}": t.rows[i].cell(c) for j, t in enumerate(tables)})
            rows.append(Row(cells, summary=row.summary and c is base.columns[1]))
    notes = [n for t in tables for n in t.footnotes]
    return Table(columns, rows, footnotes=list(dict.fromkeys(notes)))


# --- the terminal ------------------------------------------------------------------------------


def rich_width(table: Table) -> int:
    """The width ``to_rich(table)`` takes unwrapped (its natural width, whatever the terminal)."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(width=100_000, color_system=None, file=io.StringIO())
    bare = Table(table.columns, table.rows, title=table.title)  # footnotes wrap; they never widen
    return Measurement.get(probe, probe.options, to_rich(bare)).maximum


def fitting(layouts: Sequence[Callable[[], Sequence[Table]]], width: int) -> list[Table]:
    """The first layout whose tables all fit ``width`` columns (each is built only when the
    ones before it do not fit); the last one whatever its width."""
    tables: list[Table] = []
    for build in layouts:
        tables = list(build())
        if all(rich_width(t) <= width for t in tables):
            break
    return tables


def to_rich(table: Table) -> RenderableType:
    """A rich Table (best in bold green, a line above summary rows), footnotes dim below it."""
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    out = RichTable(title=table.title)
    for c in table.columns:
        out.add_column(table.heading(c, "\n"), justify=c.align)
    for i, row in enumerate(table.rows):
        cells = []
        for c in table.columns:
            cell = row.cell(c)
            core = _number(c, cell)
            text = Text(core, style="bold green" if cell.best and core else "")
            if core:
                text.append(superscript(cell.sup) + _tail(c, cell.__class__(delta=cell.delta, marks=cell.marks)))
            cells.append(text)
        following = table.rows[i + 1] if i + 1 < len(table.rows) else None
        out.add_row(*cells, end_section=following is not None and following.summary)
    if not table.footnotes:
        return out
    return Group(out, *(Text(n, style="dim") for n in table.footnotes))

"""Progress of long steps (encoding, indexing, searching) on stderr.

On a terminal, a rich bar with the rate and the time left, drawn on the one stderr console the
command line also uses (so that its status line and the bars share one live display instead of
overwriting each other). Elsewhere (CI logs, pipes), no bar: one plain line when the step ends,
without control characters. Either way the finished step says its count, time and rate.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

_CONSOLE: list[Console] = []


def stderr_console() -> Console:
    """The process's one rich console on stderr (the CLI's ``err_console`` is this one)."""
    if not _CONSOLE:
        from rich.console import Console

        _CONSOLE.append(Console(stderr=True))
    return _CONSOLE[0]


def interactive() -> bool:
    """Whether stderr is a terminal that can redraw a bar."""
    return stderr_console().is_terminal and not stderr_console().is_dumb_terminal


def step_line(description: str, done: int, unit: str, seconds: float) -> str:
    """``encoding: 5,183 passages in 41.2s (126 passages/s)``."""
    rate = f", {done / seconds:,.0f} {unit}/s" if seconds > 0 and done else ""
    return f"{description}: {done:,} {unit} in {seconds:.1f}s{rate}"


def say(line: str) -> None:
    """One line on stderr: through the console on a terminal (above any bar), else plain text."""
    if interactive():
        stderr_console().print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@contextlib.contextmanager
def track(description: str, total: int, unit: str = "docs", *, done: int = 0) -> Iterator[Callable[[int], None]]:
    """A step of ``total`` items (``done`` of them already, e.g. resumed): yields ``advance(n)``;
    draws a bar on a terminal and prints the step's line when it ends (not when it fails)."""
    count = [0]
    start = time.perf_counter()
    bar = None
    if interactive() and total > 0:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=stderr_console(),
            transient=True,
        )
        task = bar.add_task(description, total=total, completed=done, rate="")
        bar.start()

    def advance(n: int) -> None:
        count[0] += n
        if bar is not None:
            elapsed = time.perf_counter() - start
            rate = f"{count[0] / elapsed:,.0f} {unit}/s" if elapsed > 0 else ""
            bar.update(task, advance=n, rate=rate)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.stop()
    if count[0] or (total and not done):
        say("    " + step_line(description, count[0], unit, time.perf_counter() - start))

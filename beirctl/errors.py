"""User-facing errors: one line, naming the file and line where it applies."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


class BeirctlError(Exception):
    """An error caused by the user's input or environment; shown without a traceback."""


class DataError(BeirctlError):
    """Malformed dataset, qrels or run file."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ConfigError(BeirctlError):
    """Invalid YAML config."""


class DownloadError(BeirctlError):
    """A dataset download or extraction failed."""


def did_you_mean(word: str, choices: Iterable[object], *, cutoff: float = 0.5) -> str:
    """`` (did you mean 'x'?)`` for the choice closest to ``word`` (case-insensitive), or ``""``."""
    import difflib

    options = [str(c) for c in choices]
    lowered = {c.lower(): c for c in reversed(options)}
    close = difflib.get_close_matches(str(word).lower(), list(lowered), n=1, cutoff=cutoff)
    return f" (did you mean {lowered[close[0]]!r}?)" if close else ""

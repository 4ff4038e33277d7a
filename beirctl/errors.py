"""User-facing errors: one line, naming the file and line where it applies."""

from __future__ import annotations

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

"""``beirctl retrievers`` and ``beirctl doctor``: what this install can do."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from beirctl.cli.common import console
from beirctl.errors import BeirctlError


def retrievers() -> None:
    """Registered retrievers and their parameters with defaults."""
    from beirctl.retrievers import registry

    for name in registry.available():
        try:
            cls = registry.get(name)
        except BeirctlError as exc:
            console.print(f"[bold]{name}[/]: unavailable ({exc})")
            continue
        table = Table(title=f"{name} — {cls.description}", title_justify="left")
        for col in ("parameter", "default", "description"):
            table.add_column(col)
        for pname, field in cls.Params.model_fields.items():
            default = field.get_default(call_default_factory=True)
            table.add_row(escape(pname), escape(json.dumps(default)), escape(field.description or ""))
        console.print(table)


def doctor() -> None:
    """Which optional backends are usable here (Java, Anserini, torch, models) and how to fix the rest."""
    from beirctl.doctor import collect

    table = Table(title="beirctl doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for check in collect():
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[yellow]missing[/]", check.detail)
    console.print(table)

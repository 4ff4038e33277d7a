"""Check results against published reference figures: the gate of a reproducibility job."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from beirctl.errors import BeirctlError

REFERENCE_FILES = ("pyserini-beir-v1.0.0.tsv", "mteb.tsv")


def _read_tables() -> dict[str, dict[str, dict[str, float]]]:
    tables: dict[str, dict[str, dict[str, float]]] = {}
    pkg = resources.files("beirctl.references")
    for name in REFERENCE_FILES:
        path = pkg / name
        if not path.is_file():
            continue
        header: list[str] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if not header:
                header = fields
                continue
            ref, dataset, *values = fields
            tables.setdefault(ref, {})[dataset] = {m: float(v) for m, v in zip(header[2:], values) if v}
    return tables


def reference_names() -> list[str]:
    return sorted(_read_tables())


def reference_sources() -> dict[str, str]:
    """Source comment lines of each reference file."""
    pkg = resources.files("beirctl.references")
    out = {}
    for name in REFERENCE_FILES:
        path = pkg / name
        if path.is_file():
            out[name] = " ".join(
                ln.lstrip("# ") for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")
            )
    return out


def load_reference(name: str) -> dict[str, dict[str, float]]:
    """dataset -> metric -> published value."""
    tables = _read_tables()
    if name not in tables:
        raise BeirctlError(f"unknown reference {name!r} (known: {', '.join(sorted(tables))})")
    return tables[name]


@dataclass
class Check:
    dataset: str
    label: str
    metric: str
    got: float | None
    expected: float | None
    ok: bool
    note: str = ""

    @property
    def diff(self) -> float | None:
        if self.got is None or self.expected is None:
            return None
        return round(self.got, 4) - self.expected


@dataclass
class Verification:
    reference: str
    tolerance: float
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def verify(
    entries: list[dict[str, Any]],
    reference: str,
    tolerance: float = 1e-4,
    label: str | None = None,
    datasets: list[str] | None = None,
) -> Verification:
    """Compare each result (rounded to 4 decimals, as published) with the reference figure.

    A dataset asked for in ``datasets`` but absent from the results, and a result dataset
    that the reference does not cover, are failures, never skipped.
    """
    table = load_reference(reference)
    labels = sorted({m["retriever"]["label"] for m in entries})
    if label is not None:
        if label not in labels:
            raise BeirctlError(f"no results for retriever {label!r} (have: {', '.join(labels)})")
        labels = [label]
    out = Verification(reference, tolerance)
    for lb in labels:
        mine = {m["dataset"]["name"]: m["aggregate"] for m in entries if m["retriever"]["label"] == lb}
        wanted = datasets or sorted(mine)
        for ds in wanted:
            if ds not in mine:
                out.checks.append(Check(ds, lb, "-", None, None, False, "missing from the results"))
                continue
            if ds not in table:
                out.checks.append(Check(ds, lb, "-", None, None, False, f"no {reference} figure for it"))
                continue
            shared = [m for m in table[ds] if m in mine[ds]]
            if not shared:
                out.checks.append(
                    Check(ds, lb, "-", None, None, False, f"no metric in common (reference has {', '.join(table[ds])})")
                )
            for metric in shared:
                got, expected = mine[ds][metric], table[ds][metric]
                ok = abs(round(got, 4) - expected) <= tolerance + 1e-9
                out.checks.append(Check(ds, lb, metric, got, expected, ok))
    return out

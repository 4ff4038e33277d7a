"""Check results against published reference figures: the gate of a reproducibility job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

from beirctl.datasets.catalog import CQADUPSTACK
from beirctl.errors import BeirctlError, did_you_mean
from beirctl.results import PairResult, reference_scores, retriever_scores

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
    """dataset -> metric -> published value: a shipped table by name, or an MTEB results folder
    (``<org>__<name>/<revision>/``, see :func:`beirctl.mteb.load_mteb_reference`) by path."""
    from beirctl.mteb import is_mteb_folder, load_mteb_reference

    if is_mteb_folder(name):
        return load_mteb_reference(name).table
    tables = _read_tables()
    if name not in tables:
        raise BeirctlError(
            f"unknown reference {name!r}{did_you_mean(name, tables)} (known: {', '.join(sorted(tables))})"
        )
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
    notes: list[str] = field(default_factory=list)  # e.g. the conventions of an MTEB reference

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def verify(
    entries: Sequence[PairResult],
    reference: str,
    tolerance: float = 1e-4,
    label: str | None = None,
    datasets: list[str] | None = None,
    revision: str | None = None,
) -> Verification:
    """Compare each result (rounded to 4 decimals, as published) with the reference figure.

    Scores are :func:`beirctl.results.retriever_scores`': CQADupStack is checked as one dataset
    (the mean of its 12 forums against the mean of the reference's forum figures) and forum by
    forum; fewer than 12 forums is a failure naming the missing ones. A dataset asked for in
    ``datasets`` but absent from the results, and a result dataset that the reference does not
    cover, are failures, never skipped.

    ``reference`` may be an MTEB results folder (``revision``: which of its model's revisions);
    the notes then say which of MTEB's conventions differ from how the results were made.
    """
    from beirctl.mteb import AGGREGATE_TASK, TASKS, convention_notes, is_mteb_folder, load_mteb_reference

    mteb = load_mteb_reference(reference, revision) if is_mteb_folder(reference) else None
    if mteb is None and revision is not None:
        raise BeirctlError(f"--revision {revision!r} applies to an MTEB results folder, not to table {reference!r}")
    table = mteb.table if mteb is not None else load_reference(reference)
    labels = sorted({m.retriever.label for m in entries})
    if label is not None:
        if label not in labels:
            raise BeirctlError(f"no results for retriever {label!r} (have: {', '.join(labels)})")
        labels = [label]
    _refuse_other_settings(entries, reference, labels)
    out = Verification(mteb.name if mteb is not None else reference, tolerance)
    if mteb is not None:
        out.notes = [*mteb.notes, *convention_notes(mteb, entries)]
    for lb in labels:
        metrics: list[str] = []
        for m in entries:
            if m.retriever.label == lb:
                metrics += [k for k in m.aggregate if k not in metrics]
        per_metric = {metric: retriever_scores(entries, lb, metric, partial=True) for metric in metrics}
        mine: dict[str, dict[str, float]] = {}
        incomplete: str | None = None
        for metric, s in per_metric.items():
            for ds, value in [*s.datasets.items(), *s.forums.items()]:
                mine.setdefault(ds, {})[metric] = value
            incomplete = incomplete or s.incomplete
        names = set(mine) | ({CQADUPSTACK} if incomplete else set())
        expected = {metric: reference_scores(table, metric) for metric in _metrics_of(table)}
        for ds in datasets or sorted(names):
            if ds == CQADUPSTACK and incomplete and ds not in mine:
                out.checks.append(Check(ds, lb, "-", None, None, False, incomplete.removeprefix(f"{lb}: ")))
                continue
            if ds not in mine:
                out.checks.append(Check(ds, lb, "-", None, None, False, "missing from the results"))
                continue
            figures = {metric: v[ds] for metric, v in expected.items() if ds in v}
            if not figures:
                task = AGGREGATE_TASK if ds == CQADUPSTACK else TASKS[ds].name if ds in TASKS else None
                if mteb is not None and task is not None:
                    note = f"no {mteb.folder / task}.json"
                elif mteb is not None:
                    note = "MTEB has no task for it"
                else:
                    note = f"no {reference} figure for it"
                out.checks.append(Check(ds, lb, "-", None, None, False, note))
                continue
            shared = [metric for metric in figures if metric in mine[ds]]
            if not shared:
                out.checks.append(
                    Check(ds, lb, "-", None, None, False, f"no metric in common (reference has {', '.join(figures)})")
                )
            for metric in shared:
                got, want = mine[ds][metric], figures[metric]
                ok = abs(round(got, 4) - want) <= tolerance + 1e-9
                out.checks.append(Check(ds, lb, metric, got, want, ok))
    return out


def _metrics_of(table: dict[str, dict[str, float]]) -> list[str]:
    """The metrics a reference table has figures for, in its column order."""
    found: list[str] = []
    for values in table.values():
        found += [m for m in values if m not in found]
    return found


def _refuse_other_settings(entries: Sequence[PairResult], reference: str, labels: list[str]) -> None:
    """A reference table made under a preset's condition (:mod:`beirctl.conditions`) is compared
    only with results made under it (the preset, or a ``dense`` config with the same settings)."""
    from beirctl.conditions import condition_of_reference, setting_differences

    condition = condition_of_reference(reference)
    if condition is None:
        return
    for m in entries:
        if m.retriever.label not in labels:
            continue
        differ = setting_differences(condition, m.retriever.type, m.retriever.params, m.dataset.name)
        if differ:
            raise BeirctlError(
                f"{m.dataset.name} × {m.retriever.label}: not made as {reference} (preset "
                f"{condition.preset}), so not compared: {'; '.join(differ)}"
            )

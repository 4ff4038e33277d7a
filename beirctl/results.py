"""Results on disk: per-pair ``metrics.json`` (:class:`PairResult`), the config's
``leaderboard.json``, and the one definition of a retriever's benchmark scores.

Layout under a results folder (:func:`pair_dir`)::

    <dataset>/<retriever label>/run.trec.gz
    <dataset>/<retriever label>/metrics.json
    leaderboard.json

A retriever's score on the benchmark is :func:`retriever_scores`: one score per dataset, where
CQADupStack (its forums run as ``cqadupstack/<forum>`` with ``group: "cqadupstack"``) counts as one
dataset, the unweighted mean of its 12 forums, and the average of those. ``show``, ``compare``,
``verify``, ``report``, the leaderboard and submission bundles all take their numbers from it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from statistics import fmean
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from beirctl.atomic import write_json
from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.errors import BeirctlError
from beirctl.tables import Cell, Column, Row, Table

METRICS_SCHEMA = "beirctl.metrics/1"
LEADERBOARD_SCHEMA = "beirctl.leaderboard/1"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.trec.gz"
LEADERBOARD_FILE = "leaderboard.json"
METRICS_SCHEMA_FILE = "metrics.schema.json"


class ResultsError(BeirctlError):
    """Inconsistent or incomplete results."""


def pair_dir(results_dir: str | Path, dataset: str, label: str) -> Path:
    """The folder of one (dataset, retriever) pair: ``<results_dir>/<dataset>/<label>``."""
    return Path(results_dir) / dataset / label


# --- metrics.json ------------------------------------------------------------------------------


class _Block(BaseModel):
    # Exactly the document the runner writes: an unknown key is an error, not dropped, so that
    # write_result(read_result(p)) gives p's bytes back. Field order is the file's key order.
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class DatasetBlock(_Block):
    name: str  # results folder name, e.g. "scifact" or "cqadupstack/android"
    split: str
    source: str  # the dataset folder, or "hf:<repo>"
    path: str | None
    group: str | None  # "cqadupstack" for forums run as part of it
    num_docs: int
    num_queries: int
    checksums: dict[str, str]


class RetrieverBlock(_Block):
    type: str
    label: str
    params: dict[str, Any]


class Settings(_Block):
    # conventions is optional: older files lack it
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=False)

    top_k: int
    remove_query_id_hits: bool  # on this dataset, whatever decided it
    metrics: list[str]
    # name, the rules in words and what they did here (beirctl.conventions); absent: pyserini
    conventions: dict[str, Any] | None = None


class Timings(_Block):
    load_s: float
    index_s: float
    search_s: float
    eval_s: float


class ConfigBlock(_Block):
    name: str | None
    file: str | None
    sha256: str
    resolved: dict[str, Any]


class Provenance(_Block):
    packages: dict[str, str]
    machine: dict[str, Any]
    created: str


class PairResult(_Block):
    """One ``metrics.json``: the scores of one retriever on one dataset and how they were made."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_serialization_defaults_required=True,
        title="beirctl pair result (metrics.json)",
    )

    schema_: Literal["beirctl.metrics/1"] = Field(default="beirctl.metrics/1", alias="schema")
    retrieval_key: str
    dataset: DatasetBlock
    retriever: RetrieverBlock
    settings: Settings
    aggregate: dict[str, float]  # metric -> mean over every judged query
    per_query: dict[str, dict[str, float]]  # metric -> query id -> score
    timings: Timings
    config: ConfigBlock
    provenance: Provenance

    @property
    def label(self) -> str:
        return self.retriever.label

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def conventions(self) -> str:
        """The conventions the result was made under, as compared across results: the name, plus
        the identical-id setting when ``remove_query_id_hits`` overrode them (results written
        before conventions were recorded are Pyserini's)."""
        block = self.settings.conventions
        if block is not None:
            return str(block.get("label") or block.get("name") or "pyserini")
        return "pyserini" if self.settings.remove_query_id_hits else "pyserini, remove_query_id_hits: false"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, keys in file order."""
        data = self.model_dump(by_alias=True)
        if data["settings"].get("conventions") is None:
            del data["settings"]["conventions"]  # written before conventions were recorded
        return data


def _errors(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def parse_result(data: Any, source: str | Path) -> PairResult:
    """A metrics document (parsed JSON) as a :class:`PairResult`; ResultsError naming ``source``."""
    if not isinstance(data, dict) or data.get("schema") != METRICS_SCHEMA:
        raise ResultsError(f"{source}: not a beirctl metrics file (schema {METRICS_SCHEMA})")
    try:
        return PairResult.model_validate(data)
    except ValidationError as exc:
        raise ResultsError(f"{source}: not a valid beirctl metrics file ({_errors(exc)})") from None


def read_result(path: str | Path) -> PairResult:
    """Read one ``metrics.json``; a ResultsError naming the file if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read results ({exc})") from None
    return parse_result(data, path)


def write_result(path: str | Path, result: PairResult) -> None:
    """Write ``metrics.json`` atomically: the bytes :func:`beirctl.atomic.write_json` gives the
    same document as a dict."""
    write_json(path, result.to_dict())


def read_metrics(path: Path) -> dict[str, Any]:
    """:func:`read_result` as a dict (for callers not yet on :class:`PairResult`)."""
    return read_result(path).to_dict()


def collect(results_dir: str | Path) -> list[PairResult]:
    """Every ``metrics.json`` under ``results_dir``, sorted by dataset then label."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ResultsError(f"{root}: results folder not found")
    found = [read_result(p) for p in sorted(root.rglob(METRICS_FILE))]
    if not found:
        raise ResultsError(f"{root}: no {METRICS_FILE} found (run `beirctl run CONFIG` first)")
    return sorted(found, key=lambda m: (m.dataset.name, m.retriever.label))


def collect_groups(results_dir: str | Path) -> list[tuple[str, list[PairResult]]]:
    """:func:`collect`, grouped by the results folder of each config under ``results_dir``
    (``<folder>/<dataset>/<label>/metrics.json``): (folder relative to ``results_dir``, ``"."``
    for itself; its results), sorted by folder. Results of different folders come from different
    runs (other datasets, other parameters under the same label) and are never mixed."""
    root = Path(results_dir)
    collect(root)  # the same errors for a missing or empty folder
    groups: dict[str, list[PairResult]] = {}
    for path in sorted(root.rglob(METRICS_FILE)):
        result = read_result(path)
        folder = path.parent.parent.parent
        for _ in range(result.dataset.name.count("/")):  # cqadupstack/<forum>
            folder = folder.parent
        try:
            key = folder.relative_to(root).as_posix()
        except ValueError:  # moved by hand above its place: count it as the folder given
            key = "."
        groups.setdefault(key, []).append(result)
    return [(k, sorted(v, key=lambda m: (m.dataset.name, m.retriever.label))) for k, v in sorted(groups.items())]


def metric_names(entries: Iterable[PairResult]) -> list[str]:
    """Every metric the results carry, in the order of their configs (first seen first)."""
    names: list[str] = []
    for m in entries:
        names += [k for k in m.aggregate if k not in names]
    return names


def label_order(entries: Iterable[PairResult]) -> list[str]:
    """The retriever labels in config order: each label's position among its config's
    retrievers (matched by label, else by type, as grids expand one entry into several labels),
    then by name."""
    rank: dict[str, int] = {}
    for m in entries:
        listed = m.config.resolved.get("retrievers") or []
        position = len(listed)
        for i, r in enumerate(listed):
            if isinstance(r, dict) and (r.get("label") or r.get("type")) == m.retriever.label:
                position = i
                break
        else:
            for i, r in enumerate(listed):
                if isinstance(r, dict) and r.get("type") == m.retriever.type and not r.get("label"):
                    position = i
                    break
        rank[m.retriever.label] = min(rank.get(m.retriever.label, position), position)
    return sorted(rank, key=lambda label: (rank[label], label))


def metrics_schema() -> dict[str, Any]:
    """The JSON schema of ``metrics.json``, generated from :class:`PairResult` (the file
    ``beirctl/schemas/metrics.schema.json`` is this, and a test keeps it so)."""
    generated = PairResult.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://beirctl.dev/schemas/metrics-1.json",
        **generated,
        "description": "One (dataset, retriever) pair's results, as `beirctl run` writes them to "
        "<results>/<dataset>/<label>/metrics.json. Generated from beirctl.results.PairResult.",
    }


def stored_metrics_schema() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (resources.files("beirctl.schemas") / METRICS_SCHEMA_FILE).read_text(encoding="utf-8")
    )
    return doc


def check_conventions(entries: Iterable[PairResult], mixed: bool = False) -> None:
    """Refuse results made under different conventions side by side (their scores differ for
    reasons other than the retrievers) unless ``mixed``; ResultsError naming one of each."""
    seen: dict[str, PairResult] = {}
    for entry in entries:
        seen.setdefault(entry.conventions, entry)
    if len(seen) > 1 and not mixed:
        examples = "; ".join(f"{m.name}/{m.label}: {name}" for name, m in sorted(seen.items()))
        raise ResultsError(
            f"results made under different conventions ({examples}): their scores are not comparable; "
            "pass --mixed-conventions to show them side by side anyway"
        )


def stale_notes(entries: Iterable[PairResult]) -> list[str]:
    """One line per result whose recorded data checksums differ from its dataset on disk now
    (datasets no longer there, or from the hub, are not checked)."""
    from beirctl.datasets.loader import file_checksums

    notes = []
    current: dict[tuple[str, str], dict[str, str] | None] = {}
    for m in entries:
        ds = m.dataset
        source, split = ds.source or "", ds.split or "test"
        if not source or source.startswith("hf:") or not Path(source).is_dir():
            continue
        if (source, split) not in current:
            try:
                current[(source, split)] = file_checksums(source, split)
            except BeirctlError:
                current[(source, split)] = None
        now = current[(source, split)]
        if now is None:
            continue
        recorded = ds.checksums
        changed = sorted(k.removesuffix(":md5") for k, v in now.items() if k in recorded and recorded[k] != v)
        if changed:
            notes.append(
                f"{ds.name} × {m.retriever.label}: {', '.join(changed)} in {source} changed "
                "since this result was computed; run the config again to refresh it"
            )
    return notes


# --- the score of a retriever on the benchmark -------------------------------------------------


def _forum(name: str) -> str:
    return name.split("/", 1)[-1]


def _forum_mean(per_forum: Mapping[str, float], why: Mapping[str, str] | None = None) -> float:
    """CQADupStack's score: the unweighted mean over its 12 forums (keys ``cqadupstack/<forum>``
    or ``<forum>``); fewer is a ResultsError naming the missing ones (``why``: a reason per forum)."""
    have = {_forum(name) for name in per_forum}
    unknown = sorted(have - set(CQADUPSTACK_FORUMS))
    if unknown:
        raise ResultsError(f"CQADupStack has no forum {', '.join(unknown)} (forums: {', '.join(CQADUPSTACK_FORUMS)})")
    missing = [f for f in CQADUPSTACK_FORUMS if f not in have]
    if missing:
        named = ", ".join(f + (f" ({why[f]})" if why and f in why else "") for f in sorted(missing))
        raise ResultsError(f"CQADupStack needs all 12 forums; missing {len(missing)}: {named}")
    return fmean(per_forum[f] for f in sorted(per_forum))


def cqadupstack_mean(per_forum: dict[str, dict[str, float]]) -> dict[str, float]:
    """Per metric, the mean of the 12 forums (forum -> metric -> score); fewer is an error."""
    if not per_forum:
        _forum_mean({})  # raises, naming the 12
    metrics = next(iter(per_forum.values())).keys()
    return {m: _forum_mean({f: s[m] for f, s in per_forum.items() if m in s}) for m in metrics}


@dataclass(frozen=True)
class Scores:
    """One retriever's scores for one metric, as the benchmark counts them."""

    label: str
    metric: str
    datasets: dict[str, float]  # dataset -> score (CQADupStack once: its forums' mean), sorted
    average: float | None  # mean of ``datasets``; None when one lacks the metric or is incomplete
    forums: dict[str, float] = field(default_factory=dict)  # "cqadupstack/<forum>" -> score (detail)
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)  # CQADupStack: "<forum>/<qid>"
    incomplete: str | None = None  # why CQADupStack has no score (only with partial=True)
    lacking: tuple[str, ...] = ()  # datasets whose results do not carry the metric


def retriever_scores(entries: Iterable[PairResult], label: str, metric: str, *, partial: bool = False) -> Scores:
    """``label``'s per-dataset scores for ``metric`` and their average: the score of a dataset
    is its ``aggregate[metric]``; CQADupStack's forums (``group: "cqadupstack"``) count as one
    dataset, the unweighted mean of the 12 (a forum run on its own stays a dataset of its own).

    Fewer than 12 forums is a ResultsError saying which are missing; with ``partial`` it is not
    raised but kept in ``incomplete`` (the forums stay as detail, there is no CQADupStack score
    and no average). Two results of the same dataset for ``label`` are an error.
    """
    mine = [m for m in entries if m.retriever.label == label]
    seen: set[str] = set()
    for m in mine:
        if m.dataset.name in seen:
            raise ResultsError(
                f"two results for {m.dataset.name} × {label}; compare results of different configs "
                "only when their labels differ"
            )
        seen.add(m.dataset.name)
    plain: dict[str, float] = {}
    forums: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    forum_pq: dict[str, dict[str, float]] = {}
    lacking: list[str] = []
    grouped = False
    for m in mine:
        in_group = m.dataset.group == CQADUPSTACK
        grouped = grouped or in_group
        if metric not in m.aggregate:
            lacking.append(m.dataset.name)
            continue
        if in_group:
            forums[m.dataset.name] = m.aggregate[metric]
            forum_pq[m.dataset.name] = m.per_query.get(metric, {})
        else:
            plain[m.dataset.name] = m.aggregate[metric]
            per_query[m.dataset.name] = m.per_query.get(metric, {})
    incomplete = None
    if grouped:
        why = {_forum(n): f"no {metric}" for n in lacking if n.startswith(f"{CQADUPSTACK}/")}
        try:
            plain[CQADUPSTACK] = _forum_mean(forums, why)
        except ResultsError as exc:
            if not partial:
                raise ResultsError(f"{label}: {exc}") from None
            incomplete = f"{label}: {exc}"
        else:
            per_query[CQADUPSTACK] = {
                f"{_forum(name)}/{qid}": v for name in sorted(forum_pq) for qid, v in forum_pq[name].items()
            }
            lacking = [n for n in lacking if not n.startswith(f"{CQADUPSTACK}/")]
    datasets = dict(sorted(plain.items()))
    average = fmean(datasets.values()) if datasets and not lacking and incomplete is None else None
    return Scores(
        label,
        metric,
        datasets,
        average,
        dict(sorted(forums.items())),
        dict(sorted(per_query.items())),
        incomplete,
        tuple(sorted(lacking)),
    )


def benchmark_scores(entries: Sequence[PairResult], metric: str, *, partial: bool = False) -> dict[str, Scores]:
    """:func:`retriever_scores` of every retriever in ``entries``, by label (sorted)."""
    labels = sorted({m.retriever.label for m in entries})
    return {lb: retriever_scores(entries, lb, metric, partial=partial) for lb in labels}


def reference_scores(table: Mapping[str, Mapping[str, float]], metric: str) -> dict[str, float]:
    """A published table's figures for ``metric`` (dataset -> value), with ``cqadupstack`` the mean
    of its 12 forums' figures (rounded to 4 decimals, as published) when the table has them all."""
    values = {ds: v[metric] for ds, v in table.items() if metric in v}
    forums = {ds: v for ds, v in values.items() if ds.startswith(f"{CQADUPSTACK}/")}
    if CQADUPSTACK not in values and forums:
        with contextlib.suppress(ResultsError):  # incomplete: no CQADupStack figure
            values[CQADUPSTACK] = round(_forum_mean(forums), 4)
    return values


# --- leaderboard.json --------------------------------------------------------------------------


def _skeleton() -> dict[str, Any]:
    """A metrics document's blocks with empty values, for partial dicts (see :func:`as_result`)."""
    return {
        "schema": METRICS_SCHEMA,
        "retrieval_key": "",
        "dataset": {
            "split": "test",
            "source": "",
            "path": None,
            "group": None,
            "num_docs": 0,
            "num_queries": 0,
            "checksums": {},
        },
        "retriever": {"params": {}},
        "settings": {"top_k": 0, "remove_query_id_hits": False, "metrics": []},
        "aggregate": {},
        "per_query": {},
        "timings": {"load_s": 0.0, "index_s": 0.0, "search_s": 0.0, "eval_s": 0.0},
        "config": {"name": None, "file": None, "sha256": "", "resolved": {}},
        "provenance": {"packages": {}, "machine": {}, "created": ""},
    }


def as_result(entry: PairResult | Mapping[str, Any]) -> PairResult:
    """A :class:`PairResult` as is; a dict (the runner's, transitional) validated into one, the
    blocks it leaves out (as hand-built test documents do) filled with empty values."""
    if isinstance(entry, PairResult):
        return entry
    doc = _skeleton()
    for key, value in entry.items():
        doc[key] = {**doc[key], **value} if isinstance(doc.get(key), dict) and isinstance(value, dict) else value
    return parse_result(doc, f"result {entry.get('dataset', {}).get('name')!r}")


def _conventions_note(result: PairResult) -> dict[str, str]:
    """The conventions a result was made under and what identical-id removal did there."""
    block = result.settings.conventions or {}
    did = (block.get("identical_ids") or {}).get("did")
    if not isinstance(did, str):
        did = "removed hits whose doc id is the query id" if result.settings.remove_query_id_hits else "kept them"
    return {"conventions": result.conventions, "identical_ids": did}


def build_leaderboard(
    entries: Sequence[PairResult | Mapping[str, Any]], config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The leaderboard document (schema: beirctl/schemas/leaderboard.schema.json)."""
    results = [as_result(m) for m in entries]
    metric_names: list[str] = []
    for m in results:
        for name in m.aggregate:
            if name not in metric_names:
                metric_names.append(name)
    labels: list[str] = []
    for m in results:
        if m.retriever.label not in labels:
            labels.append(m.retriever.label)
    retrievers = []
    for label in labels:
        items = [m for m in results if m.retriever.label == label]
        per_metric = [retriever_scores(items, label, metric) for metric in metric_names]
        names = sorted({ds for s in per_metric for ds in s.datasets})
        datasets = {ds: {s.metric: s.datasets[ds] for s in per_metric if ds in s.datasets} for ds in names}
        first = items[0]
        retrievers.append(
            {
                "label": label,
                "type": first.retriever.type,
                "params": first.retriever.params,
                "datasets": datasets,
                "average": {s.metric: s.average for s in per_metric if s.average is not None},
                "num_datasets": len(datasets),
                "checksums": {m.dataset.name: m.dataset.checksums for m in items},
                "conventions": {m.dataset.name: _conventions_note(m) for m in items},
            }
        )
    provenance = results[0].provenance if results else None
    return {
        "schema": LEADERBOARD_SCHEMA,
        "config": dict(config or {}),
        "metrics": metric_names,
        "retrievers": retrievers,
        "provenance": {
            "packages": provenance.packages if provenance else {},
            "machine": provenance.machine if provenance else {},
        },
    }


def write_leaderboard(
    results_dir: Path, entries: Sequence[PairResult | Mapping[str, Any]], config: Mapping[str, Any]
) -> Path:
    path = results_dir / LEADERBOARD_FILE
    write_json(path, build_leaderboard(entries, config))
    return path


# --- the datasets × retrievers table (show, and the end of `beirctl run`) -----------------------


def score_table(
    entries: Sequence[PairResult],
    metrics: Sequence[str],
    reference: tuple[str, Mapping[str, Mapping[str, float]]] | None = None,
) -> Table:
    """A row per dataset (CQADupStack once, as in the leaderboard; its forums one by one while
    it is incomplete), a column per (retriever, metric), and the average row.

    With ``reference`` (name, dataset -> metric -> value) a column per metric shows the
    published figure and each score its difference to it (scores rounded to 4 decimals first,
    as published). One metric: the table's title is the metric; several: each column says its.
    """
    labels = label_order(entries)
    scores = {metric: benchmark_scores(entries, metric, partial=True) for metric in metrics}
    refs = {metric: reference_scores(reference[1], metric) for metric in metrics} if reference else {}
    counted: set[str] = set()  # datasets as the benchmark counts them
    detail: set[str] = set()  # forums of an incomplete CQADupStack, shown one by one
    notes: list[str] = []
    for per_label in scores.values():
        for s in per_label.values():
            counted |= set(s.datasets)
            if s.incomplete is not None:
                detail |= set(s.forums)
                if s.incomplete not in notes:
                    notes.append(s.incomplete)
    names = counted | detail

    def value(metric: str, label: str, ds: str) -> float | None:
        s = scores[metric][label]
        return s.datasets.get(ds, s.forums.get(ds) if s.incomplete is not None else None)

    single = len(metrics) == 1
    columns = [Column("dataset", "dataset", align="left")]
    keys: list[tuple[str | None, str, str]] = []  # (label or None for the reference, metric, key)
    if reference:
        for metric in metrics:
            key = reference[0] if single else f"{reference[0]}/{metric}"
            columns.append(Column(key, reference[0], "" if single else metric, role="reference"))
            keys.append((None, metric, key))
    for label in labels:
        for metric in metrics:
            key = label if single else f"{label}/{metric}"
            columns.append(Column(key, label, "" if single else metric))
            keys.append((label, metric, key))
    rows = []
    for ds in sorted(names):
        cells: dict[str, Cell] = {"dataset": Cell(text=ds)}
        for who, metric, key in keys:
            ref = refs.get(metric, {}).get(ds)
            if who is None:
                cells[key] = Cell(value=ref)
                continue
            v = value(metric, who, ds)
            delta = round(v, 4) - ref if v is not None and ref is not None else None
            cells[key] = Cell(value=v, delta=delta)
        rows.append(Row(cells))
    if len(names) > 1:
        cells = {"dataset": Cell(text="average")}
        for who, metric, key in keys:
            mine = scores[metric][who] if who is not None else None
            covers = mine is not None and mine.average is not None and set(mine.datasets) >= counted
            cells[key] = Cell(value=mine.average if covers and mine is not None else None)
        rows.append(Row(cells, summary=True))
    return Table(
        columns,
        rows,
        title=metrics[0] if single else None,
        meta={"metric": metrics[0]} if single else {"metrics": list(metrics)},
        footnotes=notes,
    )

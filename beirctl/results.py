"""Results on disk: per-pair ``metrics.json``, the config's ``leaderboard.json``, and tables.

Layout under a results folder::

    <dataset>/<retriever label>/run.trec.gz
    <dataset>/<retriever label>/metrics.json
    leaderboard.json
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from statistics import fmean
from typing import Any

from beirctl.atomic import write_json
from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.errors import BeirctlError

METRICS_SCHEMA = "beirctl.metrics/1"
LEADERBOARD_SCHEMA = "beirctl.leaderboard/1"
METRICS_FILE = "metrics.json"
RUN_FILE = "run.trec.gz"
LEADERBOARD_FILE = "leaderboard.json"


class ResultsError(BeirctlError):
    """Inconsistent or incomplete results."""


def pair_dir(results_dir: Path, dataset: str, label: str) -> Path:
    return results_dir / dataset / label


def read_metrics(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read results ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != METRICS_SCHEMA:
        raise ResultsError(f"{path}: not a beirctl metrics file (schema {METRICS_SCHEMA})")
    return data


def collect(results_dir: str | Path) -> list[dict[str, Any]]:
    """Every ``metrics.json`` under ``results_dir``, sorted by dataset then label."""
    root = Path(results_dir)
    if not root.is_dir():
        raise ResultsError(f"{root}: results folder not found")
    found = [read_metrics(p) for p in sorted(root.rglob(METRICS_FILE))]
    if not found:
        raise ResultsError(f"{root}: no {METRICS_FILE} found (run `beirctl run CONFIG` first)")
    return sorted(found, key=lambda m: (m["dataset"]["name"], m["retriever"]["label"]))


def stale_notes(entries: Iterable[dict[str, Any]]) -> list[str]:
    """One line per result whose recorded data checksums differ from its dataset on disk now
    (datasets no longer there, or from the hub, are not checked)."""
    from beirctl.datasets.loader import file_checksums

    notes = []
    current: dict[tuple[str, str], dict[str, str] | None] = {}
    for m in entries:
        ds = m.get("dataset", {})
        source, split = ds.get("source") or "", ds.get("split") or "test"
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
        recorded = ds.get("checksums", {})
        changed = sorted(k.removesuffix(":md5") for k, v in now.items() if k in recorded and recorded[k] != v)
        if changed:
            notes.append(
                f"{ds.get('name')} × {m.get('retriever', {}).get('label')}: {', '.join(changed)} in {source} changed "
                "since this result was computed; run the config again to refresh it"
            )
    return notes


def cqadupstack_mean(per_forum: dict[str, dict[str, float]]) -> dict[str, float]:
    """CQADupStack's score: the unweighted mean over its 12 forums; fewer is an error."""
    forums = {name.split("/", 1)[-1] for name in per_forum}
    missing = sorted(set(CQADUPSTACK_FORUMS) - forums)
    if missing:
        raise ResultsError(f"CQADupStack needs all 12 forums; missing {len(missing)}: {', '.join(missing)}")
    metrics = next(iter(per_forum.values())).keys()
    return {m: fmean(per_forum[f][m] for f in sorted(per_forum)) for m in metrics}


def dataset_scores(entries: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per-dataset aggregate scores of one retriever, CQADupStack forums folded into their mean.

    Forums run as part of ``cqadupstack`` (group set) are averaged; a forum named on its own
    stays a dataset of its own.
    """
    scores: dict[str, dict[str, float]] = {}
    forums: dict[str, dict[str, float]] = {}
    for m in entries:
        ds = m["dataset"]
        if ds.get("group") == CQADUPSTACK:
            forums[ds["name"]] = m["aggregate"]
        else:
            scores[ds["name"]] = m["aggregate"]
    if forums:
        scores[CQADUPSTACK] = cqadupstack_mean(forums)
    return scores


def build_leaderboard(entries: list[dict[str, Any]], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The leaderboard document (schema: beirctl/schemas/leaderboard.schema.json)."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for m in entries:
        by_label.setdefault(m["retriever"]["label"], []).append(m)
    metric_names: list[str] = []
    for m in entries:
        for name in m["aggregate"]:
            if name not in metric_names:
                metric_names.append(name)
    retrievers = []
    for label, items in by_label.items():
        scores = dataset_scores(items)
        datasets = dict(sorted(scores.items()))
        average = {
            metric: fmean(s[metric] for s in datasets.values())
            for metric in metric_names
            if all(metric in s for s in datasets.values())
        }
        first = items[0]
        retrievers.append(
            {
                "label": label,
                "type": first["retriever"]["type"],
                "params": first["retriever"]["params"],
                "datasets": datasets,
                "average": average,
                "num_datasets": len(datasets),
                "checksums": {m["dataset"]["name"]: m["dataset"]["checksums"] for m in items},
            }
        )
    provenance = entries[0]["provenance"] if entries else {}
    return {
        "schema": LEADERBOARD_SCHEMA,
        "config": config or {},
        "metrics": metric_names,
        "retrievers": retrievers,
        "provenance": {"packages": provenance.get("packages", {}), "machine": provenance.get("machine", {})},
    }


def write_leaderboard(results_dir: Path, entries: list[dict[str, Any]], config: dict[str, Any]) -> Path:
    path = results_dir / LEADERBOARD_FILE
    write_json(path, build_leaderboard(entries, config))
    return path


def cells(entries: list[dict[str, Any]], metric: str) -> tuple[list[str], dict[str, dict[str, float]]]:
    """(labels, dataset -> label -> score); CQADupStack folded into its mean when complete."""
    labels = sorted({m["retriever"]["label"] for m in entries})
    values: dict[str, dict[str, float]] = {}
    for label in labels:
        items = [m for m in entries if m["retriever"]["label"] == label]
        try:
            scores = dataset_scores(items)
        except ResultsError:  # incomplete CQADupStack: show its forums one by one
            scores = {m["dataset"]["name"]: m["aggregate"] for m in items}
        for ds, agg in scores.items():
            if metric in agg:
                values.setdefault(ds, {})[label] = agg[metric]
    return labels, values


def table(
    entries: list[dict[str, Any]],
    metric: str | None = None,
    reference: tuple[str, dict[str, dict[str, float]]] | None = None,
) -> tuple[str, list[str], list[list[str]]]:
    """(metric, header, rows) of a datasets × retrievers table.

    With ``reference`` (name, dataset -> metric -> value) a column shows the published figure
    and each score its difference to it (scores rounded to 4 decimals first, as published).
    """
    if metric is None:
        metric = next(iter(entries[0]["aggregate"])) if entries else "nDCG@10"
    labels, values = cells(entries, metric)
    ref = {ds: v[metric] for ds, v in reference[1].items() if metric in v} if reference else None

    def fmt(ds: str, lb: str) -> str:
        if lb not in values[ds]:
            return ""
        text = f"{values[ds][lb]:.4f}"
        if ref is not None and ds in ref:
            text += f" ({round(values[ds][lb], 4) - ref[ds]:+.4f})"
        return text

    rows = []
    for ds in sorted(values):
        lead = [ds] + ([f"{ref[ds]:.4f}" if ds in ref else ""] if ref is not None else [])
        rows.append(lead + [fmt(ds, lb) for lb in labels])
    if len(values) > 1:
        avg = []
        for lb in labels:
            vals = [values[ds][lb] for ds in values if lb in values[ds]]
            avg.append(f"{fmean(vals):.4f}" if len(vals) == len(values) else "")
        rows.append(["average"] + ([""] if ref is not None else []) + avg)
    header = ["dataset"] + ([f"{reference[0]}"] if reference else []) + labels
    return metric, header, rows


def render(
    entries: list[dict[str, Any]],
    fmt: str,
    metric: str | None = None,
    reference: tuple[str, dict[str, dict[str, float]]] | None = None,
) -> str:
    """Render the table as markdown, csv or json text."""
    metric, header, rows = table(entries, metric, None if fmt == "json" else reference)
    if fmt == "markdown":
        lines = [f"| {' | '.join(header)} |", "|" + "|".join("---" for _ in header) + "|"]
        lines += [f"| {' | '.join(r)} |" for r in rows]
        return f"{metric}\n\n" + "\n".join(lines) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f"{header[0]} ({metric})", *header[1:]])
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "json":
        data = {r[0]: {h: float(v) for h, v in zip(header[1:], r[1:]) if v} for r in rows}
        doc: dict[str, Any] = {"metric": metric, "scores": data}
        if reference:
            doc["reference"] = {
                "name": reference[0],
                "scores": {ds: v[metric] for ds, v in reference[1].items() if metric in v and ds in data},
            }
        return json.dumps(doc, indent=2) + "\n"
    raise BeirctlError(f"unknown format {fmt!r} (table, markdown, csv, json)")

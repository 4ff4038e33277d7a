"""Run a config: every (dataset, retriever) pair, resumable, results written atomically."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beirctl import provenance
from beirctl.atomic import write_json
from beirctl.config import Config, DatasetSpec, RetrieverSpec
from beirctl.datasets import catalog, download, load_folder, load_hub
from beirctl.datasets.paths import cache_dir as default_cache_dir
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.datasets.types import Dataset
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate, read_run, write_run
from beirctl.results import METRICS_FILE, METRICS_SCHEMA, RUN_FILE, read_metrics, write_leaderboard
from beirctl.retrievers import registry
from beirctl.retrievers.base import Run

# reporter(event, info): events are "dataset", "stage", "done", "skipped", "failed".
Reporter = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Target:
    """One dataset to evaluate, resolved from a config entry."""

    name: str  # results folder name, e.g. "scifact" or "cqadupstack/android"
    split: str
    source: str  # folder | hf
    path: str | None = None
    group: str | None = None  # "cqadupstack" for forums run as part of it

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "split": self.split, "source": self.source, "path": self.path, "group": self.group}


@dataclass
class RunSummary:
    results_dir: Path
    done: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    leaderboard: Path | None = None


def targets(spec: DatasetSpec) -> list[Target]:
    """Expand a config entry into datasets (``cqadupstack`` becomes its 12 forums)."""
    if spec.path:
        return [Target(spec.label, spec.split or "test", "folder", str(Path(spec.path)))]
    assert spec.name is not None
    names = catalog.expand(spec.name)
    group = catalog.CQADUPSTACK if len(names) > 1 else None
    result = []
    for name in names:
        info = catalog.DATASETS.get(name)
        split = spec.split or (info.split if info else "test")
        result.append(Target(name, split, spec.source, None, group))
    return result


def load_target(target: Target, data_root: Path, auto_download: bool = True) -> Dataset:
    """Load a dataset, downloading a missing public BEIR dataset first when allowed."""
    if target.source == "hf":
        return load_hub(target.name, target.split)
    folder = Path(target.path) if target.path else data_root / target.name
    if target.path is None and not folder.is_dir():
        info = catalog.DATASETS.get(target.name)
        if info is None or not info.public or not auto_download:
            raise BeirctlError(
                f"{folder}: dataset {target.name!r} not found in the data dir (set --data-dir or "
                f"BEIRCTL_DATA_DIR, or run `beirctl datasets download {target.name}`)"
            )
        download(target.name, data_root)
    return load_folder(folder, target.split, name=target.name)


def retrieval_key(target: Target, spec: RetrieverSpec, params: dict[str, Any], config: Config) -> str:
    """Identifies what a run file depends on (metrics excluded: they can be recomputed)."""
    payload = {
        "dataset": target.describe(),
        "retriever": {"type": spec.type, "params": params},
        "top_k": config.top_k,
        "remove_query_id_hits": config.remove_query_id_hits,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def drop_query_hits(run: Run, k: int, remove: bool) -> Run:
    """Remove hits whose doc id equals the query id (as BEIR and Pyserini do), keep ``k``."""
    if not remove:
        return {q: hits[:k] for q, hits in run.items()}
    return {q: [h for h in hits if h[0] != q][:k] for q, hits in run.items()}


def run_config(
    config: Config,
    *,
    force: bool = False,
    only: list[str] | None = None,
    data_dir: str | Path | None = None,
    reporter: Reporter | None = None,
    config_path: str | None = None,
) -> RunSummary:
    """Run every (dataset, retriever) pair of ``config``; finished pairs are skipped unless ``force``."""
    report = reporter or (lambda event, info: None)
    results_dir = config.results_dir()
    data_root = resolve_data_dir(data_dir or config.data_dir)
    index_cache = default_cache_dir(config.cache_dir)
    summary = RunSummary(results_dir)
    config_targets = [t for spec in config.datasets for t in targets(spec)]
    all_targets = config_targets
    if only:
        wanted = set(only)
        all_targets = [t for t in config_targets if t.name in wanted or t.group in wanted]
        if not all_targets:
            raise BeirctlError(f"--only {', '.join(only)}: no such dataset in the config")
    resolved = []
    for spec in config.retrievers:
        cls = registry.get(spec.type)
        params = cls.Params.model_validate(spec.params)
        resolved.append((spec, cls, params))
    config_info = {
        "name": config.name,
        "file": config_path,
        "sha256": config.sha256(),
        "resolved": config.model_dump(),
    }
    finished: list[dict[str, Any]] = []
    for target in all_targets:
        dataset: Dataset | None = None
        load_s = 0.0
        for spec, cls, params in resolved:
            label = spec.name
            out = results_dir / target.name / label
            key = retrieval_key(target, spec, params.model_dump(mode="json"), config)
            metrics_path, run_path = out / METRICS_FILE, out / RUN_FILE
            previous = _previous(metrics_path, key) if not force else None
            if previous is not None and previous["settings"]["metrics"] == config.metrics:
                report("skipped", {"dataset": target.name, "retriever": label})
                summary.skipped.append((target.name, label))
                finished.append(previous)
                continue
            try:
                if dataset is None:
                    report("dataset", {"dataset": target.name})
                    t0 = time.perf_counter()
                    dataset = load_target(target, data_root)
                    load_s = time.perf_counter() - t0
                timings = {"load_s": round(load_s, 3)}
                if previous is not None and run_path.is_file():
                    # Same retrieval, different metrics: re-evaluate the saved run file.
                    run = read_run(run_path)
                    timings.update({k: v for k, v in previous["timings"].items() if k in ("index_s", "search_s")})
                else:
                    retriever = cls(params, cache_dir=index_cache)
                    report("stage", {"dataset": target.name, "retriever": label, "stage": "index"})
                    t0 = time.perf_counter()
                    retriever.index(dataset.corpus, dataset.fingerprint)
                    timings["index_s"] = round(time.perf_counter() - t0, 3)
                    report("stage", {"dataset": target.name, "retriever": label, "stage": "search"})
                    t0 = time.perf_counter()
                    extra = 1 if config.remove_query_id_hits else 0
                    raw = retriever.search(dataset.queries, config.top_k + extra)
                    run = drop_query_hits(raw, config.top_k, config.remove_query_id_hits)
                    timings["search_s"] = round(time.perf_counter() - t0, 3)
                    write_run(run_path, run, tag=label)
                report("stage", {"dataset": target.name, "retriever": label, "stage": "eval"})
                t0 = time.perf_counter()
                result = evaluate(run, dataset.qrels, config.metrics)
                timings["eval_s"] = round(time.perf_counter() - t0, 3)
            except BeirctlError as exc:
                report("failed", {"dataset": target.name, "retriever": label, "error": str(exc)})
                summary.failed.append((target.name, label, str(exc)))
                if dataset is None:
                    break  # the dataset itself failed: no retriever can run on it
                continue
            metrics = {
                "schema": METRICS_SCHEMA,
                "retrieval_key": key,
                "dataset": {
                    **target.describe(),
                    "source": dataset.source,
                    "num_docs": len(dataset.corpus),
                    "num_queries": result.num_queries,
                    "checksums": dataset.checksums,
                },
                "retriever": {"type": spec.type, "label": label, "params": params.model_dump(mode="json")},
                "settings": {
                    "top_k": config.top_k,
                    "remove_query_id_hits": config.remove_query_id_hits,
                    "metrics": list(config.metrics),
                },
                "aggregate": result.aggregate,
                "per_query": result.per_query,
                "timings": timings,
                "config": config_info,
                "provenance": {
                    "packages": provenance.package_versions(),
                    "machine": provenance.machine(),
                    "created": provenance.now(),
                },
            }
            write_json(metrics_path, metrics)
            finished.append(metrics)
            summary.done.append((target.name, label))
            report("done", {"dataset": target.name, "retriever": label, "aggregate": result.aggregate})
    if only and not summary.failed:
        # The other datasets were not run now: use their results when all are finished.
        for target in config_targets:
            if target in all_targets:
                continue
            for spec, _, params in resolved:
                key = retrieval_key(target, spec, params.model_dump(mode="json"), config)
                previous = _previous(results_dir / target.name / spec.name / METRICS_FILE, key)
                if previous is None or previous["settings"]["metrics"] != config.metrics:
                    return summary
                finished.append(previous)
    if not summary.failed:
        order = {spec.name: i for i, (spec, _, _) in enumerate(resolved)}
        finished.sort(key=lambda m: (order[m["retriever"]["label"]], m["dataset"]["name"]))
        summary.leaderboard = write_leaderboard(results_dir, finished, config_info)
    return summary


def _previous(metrics_path: Path, key: str) -> dict[str, Any] | None:
    if not metrics_path.is_file():
        return None
    try:
        previous = read_metrics(metrics_path)
    except BeirctlError:
        return None  # unreadable: redo the pair
    return previous if previous.get("retrieval_key") == key else None

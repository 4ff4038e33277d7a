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
    # resources and executor are left out: where a pair ran does not change its run file
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


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Pair:
    """One (dataset, retriever) unit of work, self-contained so that it can run anywhere."""

    target: Target
    spec: RetrieverSpec
    params: dict[str, Any]  # resolved parameters, defaults included
    key: str

    @property
    def label(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Context:
    """What every pair needs besides itself (picklable: shipped to Ray workers)."""

    results_dir: Path
    data_root: Path
    index_cache: Path
    top_k: int
    remove_query_id_hits: bool
    metrics: tuple[str, ...]
    config_info: dict[str, Any]
    encode_workers: int = 0


def run_pair(
    pair: Pair,
    ctx: Context,
    previous: dict[str, Any] | None,
    dataset: Dataset | None = None,
    load_s: float = 0.0,
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Index, search, write the run file, evaluate and write ``metrics.json``; return it.

    ``previous`` is the pair's earlier result with the same retrieval key: its run file is
    re-evaluated instead of searching again. ``dataset`` may be passed when already loaded.
    """
    say = report or (lambda event, info: None)
    target, label = pair.target, pair.label
    out = ctx.results_dir / target.name / label
    run_path = out / RUN_FILE
    if dataset is None:
        t0 = time.perf_counter()
        dataset = load_target(target, ctx.data_root)
        load_s = time.perf_counter() - t0
    timings = {"load_s": round(load_s, 3)}
    if previous is not None and run_path.is_file():
        # Same retrieval, different metrics: re-evaluate the saved run file.
        run = read_run(run_path)
        timings.update({k: v for k, v in previous["timings"].items() if k in ("index_s", "search_s")})
    else:
        cls = registry.get(pair.spec.type)
        retriever = cls(cls.Params.model_validate(pair.params), cache_dir=ctx.index_cache)
        if ctx.encode_workers and hasattr(retriever, "encode_workers"):
            retriever.encode_workers = ctx.encode_workers  # dense encoding on a pool of Ray actors
        hook = getattr(retriever, "for_dataset", None)
        if callable(hook):  # per-dataset settings, e.g. an instruction that some datasets skip
            hook(target.name)
        say("stage", {"dataset": target.name, "retriever": label, "stage": "index"})
        t0 = time.perf_counter()
        retriever.index(dataset.corpus, dataset.fingerprint)
        timings["index_s"] = round(time.perf_counter() - t0, 3)
        say("stage", {"dataset": target.name, "retriever": label, "stage": "search"})
        t0 = time.perf_counter()
        # Pyserini's -removeQuery: search top_k, then drop the query's own document without
        # topping the list up (a query that finds itself keeps top_k - 1 hits).
        raw = retriever.search(dataset.queries, ctx.top_k)
        run = drop_query_hits(raw, ctx.top_k, ctx.remove_query_id_hits)
        timings["search_s"] = round(time.perf_counter() - t0, 3)
        write_run(run_path, run, tag=label)
    say("stage", {"dataset": target.name, "retriever": label, "stage": "eval"})
    t0 = time.perf_counter()
    result = evaluate(run, dataset.qrels, ctx.metrics)
    timings["eval_s"] = round(time.perf_counter() - t0, 3)
    metrics = {
        "schema": METRICS_SCHEMA,
        "retrieval_key": pair.key,
        "dataset": {
            **target.describe(),
            "source": dataset.source,
            "num_docs": len(dataset.corpus),
            "num_queries": result.num_queries,
            "checksums": dataset.checksums,
        },
        "retriever": {"type": pair.spec.type, "label": label, "params": pair.params},
        "settings": {
            "top_k": ctx.top_k,
            "remove_query_id_hits": ctx.remove_query_id_hits,
            "metrics": list(ctx.metrics),
        },
        "aggregate": result.aggregate,
        "per_query": result.per_query,
        "timings": timings,
        "config": ctx.config_info,
        "provenance": {
            "packages": provenance.package_versions(),
            "machine": provenance.machine(),
            "created": provenance.now(),
        },
    }
    write_json(out / METRICS_FILE, metrics)
    return metrics


def plan(config: Config, only: list[str] | None = None) -> tuple[list[Pair], list[Pair]]:
    """(pairs to consider now, every pair of the config)."""
    resolved = []
    for spec in config.retrievers:
        cls = registry.get(spec.type)
        resolved.append((spec, cls.Params.model_validate(spec.params).model_dump(mode="json")))
    every = [
        Pair(target, spec, params, retrieval_key(target, spec, params, config))
        for ds_spec in config.datasets
        for target in targets(ds_spec)
        for spec, params in resolved
    ]
    if not only:
        return every, every
    wanted = set(only)
    chosen = [p for p in every if p.target.name in wanted or p.target.group in wanted]
    if not chosen:
        raise BeirctlError(f"--only {', '.join(only)}: no such dataset in the config")
    return chosen, every


def run_config(
    config: Config,
    *,
    force: bool = False,
    only: list[str] | None = None,
    data_dir: str | Path | None = None,
    reporter: Reporter | None = None,
    config_path: str | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
) -> RunSummary:
    """Run every (dataset, retriever) pair of ``config``; finished pairs are skipped unless ``force``.

    ``executor`` (default: the config's) is ``local`` (pairs one after another in this
    process) or ``ray`` (each pair a Ray task with the resources its retriever declares).
    """
    report = reporter or (lambda event, info: None)
    ctx = Context(
        results_dir=config.results_dir(),
        data_root=resolve_data_dir(data_dir or config.data_dir),
        index_cache=default_cache_dir(config.cache_dir),
        top_k=config.top_k,
        remove_query_id_hits=config.remove_query_id_hits,
        metrics=tuple(config.metrics),
        config_info={
            "name": config.name,
            "file": config_path,
            "sha256": config.sha256(),
            "resolved": config.results_fields(),
        },
        encode_workers=config.ray_encode_workers,
    )
    summary = RunSummary(ctx.results_dir)
    pairs, every = plan(config, only)
    finished: dict[Pair, dict[str, Any]] = {}
    todo: list[tuple[Pair, dict[str, Any] | None]] = []
    for pair in pairs:
        previous = (
            None if force else _previous(ctx.results_dir / pair.target.name / pair.label / METRICS_FILE, pair.key)
        )
        if previous is not None and previous["settings"]["metrics"] == config.metrics:
            report("skipped", {"dataset": pair.target.name, "retriever": pair.label})
            summary.skipped.append((pair.target.name, pair.label))
            finished[pair] = previous
        else:
            todo.append((pair, previous))
    kind = executor or config.executor
    if kind not in ("local", "ray"):
        raise BeirctlError(f"unknown executor {kind!r} (local, ray)")
    if kind == "ray":
        from beirctl.executors.ray import run_pairs_on_ray

        outcomes = run_pairs_on_ray(todo, ctx, config, ray_address or config.ray_address, report)
    else:
        outcomes = _run_local(todo, ctx, report)
    for pair, outcome in outcomes:
        if isinstance(outcome, str):
            summary.failed.append((pair.target.name, pair.label, outcome))
        else:
            summary.done.append((pair.target.name, pair.label))
            finished[pair] = outcome
    if summary.failed:
        return summary
    for pair in every:  # with --only, the other pairs count when they finished earlier
        if pair not in finished:
            previous = _previous(ctx.results_dir / pair.target.name / pair.label / METRICS_FILE, pair.key)
            if previous is None or previous["settings"]["metrics"] != config.metrics:
                return summary
            finished[pair] = previous
    summary.leaderboard = write_leaderboard(
        ctx.results_dir, [finished[p] for p in _board_order(every)], ctx.config_info
    )
    return summary


def _board_order(pairs: list[Pair]) -> list[Pair]:
    """Retrievers in config order, then datasets by name: the same bytes whatever ran when."""
    order: dict[str, int] = {}
    for p in pairs:
        order.setdefault(p.label, len(order))
    return sorted(pairs, key=lambda p: (order[p.label], p.target.name))


Outcome = tuple[Pair, "dict[str, Any] | str"]


def _run_local(todo: list[tuple[Pair, dict[str, Any] | None]], ctx: Context, report: Reporter) -> list[Outcome]:
    """Pairs one after another; a dataset is loaded once for all its retrievers."""
    outcomes: list[Outcome] = []
    loaded: dict[Target, tuple[Dataset, float]] = {}
    broken: dict[Target, str] = {}
    for pair, previous in todo:
        info = {"dataset": pair.target.name, "retriever": pair.label}
        if pair.target in broken:
            outcomes.append((pair, broken[pair.target]))
            continue
        try:
            if pair.target not in loaded:
                loaded.clear()  # keep one corpus in memory at a time
                report("dataset", {"dataset": pair.target.name})
                t0 = time.perf_counter()
                loaded[pair.target] = (load_target(pair.target, ctx.data_root), time.perf_counter() - t0)
            dataset, load_s = loaded[pair.target]
            metrics = run_pair(pair, ctx, previous, dataset, load_s, report)
        except BeirctlError as exc:
            report("failed", {**info, "error": str(exc)})
            if pair.target not in loaded:
                broken[pair.target] = str(exc)  # the dataset itself failed: no retriever can run on it
            outcomes.append((pair, str(exc)))
            continue
        report("done", {**info, "aggregate": metrics["aggregate"]})
        outcomes.append((pair, metrics))
    return outcomes


def _previous(metrics_path: Path, key: str) -> dict[str, Any] | None:
    if not metrics_path.is_file():
        return None
    try:
        previous = read_metrics(metrics_path)
    except BeirctlError:
        return None  # unreadable: redo the pair
    return previous if previous.get("retrieval_key") == key else None

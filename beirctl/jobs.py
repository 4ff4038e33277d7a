"""The unit of work: one (dataset, retriever) pair, run anywhere, written atomically.

A :class:`Pair` is self-contained (picklable, shipped to Ray workers with its :class:`Context`).
:func:`run_pair` loads nothing it is given, indexes, searches, writes the run file, evaluates and
writes ``metrics.json``. Executors (:mod:`beirctl.executors`) decide where pairs run; the runner
decides which pairs run.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from beirctl import provenance
from beirctl.atomic import sweep_temp_files
from beirctl.config import Config, DatasetSpec, RetrieverSpec
from beirctl.conventions import DEFAULT as DEFAULT_CONVENTIONS
from beirctl.conventions import collision_warning, get_conventions
from beirctl.datasets import catalog, download, irds, load_folder, load_hub
from beirctl.datasets.loader import file_checksums
from beirctl.errors import BeirctlError, did_you_mean
from beirctl.evaluation import evaluate, read_run, write_run
from beirctl.evaluation.runs import flat_scores, identical_id_hits, with_scores
from beirctl.evaluation.trec import round_scores
from beirctl.results import METRICS_FILE, RUN_FILE, PairResult, pair_dir, read_result, write_result
from beirctl.retrievers import registry
from beirctl.retrievers.base import IndexContext, Resources
from beirctl.types import Dataset, Run

if TYPE_CHECKING:
    from beirctl.dense.encoding import ShardPool

try:
    import fcntl
except ImportError:  # not on Windows: no cross-process locks there
    fcntl = None  # type: ignore[assignment]

# reporter(event, info): events are "dataset", "stage", "done", "skipped", "failed", "warning", "waiting".
Reporter = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Target:
    """One dataset to evaluate, resolved from a config entry."""

    name: str  # results folder name, e.g. "scifact" or "cqadupstack/android"
    split: str
    source: str  # folder | hf | irds
    path: str | None = None
    group: str | None = None  # "cqadupstack" for forums run as part of it
    irds: str | None = None  # the ir_datasets id (in the data checksums as irds:id, so in the key)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "split": self.split, "source": self.source, "path": self.path, "group": self.group}


def targets(spec: DatasetSpec) -> list[Target]:
    """Expand a config entry into datasets (``cqadupstack`` becomes its 12 forums)."""
    if spec.path:
        return [Target(spec.label, spec.split or "test", "folder", str(Path(spec.path)))]
    if spec.irds is not None:
        return [Target(spec.label, spec.split or irds.default_split(spec.irds), "irds", irds=spec.irds)]
    assert spec.name is not None
    names = catalog.expand(spec.name)
    group = catalog.CQADUPSTACK if len(names) > 1 else None
    result = []
    for name in names:
        info = catalog.DATASETS.get(name)
        split = spec.split or (info.split if info else "test")
        result.append(Target(name, split, spec.source, None, group))
    return result


def target_folder(target: Target, data_root: Path, auto_download: bool = True) -> Path:
    """The dataset's folder, downloading a missing public BEIR dataset first when allowed."""
    folder = Path(target.path) if target.path else data_root / target.name
    if target.path is None and not folder.is_dir():
        info = catalog.DATASETS.get(target.name)
        if info is None or not info.public or not auto_download:
            # `datasets download` only helps for a public BEIR dataset; else suggest the closest name.
            if info is not None and info.public:
                fix = f"or run `beirctl datasets download {target.name}`"
            else:
                hint = did_you_mean(target.name, [*catalog.DATASETS, catalog.CQADUPSTACK])
                fix = "or give a folder of your own as path:" + (f"; {hint.strip()[1:-1]}" if hint else "")
            raise BeirctlError(
                f"{folder}: dataset {target.name!r} not found in the data dir "
                f"(set --data-dir or BEIRCTL_DATA_DIR, {fix})"
            )
        download(target.name, data_root)
    return folder


def load_target(target: Target, data_root: Path, auto_download: bool = True) -> Dataset:
    """Load a dataset, downloading a missing public BEIR dataset first when allowed."""
    if target.source == "hf":
        return load_hub(target.name, target.split)
    if target.irds is not None:
        return irds.load_irds(target.irds, data_root, target.split, name=target.name)
    return load_folder(target_folder(target, data_root, auto_download), target.split, name=target.name)


def data_checksums(target: Target, data_root: Path) -> dict[str, str]:
    """Checksums of the data a pair's results come from, as the loader records them.

    Folder datasets: MD5s of the corpus, queries and qrels files, read but not parsed (a
    ``beirctl run`` with nothing to do stays fast). Hub datasets are loaded (from the hub cache).
    """
    if target.source == "hf":
        return dict(load_target(target, data_root).checksums)
    if target.irds is not None:
        return irds.irds_checksums(target.irds, data_root, target.split)
    return file_checksums(target_folder(target, data_root), target.split)


def is_qrels_checksum(key: str) -> bool:
    return key.startswith("qrels")


def input_checksums(type_: str, params: dict[str, Any], dataset: str) -> dict[str, str]:
    """Checksums of the files a retriever reads besides the dataset (a ``run`` retriever's run
    file), its sub-retrievers' included (the ``{type, params}`` entries of its parameters, as
    ``fusion`` and ``rerank`` hold them), from :meth:`Retriever.input_checksums`."""
    try:
        cls = registry.get(type_)
    except BeirctlError:
        return {}
    found = dict(cls.input_checksums(params, dataset))
    stack: list[Any] = list(params.values())
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("type"), str) and isinstance(value.get("params"), dict):
                found.update(input_checksums(value["type"], value["params"], dataset))
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def retrieval_key(
    target: Target,
    spec: RetrieverSpec,
    params: dict[str, Any],
    config: Config,
    data: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
) -> str:
    """Identifies what a run file depends on: the corpus and queries (their checksums), the
    retriever and its parameters, the files it reads besides the dataset (``inputs``, see
    :func:`input_checksums`; only when there are some, so other keys are unchanged), the search
    settings and :data:`provenance.RESULTS_VERSION`.

    Qrels and metrics are left out (a changed qrels re-evaluates the stored run), and so are
    resources and executor: where a pair ran does not change its run file.
    """
    payload: dict[str, Any] = {
        "dataset": target.describe(),
        "data": {k: v for k, v in sorted((data or {}).items()) if not is_qrels_checksum(k)},
        "retriever": {"type": spec.type, "params": params},
        "top_k": config.top_k,
        "remove_query_id_hits": config.removes_identical_ids(target.name),
        "results_version": provenance.RESULTS_VERSION,
    }
    if config.conventions != DEFAULT_CONVENTIONS:  # only then: results of the default keep their keys
        payload["conventions"] = config.conventions
    if inputs:
        payload["inputs"] = inputs
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def round_run(run: Run) -> Run:
    """Scores as the run file holds them (6 decimals), so that the metrics computed in-process
    are those of the written run file, ties included."""
    scores = flat_scores(run)
    rounded = round_scores(scores)
    if np.array_equal(rounded, scores):  # already as written (a stored run): nothing to rebuild
        return {q: list(hits) for q, hits in run.items()}
    return with_scores(run, rounded)


def drop_query_hits(run: Run, k: int, remove: bool, self_hits: Iterable[str] | None = None) -> Run:
    """Remove hits whose doc id equals the query id (as BEIR and Pyserini do), keep ``k``.
    ``self_hits``: the queries holding such a hit, where already known (:func:`identical_id_hits`)."""
    if not remove:
        return {q: hits[:k] for q, hits in run.items()}
    drop = set(identical_id_hits(run) if self_hits is None else self_hits)
    return {q: [h for h in hits if h[0] != q][:k] if q in drop else hits[:k] for q, hits in run.items()}


@dataclass(frozen=True, eq=False)  # compared and hashed by identity
class Pair:
    """One (dataset, retriever) unit of work, self-contained so that it can run anywhere."""

    target: Target
    spec: RetrieverSpec
    params: dict[str, Any]  # resolved parameters, defaults included
    key: str
    data: dict[str, str] = field(default_factory=dict)  # checksums the key was computed from

    @property
    def label(self) -> str:
        return self.spec.name

    def out_dir(self, results_dir: Path) -> Path:
        return pair_dir(results_dir, self.target.name, self.label)

    def resources(self) -> Resources:
        """The config's ``resources``, else what the retriever class declares."""
        return self.spec.resources or registry.get(self.spec.type).resources


@dataclass(frozen=True)
class Context:
    """What every pair needs besides itself (picklable: shipped to Ray workers)."""

    results_dir: Path
    data_root: Path
    index_cache: Path
    top_k: int
    remove_query_id_hits: bool | None  # None: as the conventions say, per dataset
    metrics: tuple[str, ...]
    config_info: dict[str, Any]
    encode_workers: int = 0  # > 0: a Ray executor encodes dense/sparse corpora on this many actors
    force: bool = False  # run pairs even when a current result exists
    conventions: str = DEFAULT_CONVENTIONS

    def removes_identical_ids(self, dataset: str) -> bool:
        """Whether hits with the query's own id are dropped on ``dataset``."""
        if self.remove_query_id_hits is not None:
            return self.remove_query_id_hits
        return get_conventions(self.conventions).removes_identical_ids(dataset)


def run_pair(
    pair: Pair,
    ctx: Context,
    previous: PairResult | None,
    dataset: Dataset | None = None,
    load_s: float = 0.0,
    report: Reporter | None = None,
    shard_pool: ShardPool | None = None,
) -> PairResult:
    """Index, search, write the run file, evaluate and write ``metrics.json``; return it.

    ``previous`` is the pair's earlier result with the same retrieval key: its run file is
    re-evaluated instead of searching again. ``dataset`` may be passed when already loaded;
    ``shard_pool`` encodes a dense or sparse corpus on workers.
    """
    say = report or (lambda event, info: None)
    target, label = pair.target, pair.label
    out = pair.out_dir(ctx.results_dir)
    run_path = out / RUN_FILE
    if dataset is None:
        t0 = time.perf_counter()
        dataset = load_target(target, ctx.data_root)
        load_s = time.perf_counter() - t0
    changed = sorted(k for k, v in pair.data.items() if dataset.checksums.get(k, v) != v)
    if changed:
        raise BeirctlError(f"{dataset.source}: {', '.join(changed)} changed while beirctl was running; run again")
    timings = {"load_s": round(load_s, 3)}
    remove = ctx.removes_identical_ids(target.name)
    run = _stored_run(run_path, previous, dataset) if previous is not None else None
    self_hits: list[str] | None = None  # queries whose own document was removed (None: not known)
    writer: ThreadPoolExecutor | None = None
    written: Future[None] | None = None
    if run is not None and previous is not None:
        # Same corpus, queries and retrieval; other metrics or qrels: re-evaluate the saved run.
        timings.update(index_s=previous.timings.index_s, search_s=previous.timings.search_s)
        before = (previous.settings.conventions or {}).get("identical_ids", {})
        self_hits = before.get("queries") if isinstance(before.get("queries"), list) else None
    else:
        cls = registry.get(pair.spec.type)
        retriever = cls(cls.Params.model_validate(pair.params))
        say("stage", {"dataset": target.name, "retriever": label, "stage": "index"})
        t0 = time.perf_counter()
        index_ctx = IndexContext(
            corpus_id=dataset.fingerprint, dataset=target.name, cache_dir=ctx.index_cache, shard_pool=shard_pool
        )
        retriever.index(dataset.corpus, index_ctx)
        timings["index_s"] = round(time.perf_counter() - t0, 3)
        say("stage", {"dataset": target.name, "retriever": label, "stage": "search"})
        t0 = time.perf_counter()
        # Pyserini's -removeQuery: search top_k, then drop the query's own document without
        # topping the list up (a query that finds itself keeps top_k - 1 hits).
        raw = retriever.search(dataset.queries, ctx.top_k)
        self_hits = identical_id_hits(raw) if remove else []
        run = round_run(drop_query_hits(raw, ctx.top_k, remove, self_hits))
        timings["search_s"] = round(time.perf_counter() - t0, 3)
        # Written on a thread while the run is evaluated: the gzip compression, most of the
        # writing, releases the GIL (a 2,000-query top-1000 run: about 1 s of 1.5 s).
        writer = ThreadPoolExecutor(1, thread_name_prefix="beirctl-write-run")
        written = writer.submit(write_run, run_path, run, label)
        warning = collision_warning(target.name, self_hits)
        if warning:
            say("warning", {"dataset": target.name, "retriever": label, "message": warning})
    rules = get_conventions(ctx.conventions).rules(target.name)
    say("stage", {"dataset": target.name, "retriever": label, "stage": "eval"})
    t0 = time.perf_counter()
    try:
        result = evaluate(run, dataset.qrels, ctx.metrics, averaging=rules.averaging)
        timings["eval_s"] = round(time.perf_counter() - t0, 3)
    finally:
        if writer is not None:
            writer.shutdown(wait=True)  # the run file is complete (or not written) before going on
    if written is not None:
        written.result()  # the write's error, if any (disk full: one line)
    metrics = {
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
            "remove_query_id_hits": remove,
            "metrics": list(ctx.metrics),
            "conventions": conventions_record(ctx, target.name, remove, self_hits),
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
    result_doc = PairResult.model_validate(metrics)
    write_result(out / METRICS_FILE, result_doc)
    return result_doc


def conventions_record(ctx: Context, dataset: str, removed: bool, self_hits: list[str] | None) -> dict[str, Any]:
    """The ``settings.conventions`` block: the name, the rules and what they did on ``dataset``."""
    conventions = get_conventions(ctx.conventions)
    overridden = removed != conventions.removes_identical_ids(dataset)
    label = conventions.name + (f", remove_query_id_hits: {str(removed).lower()}" if overridden else "")
    if not removed:
        did = "kept hits whose doc id is the query id"
    elif self_hits is None:
        did = "removed hits whose doc id is the query id (count not recorded)"
    else:
        did = f"removed {len(self_hits):,} self-hits"
    identical: dict[str, Any] = {
        "removed": removed,
        "by": "remove_query_id_hits" if ctx.remove_query_id_hits is not None else "conventions",
        "did": did,
    }
    if removed and self_hits is not None:
        identical.update(count=len(self_hits), queries=sorted(self_hits))
    return {
        "name": conventions.name,
        "label": label,
        "rules": conventions.summary(),
        "averaging": conventions.averaging,
        "identical_ids": identical,
    }


def _stored_run(run_path: Path, previous: PairResult, dataset: Dataset) -> Run | None:
    """The saved run when it can be re-evaluated on ``dataset``: it exists, reads back, and was
    searched for every query the (possibly changed) qrels judge; else None (search again)."""
    searched = set(next(iter(previous.per_query.values()), {}))
    if not set(dataset.qrels) <= searched:
        return None  # new judged queries were never searched
    try:
        return read_run(run_path)
    except BeirctlError:
        return None  # missing or damaged: search again


# A pair and its result, or the one line saying why it failed.
Outcome = tuple[Pair, "PairResult | str"]
# A pair to run and its earlier result with the same retrieval key (its run file is re-evaluated).
Todo = tuple[Pair, "PairResult | None"]


def plan_pairs(
    config: Config, only: list[str] | None = None, data: dict[Target, dict[str, str]] | None = None
) -> tuple[list[Pair], list[Pair]]:
    """(pairs to consider now, every pair of the config); ``data``: each target's checksums."""
    data = data or {}
    resolved = []
    for spec in config.retrievers:
        cls = registry.get(spec.type)
        resolved.append((spec, cls.Params.model_validate(spec.params).model_dump(mode="json")))
    every = [
        Pair(
            target,
            spec,
            params,
            retrieval_key(
                target, spec, params, config, data.get(target), input_checksums(spec.type, params, target.name)
            ),
            dict(data.get(target, {})),
        )
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


def os_error_text(exc: OSError) -> str:
    """One line for an environment failure: the path, what happened, what to do."""
    where = exc.filename or "?"
    if exc.errno == errno.ENOSPC:
        advice = (
            "no space left on the device: free some space (or point output_dir/cache_dir elsewhere), then run again"
        )
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "cannot write here (read-only or permission denied): choose a writable output_dir/cache_dir"
    elif exc.errno == errno.ENOTDIR:
        advice = "a file stands where a folder is needed: move it or choose another output_dir/cache_dir"
    else:
        advice = exc.strerror or str(exc)
    return f"{where}: {advice}"


def reusable(previous: PairResult, pair: Pair, metrics: list[str]) -> bool:
    """A finished result is current: same retrieval (key), same metrics, same qrels bytes."""
    qrels_now = {k: v for k, v in pair.data.items() if is_qrels_checksum(k)}
    qrels_then = {k: v for k, v in previous.dataset.checksums.items() if is_qrels_checksum(k)}
    return bool(previous.settings.metrics == metrics and qrels_now and qrels_now == qrels_then)


def sweep_if_free(folder: Path) -> None:
    """Remove a killed run's temporary files from a finished pair's folder, unless another
    process holds its lock (then they may be that process's files)."""
    if fcntl is None:
        return
    try:
        with open(folder / ".lock", "a+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            try:
                sweep_temp_files(folder)
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return  # a read-only results folder: nothing to clean, nothing to report


@contextlib.contextmanager
def pair_lock(pair: Pair, ctx: Context, report: Reporter) -> Iterator[None]:
    """Hold ``<pair dir>/.lock``: one process at a time works on a pair, so no work is done twice
    and no run file is paired with another process's metrics. A second process waits."""
    folder = pair.out_dir(ctx.results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as fh:
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                report("waiting", {"dataset": pair.target.name, "retriever": pair.label, "path": str(folder)})
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            sweep_temp_files(folder)  # ours to clean: nobody else writes here while we hold the lock
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def failure_text(exc: BaseException) -> str:
    if isinstance(exc, BeirctlError):
        return str(exc)
    if isinstance(exc, OSError):
        return os_error_text(exc)
    if isinstance(exc, MemoryError):
        return "out of memory: run fewer pairs at once, or stream the corpus (BEIRCTL_STREAM_CORPUS=always)"
    first = str(exc).strip().splitlines()
    # An unexpected error is a bug in beirctl or a plugin: BEIRCTL_DEBUG=1 shows its traceback.
    return f"{type(exc).__name__}: {first[0] if first else ''} (BEIRCTL_DEBUG=1 for the traceback)"


def previous_result(metrics_path: Path, key: str) -> PairResult | None:
    """The pair's stored result when it has the retrieval key ``key``; None to (re)do the pair."""
    if not metrics_path.is_file():
        return None
    try:
        previous = read_result(metrics_path)
    except BeirctlError:
        return None  # unreadable: redo the pair
    return previous if previous.retrieval_key == key else None

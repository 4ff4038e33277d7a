"""Run (dataset, retriever) pairs as Ray tasks.

Each pair is one task with the CPUs/GPUs its retriever declares (``resources`` in the
config). A task loads its dataset, runs the pair exactly as the local executor does
(:func:`beirctl.runner.run_pair`) and writes the same files, so results, run files and the
leaderboard are the same bytes whichever executor produced them. Results are written by the
workers to ``results_dir`` and caches to the cache dir: on a multi-node cluster both must be
on storage every node sees (a shared filesystem).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from beirctl.errors import BeirctlError

if TYPE_CHECKING:
    from beirctl.config import Config
    from beirctl.runner import Context, Outcome, Pair, Reporter


def _task(pair: Pair, ctx: Context, previous: dict[str, Any] | None, cls: type) -> dict[str, Any]:
    from beirctl.retrievers import registry
    from beirctl.runner import run_pair

    # The class travels with the task (pickled by reference to its module), so retrievers
    # registered in the driver, not only by entry point, resolve in the worker too.
    registry.register(cls)
    return run_pair(pair, ctx, previous)


def connect(address: str | None, num_cpus: int | None = None) -> Any:
    """Connect to the cluster at ``address`` or start a local one (127.0.0.1 only)."""
    try:
        import ray
    except ImportError:
        raise BeirctlError("executor: ray needs Ray: pip install 'beirctl[ray]'") from None
    if ray.is_initialized():
        return ray
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        # A local cluster, on loopback only: Ray's single-machine mode (its name is Ray's) binds
        # the node to 127.0.0.1 instead of the machine's network address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] not in ("0", "false")
        # The workers get this interpreter's import path, so plugins that are importable here
        # (and beirctl itself from a source checkout) are importable there.
        ray.init(
            num_cpus=num_cpus or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
            runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
        )
    return ray


def _error_text(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BeirctlError):
        return str(cause)
    first = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[-1] if first else ''}".strip()


def run_pairs_on_ray(
    todo: list[tuple[Pair, dict[str, Any] | None]],
    ctx: Context,
    config: Config,
    address: str | None,
    report: Reporter,
) -> list[Outcome]:
    """Submit every pair, collect outcomes as they finish; one failure does not stop the rest."""
    if not todo:
        return []
    from beirctl.retrievers import registry

    ray = connect(address)
    remote = ray.remote(max_retries=0)(_task)
    futures = {}
    for pair, previous in todo:
        res = pair.spec.resources
        cls = registry.get(pair.spec.type)
        ref = remote.options(num_cpus=res.cpus, num_gpus=res.gpus).remote(pair, ctx, previous, cls)
        futures[ref] = pair
        report("stage", {"dataset": pair.target.name, "retriever": pair.label, "stage": "submitted to Ray"})
    outcomes: dict[Pair, dict[str, Any] | str] = {}
    pending = list(futures)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        pair = futures[ready[0]]
        info = {"dataset": pair.target.name, "retriever": pair.label}
        try:
            metrics = ray.get(ready[0])
        except Exception as exc:  # RayTaskError wrapping ours, a crashed worker, a lost node
            text = _error_text(exc)
            report("failed", {**info, "error": text})
            outcomes[pair] = text
            continue
        report("done", {**info, "aggregate": metrics["aggregate"]})
        outcomes[pair] = metrics
    return [(pair, outcomes[pair]) for pair, _ in todo]


class _ShardEncoder:
    """A Ray actor holding one copy of a dense model; encodes planned shards into the shared cache."""

    def __init__(self, params: dict[str, Any], cache_dir: str | None) -> None:
        from pathlib import Path

        from beirctl.retrievers.dense import DenseParams, DenseRetriever

        self.retriever = DenseRetriever(DenseParams.model_validate(params), Path(cache_dir) if cache_dir else None)

    def encode(self, folder: str, fmt: str, i: int, texts: list[str]) -> int:
        from pathlib import Path

        from beirctl.dense.cache import ShardStore

        ShardStore(Path(folder), fmt).write_shard(i, self.retriever.encoder.encode(texts))  # type: ignore[arg-type]
        return i


def encode_shards(
    store: Any,
    plan: dict[str, Any],
    texts: Mapping[str, str],
    params: dict[str, Any],
    cache_dir: str | None,
    workers: int,
    on_shard: Any = None,
) -> None:
    """Encode the plan's missing shards on ``workers`` Ray actors (one model copy each).

    Each actor writes the same shard files the local encoder writes (atomically), so a corpus
    encoded on a cluster is reused locally and the reverse; a killed run resumes either way.
    The driver reads a shard's texts (from a streamed corpus: from disk) only when it is about to
    be sent: at most two shards per actor are in flight.
    """
    ray = connect(None)  # the cluster already joined, or a local one
    from ray.util import ActorPool

    from beirctl.dense.encoding import take_texts

    size = int(plan["shard_size"])
    ordered: list[str] = plan["ids"]
    todo = store.missing(plan)
    if not todo:
        return
    actor = ray.remote(num_cpus=1)(_ShardEncoder)
    actors = [actor.remote(params, cache_dir) for _ in range(max(1, min(workers, len(todo))))]
    pool = ActorPool(actors)
    pending = iter(todo)

    def submit() -> None:
        i = next(pending, None)
        if i is not None:
            shard = take_texts(texts, ordered[i * size : (i + 1) * size])
            pool.submit(lambda a, job: a.encode.remote(str(store.folder), store.fmt, *job), (i, shard))

    for _ in range(2 * len(actors)):
        submit()
    while pool.has_next():
        i = pool.get_next_unordered()
        submit()
        if on_shard is not None:
            on_shard(i)

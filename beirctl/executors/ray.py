"""Run (dataset, retriever) pairs as Ray tasks.

Each pair is one task with the CPUs/GPUs of its ``resources`` (the config's, else what its
retriever class declares). A task loads its dataset, runs the pair exactly as the local executor
does (:func:`beirctl.jobs.run_pair`) and writes the same files, so results, run files and the
leaderboard are the same bytes whichever executor produced them. Results are written by the
workers to ``results_dir`` and caches to the cache dir: on a multi-node cluster both must be
on storage every node sees (a shared filesystem).
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from beirctl.atomic import sweep_temp_files
from beirctl.dense.cache import ShardStore
from beirctl.dense.encoding import BatchEncoder, EncoderFactory, take_texts
from beirctl.errors import BeirctlError
from beirctl.jobs import Context, Outcome, Pair, Reporter, Todo, os_error_text, run_pair
from beirctl.results import PairResult
from beirctl.retrievers import registry
from beirctl.retrievers.base import Retriever

try:
    import fcntl
except ImportError:  # not on Windows: no cross-process locks there
    fcntl = None  # type: ignore[assignment]


class RayExecutor:
    """Each pair a Ray task; the driver holds the pairs' locks while the cluster works."""

    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def run(self, todo: list[Todo], ctx: Context, report: Reporter) -> list[Outcome]:
        with _locked_all(todo, ctx, report) as (mine, busy):
            outcomes = run_pairs_on_ray(mine, ctx, self.address, report)
        return outcomes + busy


def _task(pair: Pair, ctx: Context, previous: PairResult | None, cls: type[Retriever[Any]]) -> PairResult:
    # The class travels with the task (pickled by reference to its module), so retrievers
    # registered in the driver, not only by entry point, resolve in the worker too.
    if ":" not in pair.spec.type:
        registry.register(cls)
    pool = RayShardPool(ctx.encode_workers) if ctx.encode_workers > 0 else None
    return run_pair(pair, ctx, previous, shard_pool=pool)


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


def run_pairs_on_ray(todo: list[Todo], ctx: Context, address: str | None, report: Reporter) -> list[Outcome]:
    """Submit every pair, collect outcomes as they finish; one failure does not stop the rest."""
    if not todo:
        return []
    ray = connect(address)
    remote = ray.remote(max_retries=0)(_task)
    futures = {}
    for pair, previous in todo:
        res = pair.resources()
        cls = registry.get(pair.spec.type)
        ref = remote.options(num_cpus=res.cpus, num_gpus=res.gpus).remote(pair, ctx, previous, cls)
        futures[ref] = pair
        report("stage", {"dataset": pair.target.name, "retriever": pair.label, "stage": "submitted to Ray"})
    outcomes: dict[Pair, PairResult | str] = {}
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
        report("done", {**info, "aggregate": metrics.aggregate})
        outcomes[pair] = metrics
    return [(pair, outcomes[pair]) for pair, _ in todo]


class _ShardEncoder:
    """A Ray actor holding one encoder (one model copy); encodes planned shards into the shared cache."""

    def __init__(self, make_encoder: Callable[[], BatchEncoder]) -> None:
        self.encoder = make_encoder()

    def encode(self, folder: str, fmt: Any, i: int, texts: list[str]) -> int:
        ShardStore(Path(folder), fmt).write_shard(i, self.encoder.encode(texts))
        return i


def encoder_actor_options(device: str, workers: int, cluster_gpus: float) -> tuple[int, dict[str, Any], str]:
    """How many encoding actors to start, their Ray resource request, and the device each encodes on.

    A CUDA device (``cuda``, ``cuda:N``; ``auto`` on a cluster with GPUs) gets one GPU per actor,
    so one model copy per GPU and at most as many actors as the cluster has GPUs. Ray hides the
    other GPUs from an actor (``CUDA_VISIBLE_DEVICES``), so ``cuda:N`` encodes on ``cuda``, the
    one it was given. Anything else (cpu, mps, an Encoder class without a device) asks one CPU.
    """
    workers = max(1, workers)
    gpus = int(cluster_gpus)
    if device.startswith("cuda") or (device == "auto" and gpus >= 1):
        if gpus < 1:
            raise BeirctlError(
                f"device {device!r}: the Ray cluster has no GPU to encode on (ray.cluster_resources() lists none); "
                "use device: cpu, or add GPU nodes"
            )
        return min(workers, gpus), {"num_cpus": 1, "num_gpus": 1}, "auto" if device == "auto" else "cuda"
    return workers, {"num_cpus": 1}, device


def _encoder_device(make_encoder: Callable[[], BatchEncoder]) -> str:
    """The device an :class:`~beirctl.dense.encoding.EncoderFactory` builds its encoder for
    (dense and SPLADE pass it as the ``device`` keyword); ``cpu`` when it names none."""
    build = getattr(make_encoder, "build", None)
    if isinstance(build, functools.partial):
        return str(build.keywords.get("device", "cpu"))
    return "cpu"


def _on_device(make_encoder: Callable[[], BatchEncoder], device: str) -> Callable[[], BatchEncoder]:
    """A copy of an encoder factory that builds for ``device`` instead."""
    build = make_encoder.build  # type: ignore[attr-defined]
    return EncoderFactory(functools.partial(build.func, *build.args, **{**build.keywords, "device": device}))


class RayShardPool:
    """A :class:`~beirctl.dense.encoding.ShardPool` of ``workers`` Ray actors (one model copy each).

    Each actor writes the same shard files the local encoder writes (atomically), so a corpus
    encoded on a cluster is reused locally and the reverse; a killed run resumes either way.
    The driver reads a shard's texts (from a streamed corpus: from disk) only when it is about to
    be sent: at most two shards per actor are in flight.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def encode_shards(
        self,
        store: ShardStore,
        plan: dict[str, Any],
        texts: Mapping[str, str],
        make_encoder: Callable[[], BatchEncoder],
        on_shard: Callable[[int], None] | None = None,
    ) -> None:
        todo = store.missing(plan)
        if not todo:
            return
        ray = connect(None)  # the cluster already joined, or a local one
        from ray.util import ActorPool

        size = int(plan["shard_size"])
        ordered: list[str] = plan["ids"]
        device = _encoder_device(make_encoder)
        count, options, actor_device = encoder_actor_options(
            device, min(self.workers, len(todo)), float(ray.cluster_resources().get("GPU", 0))
        )
        if actor_device != device:
            make_encoder = _on_device(make_encoder, actor_device)
        actor = ray.remote(**options)(_ShardEncoder)
        actors = [actor.remote(make_encoder) for _ in range(count)]
        pool = ActorPool(actors)
        pending = iter(todo)

        def submit() -> None:
            i = next(pending, None)
            if i is not None:
                shard = take_texts(texts, ordered[i * size : (i + 1) * size])
                pool.submit(lambda a, job: a.encode.remote(str(store.folder), store.fmt, *job), (i, shard))

        for _ in range(2 * len(actors)):
            submit()
        while pool.has_next():  # type: ignore[no-untyped-call]
            i = pool.get_next_unordered()
            submit()
            if on_shard is not None:
                on_shard(i)


@contextlib.contextmanager
def _locked_all(todo: list[Todo], ctx: Context, report: Reporter) -> Iterator[tuple[list[Todo], list[Outcome]]]:
    """Ray: the driver holds every pair's lock while the cluster works; pairs another process
    holds are left to it (reported, not run)."""
    mine: list[Todo] = []
    busy: list[Outcome] = []
    with contextlib.ExitStack() as stack:
        for pair, previous in todo:
            folder = pair.out_dir(ctx.results_dir)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fh = stack.enter_context(open(folder / ".lock", "a+b"))
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = f"{folder}: another beirctl process is running this pair; run again when it has finished"
                report("failed", {"dataset": pair.target.name, "retriever": pair.label, "error": text})
                busy.append((pair, text))
                continue
            except OSError as exc:
                text = os_error_text(exc)
                report("failed", {"dataset": pair.target.name, "retriever": pair.label, "error": text})
                busy.append((pair, text))
                continue
            sweep_temp_files(folder)
            mine.append((pair, previous))
        yield mine, busy

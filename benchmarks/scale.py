"""Large-corpus behaviour: peak memory and throughput on a synthetic corpus.

    python benchmarks/scale.py [--docs 1000000] [--encode-docs 4000] [--workers 1 2]
                               [--dense-shards 2] [--dense-shard-size 5000]

Writes a synthetic BEIR folder (Zipf-distributed words, 20-80 words per document, 1,000 judged
queries), then, each stage in a fresh process so that its peak RSS is its own:
  1. load the dataset with the corpus in memory (``BEIRCTL_STREAM_CORPUS=never``), then streamed
     (``always``: one validating pass keeping ids and byte offsets; documents read from disk);
  2. load (streamed: the corpus file is over the ``auto`` threshold) + lucene-exact BM25 index
     built chunk by chunk + search 1,000 queries;
  3. dense encoding of the whole streamed corpus with a tiny random BERT built here: the plan
     (every passage's token length, then the longest-first order) and the first
     ``--dense-shards`` cache shards, read from disk shard by shard (encoding all of 1M passages
     on a CPU would take the better part of an hour);
  4. dense encoding throughput of ``--encode-docs`` passages with the local encoder and with 1
     and 2 Ray actors (a ``RayShardPool``, as ``ray_encode_workers`` sets up).

The tiny BERT comes from ``tests/tiny_models.py`` (run from a source checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_corpus(folder: Path, n_docs: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        batch = 10_000
        for start in range(0, n_docs, batch):
            words = rng.choices(vocab, weights, k=batch * 50)
            pos = 0
            for i in range(start, min(start + batch, n_docs)):
                n = rng.randint(20, 80)
                text = " ".join(words[pos % len(words) : pos % len(words) + n])
                pos += n
                fh.write(json.dumps({"_id": f"d{i}", "title": f"t{i % 997}", "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh, open(folder / "qrels" / "test.tsv", "w") as qr:
        qr.write("query-id\tcorpus-id\tscore\n")
        for q in range(1000):
            fh.write(json.dumps({"_id": f"q{q}", "text": " ".join(rng.choices(vocab[:5000], k=5))}) + "\n")
            qr.write(f"q{q}\td{rng.randrange(n_docs)}\t1\n")


STAGE = r"""
import itertools, json, resource, sys, time
from pathlib import Path
stage, folder, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
out = {}
from beirctl.datasets import load_folder
ds = load_folder(folder)
out["load_s"] = time.perf_counter() - t0
out["corpus"] = type(ds.corpus).__name__
if stage == "bm25":
    from beirctl.retrievers.bm25 import BM25Retriever
    r = BM25Retriever()
    from beirctl.retrievers import IndexContext
    t = time.perf_counter(); r.index(ds.corpus, IndexContext(ds.fingerprint)); out["index_s"] = time.perf_counter() - t
    t = time.perf_counter(); r.search(ds.queries, 1000); out["search_qps"] = len(ds.queries) / (time.perf_counter() - t)
elif stage == "dense":
    import tempfile
    from beirctl.dense.cache import ShardStore
    from beirctl.dense.encoding import encode_corpus, plan_corpus
    from beirctl.retrievers.dense import DenseParams, DenseRetriever
    model, shards, shard_size = arg.split(",")
    r = DenseRetriever(DenseParams(model=model, batch_size=64))
    try:
        from beirctl.dense.encoding import CorpusTexts
        texts = CorpusTexts(ds.corpus)
    except ImportError:  # before streaming: every passage built up front, as DenseRetriever did
        from beirctl.dense.encoding import doc_text
        texts = {d: doc_text(doc.title, doc.text) for d, doc in ds.corpus.items()}
    ids = list(ds.corpus)
    store = ShardStore(Path(tempfile.mkdtemp()), "dense")
    t = time.perf_counter()
    plan_corpus(store, ids, texts, r.encoder, int(shard_size))
    out["plan_s"] = time.perf_counter() - t
    class Enough(Exception):
        pass
    def stop(i):
        if i + 1 >= int(shards):
            raise Enough
    t = time.perf_counter()
    try:
        encode_corpus(store, ids, texts, lambda: r.encoder, int(shard_size), on_shard=stop)
    except Enough:
        pass
    out["passages_per_s"] = int(shards) * int(shard_size) / (time.perf_counter() - t)
elif stage == "encode":
    import tempfile
    from beirctl.retrievers import IndexContext
    from beirctl.retrievers.dense import DenseParams, DenseRetriever
    model, n, workers = arg.split(",")
    corpus = dict(itertools.islice(ds.corpus.items(), int(n)))
    r = DenseRetriever(DenseParams(model=model, shard_size=500, batch_size=64))
    pool = None
    if int(workers):
        from beirctl.executors.ray import RayShardPool, connect
        connect(None, num_cpus=2)
        pool = RayShardPool(int(workers))
    ctx = IndexContext("scale", cache_dir=Path(tempfile.mkdtemp()), shard_pool=pool)
    t = time.perf_counter(); r.index(corpus, ctx); out["passages_per_s"] = len(corpus) / (time.perf_counter() - t)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps(out))
"""


def stage(name: str, folder: Path, arg: str = "", stream: str = "auto") -> dict[str, float]:
    env = {**os.environ, "BEIRCTL_STREAM_CORPUS": stream}
    cmd = [sys.executable, "-c", STAGE, name, str(folder), arg]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss(r: dict[str, float]) -> str:
    text = f"peak RSS {r['peak_rss_mb']:,.0f} MB"
    if r.get("children_peak_rss_mb"):  # the pure-Python analyzer forks workers on large inputs
        text += f" (largest child process {r['children_peak_rss_mb']:,.0f} MB)"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--encode-docs", type=int, default=4000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dense-shards", type=int, default=2, help="shards encoded in the whole-corpus dense stage")
    ap.add_argument("--dense-shard-size", type=int, default=5000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="beirctl-scale-") as tmp:
        folder = Path(tmp) / "synthetic"
        t = time.perf_counter()
        make_corpus(folder, args.docs)
        size = (folder / "corpus.jsonl").stat().st_size / 1e6
        print(f"synthetic corpus: {args.docs:,} docs, {size:,.0f} MB, written in {time.perf_counter() - t:.1f} s")
        for mode in ("never", "always"):
            r = stage("load", folder, stream=mode)
            print(f"load ({r['corpus']}):{' ' * max(0, 20 - len(r['corpus']))}{r['load_s']:.1f} s, {rss(r)}")
        r = stage("bm25", folder)
        print(
            f"load + bm25 index + search ({r['corpus']}): index {r['index_s']:.1f} s, "
            f"search {r['search_qps']:,.0f} q/s, {rss(r)}"
        )
        sys.path.insert(0, str(REPO))  # the tiny random BERT is built by the tests' helper
        from tests.tiny_models import build_tiny_bert

        try:
            model = build_tiny_bert(Path(tmp) / "tiny", "encoder")
        except ImportError:
            print("dense: skipped (pip install 'beirctl[dense]')")
            return
        r = stage("dense", folder, f"{model},{args.dense_shards},{args.dense_shard_size}")
        print(
            f"load + dense plan of {args.docs:,} passages + {args.dense_shards} shards of "
            f"{args.dense_shard_size:,} ({r['corpus']}): plan {r['plan_s']:.1f} s, "
            f"{r['passages_per_s']:,.0f} passages/s, {rss(r)}"
        )
        for workers in [0, *args.workers]:
            r = stage("encode", folder, f"{model},{args.encode_docs},{workers}")
            who = "local encoder" if workers == 0 else f"{workers} Ray actor(s)"
            print(f"encode {args.encode_docs:,} passages, {who}: {r['passages_per_s']:,.0f} passages/s")


if __name__ == "__main__":
    main()

"""Large-corpus behaviour: peak memory and throughput on a synthetic corpus.

    python benchmarks/scale.py [--docs 1000000] [--encode-docs 4000] [--workers 1 2]

Writes a synthetic BEIR folder (Zipf-distributed words, 20-80 words per document, 1,000 judged
queries), then, each stage in a fresh process so that its peak RSS is its own:
  1. load the dataset (the folder loader: one copy of the corpus in memory);
  2. load + lucene-exact BM25 index + search 1,000 queries;
  3. dense encoding throughput (a tiny random BERT built here) of ``--encode-docs`` passages with
     the local encoder and with 1 and 2 Ray actors (``ray_encode_workers``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
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
import json, resource, sys, time
from pathlib import Path
stage, folder, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
out = {}
from beirctl.datasets import load_folder
ds = load_folder(folder)
out["load_s"] = time.perf_counter() - t0
if stage == "bm25":
    from beirctl.retrievers.bm25 import BM25Retriever
    r = BM25Retriever()
    t = time.perf_counter(); r.index(ds.corpus, ds.fingerprint); out["index_s"] = time.perf_counter() - t
    t = time.perf_counter(); r.search(ds.queries, 1000); out["search_qps"] = len(ds.queries) / (time.perf_counter() - t)
elif stage == "encode":
    import tempfile
    from beirctl.retrievers.dense import DenseParams, DenseRetriever
    model, n, workers = arg.split(",")
    corpus = dict(list(ds.corpus.items())[: int(n)])
    r = DenseRetriever(DenseParams(model=model, shard_size=500, batch_size=64), cache_dir=Path(tempfile.mkdtemp()))
    r.encode_workers = int(workers)
    if int(workers):
        from beirctl.executors.ray import connect
        connect(None, num_cpus=2)
    t = time.perf_counter(); r.index(corpus, "scale"); out["passages_per_s"] = len(corpus) / (time.perf_counter() - t)
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def stage(name: str, folder: Path, arg: str = "") -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", STAGE, name, str(folder), arg], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"stage {name} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--encode-docs", type=int, default=4000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="beirctl-scale-") as tmp:
        folder = Path(tmp) / "synthetic"
        t = time.perf_counter()
        make_corpus(folder, args.docs)
        size = (folder / "corpus.jsonl").stat().st_size / 1e6
        print(f"synthetic corpus: {args.docs:,} docs, {size:,.0f} MB, written in {time.perf_counter() - t:.1f} s")
        r = stage("load", folder)
        print(f"load:               {r['load_s']:.1f} s, peak RSS {r['peak_rss_mb']:,.0f} MB")
        r = stage("bm25", folder)
        print(
            f"load + bm25 index:  index {r['index_s']:.1f} s, search {r['search_qps']:,.0f} q/s, "
            f"peak RSS {r['peak_rss_mb']:,.0f} MB"
        )
        try:
            from beirctl.dense.tiny import build_tiny_bert
        except ImportError:
            print("dense: skipped (pip install 'beirctl[dense]')")
            return
        model = build_tiny_bert(Path(tmp) / "tiny", "encoder")
        for workers in [0, *args.workers]:
            r = stage("encode", folder, f"{model},{args.encode_docs},{workers}")
            who = "local encoder" if workers == 0 else f"{workers} Ray actor(s)"
            print(f"encode {args.encode_docs:,} passages, {who}: {r['passages_per_s']:,.0f} passages/s")
    _ = resource  # peak RSS is read in each stage's own process


if __name__ == "__main__":
    main()

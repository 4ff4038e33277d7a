"""lucene-exact's two top-k searches on real data: pruned (compiled block-max MaxScore) and
exhaustive (every document scored), same index, same queries, same run.

    python benchmarks/bm25_pruning.py [--data-dir ../shared/beir] [--datasets scifact nfcorpus] [--k 10 1000]
                                      [--synthetic 5000 20000 50000 100000]

For each dataset and k: queries/s of each path as the retriever runs it (pruned on 2 threads,
exhaustive on one; median of ``--repeat``), whether the
results are identical, and which path the default takes (``BM25Searcher.PRUNE_MIN_DOCS`` and
``PRUNE_MIN_DOCS_PER_HIT``: smaller corpora are scored exhaustively). ``--synthetic N...`` adds
corpora of N documents of 30-90 Zipf-distributed terms (50,000-term vocabulary) and 300 queries of
3-8 terms: where the crossover between the two paths lies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

from beirctl.datasets import load_folder
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.lucene.bm25 import BM25Searcher
from beirctl.lucene.index import FieldIndex, LuceneIndex
from beirctl.retrievers import IndexContext
from beirctl.retrievers.lucene_bm25 import LuceneBM25Retriever

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared")) / "beir"


def qps(
    searcher: BM25Searcher, queries: list[list[str]], k: int, repeat: int
) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
    times, hits = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        hits = searcher.search_many(queries, k)
        times.append(time.perf_counter() - t)
    return len(queries) / statistics.median(times), hits


def synthetic(n: int, seed: int = 1) -> tuple[LuceneIndex, list[list[str]]]:
    """A flat index of ``n`` Zipf documents and 300 Zipf queries (terms ``t00000``...)."""
    rng = np.random.default_rng(seed)
    v = 50_000
    p = 1.0 / np.arange(1, v + 1)
    cdf = np.cumsum(p / p.sum())
    terms = [f"t{i:05d}" for i in range(v)]

    def draw(m: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, rng.random(m)), v - 1).astype(np.int64)

    queries = [[terms[j] for j in draw(int(m))] for m in rng.integers(3, 9, 300)]
    lengths = rng.integers(30, 91, n)
    field = FieldIndex.from_ids(terms, draw(int(lengths.sum())), lengths)
    return LuceneIndex(doc_ids=[f"d{i}" for i in range(n)], fields={"contents": field}, mode="flat"), queries


def compare(name: str, index: LuceneIndex, queries: list[list[str]], ks: list[int], repeat: int) -> None:
    pruned, full = BM25Searcher(index), BM25Searcher(index, exhaustive=True)
    if pruned.pruned is None:
        raise SystemExit("the compiled pruned search is not available (beirctl doctor says why)")
    for k in ks:
        default = "pruned" if pruned._prunes(k) else "exhaustive"
        saved = BM25Searcher.PRUNE_MIN_DOCS, BM25Searcher.PRUNE_MIN_DOCS_PER_HIT
        BM25Searcher.PRUNE_MIN_DOCS = BM25Searcher.PRUNE_MIN_DOCS_PER_HIT = 0  # pruned, whatever the size
        try:
            fast, a = qps(pruned, queries, k, repeat)
        finally:
            BM25Searcher.PRUNE_MIN_DOCS, BM25Searcher.PRUNE_MIN_DOCS_PER_HIT = saved
        slow, b = qps(full, queries, k, repeat)
        same = all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
        print(f"{name:10} {len(index.doc_ids):8,} {k:5} {fast:11,.0f} {slow:15,.0f}  {str(same):9}  {default}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    ap.add_argument("--k", type=int, nargs="+", default=[10, 1000])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--synthetic", type=int, nargs="*", default=[], help="sizes of synthetic corpora to add")
    args = ap.parse_args()
    print(f"{'dataset':10} {'docs':>8} {'k':>5} {'pruned q/s':>11} {'exhaustive q/s':>15}  identical  default")
    for name in args.datasets:
        ds = load_folder(args.data_dir / name)
        retriever = LuceneBM25Retriever()
        retriever.index(ds.corpus, IndexContext(ds.fingerprint))
        assert retriever.searcher is not None
        index = retriever.searcher.index
        analyzer = EnglishAnalyzer()
        queries = [analyzer.analyze(ds.queries[q]) for q in ds.queries]
        compare(name, index, queries, args.k, args.repeat)
    for n in args.synthetic:
        compare("synthetic", *synthetic(n), args.k, args.repeat)


if __name__ == "__main__":
    main()

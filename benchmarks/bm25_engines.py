"""Index time, queries/second and end-to-end time of BM25 engines on the same data, in one run.

    python benchmarks/bm25_engines.py [--data-dir ../shared/beir] [--datasets scifact nfcorpus]
                                      [--fields flat multifield] [--engines ...] [--repeat 3]

End-to-end = load the dataset + index + search the top 1000 + evaluate, nothing cached.
Engines: beirctl's bm25 (lucene-exact, the default), the bm25s library itself (same k1/b,
Lucene method, Lucene stop words, Porter stemmer; its own batched retrieve), Pyserini's Lucene
(beirctl's pyserini-bm25: Anserini's jar in a JVM) and rank-bm25 (beirctl's wrapper).
Ratios printed: lucene-exact against bm25s (queries/s) and against Pyserini (end-to-end),
and every engine against rank-bm25.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from beirctl.datasets import load_folder
from beirctl.evaluation import evaluate
from beirctl.jobs import drop_query_hits
from beirctl.retrievers import IndexContext, registry
from beirctl.types import Dataset, Run

DEFAULT_DATA = Path(os.environ.get("BEIRCTL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "beir"))
K = 1000
K1, B = 0.9, 0.4


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


class Bm25sLibrary:
    """The bm25s package used directly, as its README shows (flat only)."""

    def __init__(self, fields: str) -> None:
        if fields != "flat":
            raise ValueError("bm25s has no multifield mode")

    def index(self, ds: Dataset) -> None:
        import bm25s
        import Stemmer

        from beirctl.lucene.analyzer import ENGLISH_STOP_WORDS
        from beirctl.retrievers.text import TOKEN_PATTERN

        self.ids = list(ds.corpus)
        self.kw = {
            "stopwords": sorted(ENGLISH_STOP_WORDS),
            "stemmer": Stemmer.Stemmer("porter"),
            "token_pattern": TOKEN_PATTERN,
            "show_progress": False,
        }
        texts = [f"{d.title} {d.text}" for d in ds.corpus.values()]
        self.model = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.model.index(bm25s.tokenize(texts, **self.kw), show_progress=False)

    def search(self, ds: Dataset) -> Run:
        import bm25s

        qids = list(ds.queries)
        tokens = bm25s.tokenize([ds.queries[q] for q in qids], **self.kw)
        docs, scores = self.model.retrieve(tokens, k=min(K, len(self.ids)), show_progress=False)
        return {q: [(self.ids[d], float(s)) for d, s in zip(docs[i], scores[i]) if s > 0] for i, q in enumerate(qids)}


class Registered:
    """A beirctl retriever by registry name."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        cls = registry.get(name)
        self.retriever = cls(cls.Params.model_validate(params))  # no cache_dir: index from scratch

    def index(self, ds: Dataset) -> None:
        self.retriever.index(ds.corpus, IndexContext(ds.fingerprint, dataset=ds.name))

    def search(self, ds: Dataset) -> Run:
        return self.retriever.search(ds.queries, K)


ENGINES: dict[str, Callable[[str], Any]] = {
    "lucene-exact": lambda fields: Registered("bm25", {"fields": fields}),
    "bm25s": Bm25sLibrary,
    "pyserini": lambda fields: Registered("pyserini-bm25", {"fields": fields}),
    "rank-bm25": lambda fields: Registered("rank-bm25", {"fields": fields}),
}


def bench(folder: Path, engine: str, fields: str, repeat: int = 1) -> dict[str, float]:
    """Each figure is the median over ``repeat`` runs, each with a new engine and nothing cached
    (the first run of an engine in this process also pays for importing its modules)."""
    runs = [bench_once(folder, engine, fields) for _ in range(repeat)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def bench_once(folder: Path, engine: str, fields: str) -> dict[str, float]:
    impl = ENGINES[engine](fields)
    ds, load_s = timed(lambda: load_folder(folder))
    _, index_s = timed(lambda: impl.index(ds))
    raw, search_s = timed(lambda: impl.search(ds))
    run = drop_query_hits(raw, K, True)
    res, eval_s = timed(lambda: evaluate(run, ds.qrels, ["nDCG@10", "R@100"]))
    return {
        "index_s": index_s,
        "qps": len(ds.queries) / search_s,
        "e2e_s": load_s + index_s + search_s + eval_s,
        "ndcg": res.aggregate["nDCG@10"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    ap.add_argument("--fields", nargs="+", default=["flat"])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine; figures are the medians")
    args = ap.parse_args()
    print(f"{'dataset':9} {'fields':10} {'engine':13} {'index s':>8} {'q/s':>9} {'e2e s':>7} {'nDCG@10':>8}  ratios")
    for dataset in args.datasets:
        for fields in args.fields:
            rows: dict[str, dict[str, float]] = {}
            for engine in args.engines:
                try:
                    rows[engine] = bench(args.data_dir / dataset, engine, fields, args.repeat)
                except Exception as exc:  # a backend not installed here, or no multifield mode
                    print(f"{dataset:9} {fields:10} {engine:13} skipped: {exc}")
            for engine, r in rows.items():
                ratios = []
                if engine == "lucene-exact":
                    if "bm25s" in rows:
                        ratios.append(f"{r['qps'] / rows['bm25s']['qps']:.2f}x bm25s q/s")
                    if "pyserini" in rows:
                        ratios.append(f"{rows['pyserini']['e2e_s'] / r['e2e_s']:.1f}x pyserini end-to-end")
                if "rank-bm25" in rows and engine != "rank-bm25":
                    ratios.append(f"{r['qps'] / rows['rank-bm25']['qps']:.1f}x rank-bm25 q/s")
                print(
                    f"{dataset:9} {fields:10} {engine:13} {r['index_s']:8.2f} {r['qps']:9.1f} {r['e2e_s']:7.2f} "
                    f"{r['ndcg']:8.4f}  {', '.join(ratios)}"
                )


if __name__ == "__main__":
    main()

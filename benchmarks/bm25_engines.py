"""Index time, queries/second and end-to-end time of BM25 engines on the same data, in one run.

    python benchmarks/bm25_engines.py [--data-dir ../shared/beir] [--datasets scifact nfcorpus]

End-to-end = load the dataset + index + search top 1000 + evaluate. Ratios are against
rank-bm25 (the package most BEIR scripts use) measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from beirctl.datasets import load_folder
from beirctl.evaluation import evaluate
from beirctl.retrievers import registry
from beirctl.runner import drop_query_hits

DEFAULT_DATA = Path(os.environ.get("BEIRCTL_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "beir"))
K = 1000

# label -> (registry name, params); engines whose backend is not installed are skipped.
ENGINES: dict[str, tuple[str, dict[str, object]]] = {
    "bm25 (bm25s)": ("bm25", {}),
    "lucene-bm25": ("lucene-bm25", {}),
    "pyserini-bm25": ("pyserini-bm25", {}),
    "rank-bm25": ("rank-bm25", {}),
}
BASELINE = "rank-bm25"


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench(folder: Path, label: str, name: str, params: dict[str, object]) -> dict[str, float]:
    cls = registry.get(name)
    ds, load_s = timed(lambda: load_folder(folder))
    retriever = cls(cls.Params(**params))  # no cache_dir: always index from scratch
    _, index_s = timed(lambda: retriever.index(ds.corpus, ds.fingerprint))  # type: ignore[attr-defined]
    raw, search_s = timed(lambda: retriever.search(ds.queries, K))  # type: ignore[attr-defined]
    run = drop_query_hits(raw, K, True)  # type: ignore[arg-type]
    res, eval_s = timed(lambda: evaluate(run, ds.qrels, ["nDCG@10", "R@100"]))  # type: ignore[attr-defined]
    return {
        "index_s": index_s,
        "qps": len(ds.queries) / search_s,  # type: ignore[attr-defined]
        "e2e_s": load_s + index_s + search_s + eval_s,
        "ndcg": res.aggregate["nDCG@10"],  # type: ignore[attr-defined]
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES))
    args = ap.parse_args()
    print(f"{'dataset':10} {'engine':16} {'index s':>8} {'q/s':>9} {'e2e s':>7} {'nDCG@10':>8}  vs {BASELINE}")
    for dataset in args.datasets:
        rows: dict[str, dict[str, float]] = {}
        for label in args.engines:
            name, params = ENGINES[label]
            try:
                rows[label] = bench(args.data_dir / dataset, label, name, params)
            except Exception as exc:  # a backend that is not installed here
                print(f"{dataset:10} {label:16} skipped: {exc}")
        base = rows.get(BASELINE)
        for label, r in rows.items():
            ratio = ""
            if base and label != BASELINE:
                ratio = f"{r['qps'] / base['qps']:.1f}x q/s, {base['e2e_s'] / r['e2e_s']:.1f}x end-to-end"
            print(
                f"{dataset:10} {label:16} {r['index_s']:8.2f} {r['qps']:9.1f} {r['e2e_s']:7.2f} "
                f"{r['ndcg']:8.4f}  {ratio}"
            )


if __name__ == "__main__":
    main()

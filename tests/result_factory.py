"""Synthetic results for tests: complete :class:`PairResult` documents from per-query scores."""

from __future__ import annotations

from math import fsum
from pathlib import Path
from typing import Any

from beirctl.evaluation import write_run
from beirctl.results import METRICS_FILE, RUN_FILE, PairResult, pair_dir, write_result


def make_result(
    dataset: str,
    label: str,
    per_query: dict[str, dict[str, float]] | dict[str, float],
    *,
    group: str | None = None,
    metric: str = "nDCG@10",
    type: str = "bm25",
) -> PairResult:
    """One pair's result; ``per_query`` is metric -> qid -> score, or qid -> score for ``metric``.
    The aggregate is the mean over the queries, as the runner computes it."""
    pq: dict[str, Any] = dict(per_query)
    if not all(isinstance(v, dict) for v in pq.values()):
        pq = {metric: pq}
    return PairResult.model_validate(
        {
            "schema": "beirctl.metrics/1",
            "retrieval_key": "0" * 64,
            "dataset": {
                "name": dataset,
                "split": "test",
                "source": f"/nowhere/{dataset}",
                "path": None,
                "group": group,
                "num_docs": 10,
                "num_queries": len(next(iter(pq.values()))),
                "checksums": {"corpus.jsonl:md5": "0" * 32},
            },
            "retriever": {"type": type, "label": label, "params": {}},
            "settings": {"top_k": 1000, "remove_query_id_hits": True, "metrics": list(pq)},
            "aggregate": {m: fsum(v.values()) / len(v) for m, v in pq.items()},
            "per_query": pq,
            "timings": {"load_s": 0.0, "index_s": 0.0, "search_s": 0.0, "eval_s": 0.0},
            "config": {"name": "synthetic", "file": None, "sha256": "0" * 64, "resolved": {}},
            "provenance": {"packages": {"beirctl": "0"}, "machine": {}, "created": "2024-01-01T00:00:00+00:00"},
        }
    )


def write_results(folder: Path, results: list[PairResult]) -> Path:
    """Write each result where the runner would: ``<folder>/<dataset>/<label>/metrics.json``, and
    a run file (one hit per query) beside it."""
    for r in results:
        out = pair_dir(folder, r.dataset.name, r.retriever.label)
        write_result(out / METRICS_FILE, r)
        qids = next(iter(r.per_query.values()))
        write_run(out / RUN_FILE, {q: [("d1", 1.0)] for q in qids}, tag=r.retriever.label)
    return folder

"""The per-hit steps over a run's ``(doc id, score)`` lists: built from a search's arrays, scores read
out and replaced, TREC lines formatted, self-hits found.

Each has a pure-Python definition here and a compiled one in ``beirctl.evaluation._runs`` (C,
optional, built by ``pip install`` where a C compiler is), used where it is built and
``BEIRCTL_NATIVE`` does not turn it off: on 2M hits (2,000 queries at top 1000) each Python loop
costs 0.4-3 s, the compiled one a tenth of that or less. Both give equal objects and the same bytes
(``tests/test_runs_compiled.py``); where the compiled one meets what it does not handle exactly (a
score that is not a float, a doc id that is not a str) it raises TypeError and the Python one runs.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from beirctl.compiled import load_extension
from beirctl.types import Run

if TYPE_CHECKING:
    from beirctl.evaluation import _runs
else:
    _runs = load_extension("beirctl.evaluation._runs")


def compiled() -> bool:
    """Whether the compiled loops are in use."""
    return _runs is not None


def hit_lists(
    doc_ids: list[str], idx: np.ndarray, scores: np.ndarray, sizes: Sequence[int]
) -> list[list[tuple[str, float]]]:
    """Consecutive lists of ``sizes[i]`` hits ``(doc_ids[idx[j]], float(scores[j]))``, in order."""
    ends = np.cumsum(np.asarray(sizes, dtype=np.int64), dtype=np.int64)
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    values = np.ascontiguousarray(scores, dtype=np.float64)
    if _runs is not None and type(doc_ids) is list:
        return _runs.hit_lists(doc_ids, idx, values, ends)
    pairs = list(zip(np.asarray(doc_ids, dtype=object)[idx].tolist(), values.tolist()))
    return [pairs[a:b] for a, b in zip([0, *ends[:-1].tolist()], ends.tolist())]


def flat_scores(run: Run) -> np.ndarray:
    """Every hit's score as float64, query after query in the run's order."""
    if _runs is not None:
        try:
            return np.frombuffer(_runs.scores(list(run.values())), dtype=np.float64)
        except TypeError:  # a score that is not a float (int, numpy scalar): numpy converts it
            pass
    count = sum(len(hits) for hits in run.values())
    return np.fromiter((s for hits in run.values() for _, s in hits), dtype=np.float64, count=count)


def with_scores(run: Run, values: np.ndarray) -> Run:
    """``run`` with its hits' scores replaced by ``values`` (one per hit, in :func:`flat_scores`'s order)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if _runs is not None:
        try:
            return dict(zip(run, _runs.rescored(list(run.values()), values)))
        except TypeError:  # hits that are not lists of 2-tuples
            pass
    out: Run = {}
    flat = values.tolist()
    end = 0
    for q, hits in run.items():
        out[q] = list(zip([d for d, _ in hits], flat[end : end + len(hits)]))
        end += len(hits)
    return out


def trec_lines(qid: str, hits: Sequence[tuple[str, float]], tag: str) -> bytes:
    """The UTF-8 run-file lines of one query: ``qid Q0 doc rank score tag``, ranks from 1, 6 decimals."""
    if _runs is not None and type(hits) is list:
        try:
            return _runs.trec_lines(qid, hits, tag)
        except TypeError:  # not a str id or a float score: format() as below
            pass
    return "".join(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n" for rank, (doc, score) in enumerate(hits, 1)).encode()


_doc_id = operator.itemgetter(0)


def identical_id_hits(run: Run) -> list[str]:
    """The query ids whose hits include the document of the same id, in the run's order."""
    if _runs is not None:
        try:
            return _runs.self_hit_queries(list(run), list(run.values()))
        except TypeError:  # ids that are not str, hits not lists of tuples
            pass
    return [q for q, hits in run.items() if q in map(_doc_id, hits)]  # a C-level scan per query

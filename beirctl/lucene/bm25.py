"""Lucene's BM25Similarity (Lucene 9, as in Anserini 0.22.1), bit for bit in float32.

Per field: ``idf = (float) log(1 + (N - n + 0.5) / (n + 0.5))`` with N the field's docCount;
``avgdl = (float) (sumTotalTermFreq / docCount)``; a 256-entry float table
``cache[i] = 1f / (k1 * ((1 - b) + b * LENGTH_TABLE[i] / avgdl))`` over decoded norm bytes;
a clause scores ``weight - weight / (1f + freq * cache[norm])`` with ``weight = boost * idf``,
all in float32. BooleanQuery sums its clause scores in a double and returns a float.

Queries are built as Anserini's BagOfWordsQueryGenerator builds them: one SHOULD TermQuery
per analyzed query token, which BooleanQuery.rewrite deduplicates into one clause boosted by
the token's count. With several fields (``-fields contents=1.0 title=1.0``), each field's
bag-of-words query is wrapped in a BoostQuery of the field weight and the field queries are
SHOULD clauses of an outer BooleanQuery (so term boosts are ``field weight * count``).

Ranking follows Anserini's SearchCollection: score descending, ties broken by the external
doc id ascending (``BREAK_SCORE_TIES_BY_DOCID``), then optionally its ScoreTiesAdjusterReranker:
scores rounded to 4 decimals, and each score within 1e-4 of the previous one lowered by
1e-6 per tie, so that evaluation tools that sort by score see the same order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from beirctl.lucene.index import FieldIndex, LuceneIndex, byte4_to_int

_F32 = np.float32


def _idf(doc_freq: np.ndarray, doc_count: int) -> np.ndarray:
    df = doc_freq.astype(np.float64)
    return np.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)).astype(np.float32)


def _norm_cache(k1: float, b: float, avgdl: np.float32) -> np.ndarray:
    k1f, bf = _F32(k1), _F32(b)
    length_table = byte4_to_int(np.arange(256)).astype(np.float32)
    return (_F32(1) / (k1f * ((_F32(1) - bf) + bf * length_table / avgdl))).astype(np.float32)


class _FieldScorer:
    """Precomputed ``freq * normInverse`` per posting and idf per term for one field."""

    def __init__(self, f: FieldIndex, k1: float, b: float, weight: float) -> None:
        self.field = f
        self.weight = _F32(weight)
        doc_count = f.doc_count
        avgdl = _F32(f.sum_ttf / doc_count) if doc_count else _F32(1)
        norm_inverse = _norm_cache(k1, b, avgdl)[f.norms]
        self.tfn = (f.tfs.astype(np.float32) * norm_inverse[f.docs]).astype(np.float32)
        self.idf = _idf(f.doc_freq(), doc_count)

    def accumulate(self, counts: Mapping[str, int], acc: np.ndarray) -> bool:
        """Add this field's clause scores to ``acc`` (float64); True if any term matched."""
        f = self.field
        hit = False
        for term, count in counts.items():
            t = f.vocab.get(term)
            if t is None:
                continue
            lo, hi = f.indptr[t], f.indptr[t + 1]
            w = _F32(self.weight * _F32(count)) * self.idf[t]
            acc[f.docs[lo:hi]] += w - w / (_F32(1) + self.tfn[lo:hi])
            hit = True
        return hit


class BM25Searcher:
    """Scores analyzed queries against a :class:`LuceneIndex` exactly as Lucene does."""

    def __init__(
        self,
        index: LuceneIndex,
        k1: float = 0.9,
        b: float = 0.4,
        field_weights: Mapping[str, float] | None = None,
    ) -> None:
        weights = dict(field_weights or {})
        self.index = index
        self.scorers = [_FieldScorer(f, k1, b, weights.get(name, 1.0)) for name, f in index.fields.items()]
        n = len(index.doc_ids)
        # Rank of each document's id in byte order (Lucene's STRING_VAL sort of the id field;
        # UTF-8 byte order equals code point order).
        order = sorted(range(n), key=index.doc_ids.__getitem__)
        self.id_rank = np.empty(n, dtype=np.int64)
        self.id_rank[order] = np.arange(n)
        self._acc = np.zeros(n, dtype=np.float64)
        self._total = np.zeros(n, dtype=np.float64)

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """float32 Lucene scores of every document; 0 where no query term matches."""
        counts = Counter(query_terms)
        total = self._total
        total[:] = 0.0
        if len(self.scorers) == 1:
            self.scorers[0].accumulate(counts, total)
            return total.astype(np.float32)
        for scorer in self.scorers:
            acc = self._acc
            acc[:] = 0.0
            if scorer.accumulate(counts, acc):
                # The inner BooleanQuery returns a float; the outer one sums those in a double.
                total += acc.astype(np.float32)
        return total.astype(np.float32)

    def search(self, query_terms: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (doc indices, float32 scores) in Lucene/Anserini order."""
        scores = self.scores(query_terms)
        cand = np.flatnonzero(scores > 0)
        if k <= 0 or cand.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        cs = scores[cand]
        if cand.size > k:
            kth = np.partition(cs, cand.size - k)[cand.size - k]
            keep = cs >= kth  # keeps every tie at the cut; the sort below decides
            cand, cs = cand[keep], cs[keep]
        order = np.lexsort((self.id_rank[cand], -cs))[:k]
        return cand[order], cs[order]


def anserini_tie_adjust(scores: np.ndarray) -> np.ndarray:
    """Anserini's ScoreTiesAdjusterReranker on a ranked float32 score list (float32 math)."""
    out = np.empty(len(scores), dtype=np.float32)
    # Math.round(score * 1e4f) / 1e4f: round half up of a float, then int -> float division.
    rounded = (np.floor(scores.astype(np.float64) * 1e4 + 0.5) / 1e4).astype(np.float32)
    return _tie_loop(rounded, out)


def _tie_loop_py(rounded: np.ndarray, out: np.ndarray) -> np.ndarray:
    dup = 0
    eps4, eps6 = _F32(1e-4), _F32(1e-6)
    for i in range(len(rounded)):
        s = rounded[i]
        if i == 0 or out[i - 1] - s > eps4:
            dup = 0
        else:
            dup += 1
            s = _F32(s - eps6 * _F32(dup))
        out[i] = s
    return out


try:  # numba turns the sequential tie loop into a few microseconds per query
    from numba import njit

    @njit(cache=True)  # type: ignore[misc]
    def _tie_loop(rounded: np.ndarray, out: np.ndarray) -> np.ndarray:
        dup = 0
        eps4 = np.float32(1e-4)
        eps6 = np.float32(1e-6)
        for i in range(rounded.shape[0]):
            s = rounded[i]
            if i == 0 or np.float32(out[i - 1] - s) > eps4:
                dup = 0
            else:
                dup += 1
                s = np.float32(s - np.float32(eps6 * np.float32(dup)))
            out[i] = s
        return out

except ImportError:  # pragma: no cover - numba is optional
    _tie_loop = _tie_loop_py  # type: ignore[assignment]

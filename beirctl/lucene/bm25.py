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
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from beirctl.lucene import native
from beirctl.lucene.index import FieldIndex, LuceneIndex, byte4_to_int

if TYPE_CHECKING:
    from beirctl.lucene import _search

_F32 = np.float32


def _idf(doc_freq: np.ndarray, doc_count: int) -> np.ndarray:
    df = doc_freq.astype(np.float64)
    return np.log(1.0 + (doc_count - df + 0.5) / (df + 0.5)).astype(np.float32)


def _norm_cache(k1: float, b: float, avgdl: np.float32) -> np.ndarray:
    k1f, bf = _F32(k1), _F32(b)
    length_table = byte4_to_int(np.arange(256)).astype(np.float32)
    cache: np.ndarray = (_F32(1) / (k1f * ((_F32(1) - bf) + bf * length_table / avgdl))).astype(np.float32)
    return cache


class _FieldScorer:
    """One field's idf per term and norm cache; ``tfn`` (float32 ``freq * normInverse`` per
    posting, for the exhaustive path) is computed on first use only."""

    def __init__(self, f: FieldIndex, k1: float, b: float, weight: float, n_docs: int) -> None:
        self.field = f
        self.n_docs = n_docs
        self.weight = _F32(weight)
        doc_count = f.doc_count
        avgdl = _F32(f.sum_ttf / doc_count) if doc_count else _F32(1)
        self.cache = _norm_cache(k1, b, avgdl)
        self.norms = np.ascontiguousarray(f.norms, dtype=np.uint8)
        self.idf = _idf(f.doc_freq(), doc_count)
        self._tfn: np.ndarray | None = None

    @property
    def tfn(self) -> np.ndarray:
        if self._tfn is None:
            f = self.field
            # float32 tf * normInverse per posting, computed in place (no postings-sized temporaries)
            tfn = self.cache[self.norms][f.docs]
            np.multiply(tfn, f.tfs, out=tfn, dtype=np.float32, casting="unsafe")
            self._tfn = tfn
        return self._tfn

    def weights(self, counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """(term ids, float32 clause weights ``field weight * count * idf``) of the query's terms
        in this field, in query order; None if no term occurs in the field."""
        vocab = self.field.vocab
        hits = [(t, c) for t, c in ((vocab.get(term), c) for term, c in counts.items()) if t is not None]
        if not hits:
            return None
        terms = np.fromiter((t for t, _ in hits), dtype=np.int64, count=len(hits))
        boosts = np.fromiter((c for _, c in hits), dtype=np.float32, count=len(hits))
        return terms, (self.weight * boosts).astype(np.float32) * self.idf[terms]

    def clauses(self, counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """(document, float32 clause score) of every posting of the query's terms in this field,
        clause after clause in query order; None if no term occurs in the field."""
        found = self.weights(counts)
        if found is None:
            return None
        terms, w = found
        f = self.field
        lo, hi = f.indptr[terms], f.indptr[terms + 1]
        if len(terms) == 1:
            sl = slice(int(lo[0]), int(hi[0]))
            docs, tfn, wp = f.docs[sl], self.tfn[sl], w[0]
        else:  # the postings of all the terms, one after the other
            lens = hi - lo
            ends = np.cumsum(lens)
            idx = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(lo - (ends - lens), lens)
            docs, tfn, wp = f.docs[idx], self.tfn[idx], np.repeat(w, lens)
        return docs, wp - wp / (_F32(1) + tfn)

    def field_scores(self, counts: Mapping[str, int]) -> np.ndarray | None:
        """This field's BooleanQuery scores of every document (float32), None if no term matches.

        The clause scores are summed per document in a double, clause after clause in query
        order (``np.bincount`` adds its weights in input order), then rounded to float as
        BooleanQuery returns its score.
        """
        found = self.clauses(counts)
        if found is None:
            return None
        return np.bincount(found[0], weights=found[1], minlength=self.n_docs).astype(np.float32)


class BM25Searcher:
    """Scores analyzed queries against a :class:`LuceneIndex` exactly as Lucene does."""

    # The pruned search skips documents that cannot reach the top k. In a small corpus, or with
    # few documents per hit asked for, there is little to skip and its per-query cost makes it
    # slower than scoring every document; same results either way. Crossovers measured on Zipf
    # corpora (benchmarks/bm25_pruning.py shows SciFact and NFCorpus on the exhaustive side):
    # top 1000 at about 20k documents, top 10 between 5k and 10k (2026-12-04).
    PRUNE_MIN_DOCS: ClassVar[int] = 10_000
    PRUNE_MIN_DOCS_PER_HIT: ClassVar[int] = 25
    # The pruned search probes a list holding at least 1/DENSE_RATIO of the documents through a
    # bitmap of them (built on the term's first use; 0: never): at 32 the bitmap is no larger
    # than the list's doc ids. Same results either way.
    DENSE_RATIO: ClassVar[int] = 32

    def __init__(
        self,
        index: LuceneIndex,
        k1: float = 0.9,
        b: float = 0.4,
        field_weights: Mapping[str, float] | None = None,
        exhaustive: bool = False,
    ) -> None:
        weights = dict(field_weights or {})
        self.index = index
        n = len(index.doc_ids)
        self.scorers = [_FieldScorer(f, k1, b, weights.get(name, 1.0), n) for name, f in index.fields.items()]
        # Rank of each document's id in byte order (Lucene's STRING_VAL sort of the id field;
        # UTF-8 byte order equals code point order).
        order = sorted(range(n), key=index.doc_ids.__getitem__)
        self.by_rank = np.asarray(order, dtype=np.int64)
        self.id_rank = np.empty(n, dtype=np.uint64)
        self.id_rank[order] = np.arange(n, dtype=np.uint64)
        self.pruned = _pruned_searcher(self.scorers, self.id_rank, n, self.DENSE_RATIO) if not exhaustive else None

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """float32 Lucene scores of every document; 0 where no query term matches."""
        counts = Counter(query_terms)
        n = len(self.index.doc_ids)
        if len(self.scorers) == 1:
            scores = self.scorers[0].field_scores(counts)
            return np.zeros(n, dtype=np.float32) if scores is None else scores
        # Each field's BooleanQuery sums its clauses in a double and returns a float (one
        # bincount over field-major bins does them all); the outer one sums those floats in a
        # double (a field without matches adds 0).
        found = [(i, c) for i, c in enumerate(s.clauses(counts) for s in self.scorers) if c is not None]
        if not found:
            return np.zeros(n, dtype=np.float32)
        docs = np.concatenate([c[0] + i * n for i, c in found])
        weights = np.concatenate([c[1] for _, c in found])
        per_field = np.bincount(docs, weights=weights, minlength=len(self.scorers) * n).astype(np.float32)
        per_field = per_field.reshape(len(self.scorers), n)
        total = per_field[0].astype(np.float64)
        for more in per_field[1:]:
            total += more
        summed: np.ndarray = total.astype(np.float32)
        return summed

    def search(self, query_terms: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` (doc indices, float32 scores) in Lucene/Anserini order: score descending,
        then doc id ascending. By the compiled pruned search where :attr:`pruned` is set, else
        by :meth:`search_exhaustive`; both give the same arrays."""
        if not self._prunes(k):
            return self.search_exhaustive(query_terms, k)
        return self._search_clauses(self._clauses(query_terms), k)

    def _clauses(self, query_terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The pruned search's clauses of a query: (field index int32, term id int64, float32
        weight), grouped by field in field order; None if no term occurs."""
        counts = Counter(query_terms)
        fields, terms, weights = [], [], []
        for i, scorer in enumerate(self.scorers):
            found = scorer.weights(counts)
            if found is not None:
                fields.append(np.full(len(found[0]), i, dtype=np.int32))
                terms.append(found[0])
                weights.append(found[1])
        if not terms:
            return None
        return np.concatenate(fields), np.concatenate(terms), np.concatenate(weights)

    def _search_clauses(
        self, clauses: tuple[np.ndarray, np.ndarray, np.ndarray] | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.pruned is not None
        if clauses is None or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        docs, scores = self.pruned.search(*clauses, k)
        return np.frombuffer(docs, dtype=np.int64), np.frombuffer(scores, dtype=np.float32)

    def search_many(
        self, queries: Sequence[Sequence[str]], k: int, threads: int = 2
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """:meth:`search` of each query, in order; the pruned search runs on ``threads`` threads
        (it releases the GIL), after the upper bounds of every term not searched before are
        computed, on as many threads (a term's first search would otherwise compute them, one
        term at a time)."""
        if not self._prunes(k):
            return [self.search(q, k) for q in queries]
        assert self.pruned is not None
        clauses = [self._clauses(q) for q in queries]
        found = [c for c in clauses if c is not None]
        if found:
            fields = np.concatenate([c[0] for c in found])
            terms = np.concatenate([c[1] for c in found])
            self.pruned.prepare(fields, terms, max(1, threads))
        if threads <= 1 or len(queries) < 2:
            return [self._search_clauses(c, k) for c in clauses]
        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(lambda c: self._search_clauses(c, k), clauses))

    def _prunes(self, k: int) -> bool:
        """Whether a top-``k`` search takes the pruned path."""
        n = len(self.index.doc_ids)
        return self.pruned is not None and n >= self.PRUNE_MIN_DOCS and n >= self.PRUNE_MIN_DOCS_PER_HIT * k

    def search_exhaustive(self, query_terms: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` by scoring every document (:meth:`scores`).

        The order (score descending, then doc id ascending) is that of one uint64 key per
        matching document: the complemented bits of its positive float32 score (which order as
        the scores do) above the rank of its id; the top k keys are partitioned out and sorted.
        """
        scores = self.scores(query_terms)
        cand = np.flatnonzero(scores > 0)
        if k <= 0 or cand.size == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        bits = scores[cand].view(np.uint32) ^ np.uint32(0xFFFFFFFF)
        keys = (bits.astype(np.uint64) << np.uint64(32)) | self.id_rank[cand]
        if keys.size > k:
            keys = np.partition(keys, k - 1)[:k]
        keys.sort()
        docs = self.by_rank[(keys & np.uint64(0xFFFFFFFF)).astype(np.int64)]
        top = ((keys >> np.uint64(32)).astype(np.uint32) ^ np.uint32(0xFFFFFFFF)).view(np.float32)
        return docs, top


def _pruned_searcher(
    scorers: Sequence[_FieldScorer], id_rank: np.ndarray, n_docs: int, dense: int
) -> _search.Searcher | None:
    """The compiled pruned search over these fields; None where it is not built, turned off
    (``BEIRCTL_NATIVE=0``), or a field weight is not positive (its bounds assume clauses >= 0)."""
    module = native.search_module()
    if module is None or not all(s.weight > 0 and np.isfinite(s.weight) for s in scorers):
        return None
    fields = [(s.field.indptr, s.field.docs, s.field.tfs, s.norms, s.cache) for s in scorers]
    searcher: _search.Searcher = module.Searcher(fields, id_rank, n_docs, dense=dense)
    return searcher


def anserini_tie_adjust(scores: np.ndarray) -> np.ndarray:
    """Anserini's ScoreTiesAdjusterReranker on a ranked float32 score list (float32 math)."""
    return anserini_tie_adjust_many([scores])[0]


def anserini_tie_adjust_many(lists: Sequence[np.ndarray]) -> list[np.ndarray]:
    """:func:`anserini_tie_adjust` of each ranked list (one query each), in one vectorized pass."""
    sizes = [len(x) for x in lists]
    return np.split(anserini_tie_adjust_flat(lists), np.cumsum(sizes[:-1], dtype=np.int64)) if lists else []


def anserini_tie_adjust_flat(lists: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`anserini_tie_adjust_many`'s lists, one after the other in one array."""
    sizes = [len(x) for x in lists]
    scores = np.concatenate(lists) if lists else np.empty(0, dtype=np.float32)
    # Math.round(score * 1e4f) / 1e4f: round half up of a float, then int -> float division.
    rounded = (np.floor(scores.astype(np.float64) * 1e4 + 0.5) / 1e4).astype(np.float32)
    firsts = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
    return _tie_adjust(rounded, firsts[np.asarray(sizes) > 0])


_EPS4, _EPS6 = _F32(1e-4), _F32(1e-6)


def _tie_loop_py(rounded: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The reranker's loop as Anserini writes it: the reference for :func:`_tie_adjust`."""
    dup = 0
    for i in range(len(rounded)):
        s = rounded[i]
        if i == 0 or out[i - 1] - s > _EPS4:
            dup = 0
        else:
            dup += 1
            s = _F32(s - _EPS6 * _F32(dup))
        out[i] = s
    return out


def _tie_adjust(r: np.ndarray, firsts: np.ndarray | None = None) -> np.ndarray:
    """:func:`_tie_loop_py` on non-increasing float32 scores ``r``, vectorized; bit for bit the same.

    ``firsts``: where the lists start when ``r`` holds several, one after the other (each is
    adjusted on its own, as if the loop restarted there); default ``[0]``.

    The loop starts a new group (``dup = 0``) at i when ``out[i-1] - r[i] > 1e-4``, else lowers
    ``r[i]`` by ``1e-6 * dup``. Since ``out[i-1] <= r[i-1]`` and float32 subtraction is monotonic,
    ``r[i-1] - r[i] <= 1e-4`` makes i a tie for sure; the other positions ("candidate starts")
    are group starts if ``out[i-1]`` is ``r[i-1]`` minus too little. So: assume every candidate
    start is a group start, compute every ``out`` at once, and check each candidate start
    against its predecessor's value. If all hold, the loop makes the same decisions (by
    induction over i) and so the same values. A failed check (a long tie group that reaches
    down to the next 4-decimal value) joins that group to the chain before it; the groups after
    it are redone one at a time until one starts a group again, after which the assumed values
    hold once more up to the next failed check.
    """
    n = len(r)
    out = r.astype(np.float32, copy=True)
    if n < 2:
        return out
    forced = np.zeros(n, dtype=bool)
    forced[0 if firsts is None else firsts] = True
    cand = (r[:-1] - r[1:]) > _EPS4
    cand |= forced[1:]
    starts = np.flatnonzero(cand) + 1
    bounds = np.concatenate((np.zeros(1, dtype=np.int64), starts, np.full(1, n, dtype=np.int64)))
    dup = np.arange(n, dtype=np.int64) - np.repeat(bounds[:-1], np.diff(bounds))
    tied = np.flatnonzero(dup)
    out[tied] = r[tied] - _EPS6 * dup[tied].astype(np.float32)
    ok = ((out[starts - 1] - r[starts]) > _EPS4) | forced[starts]
    failed = np.flatnonzero(~ok)  # candidate starts whose check fails under the assumption
    f = 0
    while f < failed.size:
        j = int(failed[f])
        chain = int(bounds[j])  # the group before starts[j] holds its assumed values
        while j < len(starts):
            s, e = int(starts[j]), int(bounds[j + 2])
            if forced[s] or _F32(out[s - 1] - r[s]) > _EPS4:
                # A group start after all: group j keeps its assumed values (it was not
                # touched), so the precomputed checks hold again up to the next failed one.
                break
            out[s:e] = r[s:e] - _EPS6 * np.arange(s - chain, e - chain, dtype=np.float32)
            j += 1
        f = int(np.searchsorted(failed, j, side="right"))
    return out

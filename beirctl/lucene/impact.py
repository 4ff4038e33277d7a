"""A quantized impact index searched exactly as Anserini searches a ``-impact -pretokenized`` index.

Pyserini's learned-sparse encoders (``pyserini.encode._splade``, ``_unicoil``) and Anserini's
ONNX encoders quantize a float weight ``w`` to ``round(w / 5 * 256)``. Anserini indexes a
``JsonVectorCollection`` by repeating each token ``weight`` times (a zero weight drops the token),
so a document's term frequency is its integer impact; a query is a ``BooleanQuery`` of term
queries boosted by their integer weights under ``ImpactSimilarity`` (``boost * freq``). A score is
therefore an exact integer dot product. Hits are sorted by score, then external doc id
(``BREAK_SCORE_TIES_BY_DOCID``); Anserini's ``ScoreTiesAdjusterReranker`` then rounds scores to
1e-4 (in double) and lowers the n-th tied hit by n * 1e-6 (in float32): the run files' scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WEIGHT_RANGE = 5
QUANT_RANGE = 256


def quantize(weights: np.ndarray) -> np.ndarray:
    """Pyserini's ``round(weight / 5 * 256)`` of float32 weights (Python's round: half to even)."""
    return np.rint(np.asarray(weights, dtype=np.float64) / WEIGHT_RANGE * QUANT_RANGE).astype(np.int64)


def quantize_csr(matrix: Any) -> Any:
    """A csr matrix of float weights as integer impacts, zeros dropped (as Anserini drops them)."""
    import scipy.sparse

    out = scipy.sparse.csr_matrix(matrix, copy=True)
    out.data = quantize(out.data).astype(np.int32)
    out.eliminate_zeros()
    return out


def adjust_ties(scores: np.ndarray) -> np.ndarray:
    """Anserini's ``ScoreTiesAdjusterReranker`` on a best-first list of scores, in float32."""
    out = np.empty(len(scores), dtype=np.float32)
    gap, step = np.float32(1e-4), np.float32(1e-6)
    # (float) (Math.round((double) score * 1e4) / 1e4): Math.round(double) is floor(y + 1/2),
    # computed exactly (y - floor(y) is exact, y + 0.5 may not be).
    y = np.asarray(scores, dtype=np.float32).astype(np.float64) * 1e4
    whole = np.floor(y)
    whole += y - whole >= 0.5
    four = (whole / 1e4).astype(np.float32)
    dup = 0
    for i, rounded in enumerate(four):
        if i == 0 or out[i - 1] - rounded > gap:
            dup = 0
        else:
            dup += 1
            rounded = np.float32(rounded - np.float32(step * np.float32(dup)))
        out[i] = rounded
    return out


class ImpactIndex:
    """Integer impacts, term-major (csr: vocabulary × documents), and exact top-k search."""

    def __init__(self, doc_ids: list[str], impacts: Any) -> None:
        """``impacts``: documents × vocabulary, non-negative integers (see :func:`quantize_csr`)."""
        import scipy.sparse

        docs = scipy.sparse.csr_matrix(impacts)
        if docs.shape[0] != len(doc_ids):
            raise ValueError(f"{docs.shape[0]} impact rows for {len(doc_ids)} documents")
        self.doc_ids = doc_ids
        self.postings = docs.T.tocsr()
        self.postings.data = self.postings.data.astype(np.int64)
        self.postings.sort_indices()
        self.df = np.diff(self.postings.indptr)
        # Lucene sorts ties by the id's UTF-8 bytes: the same order as Python's str comparison.
        order = sorted(range(len(doc_ids)), key=doc_ids.__getitem__)
        self.id_rank = np.empty(len(doc_ids), dtype=np.int64)
        self.id_rank[order] = np.arange(len(doc_ids))

    @property
    def num_docs(self) -> int:
        return len(self.doc_ids)

    def query_terms(self, terms: np.ndarray, weights: np.ndarray, min_idf: float | None) -> tuple[Any, Any]:
        """The query's positive-weight terms that Pyserini's ``LuceneImpactSearcher`` keeps: with
        ``min_idf`` a float, those with ``log(N / df) > min_idf`` (Pyserini's default 0 drops terms
        in no document and terms in every document); ``None`` keeps every term (Anserini's
        ``SearchCollection``)."""
        terms = np.asarray(terms, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.int64)
        keep = (weights > 0) & (terms < self.df.shape[0])
        terms, weights = terms[keep], weights[keep]
        if min_idf is not None:
            df = self.df[terms]
            with np.errstate(divide="ignore"):
                idf = np.log(self.num_docs / df.astype(np.float64))
            keep = (df > 0) & (idf > min_idf)
            terms, weights = terms[keep], weights[keep]
        return terms, weights

    def scores(self, terms: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Integer scores of every document (``sum of query weight × impact``)."""
        p = self.postings
        starts, ends = p.indptr[terms], p.indptr[terms + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            return np.zeros(self.num_docs, dtype=np.int64)
        # Every posting of the query's terms, gathered without a Python loop over terms.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        contrib = p.data[offsets] * np.repeat(weights, lengths)
        # bincount adds in float64: exact for integers below 2**53.
        return np.bincount(p.indices[offsets], weights=contrib, minlength=self.num_docs).astype(np.int64)

    def search(
        self, terms: np.ndarray, weights: np.ndarray, k: int, min_idf: float | None = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (document positions, integer scores), best first; ties by doc id."""
        terms, weights = self.query_terms(terms, weights, min_idf)
        score = self.scores(terms, weights)
        hits = np.flatnonzero(score > 0)
        if k <= 0 or hits.size == 0:
            return hits[:0], score[:0]
        # One sortable key: higher score first, then the lower doc id.
        key = score[hits] * self.num_docs + (self.num_docs - 1 - self.id_rank[hits])
        if hits.size > k:
            top = np.argpartition(-key, k - 1)[:k]
            hits, key = hits[top], key[top]
        best = np.argsort(-key, kind="stable")
        return hits[best], score[hits[best]]

"""An in-memory inverted index with Lucene's field statistics and one-byte length norms."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from beirctl.atomic import atomic_path
from beirctl.lucene.analysis import EnglishAnalyzer

FORMAT_VERSION = 1

# --- org.apache.lucene.util.SmallFloat: the 4-significant-bit "int4" encoding of doc lengths ---
# Lengths below NUM_FREE_VALUES (= 255 - longToInt4(Integer.MAX_VALUE) = 24) are stored as is;
# larger ones as 24 + int4(length - 24), exact up to 39 and lossy (rounded down) above.
_NUM_FREE_VALUES = 24


def _long_to_int4(i: np.ndarray) -> np.ndarray:
    i = i.astype(np.int64)
    num_bits = np.zeros_like(i)
    nz = i > 0
    num_bits[nz] = np.floor(np.log2(i[nz])).astype(np.int64) + 1
    shift = np.maximum(num_bits - 4, 0)
    normal = (((i >> shift) & 0x07) | ((shift + 1) << 3)).astype(np.int64)
    return np.where(num_bits < 4, i, normal)


def _int4_to_long(i: np.ndarray) -> np.ndarray:
    i = i.astype(np.int64)
    bits = i & 0x07
    shift = (i >> 3) - 1
    return np.where(shift == -1, bits, (bits | 0x08) << np.maximum(shift, 0))


def int_to_byte4(lengths: np.ndarray) -> np.ndarray:
    """SmallFloat.intToByte4: the norm byte BM25Similarity.computeNorm stores for a length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    enc = np.where(
        lengths < _NUM_FREE_VALUES,
        lengths,
        _NUM_FREE_VALUES + _long_to_int4(np.maximum(lengths - _NUM_FREE_VALUES, 0)),
    )
    return enc.astype(np.uint8)


def byte4_to_int(norms: np.ndarray) -> np.ndarray:
    """SmallFloat.byte4ToInt: the (approximate) length a norm byte decodes to."""
    b = np.asarray(norms, dtype=np.int64)
    dec = np.where(b < _NUM_FREE_VALUES, b, _NUM_FREE_VALUES + _int4_to_long(np.maximum(b - _NUM_FREE_VALUES, 0)))
    return dec.astype(np.int64)


@dataclass
class FieldIndex:
    """Postings of one field: term-major CSR (``indptr`` over ``docs``/``tfs``) plus statistics.

    ``lengths`` are the exact token counts per document (0: no tokens in the field); Lucene
    only keeps their norm byte. ``doc_count`` counts documents with at least one token, as
    Lucene's ``CollectionStatistics.docCount`` does, and ``sum_ttf`` all tokens.
    """

    terms: list[str]
    indptr: np.ndarray
    docs: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray

    def __post_init__(self) -> None:
        self.vocab = {t: i for i, t in enumerate(self.terms)}

    @property
    def doc_count(self) -> int:
        return int(np.count_nonzero(self.lengths))

    @property
    def sum_ttf(self) -> int:
        return int(self.lengths.sum())

    @property
    def norms(self) -> np.ndarray:
        return int_to_byte4(self.lengths)

    def doc_freq(self) -> np.ndarray:
        return np.diff(self.indptr)

    @classmethod
    def from_ids(cls, terms: Sequence[str], ids: np.ndarray, counts: np.ndarray) -> FieldIndex:
        """The index of :meth:`EnglishAnalyzer.analyze_ids`'s output (same as ``build``)."""
        n_docs = len(counts)
        stride = max(n_docs, 1)
        doc_idx = np.repeat(np.arange(n_docs, dtype=np.int64), counts)
        keep = ids >= 0
        term_ids, doc_idx = ids[keep], doc_idx[keep]
        lengths = np.bincount(doc_idx, minlength=n_docs)
        # Sort terms lexicographically (like Lucene's term dictionary) so the layout is canonical.
        order = sorted(range(len(terms)), key=terms.__getitem__)
        remap = np.empty(len(terms), dtype=np.int64)
        remap[order] = np.arange(len(terms))
        keys = remap[term_ids] * stride + doc_idx
        keys.sort()
        if keys.size:
            first = np.empty(keys.size, dtype=bool)
            first[0] = True
            np.not_equal(keys[1:], keys[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            tfs = np.diff(np.append(starts, keys.size))
            keys = keys[starts]
        else:
            tfs = keys
        rows = keys // stride
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(terms)), out=indptr[1:])
        return cls(
            terms=[terms[i] for i in order],
            indptr=indptr,
            docs=(keys - rows * stride).astype(np.int32),
            tfs=tfs.astype(np.int32),
            lengths=lengths.astype(np.int32),
        )

    @classmethod
    def build(cls, docs_terms: Sequence[Sequence[str]]) -> FieldIndex:
        vocab: dict[str, int] = {}
        ids: list[int] = []
        lengths = np.fromiter((len(t) for t in docs_terms), dtype=np.int64, count=len(docs_terms))
        for terms in docs_terms:
            ids.extend(vocab.setdefault(t, len(vocab)) for t in terms)
        n_docs = len(docs_terms)
        term_ids = np.asarray(ids, dtype=np.int64)
        doc_idx = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        # Sort terms lexicographically (like Lucene's term dictionary) so the layout is canonical.
        terms = sorted(vocab)
        remap = np.empty(len(vocab), dtype=np.int64)
        remap[[vocab[t] for t in terms]] = np.arange(len(terms))
        keys, tfs = np.unique(remap[term_ids] * max(n_docs, 1) + doc_idx, return_counts=True)
        rows = keys // max(n_docs, 1)
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(terms)), out=indptr[1:])
        return cls(
            terms=terms,
            indptr=indptr,
            docs=(keys % max(n_docs, 1)).astype(np.int32),
            tfs=tfs.astype(np.int32),
            lengths=lengths.astype(np.int32),
        )


class FieldBuilder:
    """One field's index built chunk by chunk from :meth:`EnglishAnalyzer.analyze_ids` outputs.

    Each chunk's terms are merged into one vocabulary (ids in first-seen order) and its postings
    kept as int32 (term id, document, tf), sorted by term then document; :meth:`finish` scatters
    them into the term-major arrays. The result is the same as :meth:`FieldIndex.from_ids` of
    the whole corpus in one call (a single chunk goes through ``from_ids`` itself).
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.lengths: list[np.ndarray] = []
        self.n_docs = 0
        self._first: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None

    def add(self, terms: Sequence[str], ids: np.ndarray, counts: np.ndarray) -> None:
        """Append the documents of one ``analyze_ids`` result."""
        if self._first is None and not self.lengths:
            self._first = (terms, ids, counts)  # kept raw until a second chunk comes
            return
        if self._first is not None:
            first, self._first = self._first, None
            self._add(*first)
        self._add(terms, ids, counts)

    def _add(self, terms: Sequence[str], ids: np.ndarray, counts: np.ndarray) -> None:
        vocab = self.vocab
        remap = np.fromiter((vocab.setdefault(t, len(vocab)) for t in terms), dtype=np.int64, count=len(terms))
        n = len(counts)
        stride = max(n, 1)
        doc_idx = np.repeat(np.arange(n, dtype=np.int64), counts)
        keep = ids >= 0
        doc_idx = doc_idx[keep]
        keys = remap[ids[keep]] * stride + doc_idx
        self.lengths.append(np.bincount(doc_idx, minlength=n).astype(np.int32))
        del keep, doc_idx
        keys.sort()
        if keys.size:
            first = np.empty(keys.size, dtype=bool)
            first[0] = True
            np.not_equal(keys[1:], keys[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            tfs = np.diff(np.append(starts, keys.size)).astype(np.int32)
            keys = keys[starts]
        else:
            tfs = np.empty(0, dtype=np.int32)
        rows = keys // stride
        docs = (keys - rows * stride + self.n_docs).astype(np.int32)
        self.parts.append((rows.astype(np.int32), docs, tfs))
        self.n_docs += n

    def finish(self) -> FieldIndex:
        if self._first is not None or not self.lengths:
            return FieldIndex.from_ids(*(self._first or ([], np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))))
        terms = list(self.vocab)
        n_terms = len(terms)
        order = sorted(range(n_terms), key=terms.__getitem__)
        df = np.zeros(n_terms, dtype=np.int64)
        for term_ids, _, _ in self.parts:
            df += np.bincount(term_ids, minlength=n_terms)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(df[order], out=indptr[1:])
        # Where each term's next posting goes: its row start, advanced chunk by chunk. Chunks
        # hold increasing documents, so each row ends up sorted by document.
        rank = np.empty(n_terms, dtype=np.int64)
        rank[order] = np.arange(n_terms)
        fill = indptr[rank]
        docs = np.empty(int(indptr[-1]), dtype=np.int32)
        tfs = np.empty(int(indptr[-1]), dtype=np.int32)
        while self.parts:
            term_ids, part_docs, part_tfs = self.parts.pop(0)
            counts = np.bincount(term_ids, minlength=n_terms)
            # postings are sorted by term id: the j-th of a term sits at j - (its first index)
            first = np.cumsum(counts) - counts
            pos = fill[term_ids] + (np.arange(term_ids.size, dtype=np.int64) - first[term_ids])
            docs[pos] = part_docs
            tfs[pos] = part_tfs
            fill += counts
        return FieldIndex(
            terms=[terms[i] for i in order],
            indptr=indptr,
            docs=docs,
            tfs=tfs,
            lengths=np.concatenate(self.lengths),
        )


def _java_trim_empty(s: str) -> bool:
    """String.trim().isEmpty(): Anserini skips documents whose contents are blank."""
    return all(c <= " " for c in s)


@dataclass
class LuceneIndex:
    """Documents (in index order) and their fields, as Anserini indexes a BEIR corpus.

    ``flat``: one field ``contents`` = title + "\\n" + text (BeirFlatCollection).
    ``multifield``: ``contents`` = text and ``title`` = title (BeirMultifieldCollection).
    Documents with blank ``contents`` are skipped, as Anserini's DefaultLuceneDocumentGenerator
    does (EmptyDocumentException).
    """

    doc_ids: list[str]
    fields: dict[str, FieldIndex]
    mode: str

    @classmethod
    def build(cls, ids: Sequence[str], titles: Sequence[str], texts: Sequence[str], mode: str = "flat") -> LuceneIndex:
        return cls.build_chunks([(ids, titles, texts)], mode)

    @classmethod
    def build_chunks(
        cls, chunks: Iterable[tuple[Sequence[str], Sequence[str], Sequence[str]]], mode: str = "flat"
    ) -> LuceneIndex:
        """The index of documents given as ``(ids, titles, texts)`` chunks, in corpus order.

        Only one chunk's texts and analysis are in memory at a time (plus the postings so far);
        the index is the same whatever the chunking.
        """
        if mode not in ("flat", "multifield"):
            raise ValueError(f"unknown field mode {mode!r} (flat or multifield)")
        analyzer = EnglishAnalyzer()  # one analyzer: its token cache carries over between chunks
        builders = {"contents": FieldBuilder(), **({"title": FieldBuilder()} if mode == "multifield" else {})}
        doc_ids: list[str] = []
        for ids, titles, texts in chunks:
            contents = [f"{t}\n{x}" for t, x in zip(titles, texts)] if mode == "flat" else list(texts)
            keep = [i for i, c in enumerate(contents) if not _java_trim_empty(c)]
            if len(keep) < len(contents):
                contents = [contents[i] for i in keep]
                titles = [titles[i] for i in keep]
                doc_ids.extend(ids[i] for i in keep)
            else:
                doc_ids.extend(ids)
            builders["contents"].add(*analyzer.analyze_ids(contents))
            del contents
            if mode == "multifield":
                builders["title"].add(*analyzer.analyze_ids(titles))
        return cls(doc_ids=doc_ids, fields={name: b.finish() for name, b in builders.items()}, mode=mode)

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        meta = {"version": FORMAT_VERSION, "mode": self.mode, "doc_ids": self.doc_ids, "fields": {}}
        for name, f in self.fields.items():
            meta["fields"][name] = f.terms  # type: ignore[index]
            for attr in ("indptr", "docs", "tfs", "lengths"):
                arrays[f"{name}.{attr}"] = getattr(f, attr)
        arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> LuceneIndex | None:
        """The index saved at ``path``, or None if it is missing or of another format."""
        try:
            with np.load(path) as z:
                meta = json.loads(z["meta"].tobytes().decode("utf-8"))
                if meta.get("version") != FORMAT_VERSION:
                    return None
                fields = {
                    name: FieldIndex(
                        terms=terms,
                        indptr=z[f"{name}.indptr"],
                        docs=z[f"{name}.docs"],
                        tfs=z[f"{name}.tfs"],
                        lengths=z[f"{name}.lengths"],
                    )
                    for name, terms in meta["fields"].items()
                }
        except (OSError, ValueError, KeyError):
            return None
        return cls(doc_ids=meta["doc_ids"], fields=fields, mode=meta["mode"])

"""An in-memory inverted index with Lucene's field statistics and one-byte length norms."""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from beirctl.atomic import atomic_path, cache_write_errors, discard
from beirctl.lucene.analyzer import EnglishAnalyzer

# 2: a "checksum" member holds the crc32 of every other member (format 1 files are rebuilt).
FORMAT_VERSION = 2

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


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort ``keys`` in place; its distinct values and how often each occurs (np.unique with
    counts, without its copies)."""
    keys.sort()
    if not keys.size:
        return keys, np.empty(0, dtype=np.int64)
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    return keys[starts], np.diff(np.append(starts, keys.size))


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
        # (term, doc) keys in 32 bits where they fit: numpy sorts them twice as fast as 64-bit ones.
        key_type = np.int32 if len(terms) * stride < 2**31 else np.int64
        keep = ids >= 0
        doc_idx = np.repeat(np.arange(n_docs, dtype=key_type), counts)[keep]
        lengths = np.bincount(doc_idx, minlength=n_docs)
        # Sort terms lexicographically (like Lucene's term dictionary) so the layout is canonical.
        order = sorted(range(len(terms)), key=terms.__getitem__)
        remap = np.empty(len(terms), dtype=key_type)
        remap[order] = np.arange(len(terms), dtype=key_type)
        keys = remap[ids[keep]]
        keys *= stride
        keys += doc_idx
        keys, tfs = _runs(keys)
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

    Each chunk's terms are merged into one vocabulary (ids in first-seen order) and its postings,
    sorted by term then document, are spilled to an anonymous temporary file: the number of
    postings per term id (int32), their documents (int32) and term frequencies (uint16, or int32
    if one is larger). :meth:`finish` reads them back chunk by chunk and scatters them into the
    term-major arrays, so memory holds the finished index plus one chunk. The result is the same
    as :meth:`FieldIndex.from_ids` of the whole corpus in one call (a single chunk goes through
    ``from_ids`` itself, so small corpora are indexed exactly as before, without a file).
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.lengths: list[np.ndarray] = []
        self.n_docs = 0
        self._parts: list[tuple[int, int, type]] = []  # (terms, postings, tf dtype) per chunk
        self._spill: IO[bytes] | None = None
        self._first: tuple[Sequence[str], np.ndarray, np.ndarray] | None = None

    def add(self, terms: Sequence[str], ids: np.ndarray, counts: np.ndarray) -> None:
        """Append the documents of one ``analyze_ids`` result."""
        if self._first is None and not self.lengths:
            self._first = (terms, ids, counts)  # kept as is until a second chunk comes
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
        keep = ids >= 0
        doc_idx = np.repeat(np.arange(n, dtype=np.int32), counts)[keep]
        keys = remap[ids[keep]]
        del keep
        keys *= stride
        keys += doc_idx
        self.lengths.append(np.bincount(doc_idx, minlength=n).astype(np.int32))
        del doc_idx
        keys, tfs = _runs(keys)
        rows = keys // stride
        keys -= rows * stride
        keys += self.n_docs
        per_term = np.bincount(rows, minlength=len(vocab))
        del rows
        if self.df.size < per_term.size:
            self.df = np.concatenate([self.df, np.zeros(per_term.size - self.df.size, dtype=np.int64)])
        self.df += per_term
        tf_type = np.uint16 if tfs.size == 0 or int(tfs.max()) <= np.iinfo(np.uint16).max else np.int32
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="beirctl-postings-")
        for part in (per_term.astype(np.int32), keys.astype(np.int32), tfs.astype(tf_type)):
            part.tofile(self._spill)
        self._parts.append((per_term.size, keys.size, tf_type))
        self.n_docs += n

    def finish(self) -> FieldIndex:
        if self._first is not None or not self.lengths:
            empty = np.empty(0, dtype=np.int64)
            return FieldIndex.from_ids(*(self._first or ([], empty, empty)))
        assert self._spill is not None
        terms = list(self.vocab)
        n_terms = len(terms)
        order = sorted(range(n_terms), key=terms.__getitem__)
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(self.df[order], out=indptr[1:])
        # Where each term id's next posting goes: its row start, advanced chunk by chunk. Chunks
        # hold increasing documents, so each row ends up sorted by document.
        rank = np.empty(n_terms, dtype=np.int64)
        rank[order] = np.arange(n_terms)
        fill = indptr[rank]
        del rank
        docs = np.empty(int(indptr[-1]), dtype=np.int32)
        tfs = np.empty(int(indptr[-1]), dtype=np.int32)
        with self._spill as spill:
            spill.seek(0)
            for v, nnz, tf_type in self._parts:
                per_term = np.fromfile(spill, dtype=np.int32, count=v)
                # the postings of term id g are the per_term[g] after those of the ids below g
                pos = np.repeat(fill[:v] - (np.cumsum(per_term, dtype=np.int64) - per_term), per_term)
                pos += np.arange(nnz, dtype=np.int64)
                docs[pos] = np.fromfile(spill, dtype=np.int32, count=nnz)
                tfs[pos] = np.fromfile(spill, dtype=tf_type, count=nnz)
                fill[:v] += per_term
                del pos
        self._spill = None
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
        """Write the index atomically; an OSError (disk full, read-only) is a one-line BeirctlError."""
        arrays: dict[str, np.ndarray] = {}
        meta = {"version": FORMAT_VERSION, "mode": self.mode, "doc_ids": self.doc_ids, "fields": {}}
        for name, f in self.fields.items():
            meta["fields"][name] = f.terms  # type: ignore[index]
            for attr in ("indptr", "docs", "tfs", "lengths"):
                arrays[f"{name}.{attr}"] = getattr(f, attr)
        arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)
        arrays["checksum"] = np.frombuffer(_arrays_crc(arrays).encode(), dtype=np.uint8)
        with cache_write_errors(path, "lucene index cache"), atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path) -> LuceneIndex | None:
        """The index saved at ``path``; None if there is none or it is of another format.

        A file that does not check out (unreadable, truncated, a member whose crc32 differs) is
        deleted, with a warning, so that the caller rebuilds it.
        """
        if not path.is_file():
            return None
        try:
            with np.load(path) as z:
                if "checksum" not in z.files:
                    discard([path], None)  # format 1: no checksum to trust it by
                    return None
                arrays = {name: z[name] for name in z.files}
            if arrays.pop("checksum").tobytes().decode("ascii") != _arrays_crc(arrays):
                raise ValueError("crc32 differs")
            meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
            if meta.get("version") != FORMAT_VERSION:
                return None
            fields = {
                name: FieldIndex(
                    terms=terms,
                    indptr=arrays[f"{name}.indptr"],
                    docs=arrays[f"{name}.docs"],
                    tfs=arrays[f"{name}.tfs"],
                    lengths=arrays[f"{name}.lengths"],
                )
                for name, terms in meta["fields"].items()
            }
            return cls(doc_ids=meta["doc_ids"], fields=fields, mode=meta["mode"])
        except Exception as exc:  # whatever a damaged file raises (BadZipFile, EOFError, ValueError, ...)
            discard([path], f"{type(exc).__name__}: {exc}")
            return None


def _arrays_crc(arrays: dict[str, np.ndarray]) -> str:
    """crc32 of the arrays' names, dtypes, shapes and bytes, in name order."""
    crc = 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(f"{name}|{a.dtype.str}|{a.shape}|".encode(), crc)
        crc = zlib.crc32(a.data, crc)
    return f"{crc:08x}"

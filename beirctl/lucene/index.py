"""An in-memory inverted index with Lucene's field statistics and one-byte length norms."""

from __future__ import annotations

import collections
import contextlib
import itertools
import mmap
import multiprocessing
import os
import shutil
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from beirctl.atomic import atomic_path, cache_write_errors, discard, read_checked_json, write_checked_json
from beirctl.errors import BeirctlError
from beirctl.lucene import native
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.memory import gc_paused

# 2: an .npz whose "checksum" member holds the crc32 of every other member (format 1: without).
# 3: one file of memory-mappable arrays behind a header with a crc32 per array (see save).
# Files of other formats are deleted and rebuilt.
FORMAT_VERSION = 3

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


_NO_NORMS = np.empty(0, dtype=np.uint8)  # FieldIndex's "compute the norms" default


def compact_tfs(tfs: np.ndarray) -> np.ndarray:
    """``tfs`` in the smallest of uint8, uint16 and int32 that holds them all."""
    top = int(tfs.max()) if tfs.size else 0
    dtype = np.uint8 if top <= 0xFF else np.uint16 if top <= 0xFFFF else np.int32
    return tfs if tfs.dtype == dtype else tfs.astype(dtype)


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

    ``docs`` are int32 document indices, ascending within each term; ``tfs`` their term
    frequencies in the smallest of uint8, uint16 and int32 that holds them. ``lengths`` are the
    exact token counts per document (0: no tokens in the field); Lucene only keeps their norm
    byte, ``norms``. ``doc_count`` counts documents with at least one token, as Lucene's
    ``CollectionStatistics.docCount`` does, and ``sum_ttf`` all tokens. ``norms``, ``doc_count``
    and ``sum_ttf`` are computed from ``lengths`` unless given (a loaded index stores them).
    Any of the arrays may be a read-only memory map.
    """

    terms: list[str]
    indptr: np.ndarray
    docs: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray
    norms: np.ndarray = field(default_factory=lambda: _NO_NORMS)
    doc_count: int = -1
    sum_ttf: int = -1

    def __post_init__(self) -> None:
        self.vocab = {t: i for i, t in enumerate(self.terms)}
        if self.norms is _NO_NORMS:
            self.norms = int_to_byte4(self.lengths)
        if self.doc_count < 0:
            self.doc_count = int(np.count_nonzero(self.lengths))
        if self.sum_ttf < 0:
            self.sum_ttf = int(self.lengths.sum(dtype=np.int64))

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
            tfs=compact_tfs(tfs),
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
            tfs=compact_tfs(tfs),
            lengths=lengths.astype(np.int32),
        )


@dataclass
class ChunkPostings:
    """One chunk's postings of a field in its own term ids (``terms``, first-seen order):
    ``per_term[i]`` postings of term i, term after term, each term's by ascending document;
    ``docs`` are the chunk's document indices. What :meth:`FieldBuilder.add_postings` takes."""

    terms: list[str]
    per_term: np.ndarray
    docs: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_ids(cls, terms: Sequence[str], ids: np.ndarray, counts: np.ndarray) -> ChunkPostings:
        """The postings of one :meth:`EnglishAnalyzer.analyze_ids` result."""
        if native.compiled():  # two linear passes instead of a sort: the same arrays, ~8x faster
            per_term, docs, tfs, lengths = native.postings(ids, counts, len(terms))
            return cls(list(terms), per_term, docs, compact_tfs(tfs), lengths)
        n = len(counts)
        stride = max(n, 1)
        keep = ids >= 0
        key_type = np.int32 if len(terms) * stride < 2**31 else np.int64
        doc_idx = np.repeat(np.arange(n, dtype=key_type), counts)[keep]
        keys = ids[keep].astype(key_type)
        del keep
        keys *= stride
        keys += doc_idx
        lengths = np.bincount(doc_idx, minlength=n).astype(np.int32)
        del doc_idx
        keys, tfs = _runs(keys)
        rows = keys // stride
        keys -= rows * stride
        per_term = np.bincount(rows, minlength=len(terms)).astype(np.int32)
        return cls(list(terms), per_term, keys.astype(np.int32), compact_tfs(tfs), lengths)


class FieldBuilder:
    """One field's index built chunk by chunk from :meth:`EnglishAnalyzer.analyze_ids` outputs.

    Each chunk's terms are merged into one vocabulary (ids in first-seen order); its postings,
    sorted by its own term ids then document (:class:`ChunkPostings`), are spilled to a
    temporary file: their documents (int32) and term frequencies (the smallest of uint8, uint16,
    int32 that holds the chunk's). :meth:`finish` reads them back chunk by chunk and scatters
    them into the term-major arrays, so memory holds the finished index plus one chunk. The
    result is the same as :meth:`FieldIndex.from_ids` of the whole corpus in one call (a single
    chunk goes through ``from_ids`` itself, so small corpora are indexed without a file).
    """

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.lengths: list[np.ndarray] = []
        self.n_docs = 0
        # per chunk: global ids of its terms, postings per term, first document, its spill
        # (file, byte offset of docs, of tfs, tf dtype)
        self._parts: list[tuple[np.ndarray, np.ndarray, int, tuple[IO[bytes], int, int, type]]] = []
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
        part = ChunkPostings.from_ids(terms, ids, counts)
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="beirctl-postings-")
        at = self._spill.seek(0, os.SEEK_END)
        part.docs.tofile(self._spill)
        part.tfs.tofile(self._spill)
        self.add_postings(
            part.terms, part.per_term, part.lengths, (self._spill, at, at + part.docs.nbytes, part.tfs.dtype.type)
        )

    def add_postings(
        self, terms: Sequence[str], per_term: np.ndarray, lengths: np.ndarray, spill: tuple[IO[bytes], int, int, type]
    ) -> None:
        """Append a chunk of documents whose :class:`ChunkPostings` (``terms``, ``per_term``,
        ``lengths``) has its docs and tfs in ``spill``: (file, offset of docs, offset of tfs,
        tf dtype). The file is read, not closed, by :meth:`finish`."""
        assert self._first is None
        vocab = self.vocab
        ids = list(map(vocab.get, terms))  # a C-level lookup; new terms get ids in first-seen order
        if None in ids:
            for i in [i for i, v in enumerate(ids) if v is None]:
                ids[i] = vocab.setdefault(terms[i], len(vocab))
        remap = np.array(ids, dtype=np.int64)
        if self.df.size < len(vocab):
            self.df = np.concatenate([self.df, np.zeros(len(vocab) - self.df.size, dtype=np.int64)])
        self.df[remap] += per_term
        self._parts.append((remap, per_term, self.n_docs, spill))
        self.lengths.append(lengths)
        self.n_docs += len(lengths)

    def finish(self) -> FieldIndex:
        if self._first is not None or not self.lengths:
            empty = np.empty(0, dtype=np.int64)
            return FieldIndex.from_ids(*(self._first or ([], empty, empty)))
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
        tfs = np.empty(int(indptr[-1]), dtype=np.result_type(*(sp[3] for *_, sp in self._parts)))
        if native.compiled():
            _scatter_parts(self._parts, docs, tfs, fill)
        else:
            _numpy_scatter(self._parts, docs, tfs, fill)
        for fh in {id(sp[0]): sp[0] for *_, sp in self._parts}.values():
            fh.close()
        self._parts, self._spill = [], None
        return FieldIndex(
            terms=[terms[i] for i in order],
            indptr=indptr,
            docs=docs,
            tfs=compact_tfs(tfs),
            lengths=np.concatenate(self.lengths),
        )


# Threads that scatter the chunks' postings in FieldBuilder.finish (each chunk's own rows).
SCATTER_THREADS = 2


def _scatter_parts(parts: list[Any], docs: np.ndarray, tfs: np.ndarray, fill: np.ndarray) -> None:
    """The compiled scatter of every chunk's postings (one pass, no position array: 4x faster than
    numpy), chunks side by side on :data:`SCATTER_THREADS` threads: the rows each chunk fills
    start where the chunks before it end (``fill`` advanced by their counts, computed first), so
    chunks write disjoint places in any order. The reads and the scatter release the GIL; most of
    the time is the first touch of the new arrays' pages, which threads also share (5M documents:
    1.4 GB)."""
    starts = []
    for remap, per_term, *_ in parts:
        starts.append(fill[remap])  # a copy: this chunk's rows start here
        fill[remap] += per_term
    for fh in {id(p[3][0]): p[3][0] for p in parts}.values():
        fh.flush()  # chunks may share one spill file: read by position (preadv), not seek + read
    threads = SCATTER_THREADS if hasattr(os, "preadv") else 1

    def one(i: int) -> None:
        remap, per_term, base, (fh, docs_at, tfs_at, tf_type) = parts[i]
        nnz = int(per_term.sum(dtype=np.int64))
        part_docs = _read_at(fh, docs_at, np.dtype(np.int32), nnz)
        part_tfs = _read_at(fh, tfs_at, np.dtype(tf_type), nnz)
        at = starts[i]
        native.scatter(docs, tfs, at, np.arange(len(at), dtype=np.int64), per_term, part_docs, part_tfs, base)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(len(parts))))


def _numpy_scatter(parts: list[Any], docs: np.ndarray, tfs: np.ndarray, fill: np.ndarray) -> None:
    """:func:`_scatter_parts` without the compiled scatter: chunk after chunk, by position arrays."""
    for remap, per_term, base, (fh, docs_at, tfs_at, tf_type) in parts:
        nnz = int(per_term.sum(dtype=np.int64))
        # the postings of the chunk's term i are the per_term[i] after those of its terms below i
        pos = np.repeat(fill[remap] - (np.cumsum(per_term, dtype=np.int64) - per_term), per_term)
        pos += np.arange(nnz, dtype=np.int64)
        fh.seek(docs_at)
        part_docs = np.fromfile(fh, dtype=np.int32, count=nnz)
        part_docs += base
        docs[pos] = part_docs
        del part_docs
        fh.seek(tfs_at)
        tfs[pos] = np.fromfile(fh, dtype=tf_type, count=nnz)
        fill[remap] += per_term
        del pos


def _read_at(fh: IO[bytes], offset: int, dtype: np.dtype[Any], count: int) -> np.ndarray:
    """``count`` items of ``dtype`` at ``offset`` of an open file; positional where the OS can
    (threads share file objects), else seek and read (one thread)."""
    if not hasattr(os, "preadv"):
        fh.seek(offset)
        return np.fromfile(fh, dtype=dtype, count=count)
    out = np.empty(count, dtype=dtype)
    view, done = out.data.cast("B"), 0
    while done < out.nbytes:
        got = os.preadv(fh.fileno(), [view[done:]], offset + done)
        if got <= 0:
            raise OSError(f"{fh.name}: {out.nbytes - done} bytes short at {offset + done}")
        done += got
    return out


_JAVA_WHITESPACE = "".join(map(chr, range(33)))  # what String.trim() removes: U+0000 to U+0020


def _java_trim_empty(s: str) -> bool:
    """String.trim().isEmpty(): Anserini skips documents whose contents are blank."""
    return not s.lstrip(_JAVA_WHITESPACE)


@dataclass(frozen=True)
class LazyChunk:
    """A chunk of documents read where it is analyzed: ``ids`` now, ``load()`` -> ``(titles,
    texts)`` later. In :meth:`LuceneIndex.build_chunks`' forked workers each worker reads and
    parses its own chunk, so the parent, which only merges, is not the bottleneck."""

    ids: Sequence[str]
    load: Callable[[], tuple[Sequence[str], Sequence[str]]]


Chunk = tuple[Sequence[str], Sequence[str], Sequence[str]] | LazyChunk


def _prepare(
    ids: Sequence[str], titles: Sequence[str], texts: Sequence[str], mode: str
) -> tuple[Sequence[str], dict[str, list[str]], list[int]]:
    """A chunk's kept document ids, its texts per field (blank documents dropped) and the
    positions of the dropped ones."""
    contents = [f"{t}\n{x}" for t, x in zip(titles, texts)] if mode == "flat" else list(texts)
    dropped = [i for i, c in enumerate(contents) if _java_trim_empty(c)]
    if dropped:
        skip = set(dropped)
        keep = [i for i in range(len(contents)) if i not in skip]
        contents = [contents[i] for i in keep]
        titles = [titles[i] for i in keep]
        ids = [ids[i] for i in keep]
    return ids, {"contents": contents, **({"title": list(titles)} if mode == "multifield" else {})}, dropped


def _prepared(chunk: Chunk, mode: str) -> tuple[Sequence[str], dict[str, list[str]], list[int]]:
    if isinstance(chunk, LazyChunk):
        return _prepare(chunk.ids, *chunk.load(), mode)
    return _prepare(*chunk, mode)


def index_processes() -> int:
    """Processes that build an index: the usable CPUs (at most 8) on Linux, where forking is
    cheap; else 1. Other threads (a progress bar's) do not matter: a worker takes no lock they
    may hold (no logging, no stdio) and leaves by ``os._exit``."""
    if not sys.platform.startswith("linux"):
        return 1
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _build_forked(
    analyzer: EnglishAnalyzer,
    chunks: Iterable[Chunk],
    builders: dict[str, FieldBuilder],
    doc_ids: list[str],
    n: int,
    mode: str,
) -> None:
    """Fork a worker per chunk (at most ``n`` at once) that analyzes it and writes its
    :class:`ChunkPostings` to a file; merge them into ``builders`` in chunk order. The parent
    reads the next chunk meanwhile (a :class:`LazyChunk` is read by its worker); workers
    inherit the texts, so nothing is pickled."""
    ctx = multiprocessing.get_context("fork")
    folder = Path(tempfile.mkdtemp(prefix="beirctl-index-"))
    pending: collections.deque[tuple[multiprocessing.process.BaseProcess, Path, Sequence[str]]] = collections.deque()

    def merge() -> None:
        proc, path, ids = pending.popleft()
        proc.join()
        if proc.exitcode != 0:
            error = path.with_suffix(".error")
            why = error.read_text(encoding="utf-8") if error.is_file() else f"exit code {proc.exitcode}"
            raise BeirctlError(f"indexing failed in a worker process ({why})")
        meta = orjson.loads(path.with_suffix(".json").read_bytes())
        dropped = set(meta.pop("dropped"))
        doc_ids.extend([d for i, d in enumerate(ids) if i not in dropped] if dropped else ids)
        for name, part in meta.items():
            fh = open(path, "rb")  # noqa: SIM115 -- one per field, kept open until its finish() closes it
            fh.seek(part["per_term"])
            per_term = np.fromfile(fh, dtype=np.int32, count=len(part["terms"]))
            lengths = np.fromfile(fh, dtype=np.int32, count=part["docs_count"])
            tf_type = np.dtype(part["tf_dtype"]).type
            builders[name].add_postings(part["terms"], per_term, lengths, (fh, part["docs"], part["tfs"], tf_type))
        path.unlink()  # the open handles keep it readable

    try:
        for i, chunk in enumerate(chunks):
            # A chunk in memory is prepared here before waiting for a worker: the parent's
            # reading overlaps the workers' analysis instead of leaving a core idle.
            work: LazyChunk | tuple[Sequence[str], dict[str, list[str]], list[int]]
            work = chunk if isinstance(chunk, LazyChunk) else _prepare(*chunk, mode)
            del chunk
            while len(pending) >= n:
                merge()
            path = folder / f"part-{i:06d}"
            # The worker inherits the chunk through this global; the parent drops it at once
            # (Process args would keep every pending chunk's texts alive here).
            global _FORK_PART
            _FORK_PART = (analyzer, work, mode, path)
            proc = ctx.Process(target=_index_part, daemon=True)
            try:
                proc.start()
            finally:
                _FORK_PART = None
            pending.append((proc, path, work.ids if isinstance(work, LazyChunk) else work[0]))
            del work
        while pending:
            merge()
    finally:
        for left, *_ in pending:
            left.kill()
            left.join()
        shutil.rmtree(folder, ignore_errors=True)


_FORK_PART: (
    tuple[EnglishAnalyzer, LazyChunk | tuple[Sequence[str], dict[str, list[str]], list[int]], str, Path] | None
) = None


def _index_part() -> None:
    """A forked worker: each field's :class:`ChunkPostings` of the chunk of ``_FORK_PART`` (read
    here if lazy), into its ``path`` (per_term, lengths, docs, tfs per field) and ``path.json``
    (offsets, terms; the positions of the blank documents dropped, under "dropped")."""
    assert _FORK_PART is not None
    analyzer, work, mode, path = _FORK_PART
    try:
        if isinstance(work, LazyChunk):
            _, texts, dropped = _prepared(work, mode)
        else:  # prepared by the parent, which recorded the kept ids
            texts, dropped = work[1], []
        meta: dict[str, object] = {"dropped": dropped}
        with open(path, "wb") as fh:
            for name, field_texts in texts.items():
                part = ChunkPostings.from_ids(*analyzer.analyze_ids(field_texts, processes=1))
                offsets = {}
                for key, a in (
                    ("per_term", part.per_term),
                    ("lengths", part.lengths),
                    ("docs", part.docs),
                    ("tfs", part.tfs),
                ):
                    offsets[key] = fh.tell()
                    a.tofile(fh)
                meta[name] = {
                    **offsets,
                    "terms": part.terms,
                    "docs_count": len(part.lengths),
                    "tf_dtype": part.tfs.dtype.str,
                }
        path.with_suffix(".json").write_bytes(orjson.dumps(meta))
    except BaseException as exc:  # reported by the parent in one line
        with contextlib.suppress(OSError):
            path.with_suffix(".error").write_text(f"{type(exc).__name__}: {exc}", encoding="utf-8")
        os._exit(1)
    os._exit(0)  # not multiprocessing's exit, which flushes stdio (a lock another thread may hold)


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
    _mapping: mmap.mmap | None = field(default=None, repr=False, compare=False)  # a loaded index's file

    def release_pages(self) -> None:
        """Drop the pages of a loaded index's file from this process's memory (its resident set);
        they stay in the page cache, and a later search reads them back from there. Searching
        5M documents touches ~0.9 GB of postings that the run's later steps do not need."""
        if self._mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):  # an advice only; a closed map has no pages
                self._mapping.madvise(mmap.MADV_DONTNEED)

    @classmethod
    def build(cls, ids: Sequence[str], titles: Sequence[str], texts: Sequence[str], mode: str = "flat") -> LuceneIndex:
        return cls.build_chunks([(ids, titles, texts)], mode)

    @classmethod
    def build_chunks(
        cls,
        chunks: Iterable[Chunk],
        mode: str = "flat",
        processes: int | None = None,
    ) -> LuceneIndex:
        """The index of documents given as ``(ids, titles, texts)`` chunks or
        :class:`LazyChunk` objects, in corpus order.

        Only a chunk's texts and analysis per process are in memory at a time (plus the
        postings so far); the index is the same whatever the chunking. ``processes`` (default:
        :func:`index_processes`) analyze and sort chunks side by side in forked workers, which
        spill their postings to temporary files; the result is the same array for array.
        """
        if mode not in ("flat", "multifield"):
            raise ValueError(f"unknown field mode {mode!r} (flat or multifield)")
        with gc_paused():
            return cls._build_chunks(chunks, mode, processes)

    @classmethod
    def _build_chunks(
        cls,
        chunks: Iterable[Chunk],
        mode: str,
        processes: int | None,
    ) -> LuceneIndex:
        analyzer = EnglishAnalyzer()  # one analyzer: its token cache carries over between chunks
        builders = {"contents": FieldBuilder(), **({"title": FieldBuilder()} if mode == "multifield" else {})}
        doc_ids: list[str] = []
        chunks = iter(chunks)
        n = index_processes() if processes is None else processes
        if n > 1:
            head = list(itertools.islice(chunks, 2))
            chunks = itertools.chain(head, chunks)
            if len(head) > 1:  # one chunk: nothing to share out
                _build_forked(analyzer, chunks, builders, doc_ids, n, mode)
                return cls(doc_ids=doc_ids, fields={name: b.finish() for name, b in builders.items()}, mode=mode)
        for chunk in chunks:
            ids, texts, _ = _prepared(chunk, mode)
            del chunk
            doc_ids.extend(ids)
            for name, field_texts in texts.items():
                builders[name].add(*analyzer.analyze_ids(field_texts))
            del texts
        return cls(doc_ids=doc_ids, fields={name: b.finish() for name, b in builders.items()}, mode=mode)

    def save(self, path: Path) -> None:
        """Write the index atomically in the cache format (see :data:`FORMAT_VERSION`), then
        its verification stamp; an OSError (disk full, read-only) is a one-line BeirctlError and
        leaves the previous file as it was."""
        arrays: dict[str, np.ndarray] = {"doc_ids": _json_bytes(self.doc_ids)}
        fields: dict[str, dict[str, int]] = {}
        for name, f in self.fields.items():
            fields[name] = {"doc_count": f.doc_count, "sum_ttf": f.sum_ttf}
            arrays[f"{name}.terms"] = _json_bytes(f.terms)
            for attr in _FIELD_ARRAYS:
                arrays[f"{name}.{attr}"] = np.ascontiguousarray(getattr(f, attr))
        entries, offset = [], 0
        for name, a in arrays.items():
            entries.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
            offset += _aligned(a.nbytes)
        with cache_write_errors(path, "lucene index cache"):
            for entry, a in zip(entries, arrays.values()):
                entry["crc32"] = zlib.crc32(bytes(_aligned(a.nbytes) - a.nbytes), _crc(a))  # padding too
            header = orjson.dumps({"mode": self.mode, "fields": fields, "arrays": entries})
            start = _aligned(_PREFIX.size + len(header))
            total = start + offset
            header += bytes(start - _PREFIX.size - len(header))
            header_crc = zlib.crc32(header)
            prefix = _PREFIX.pack(_MAGIC, FORMAT_VERSION, len(header), header_crc, total)
            with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                _write(fh, prefix + header)
                for a in arrays.values():
                    _write(fh, a.reshape(-1).view(np.uint8).data)
                    _write(fh, bytes(_aligned(a.nbytes) - a.nbytes))
                fh.flush()
                # An mtime in the past: any later write in place gives the file another one, even
                # within the file system's timestamp granularity, so its stamp no longer matches.
                past = time.time_ns() - 10 * _RACY_NS
                os.utime(fh.fileno(), ns=(past, past))
            _stamp(path, header_crc)

    @classmethod
    def load(cls, path: Path, doc_ids: list[str] | None = None) -> LuceneIndex | None:
        """The index saved at ``path``, its arrays read-only memory maps; None if there is none.

        ``doc_ids``: the document ids of the index just saved there (under the same cache lock),
        used instead of parsing them again (5M ids: 0.3 GB that would coexist with the built index).

        A file of another format version is deleted silently, one that does not check out
        (unreadable, truncated, a crc32 that differs, bad JSON) with a warning: the caller
        rebuilds it. The header and every small array are checked on each load; the postings
        (``docs``, ``tfs``: most of the file) only when the file is not the one last verified
        (its stamp, :func:`_stamp`, records size, mtime, inode and header crc32), so a re-run
        reads only the pages its searches touch.
        """
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as fh:
                raw = fh.read(_PREFIX.size)
                if len(raw) < _PREFIX.size or raw[: len(_MAGIC)] != _MAGIC:
                    if len(raw) >= 4 and raw[:4] == b"PK\x03\x04":
                        discard([path, _stamp_path(path)], None)  # a format-2 .npz: older, rebuilt
                        return None
                    raise ValueError("not a beirctl lucene index (no header)")
                _, version, header_len, header_crc, total = _PREFIX.unpack(raw)
                if version != FORMAT_VERSION:
                    discard([path, _stamp_path(path)], None)  # another format: rebuilt, no warning
                    return None
                size = os.fstat(fh.fileno()).st_size
                if size != total:
                    raise ValueError(f"{size} bytes, {total} expected (truncated?)")
                header = fh.read(header_len)
                if zlib.crc32(header) != header_crc:
                    raise ValueError("header crc32 differs")
                meta = orjson.loads(header.rstrip(b"\0"))
                verified = _stamped(path, header_crc)
                start = _PREFIX.size + header_len
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if total > start else b""
            arrays: dict[str, np.ndarray] = {}
            for entry in meta["arrays"]:
                dtype = np.dtype(entry["dtype"])
                count = int(np.prod(entry["shape"], dtype=np.int64))
                padded = np.frombuffer(
                    mm, np.uint8, count=_aligned(count * dtype.itemsize), offset=start + entry["offset"]
                )
                if not (verified and entry["name"].endswith((".docs", ".tfs"))) and _crc(padded) != entry["crc32"]:
                    raise ValueError(f"crc32 of {entry['name']} differs")
                arrays[entry["name"]] = padded[: count * dtype.itemsize].view(dtype).reshape(entry["shape"])
            fields = {
                name: FieldIndex(
                    terms=orjson.loads(arrays[f"{name}.terms"].tobytes()),
                    **{attr: arrays[f"{name}.{attr}"] for attr in _FIELD_ARRAYS},
                    doc_count=int(stats["doc_count"]),
                    sum_ttf=int(stats["sum_ttf"]),
                )
                for name, stats in meta["fields"].items()
            }
            if doc_ids is None:
                doc_ids = orjson.loads(arrays["doc_ids"].tobytes())
            index = cls(
                doc_ids=doc_ids,
                fields=fields,
                mode=meta["mode"],
                _mapping=mm if isinstance(mm, mmap.mmap) else None,
            )
        except Exception as exc:  # whatever a damaged file raises (ValueError, KeyError, JSONDecodeError, ...)
            discard([path, _stamp_path(path)], f"{type(exc).__name__}: {exc}")
            return None
        # Not a file written a moment ago: a write in the same timestamp tick could go unseen.
        if not verified and time.time_ns() - path.stat().st_mtime_ns > _RACY_NS:
            with contextlib.suppress(OSError):  # a read-only cache: verified again next time
                _stamp(path, header_crc)
        return index


# --- the cache file ---
# "BEIRLIX\0", format version, header length, header crc32, file size; the header (JSON: mode,
# field statistics, and per array its name, dtype, shape, offset and crc32), zero-padded to 64
# bytes; then each array's bytes, each padded to 64 bytes; the crc32s cover the padding. Arrays:
# doc_ids and <field>.terms (UTF-8 JSON lists), <field>.indptr (int64), .docs (int32), .tfs
# (uint8/uint16/int32), .lengths (int32), .norms (uint8).
_MAGIC = b"BEIRLIX\0"
_PREFIX = struct.Struct("<8sIIIQ")
_ALIGN = 64
_FIELD_ARRAYS = ("indptr", "docs", "tfs", "lengths", "norms")
_CRC_BLOCK = 1 << 24
_RACY_NS = 2_000_000_000


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _json_bytes(values: list[str]) -> np.ndarray:
    return np.frombuffer(orjson.dumps(values), dtype=np.uint8)


def _crc(a: np.ndarray) -> int:
    """crc32 of an array's bytes, block by block (a memory map is not copied)."""
    flat = a.reshape(-1).view(np.uint8)
    crc = 0
    for lo in range(0, flat.size, _CRC_BLOCK):
        crc = zlib.crc32(flat[lo : lo + _CRC_BLOCK].data, crc)
    return crc


def _write(fh: IO[bytes], data: bytes | memoryview) -> None:
    fh.write(data)


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _identity(path: Path, header_crc: int) -> dict[str, int]:
    st = os.stat(path)
    return {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "header_crc32": header_crc}


def _stamp(path: Path, header_crc: int) -> None:
    """Record that the file at ``path`` checked out in full (after writing or verifying it)."""
    write_checked_json(_stamp_path(path), _identity(path, header_crc))


def _stamped(path: Path, header_crc: int) -> bool:
    """Whether ``path`` is the very file its stamp says was verified (same size, mtime, inode)."""
    try:
        stamp = read_checked_json(_stamp_path(path))
    except (OSError, ValueError):
        return False
    return stamp is not None and {k: v for k, v in stamp.items() if k != "checksum"} == _identity(path, header_crc)

"""A corpus read from its file on demand, and chunked iteration over any corpus.

:class:`StreamingCorpus` is what :func:`beirctl.datasets.loader.load_corpus` returns for large
files: a read-only ``Mapping[str, Document]`` that keeps only the document ids and each
record's byte span in memory (the loader's single validating pass records them). Iterating its
``items()``/``values()`` or :meth:`~StreamingCorpus.iter_chunks` reads the file sequentially;
looking a document up reads its one line (``os.pread``). A ``.jsonl.gz`` file is streamed
sequentially from the archive; the first random access decompresses it once into an anonymous
temporary file, which then serves every look-up.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import ItemsView, Iterator, Mapping, Sequence, ValuesView
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from beirctl.errors import DataError
from beirctl.types import Document

Chunk = list[tuple[str, Document]]


def _document(raw: bytes | memoryview) -> Document:
    # The loader validated every record, so the fields are there and of the right types.
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:  # valid for json only (NaN, huge integers in other fields)
        record = json.loads(str(raw, "utf-8"))
    title = record.get("title")
    return Document("" if title is None else title, record["text"])


class _Items(ItemsView[str, Document]):
    _mapping: StreamingCorpus

    def __iter__(self) -> Iterator[tuple[str, Document]]:
        for chunk in self._mapping.iter_chunks():
            yield from chunk


class _Values(ValuesView[Document]):
    _mapping: StreamingCorpus

    def __iter__(self) -> Iterator[Document]:
        for chunk in self._mapping.iter_chunks():
            for _, doc in chunk:
                yield doc


class StreamingCorpus(Mapping[str, Document]):
    """Documents of a BEIR ``corpus.jsonl[.gz]``, read from the file when they are used.

    ``ids`` holds the document ids in file order (blank lines left out; the values are unused:
    a dict of None is the smallest set that keeps order); ``starts`` and ``sizes`` are the
    records' byte spans in the (decompressed) file. The id -> record number map is built on the
    first look-up by id: indexing and searching, which read records in order, never need it
    (5M ids: 0.14 GB of row numbers saved). The file must not change after loading: its size and
    modification time are checked before each read.
    """

    def __init__(self, path: Path, ids: dict[str, None], starts: np.ndarray, sizes: np.ndarray) -> None:
        self.path = path
        self._members = ids
        self._ids = list(ids)
        self._row_map: dict[str, int] | None = None
        self._starts = starts
        self._sizes = sizes
        stat = path.stat()
        self._stamp = (stat.st_size, stat.st_mtime_ns)
        self._gz = path.suffix == ".gz"
        self._fd: int | None = None
        self._lock = threading.Lock()

    # -- Mapping -------------------------------------------------------------------------------

    @property
    def _rows(self) -> dict[str, int]:
        """Each id's record number, built on first use."""
        if self._row_map is None:
            with self._lock:
                if self._row_map is None:
                    self._row_map = {doc_id: row for row, doc_id in enumerate(self._ids)}
        return self._row_map

    def __getitem__(self, doc_id: str) -> Document:
        row = self._rows[doc_id]
        return _document(os.pread(self._random_fd(), int(self._sizes[row]), int(self._starts[row])))

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._members

    def keys(self) -> Any:
        return self._members.keys()

    def items(self) -> _Items:
        return _Items(self)

    def values(self) -> _Values:
        return _Values(self)

    def __repr__(self) -> str:
        return f"StreamingCorpus({str(self.path)!r}, {len(self)} documents)"

    # -- reading -------------------------------------------------------------------------------

    def _check_unchanged(self) -> None:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise DataError(self.path, f"cannot read file ({exc})") from None
        if (stat.st_size, stat.st_mtime_ns) != self._stamp:
            raise DataError(self.path, "the file changed after the dataset was loaded; load it again")

    def _random_fd(self) -> int:
        """A descriptor of the decompressed records, opened (or, for .gz, written) on first use."""
        if self._fd is None:
            with self._lock:
                if self._fd is None:
                    self._check_unchanged()
                    if not self._gz:
                        self._fd = os.open(self.path, os.O_RDONLY)
                    else:
                        with tempfile.TemporaryFile(prefix="beirctl-corpus-") as tmp, gzip.open(self.path) as gz:
                            shutil.copyfileobj(gz, tmp, 1 << 20)
                            tmp.flush()
                            self._fd = os.dup(tmp.fileno())  # the file lives on, unnamed, until closed
        return self._fd

    def get_many(self, ids: Sequence[str]) -> list[Document]:
        """The documents of ``ids`` in that order; a run of consecutive records is read at once."""
        if not ids:
            return []
        rows = np.fromiter((self._rows[i] for i in ids), dtype=np.int64, count=len(ids))
        fd = self._random_fd()
        lo, hi = int(rows.min()), int(rows.max())
        if hi - lo + 1 == len(rows):  # consecutive records (a slice of the corpus): one read
            base = int(self._starts[lo])
            end = int(self._starts[hi] + self._sizes[hi])
            view = memoryview(os.pread(fd, end - base, base))
            starts = (self._starts[rows] - base).tolist()
            sizes = self._sizes[rows].tolist()
            return [_document(view[s : s + n]) for s, n in zip(starts, sizes)]
        out: list[Document | None] = [None] * len(ids)
        for pos in np.argsort(rows, kind="stable").tolist():  # file order: fewer seeks
            row = int(rows[pos])
            out[pos] = _document(os.pread(fd, int(self._sizes[row]), int(self._starts[row])))
        return out  # type: ignore[return-value]

    @property
    def seekable(self) -> bool:
        """Whether records are read in place (a ``.jsonl`` file); a ``.jsonl.gz`` one is
        decompressed into a temporary file on the first random access."""
        return not self._gz

    def row_ids(self, lo: int, hi: int) -> list[str]:
        """The ids of records ``lo`` to ``hi - 1`` (file order)."""
        return self._ids[lo:hi]

    def read_rows(self, lo: int, hi: int) -> list[Document]:
        """The documents of records ``lo`` to ``hi - 1`` (file order), in one read."""
        if not 0 <= lo <= hi <= len(self._ids):
            raise IndexError(f"records {lo}:{hi} of {len(self._ids)}")
        if lo == hi:
            return []
        self._check_unchanged()
        base = int(self._starts[lo])
        end = int(self._starts[hi - 1] + self._sizes[hi - 1])
        data = os.pread(self._random_fd(), end - base, base)
        if len(data) != end - base:
            raise DataError(self.path, "the file changed after the dataset was loaded; load it again")
        view = memoryview(data)
        starts = (self._starts[lo:hi] - base).tolist()
        return [_document(view[a : a + n]) for a, n in zip(starts, self._sizes[lo:hi].tolist())]

    def iter_chunks(self, size: int = 10_000) -> Iterator[Chunk]:
        """``(id, Document)`` pairs in file order, ``size`` at a time, read sequentially."""
        if size < 1:
            raise ValueError("chunk size must be at least 1")
        self._check_unchanged()
        opener = gzip.open if self._gz else open
        starts = self._starts
        n = len(self._ids)
        chunk: Chunk = []
        row = 0
        pos = 0
        nxt = int(starts[0]) if n else -1  # where the next record starts (blank lines are skipped)
        with opener(self.path, "rb") as fh:
            for raw in fh:
                if pos == nxt:
                    chunk.append((self._ids[row], _document(raw)))
                    row += 1
                    nxt = int(starts[row]) if row < n else -1
                    if len(chunk) == size:
                        yield chunk
                        chunk = []
                pos += len(raw)
        if row != n:
            raise DataError(self.path, "the file changed after the dataset was loaded; load it again")
        if chunk:
            yield chunk

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fd"] = None  # descriptors do not travel; the copy opens its own
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def iter_chunks(corpus: Mapping[str, Document], size: int) -> Iterator[Chunk]:
    """``(id, Document)`` pairs of any corpus in its order, ``size`` at a time (streamed from
    disk for a :class:`StreamingCorpus`)."""
    if isinstance(corpus, StreamingCorpus):
        yield from corpus.iter_chunks(size)
        return
    items = iter(corpus.items())
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def take(corpus: Mapping[str, Document], ids: Sequence[str]) -> list[Document]:
    """The documents of ``ids``, in that order (batched reads for a :class:`StreamingCorpus`)."""
    if isinstance(corpus, StreamingCorpus):
        return corpus.get_many(ids)
    return [corpus[i] for i in ids]

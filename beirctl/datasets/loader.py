"""Loader for the BEIR folder format.

``corpus.jsonl`` (or ``.jsonl.gz``), ``queries.jsonl`` (or ``.jsonl.gz``) and
``qrels/<split>.tsv`` with a ``query-id corpus-id score`` header, as in the official
BEIR release. Every malformed line raises :class:`~beirctl.errors.DataError` naming the
file and line.

Large corpora are not held in memory: a corpus file of at least ``STREAM_MIN_BYTES`` on disk
(``$BEIRCTL_STREAM_CORPUS``: ``auto``, the default; ``always``; ``never``) loads as a
:class:`~beirctl.datasets.stream.StreamingCorpus`, validated and fingerprinted by the same single
pass, then read from the file when used. Both give the same documents, fingerprint and checksums.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import os
import re
import zlib
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from beirctl.compiled import load_extension
from beirctl.datasets.fingerprint import CorpusHasher, fingerprint_bytes, fingerprint_columns
from beirctl.datasets.stream import StreamingCorpus
from beirctl.errors import BeirctlError, DataError
from beirctl.memory import gc_paused
from beirctl.types import Corpus, Dataset, Document, Qrels, Queries

STREAM_ENV = "BEIRCTL_STREAM_CORPUS"
STREAM_MIN_BYTES = 256_000_000  # "auto" streams corpus files of this size (on disk) or more

# An id is written as one whitespace-separated column of a TREC run file: any whitespace in it
# (or an unpaired UTF-16 surrogate, which cannot be written as UTF-8) would not read back.
_BAD_ID = re.compile(r"[\s\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def find_file(folder: Path, stem: str) -> Path:
    """Return ``folder/stem.jsonl`` or its gzipped twin."""
    for suffix in (".jsonl", ".jsonl.gz"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DataError(folder / f"{stem}.jsonl", "file not found")


def _raw_lines(
    path: Path, digest: Any, spans: tuple[array[int], array[int]] | None = None
) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line), feeding the bytes to ``digest``.

    With ``spans``, the byte offset and size of each yielded line (in the decompressed file) are
    appended to them; the consumer keeps or drops the last one (``_json_records`` drops blanks).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    offset = 0
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                digest.update(raw)
                if spans is not None:
                    spans[0].append(offset)
                    spans[1].append(len(raw))
                    offset += len(raw)
                yield lineno, raw
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"cannot read file ({exc})") from None


def _decode(path: Path, raw: bytes, lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"invalid UTF-8 byte at column {exc.start + 1}", lineno) from None


def _lines(path: Path, digest: Any) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded line), feeding the raw bytes to ``digest``."""
    for lineno, raw in _raw_lines(path, digest):
        yield lineno, _decode(path, raw, lineno)


def _parse_line(path: Path, line: str, lineno: int) -> Any:
    """``json.loads`` of one line, its failures as one-line errors (the reference behaviour)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"malformed JSON ({exc.msg} at column {exc.colno})", lineno) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise DataError(path, f"malformed JSON ({str(exc).split(';')[0]})", lineno) from None
    except RecursionError:
        raise DataError(path, "malformed JSON (nested too deeply)", lineno) from None


def _json_records(
    path: Path, digest: Any, spans: tuple[array[int], array[int]] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record) of each non-blank line; ``spans`` as in :func:`_raw_lines`,
    of the yielded records only.

    orjson parses each line's bytes (validating UTF-8 too); a line it rejects goes through the
    ``json`` path, so every accepted input and every error message is the same as with ``json``
    alone (orjson is stricter about NaN, lone surrogates, blank lines of Unicode spaces; an
    ``_id`` that is not a string is read again by ``json``, as orjson rounds huge integers).
    """
    for lineno, raw in _raw_lines(path, digest, spans):
        record = _record(path, raw, raw, lineno)
        if record is None:
            if spans is not None:
                spans[0].pop()
                spans[1].pop()
            continue
        yield lineno, record


def _record(path: Path, data: bytes, raw: bytes, lineno: int) -> dict[str, Any] | None:
    """The JSON object of one line (``data``: its bytes, ``raw``: with its newline), None for a
    blank line; orjson parses it, and a line it rejects goes through ``json`` (see
    :func:`_json_records`)."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        line = _decode(path, raw, lineno)
        if not line.strip():
            return None
        record = _parse_line(path, line, lineno)
    else:
        if isinstance(record, dict) and type(record.get("_id", "")) is not str:
            # orjson reads an integer beyond 64 bits as a float; json keeps it exact
            record = _parse_line(path, _decode(path, raw, lineno), lineno)
    if not isinstance(record, dict):
        raise DataError(path, "expected a JSON object", lineno)
    return record


def surrogate_error(path: Path, exc: UnicodeEncodeError, lineno: int) -> DataError:
    """The error for a text whose UTF-8 encoding failed on a lone surrogate."""
    return DataError(
        path, f"a text holds an unpaired surrogate U+{ord(exc.object[exc.start]):04X} (an invalid \\u escape)", lineno
    )


def _record_id(path: Path, record: dict[str, Any], lineno: int) -> str:
    if "_id" not in record:
        raise DataError(path, "missing '_id'", lineno)
    value = record["_id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f"'_id' must be a string, got {type(value).__name__}", lineno)
    value = str(value)
    if not value.strip():
        raise DataError(path, "empty '_id'", lineno)
    check_id(value, path, lineno, "'_id'")
    return value


def check_id(value: str, path: str | Path, lineno: int | None, what: str) -> None:
    """Reject an id that a TREC run or qrels file cannot hold (whitespace, lone surrogates)."""
    bad = _BAD_ID.search(value)
    if bad is not None:
        ch = bad.group()
        kind = "an unpaired surrogate" if _SURROGATE.match(ch) else "whitespace"
        raise DataError(
            path, f"{what} {value[:80]!r} contains {kind} (U+{ord(ch):04X}); ids must be single TREC columns", lineno
        )


def _text_field(path: Path, record: dict[str, Any], key: str, lineno: int, required: bool, check: bool = True) -> str:
    """The string at ``key``; ``check=False`` leaves the surrogate check to the caller."""
    value = record.get(key)
    if value is None:
        if required:
            raise DataError(path, f"missing '{key}'", lineno)
        return ""
    if not isinstance(value, str):
        raise DataError(path, f"'{key}' must be a string, got {type(value).__name__}", lineno)
    bad = _SURROGATE.search(value) if check else None
    if bad is not None:
        raise DataError(
            path, f"'{key}' holds an unpaired surrogate U+{ord(bad.group()):04X} (an invalid \\u escape)", lineno
        )
    return value


def stream_corpus(path: Path) -> bool:
    """Whether to load ``path`` as a :class:`StreamingCorpus` (see ``$BEIRCTL_STREAM_CORPUS``)."""
    value = os.environ.get(STREAM_ENV, "auto").strip().lower()
    if value in ("", "auto"):
        try:
            return path.stat().st_size >= STREAM_MIN_BYTES
        except OSError:
            return False  # reading it reports the problem
    if value in ("always", "1", "true", "yes"):
        return True
    if value in ("never", "0", "false", "no"):
        return False
    raise BeirctlError(f"{STREAM_ENV}={value!r}: expected auto, always or never")


_BLOCK = 1 << 22  # bytes read (and handed to the digests) at a time


if TYPE_CHECKING:
    from beirctl.datasets import _records as _records
else:
    _records = load_extension("beirctl.datasets._records")


class _CorpusReader:
    """The state of one pass over a corpus file (see :func:`load_corpus`)."""

    def __init__(self, path: Path, stream: bool, digest: Callable[[bytes], None]) -> None:
        self.path, self.stream, self.digest = path, stream, digest
        self.docs: dict[str, Document] = {}
        self.rows: dict[str, None] = {}  # the streamed corpus's ids, in order
        self.seen: dict[str, Any] = self.rows if stream else self.docs
        self.starts: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        self.lineno = self.offset = 0

    def block(self, lines: list[bytes], newline: int) -> None:
        """Read a block's complete lines (``newline``: 0 for a file's last line without one)."""
        if not self._fast(lines, newline):
            self._slow(lines, newline)
        self.lineno += len(lines)
        self.offset += sum(map(len, lines)) + newline * len(lines)

    def _fast(self, lines: list[bytes], newline: int) -> bool:
        """A block of well-formed records (a string id, string fields, no blank line), checked
        and stored with list-wide operations; False, leaving everything as it was, where any
        line needs the line-by-line path (which then finds the first problem)."""
        try:
            records = list(map(orjson.loads, lines))
        except orjson.JSONDecodeError:
            return False
        if _records is not None:  # the same checks and bytes in one compiled loop
            checked = _records.block(records, self.seen)
            if checked is None:
                return False
            ids, titles, texts, fingerprint = checked
            self._store(lines, newline, ids, titles, texts, fingerprint)
            return True
        if set(map(type, records)) - {dict}:
            return False
        ids = [r.get("_id") for r in records]
        titles = [r.get("title") for r in records]
        texts = [r.get("text") for r in records]
        if set(map(type, ids)) - {str}:
            return False
        unique = set(ids)
        if (
            "" in unique
            or len(unique) < len(ids)
            or not self.seen.keys().isdisjoint(ids)
            or _BAD_ID.search("".join(ids))  # type: ignore[arg-type]  # all str, checked above
            or set(map(type, texts)) - {str}
        ):
            return False
        kinds = set(map(type, titles))
        if kinds - {str, type(None)}:
            return False
        if type(None) in kinds:
            titles = ["" if t is None else t for t in titles]
        try:  # encoding each field is also the check for lone surrogates
            fields = [list(map(str.encode, column)) for column in (ids, titles, texts)]  # type: ignore[arg-type]
        except UnicodeEncodeError:
            return False
        self._store(lines, newline, ids, titles, texts, fingerprint_columns(*fields))  # type: ignore[arg-type]
        return True

    def _store(
        self, lines: list[bytes], newline: int, ids: list[str], titles: list[str], texts: list[str], fingerprint: bytes
    ) -> None:
        """Keep a checked block's documents (or ids and spans) and digest its fingerprint bytes."""
        self.digest(fingerprint)
        if self.stream:
            sizes = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines)) + newline
            self.starts.append(self.offset + np.cumsum(sizes) - sizes)
            self.sizes.append(sizes)
            self.rows.update(dict.fromkeys(ids))
        else:
            self.docs.update(zip(ids, map(Document, titles, texts)))

    def _slow(self, lines: list[bytes], newline: int) -> None:
        """Line by line, as :func:`_json_records`, :func:`_record_id` and :func:`_text_field`
        read a record, with their messages."""
        path = self.path
        parts: list[bytes] = []
        starts: list[int] = []
        sizes: list[int] = []
        offset = self.offset
        for lineno, line in enumerate(lines, start=self.lineno + 1):
            raw = line + b"\n" * newline
            size = len(raw)
            record = _record(path, line, raw, lineno)
            if record is None:
                offset += size
                continue
            doc_id = _record_id(path, record, lineno)
            if doc_id in self.seen:
                raise DataError(path, f"duplicate document id {doc_id!r}", lineno)
            title = _text_field(path, record, "title", lineno, required=False, check=False)
            text = _text_field(path, record, "text", lineno, required=True, check=False)
            try:
                parts.append(fingerprint_bytes(doc_id.encode(), title.encode(), text.encode()))
            except UnicodeEncodeError as exc:
                raise surrogate_error(path, exc, lineno) from None
            if self.stream:
                self.rows[doc_id] = None
                starts.append(offset)
                sizes.append(size)
            else:
                self.docs[doc_id] = Document(title, text)
            offset += size
        self.digest(b"".join(parts))
        self.starts.append(np.array(starts, dtype=np.int64))
        self.sizes.append(np.array(sizes, dtype=np.int64))

    def corpus(self) -> Corpus:
        if not self.seen:
            raise DataError(self.path, "empty corpus: no documents")
        if not self.stream:
            return self.docs
        spans = (np.concatenate(a) if a else np.zeros(0, dtype=np.int64) for a in (self.starts, self.sizes))
        return StreamingCorpus(self.path, self.rows, *spans)


def load_corpus(path: Path, stream: bool | None = None) -> tuple[Corpus, str, str]:
    """Read and validate a corpus file. Returns (corpus, content fingerprint, file md5).

    ``stream`` (default: :func:`stream_corpus`): keep only ids and byte offsets in memory and
    return a :class:`StreamingCorpus`; else one dict of every document.

    One pass, in blocks of ``_BLOCK`` bytes. The file's MD5 and the content fingerprint
    (SHA-256) run on a helper thread, in order, while this one parses: hashlib releases the GIL
    on buffers of 2 KiB or more, so on two cores the hashing costs no time. A block of
    well-formed records is checked with list-wide operations (a per-line Python loop was most of
    the load time); any other block is read line by line, with the messages of the record
    loader (:func:`_json_records`, :func:`_record_id`, :func:`_text_field`).
    """
    if stream is None:
        stream = stream_corpus(path)
    md5 = hashlib.md5()
    hasher = CorpusHasher()
    with ThreadPoolExecutor(1, thread_name_prefix="beirctl-digest") as digests:
        pending: collections.deque[Future[None]] = collections.deque()

        def submit(update: Callable[[bytes], None], data: bytes) -> None:
            pending.append(digests.submit(update, data))
            while len(pending) > 8:  # a few blocks ahead at most: memory stays bounded
                pending.popleft().result()

        reader = _CorpusReader(path, stream, lambda data: submit(hasher.update_bytes, data))
        try:
            with gc_paused():  # millions of records, ids and documents; no cycles among them
                for block, lines, last in _blocks(path):
                    if block:
                        submit(md5.update, block)
                    reader.block(lines, 0 if last else 1)
        finally:
            while pending:
                pending.popleft().result()
    return reader.corpus(), hasher.hexdigest(), md5.hexdigest()


def _blocks(path: Path) -> Iterator[tuple[bytes, list[bytes], bool]]:
    """``(block, lines, last)``: each block of the (decompressed) file and the complete lines
    it finishes, without their newline; ``last`` when the final line (one without a newline at
    the end of the file, if any) is among them."""
    opener = gzip.open if path.suffix == ".gz" else open
    tail = b""
    try:
        with opener(path, "rb") as fh:
            while True:
                block = fh.read(_BLOCK)
                if not block:
                    break
                lines = block.split(b"\n")
                if tail:  # the line the previous block began
                    lines[0] = tail + lines[0]
                tail = lines.pop()
                yield block, lines, False
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"cannot read file ({exc})") from None
    if tail:
        yield b"", [tail], True


def load_queries(path: Path, keep: set[str] | None = None) -> tuple[Queries, set[str], str]:
    """Read queries; keep only ids in ``keep`` when given. Returns (queries, all ids, md5)."""
    queries: Queries = {}
    seen: set[str] = set()
    md5 = hashlib.md5()
    for lineno, record in _json_records(path, md5):
        qid = _record_id(path, record, lineno)
        if qid in seen:
            raise DataError(path, f"duplicate query id {qid!r}", lineno)
        seen.add(qid)
        text = _text_field(path, record, "text", lineno, required=True)
        if keep is None or qid in keep:
            queries[qid] = text
    return queries, seen, md5.hexdigest()


def load_qrels(path: Path) -> tuple[Qrels, dict[str, int], str]:
    """Read a BEIR qrels TSV (header line, then query-id, corpus-id, integer score).

    Judgments scored 0 are kept, as BEIR does. Returns (qrels, first line of each query id,
    md5).
    """
    if not path.is_file():
        raise DataError(path, "file not found")
    qrels: Qrels = {}
    first_line: dict[str, int] = {}
    md5 = hashlib.md5()
    for lineno, line in _lines(path, md5):
        fields = line.rstrip("\r\n").split("\t")
        if lineno == 1 and fields and fields[0].strip().lower() in {"query-id", "query_id", "qid"}:
            continue  # header
        if not line.strip():
            continue
        if len(fields) != 3:
            raise DataError(
                path, f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(fields)}", lineno
            )
        qid, doc_id, score_text = (f.strip() for f in fields)
        if not qid or not doc_id:
            raise DataError(path, "empty query-id or corpus-id", lineno)
        check_id(qid, path, lineno, "query-id")
        check_id(doc_id, path, lineno, "corpus-id")
        try:
            score = int(score_text)
        except ValueError:
            raise DataError(path, f"score must be an integer, got {score_text!r}", lineno) from None
        judged = qrels.setdefault(qid, {})
        if judged.get(doc_id, score) != score:
            raise DataError(
                path,
                f"({qid!r}, {doc_id!r}) is judged twice with different grades ({judged[doc_id]} and {score})",
                lineno,
            )
        judged[doc_id] = score
        first_line.setdefault(qid, lineno)
    if not qrels:
        raise DataError(path, "no judgments")
    return qrels, first_line, md5.hexdigest()


def qrels_path(folder: Path, split: str) -> Path:
    return folder / "qrels" / f"{split}.tsv"


def load_folder(
    folder: str | Path, split: str = "test", name: str | None = None, stream: bool | None = None
) -> Dataset:
    """Load a dataset in the BEIR folder format, keeping only the queries judged in ``split``.

    ``stream``: see :func:`load_corpus`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "dataset folder not found")
    qpath = qrels_path(folder, split)
    if not qpath.is_file():
        available = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise DataError(qpath, f"no qrels for split {split!r} (available: {', '.join(available) or 'none'})")
    qrels, first_line, qrels_md5 = load_qrels(qpath)
    queries_file = find_file(folder, "queries")
    queries, all_qids, queries_md5 = load_queries(queries_file, keep=set(qrels))
    for qid, lineno in first_line.items():
        if qid not in all_qids:
            raise DataError(qpath, f"query id {qid!r} is not in {queries_file.name}", lineno)
    corpus_file = find_file(folder, "corpus")
    corpus, fingerprint, corpus_md5 = load_corpus(corpus_file, stream)
    notes = check_judged_docs(qrels, corpus, qpath)
    return Dataset(
        name=name or folder.name,
        split=split,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        fingerprint=fingerprint,
        checksums={
            f"{corpus_file.name}:md5": corpus_md5,
            f"{queries_file.name}:md5": queries_md5,
            f"qrels/{split}.tsv:md5": qrels_md5,
            "corpus:sha256": fingerprint,
        },
        source=str(folder.resolve()),
        notes=notes,
    )


def check_judged_docs(qrels: Qrels, corpus: Corpus, qpath: str | Path) -> list[str]:
    """No judged document in the corpus is an error (qrels of another dataset); some missing is
    a note with the count (a real collection may judge documents it no longer ships)."""
    judged = {doc for docs in qrels.values() for doc in docs}
    missing = [doc for doc in judged if doc not in corpus]
    if len(missing) == len(judged):
        raise DataError(
            qpath, f"none of the {len(judged):,} judged documents is in the corpus (qrels of another dataset?)"
        )
    if missing:
        return [f"{qpath}: {len(missing):,} of {len(judged):,} judged documents are not in the corpus"]
    return []


def file_checksums(folder: str | Path, split: str = "test") -> dict[str, str]:
    """The MD5s :func:`load_folder` records for the corpus, queries and qrels files, without
    parsing them (of the decompressed bytes for ``.gz`` files, as the loader reads them)."""
    folder = Path(folder)
    sums = {}
    for path in (find_file(folder, "corpus"), find_file(folder, "queries"), qrels_path(folder, split)):
        digest = hashlib.md5()
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(path, f"cannot read file ({exc})") from None
        key = f"qrels/{split}.tsv" if path.parent.name == "qrels" else path.name
        sums[f"{key}:md5"] = digest.hexdigest()
    return sums

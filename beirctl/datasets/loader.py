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

import gzip
import hashlib
import json
import os
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from beirctl.datasets.fingerprint import CorpusHasher
from beirctl.datasets.stream import StreamingCorpus
from beirctl.datasets.types import Corpus, Dataset, Document, Qrels, Queries
from beirctl.errors import BeirctlError, DataError

STREAM_ENV = "BEIRCTL_STREAM_CORPUS"
STREAM_MIN_BYTES = 256_000_000  # "auto" streams corpus files of this size (on disk) or more


def find_file(folder: Path, stem: str) -> Path:
    """Return ``folder/stem.jsonl`` or its gzipped twin."""
    for suffix in (".jsonl", ".jsonl.gz"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise DataError(folder / f"{stem}.jsonl", "file not found")


def _lines(path: Path, digest: Any, spans: tuple[array[int], array[int]] | None = None) -> Iterator[tuple[int, str]]:
    """Yield (line number, decoded line), feeding the raw bytes to ``digest``.

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
                try:
                    yield lineno, raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(path, f"invalid UTF-8 byte at column {exc.start + 1}", lineno) from None
    except (OSError, EOFError) as exc:
        raise DataError(path, f"cannot read file ({exc})") from None


def _json_records(
    path: Path, digest: Any, spans: tuple[array[int], array[int]] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, record) of each non-blank line; ``spans`` as in :func:`_lines`, of
    the yielded records only."""
    for lineno, line in _lines(path, digest, spans):
        if not line.strip():
            if spans is not None:
                spans[0].pop()
                spans[1].pop()
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"malformed JSON ({exc.msg} at column {exc.colno})", lineno) from None
        if not isinstance(record, dict):
            raise DataError(path, "expected a JSON object", lineno)
        yield lineno, record


def _record_id(path: Path, record: dict[str, Any], lineno: int) -> str:
    if "_id" not in record:
        raise DataError(path, "missing '_id'", lineno)
    value = record["_id"]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(path, f"'_id' must be a string, got {type(value).__name__}", lineno)
    value = str(value)
    if not value.strip():
        raise DataError(path, "empty '_id'", lineno)
    return value


def _text_field(path: Path, record: dict[str, Any], key: str, lineno: int, required: bool) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise DataError(path, f"missing '{key}'", lineno)
        return ""
    if not isinstance(value, str):
        raise DataError(path, f"'{key}' must be a string, got {type(value).__name__}", lineno)
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


def load_corpus(path: Path, stream: bool | None = None) -> tuple[Corpus, str, str]:
    """Read and validate a corpus file. Returns (corpus, content fingerprint, file md5).

    ``stream`` (default: :func:`stream_corpus`): keep only ids and byte offsets in memory and
    return a :class:`StreamingCorpus`; else one dict of every document.
    """
    if stream is None:
        stream = stream_corpus(path)
    docs: dict[str, Document] = {}
    rows: dict[str, int] = {}
    seen: dict[str, Any] = rows if stream else docs
    spans: tuple[array[int], array[int]] | None = (array("q"), array("q")) if stream else None
    md5 = hashlib.md5()
    hasher = CorpusHasher()
    for lineno, record in _json_records(path, md5, spans):
        doc_id = _record_id(path, record, lineno)
        if doc_id in seen:
            raise DataError(path, f"duplicate document id {doc_id!r}", lineno)
        title = _text_field(path, record, "title", lineno, required=False)
        text = _text_field(path, record, "text", lineno, required=True)
        if stream:
            rows[doc_id] = len(rows)
        else:
            docs[doc_id] = Document(title, text)
        hasher.update(doc_id, title, text)
    if not seen:
        raise DataError(path, "empty corpus: no documents")
    corpus: Corpus = docs
    if spans is not None:
        starts, sizes = (np.frombuffer(a, dtype=np.int64) for a in spans)
        corpus = StreamingCorpus(path, rows, starts, sizes)
    return corpus, hasher.hexdigest(), md5.hexdigest()


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
        try:
            score = int(score_text)
        except ValueError:
            raise DataError(path, f"score must be an integer, got {score_text!r}", lineno) from None
        qrels.setdefault(qid, {})[doc_id] = score
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
    )

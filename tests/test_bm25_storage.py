"""Loader fast path (orjson over raw bytes): the same records and the same errors as ``json``."""

from __future__ import annotations

import errno
import functools
import hashlib
import importlib.util
import json
import logging
import os
import random
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beirctl.datasets.fingerprint import CorpusHasher
from beirctl.datasets.loader import _json_records, load_corpus, load_folder
from beirctl.datasets.stream import StreamingCorpus
from beirctl.errors import BeirctlError, DataError
from beirctl.lucene import index as index_module
from beirctl.lucene.index import FORMAT_VERSION, ChunkPostings, LuceneIndex, int_to_byte4
from beirctl.retrievers import IndexContext
from beirctl.retrievers.lucene_bm25 import LuceneBM25Retriever
from beirctl.types import Document


def _reference(path: Path) -> list[tuple[int, object]] | str:
    """What the json-only loader did: decode, skip blank (Unicode-stripped) lines, json.loads."""
    out: list[tuple[int, object]] = []
    for lineno, raw in enumerate(path.read_bytes().splitlines(keepends=True), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"{path}:{lineno}: invalid UTF-8 byte at column {exc.start + 1}"
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            return f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
        except (ValueError, RecursionError):
            return "other"
        if not isinstance(record, dict):
            return f"{path}:{lineno}: expected a JSON object"
        out.append((lineno, record))
    return out


def _loaded(path: Path) -> list[tuple[int, object]] | str:
    try:
        return list(_json_records(path, hashlib.md5()))
    except DataError as exc:
        return str(exc)


def _same(a: object, b: object) -> bool:
    """The same line numbers and the same values of the keys the loader reads."""
    assert isinstance(a, list) and isinstance(b, list)
    keys = ("_id", "title", "text")
    # repr: NaN != NaN, and 1 == 1.0 == True would hide a changed type
    view = [[n, [repr(r.get(k)) for k in keys]] for n, r in a]
    return view == [[n, [repr(r.get(k)) for k in keys]] for n, r in b]


@pytest.mark.parametrize(
    "line, expected",
    [
        (b'{"a": NaN}\n', "record"),  # orjson rejects, json accepts: still accepted
        (b'{"a": 1e400}\n', "record"),
        (b'{"_id": 123456789012345678901234567890, "text": "y"}\n', "record"),  # beyond 64 bits: exact
        (b'{"a": "\\ud800"}\n', "record"),  # a lone surrogate escape parses; the loader rejects it later
        ("\u00a0\u2028\n".encode(), "blank"),  # Unicode spaces only: a blank line for str.strip
        (b'\xef\xbb\xbf{"a": 1}\n', "error"),  # a BOM is malformed JSON for both
        (b'{"a": 1} x\n', "error"),
        (b'{"a": "\xff"}\n', "error"),  # invalid UTF-8, reported with its column
        (b"[1, 2]\n", "error"),
    ],
)
def test_orjson_disagreements_follow_json(tmp_path: Path, line: bytes, expected: str) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "d0", "text": "x"}\n' + line)
    ref = _reference(path)
    got = _loaded(path)
    if expected == "error":
        assert isinstance(ref, str) and got == ref
    else:
        assert isinstance(got, list) and _same(got, ref)
        assert len(got) == (2 if expected == "record" else 1)


def test_invalid_utf8_column(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "d0", "text": "ab\xffc"}\n')
    assert _loaded(path) == f"{path}:1: invalid UTF-8 byte at column 26"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_lines = st.one_of(
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.text(max_size=5), _json_values, max_size=4).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"_id": _json_values, "text": _json_values}, optional={"title": _json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.binary(max_size=30),
    st.text(max_size=20).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_lines, min_size=1, max_size=5))
def test_fuzzed_lines_match_json(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b"".join(line.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n" for line in lines))
    ref = _reference(path)
    got = _loaded(path)
    if ref == "other":
        assert isinstance(got, str) and got.startswith(f"{path}:")
    elif isinstance(ref, str):
        assert got == ref
    else:
        assert isinstance(got, list) and _same(got, ref)


def _reference_corpus(path: Path) -> tuple[dict[str, Document], str, str] | str:
    """The corpus as the record-at-a-time loader read it (``_json_records``, ``_record_id``,
    ``_text_field``, ``CorpusHasher.update``): documents, fingerprint and md5, or its error."""
    from beirctl.datasets.loader import _record_id, _text_field, surrogate_error

    docs: dict[str, Document] = {}
    md5, hasher = hashlib.md5(), CorpusHasher()
    try:
        for lineno, record in _json_records(path, md5):
            doc_id = _record_id(path, record, lineno)
            if doc_id in docs:
                raise DataError(path, f"duplicate document id {doc_id!r}", lineno)
            title = _text_field(path, record, "title", lineno, required=False, check=False)
            text = _text_field(path, record, "text", lineno, required=True, check=False)
            docs[doc_id] = Document(title, text)
            try:
                hasher.update(doc_id, title, text)
            except UnicodeEncodeError as exc:
                raise surrogate_error(path, exc, lineno) from None
        if not docs:
            raise DataError(path, "empty corpus: no documents")
    except DataError as exc:
        return str(exc)
    return docs, hasher.hexdigest(), md5.hexdigest()


_records = st.fixed_dictionaries(
    {"_id": st.text(min_size=1, max_size=4) | st.integers(), "text": st.text(max_size=12)},
    optional={"title": st.text(max_size=6) | st.none()},
).map(lambda v: json.dumps(v, ensure_ascii=bool(len(str(v)) % 2)).encode())


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(_records | _lines | st.sampled_from([b"", b"  ", b"\r"]), min_size=1, max_size=8),
    final_newline=st.booleans(),
    block=st.integers(1, 80),
)
def test_block_loader_matches_the_record_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[bytes], final_newline: bool, block: int
) -> None:
    """load_corpus (blocks, digests on a thread, inline checks) gives the record loader's
    documents, fingerprint, md5 and errors, in memory and streamed, whatever the block size
    (lines cut across blocks, a last line without a newline)."""
    from beirctl.datasets import loader

    monkeypatch.setattr(loader, "_BLOCK", block)
    body = b"\n".join(line.replace(b"\n", b" ") for line in lines) + (b"\n" if final_newline else b"")
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(body)
    ref = _reference_corpus(path)
    for stream in (False, True):
        try:
            got: Any = load_corpus(path, stream=stream)
        except DataError as exc:
            got = str(exc)
        if isinstance(ref, str):
            assert got == ref
            continue
        corpus, fingerprint, md5 = got
        assert (fingerprint, md5) == ref[1:] and md5 == hashlib.md5(body).hexdigest()
        assert list(corpus) == list(ref[0]) and dict(corpus.items()) == ref[0]


def test_streamed_and_in_memory_agree_with_nan_field(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": "a", "title": "T", "text": "one", "extra": NaN}\n\n{"_id": 7, "text": "two \\u00e9"}\n')
    mem, fp_mem, md5_mem = load_corpus(path, stream=False)
    streamed, fp_st, md5_st = load_corpus(path, stream=True)
    assert isinstance(streamed, StreamingCorpus)
    assert (fp_mem, md5_mem) == (fp_st, md5_st)
    assert md5_mem == hashlib.md5(path.read_bytes()).hexdigest()
    assert dict(mem) == dict(streamed.items())
    assert streamed["7"].text == "two \u00e9" and streamed["a"].title == "T"


def test_huge_integer_id_kept_exact(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(b'{"_id": 123456789012345678901234567890, "text": "y"}\n')
    corpus, _, _ = load_corpus(path, stream=False)
    assert list(corpus) == ["123456789012345678901234567890"]


def test_fingerprint_is_corpus_hasher_across_blocks(tmp_path: Path) -> None:
    docs = [(f"d{i}", "T" * (i % 3), f"text {i} \u00e9") for i in range(2500)]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"_id": d, "title": t, "text": x}) + "\n" for d, t, x in docs), "utf-8")
    hasher = CorpusHasher()
    for doc in docs:
        hasher.update(*doc)
    for stream in (False, True):
        corpus, fingerprint, md5 = load_corpus(path, stream=stream)
        assert fingerprint == hasher.hexdigest()
        assert md5 == hashlib.md5(path.read_bytes()).hexdigest()
        assert len(corpus) == 2500


# --- the index cache file (LuceneIndex.save / load, format 3) -----------------------------------

_PREFIX = "<8sIIIQ"  # magic, format version, header length, header crc32, file size
_P = struct.calcsize(_PREFIX)


def _small_index(mode: str = "flat") -> LuceneIndex:
    texts = ["cats chase dogs", "dogs bark " * 300, "the cat sat", "Über naïve cats", "bark"]
    titles = ["Cats", "", "Sat", "", "Dogs"]
    return LuceneIndex.build([f"d{i}" for i in range(len(texts))], titles, texts, mode)


def _same_index(a: LuceneIndex, b: LuceneIndex) -> None:
    assert (a.mode, a.doc_ids, list(a.fields)) == (b.mode, b.doc_ids, list(b.fields))
    for name, fa in a.fields.items():
        fb = b.fields[name]
        assert fa.terms == fb.terms and fa.vocab == fb.vocab
        assert (fa.doc_count, fa.sum_ttf) == (fb.doc_count, fb.sum_ttf)
        for attr in ("indptr", "docs", "tfs", "lengths", "norms"):
            x, y = getattr(fa, attr), getattr(fb, attr)
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), (name, attr)


@pytest.mark.parametrize("mode", ["flat", "multifield"])
def test_saved_index_loads_as_read_only_memory_maps(tmp_path: Path, mode: str) -> None:
    index = _small_index(mode)
    path = tmp_path / "i.idx"
    index.save(path)
    loaded = LuceneIndex.load(path)
    assert loaded is not None
    _same_index(loaded, index)
    contents = loaded.fields["contents"]
    # "dogs bark " * 300: tf 300 needs uint16; docs int32; one norm byte per document
    assert contents.tfs.dtype == np.uint16 and contents.docs.dtype == np.int32 and contents.norms.dtype == np.uint8
    assert contents.norms.tolist() == int_to_byte4(contents.lengths).tolist()
    for a in (contents.docs, contents.tfs, contents.norms, contents.indptr):
        assert not a.flags.writeable and not a.flags.owndata  # a view of the file's mapping
        with pytest.raises(ValueError):
            a[:1] = 0
    # the same bytes, every time: the format has nothing time- or machine-dependent
    again = tmp_path / "j.idx"
    loaded.save(again)
    assert again.read_bytes() == path.read_bytes()


def test_header_layout(tmp_path: Path) -> None:
    path = tmp_path / "i.idx"
    _small_index().save(path)
    data = path.read_bytes()
    magic, version, header_len, header_crc, total = struct.unpack_from(_PREFIX, data)
    assert (magic, version, total) == (b"BEIRLIX\0", 3, len(data)) and FORMAT_VERSION == 3
    header = data[_P : _P + header_len]
    assert zlib.crc32(header) == header_crc and (_P + header_len) % 64 == 0
    meta = json.loads(header.rstrip(b"\0"))
    assert meta["fields"] == {"contents": {"doc_count": 5, "sum_ttf": 4 + 600 + 3 + 3 + 2}}  # "the": a stop word
    names = [e["name"] for e in meta["arrays"]]
    assert names[0] == "doc_ids" and "contents.norms" in names and all(e["offset"] % 64 == 0 for e in meta["arrays"])


def _rewrite(path: Path, **changes: int) -> None:
    data = bytearray(path.read_bytes())
    fields = dict(zip(["magic", "version", "header_len", "header_crc", "total"], struct.unpack_from(_PREFIX, data)))
    fields.update(changes)
    struct.pack_into(_PREFIX, data, 0, *fields.values())
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, warns",
    [
        ("truncated", True),
        ("extended", True),
        ("older-version", False),
        ("newer-version", False),
        ("npz", False),
        ("no-magic", True),
        ("header-crc", True),
        ("postings-byte", True),
        ("norms-byte", True),
        ("padding-byte", True),
    ],
)
def test_damaged_or_other_format_is_discarded(
    tmp_path: Path, damage: str, warns: bool, caplog: pytest.LogCaptureFixture
) -> None:
    index = _small_index()
    path = tmp_path / "i.idx"
    index.save(path)
    data = path.read_bytes()
    meta = json.loads(data[_P : _P + struct.unpack_from(_PREFIX, data)[2]].rstrip(b"\0"))
    start = _P + struct.unpack_from(_PREFIX, data)[2]
    where = {e["name"]: start + e["offset"] for e in meta["arrays"]}
    if damage == "truncated":
        path.write_bytes(data[:-100])
    elif damage == "extended":
        path.write_bytes(data + b"\0")
    elif damage in ("older-version", "newer-version"):
        _rewrite(path, version=FORMAT_VERSION + (-1 if damage == "older-version" else 1))
    elif damage == "npz":  # format 2 was an .npz
        with open(path, "wb") as fh:
            np.savez(fh, meta=np.zeros(3, dtype=np.uint8))
    elif damage == "no-magic":
        path.write_bytes(b"x" * len(data))
    elif damage == "header-crc":
        _rewrite(path, header_crc=struct.unpack_from(_PREFIX, data)[3] ^ 1)
    else:
        at = {
            "postings-byte": where["contents.docs"] + 1,
            "norms-byte": where["contents.norms"],
            "padding-byte": where["contents.tfs"] + index.fields["contents"].tfs.nbytes,
        }[damage]
        flipped = bytearray(data)
        flipped[at] ^= 0x01
        path.write_bytes(bytes(flipped))
    with caplog.at_level(logging.WARNING, logger="beirctl.cache"):
        assert LuceneIndex.load(path) is None
    assert not path.exists() and not (tmp_path / "i.idx.verified").exists()
    assert any(str(path) in r.getMessage() for r in caplog.records) == warns


def test_postings_checked_unless_the_file_is_the_verified_one(tmp_path: Path) -> None:
    """The stamp written with the file spares re-runs the postings' crc32; any rewrite of the
    file (another mtime or inode) voids it, so damage in the postings is still found."""
    index = _small_index()
    path = tmp_path / "i.idx"
    index.save(path)
    stamp = json.loads((tmp_path / "i.idx.verified").read_text())
    st = path.stat()
    assert (stamp["bytes"], stamp["mtime_ns"], stamp["inode"]) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert time.time_ns() - st.st_mtime_ns > 2_000_000_000  # save dates the file back (see _RACY_NS)
    loaded = LuceneIndex.load(path)
    assert loaded is not None
    # The same bytes written back in place, at once: another mtime, so everything is checked again.
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data))
    assert path.stat().st_mtime_ns != st.st_mtime_ns
    assert LuceneIndex.load(path) is not None  # intact: loads, but is not stamped (written too recently)
    assert json.loads((tmp_path / "i.idx.verified").read_text())["mtime_ns"] == st.st_mtime_ns
    # A postings byte flipped in place (size and inode unchanged; the mtime is another).
    meta_len = struct.unpack_from(_PREFIX, data)[2]
    meta = json.loads(data[_P : _P + meta_len].rstrip(b"\0"))
    at = _P + meta_len + next(e["offset"] for e in meta["arrays"] if e["name"] == "contents.docs")
    data[at + 1] ^= 0x01
    path.write_bytes(bytes(data))
    assert LuceneIndex.load(path) is None  # new mtime: checked, found, discarded


def test_disk_full_mid_write_is_one_line_and_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "i.idx"
    _small_index().save(path)
    good = path.read_bytes()
    written: list[int] = []

    def full_after_two(fh: object, data: bytes | memoryview) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(len(data))

    monkeypatch.setattr(index_module, "_write", full_after_two)
    with pytest.raises(BeirctlError) as info:
        _small_index("multifield").save(path)
    message = str(info.value)
    assert str(path) in message and "No space left on device" in message and "free disk space" in message
    assert "\n" not in message
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.idx", "i.idx.verified"]  # no temp file
    loaded = LuceneIndex.load(path)
    assert loaded is not None and loaded.mode == "flat"


def test_format2_npz_beside_the_index_is_removed(tmp_path: Path) -> None:
    corpus = {"d1": Document("", "cats and dogs"), "d2": Document("", "dogs")}
    r = LuceneBM25Retriever()
    path = r._cache_path(tmp_path, "c")
    assert path is not None and path.suffix == ".idx"
    path.parent.mkdir(parents=True)
    old = path.with_suffix(".npz")
    np.savez(old, meta=np.zeros(1, dtype=np.uint8))
    r.index(corpus, IndexContext("c", cache_dir=tmp_path))
    assert not old.exists() and path.exists() and not r.loaded_from_cache
    assert r.searcher is not None  # it searches the saved file's mapping, not the built arrays
    assert not r.searcher.index.fields["contents"].docs.flags.writeable
    again = LuceneBM25Retriever()
    again.index(corpus, IndexContext("c", cache_dir=tmp_path))
    assert again.loaded_from_cache and again.search({"q": "dog"}, 10) == r.search({"q": "dog"}, 10)


# --- the index built in forked workers ------------------------------------------------------------


def _chunks(n_docs: int, size: int, seed: int = 3) -> list[tuple[list[str], list[str], list[str]]]:
    """Random documents in chunks of ``size``: blank ones, stop words only, a term frequency over
    255 (uint16 tfs) and words that occur in one chunk only."""
    rng = random.Random(seed)
    words = ["cats", "dog's", "Running", "runs", "the", "a", "Über", "naïve", "x1", "bark", "purr", "zebra"]
    ids, titles, texts = [], [], []
    for i in range(n_docs):
        ids.append(f"d{i}")
        titles.append(rng.choice(["", "the", " ".join(rng.choices(words, k=2))]))
        if i % 11 == 3:
            texts.append(" \t ")
        elif i == n_docs // 2:
            texts.append("purr " * 400)
        else:
            texts.append(" ".join(rng.choices(words, k=rng.randint(0, 15))) + f" only{i // size}")
    return [(ids[lo : lo + size], titles[lo : lo + size], texts[lo : lo + size]) for lo in range(0, n_docs, size)]


@pytest.mark.parametrize("mode", ["flat", "multifield"])
@pytest.mark.parametrize("processes", [2, 3])
def test_forked_build_equals_serial_build(mode: str, processes: int) -> None:
    chunks = _chunks(700, 64)
    serial = LuceneIndex.build_chunks(chunks, mode, processes=1)
    forked = LuceneIndex.build_chunks(chunks, mode, processes=processes)
    _same_index(forked, serial)
    whole = LuceneIndex.build(*(sum((list(c[k]) for c in chunks), []) for k in range(3)), mode=mode)
    _same_index(forked, whole)
    assert forked.fields["contents"].tfs.dtype == np.uint16  # "purr " * 400
    # blank documents are skipped: in flat mode those whose title is blank too
    assert len(forked.doc_ids) < 700 and len(forked.fields["contents"].lengths) == len(forked.doc_ids)


def test_forked_build_of_one_chunk_is_the_serial_one() -> None:
    (chunk,) = _chunks(50, 64)
    _same_index(LuceneIndex.build_chunks([chunk], processes=2), LuceneIndex.build(*chunk))


def test_a_failing_worker_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> ChunkPostings:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ChunkPostings, "from_ids", broken)  # inherited by the forked workers
    with pytest.raises(BeirctlError) as info:
        LuceneIndex.build_chunks(_chunks(200, 50), processes=2)
    assert "worker" in str(info.value) and "No space left on device" in str(info.value)
    assert "\n" not in str(info.value)


# --- the scale benchmark's synthetic corpus -------------------------------------------------------


def _scale_module() -> object:
    spec = importlib.util.spec_from_file_location(
        "scale_bm25", Path(__file__).resolve().parents[1] / "benchmarks" / "scale_bm25.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_scale_corpus_is_seeded_ms_marco_like(tmp_path: Path) -> None:
    scale: Any = _scale_module()
    words = scale.make_vocabulary(20_000)
    assert len(set(words)) == 20_000 and words == scale.make_vocabulary(20_000)
    assert all(w.isascii() and w.isalpha() and w.islower() and len(w) >= 2 for w in words)
    assert not any(w[0] == "w" and w[1:].isdigit() for w in words)
    scale.make_corpus(tmp_path / "a", 250, 40, seed=1)
    scale.make_corpus(tmp_path / "b", 250, 40, seed=1)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    ds = load_folder(tmp_path / "a")
    assert len(ds.corpus) == 250 and len(ds.queries) == 40
    lengths = [len(d.text.split()) for d in ds.corpus.values()]
    assert min(lengths) >= 30 and max(lengths) <= 90 and all(d.title == "" for d in ds.corpus.values())
    for qid, text in ds.queries.items():
        (doc,) = ds.qrels[qid]
        assert 3 <= len(text.split()) <= 8 and set(text.split()) <= set(ds.corpus[doc].text.split())


# --- chunks read by the worker that analyzes them (LazyChunk) ------------------------------------


def _streamed(tmp_path: Path, chunks: list[tuple[list[str], list[str], list[str]]]) -> StreamingCorpus:
    path = tmp_path / "corpus.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for ids, titles, texts in chunks:
            for i, t, x in zip(ids, titles, texts):
                fh.write(json.dumps({"_id": i, "title": t, "text": x}) + "\n\n")  # blank lines are skipped
    corpus, _, _ = load_corpus(path, stream=True)
    assert isinstance(corpus, StreamingCorpus) and corpus.seekable
    return corpus


def _lazy(corpus: StreamingCorpus, size: int) -> list[index_module.LazyChunk]:
    def load(lo: int, hi: int) -> tuple[list[str], list[str]]:
        docs = corpus.read_rows(lo, hi)
        return [d.title for d in docs], [d.text for d in docs]

    spans = [(lo, min(lo + size, len(corpus))) for lo in range(0, len(corpus), size)]
    return [index_module.LazyChunk(corpus.row_ids(lo, hi), functools.partial(load, lo, hi)) for lo, hi in spans]


@pytest.mark.parametrize("mode", ["flat", "multifield"])
@pytest.mark.parametrize("processes", [1, 2])
def test_lazy_chunks_give_the_index_of_the_chunks_in_memory(tmp_path: Path, mode: str, processes: int) -> None:
    chunks = _chunks(700, 64)
    corpus = _streamed(tmp_path, chunks)
    lazy = LuceneIndex.build_chunks(_lazy(corpus, 64), mode, processes=processes)
    _same_index(lazy, LuceneIndex.build_chunks(chunks, mode, processes=1))
    assert len(lazy.doc_ids) < 700  # the blank documents, dropped in the workers, are not in doc_ids


def test_read_rows_reads_records_in_file_order_and_checks_the_file(tmp_path: Path) -> None:
    chunks = _chunks(30, 30)
    corpus = _streamed(tmp_path, chunks)
    ids, titles, texts = chunks[0]
    assert corpus.row_ids(3, 6) == ids[3:6]
    got = corpus.read_rows(3, 6)
    assert [(d.title, d.text) for d in got] == list(zip(titles[3:6], texts[3:6]))
    assert corpus.read_rows(5, 5) == [] and len(corpus.read_rows(0, 30)) == 30
    with pytest.raises(IndexError):
        corpus.read_rows(29, 31)
    assert corpus[ids[7]].text == texts[7] and ids[7] in corpus and "nope" not in corpus
    with corpus.path.open("a", encoding="utf-8") as fh:
        fh.write("\n")
    with pytest.raises(DataError, match="changed after the dataset was loaded"):
        corpus.read_rows(0, 2)

"""Loader fast path (orjson over raw bytes): the same records and the same errors as ``json``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beirctl.datasets.fingerprint import CorpusHasher
from beirctl.datasets.loader import _json_records, load_corpus
from beirctl.datasets.stream import StreamingCorpus
from beirctl.errors import DataError


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

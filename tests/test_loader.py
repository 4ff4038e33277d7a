"""The BEIR folder loader: good data, and one clear error per kind of bad input."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import random
import shutil
from pathlib import Path

import pytest

from beirctl.datasets import load_folder, loader
from beirctl.datasets.stream import StreamingCorpus, iter_chunks, take
from beirctl.errors import BeirctlError, DataError
from beirctl.types import Document
from tests.conftest import TINY_CORPUS, write_dataset


def test_loads_tiny_dataset(tiny: Path) -> None:
    ds = load_folder(tiny)
    assert ds.name == "tiny" and ds.split == "test"
    assert len(ds.corpus) == 5
    assert ds.corpus["d3"] == Document("", "Purring is a sound made by cats and some other felines.")
    # Only judged queries are kept; q9 is not in the qrels.
    assert set(ds.queries) == {"q1", "q2", "q3"}
    # 0-score judgments are kept, as BEIR does.
    assert ds.qrels["q3"] == {"d2": 1, "d1": 0}
    assert ds.checksums["corpus.jsonl:md5"] and len(ds.fingerprint) == 64


def test_gzipped_corpus_gives_the_same_data(tiny: Path, tmp_path: Path) -> None:
    plain = load_folder(tiny)
    other = tmp_path / "gz" / "tiny"
    shutil.copytree(tiny, other)
    with open(other / "corpus.jsonl", "rb") as src, gzip.open(other / "corpus.jsonl.gz", "wb") as dst:
        dst.write(src.read())
    (other / "corpus.jsonl").unlink()
    gz = load_folder(other)
    assert gz.corpus == plain.corpus and gz.fingerprint == plain.fingerprint


def test_other_split(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", qrels=[("q2", "d4", 1)], split="dev")
    ds = load_folder(folder, "dev")
    assert set(ds.queries) == {"q2"}
    with pytest.raises(DataError, match=r"no qrels for split 'test' \(available: dev\)"):
        load_folder(folder, "test")


def _corrupt(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("corpus.jsonl", b'{"_id": "a", "text": "x"}\n{"_id": "b", "text": \n', r"corpus.jsonl:2: malformed JSON"),
        ("corpus.jsonl", b'{"_id": "a", "text": "x"}\n{"text": "no id"}\n', r"corpus.jsonl:2: missing '_id'"),
        (
            "corpus.jsonl",
            b'{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n',
            r"corpus.jsonl:2: duplicate document id 'a'",
        ),
        (
            "corpus.jsonl",
            b'{"_id": "a", "text": "x"}\n{"_id": "b", "text": "caf\xe9"}\n',
            r"corpus.jsonl:2: invalid UTF-8 byte at column 26",
        ),
        ("corpus.jsonl", b"", r"corpus.jsonl: empty corpus"),
        ("corpus.jsonl", b'{"_id": "a", "title": "t"}\n', r"corpus.jsonl:1: missing 'text'"),
        ("corpus.jsonl", b'["not", "an", "object"]\n', r"corpus.jsonl:1: expected a JSON object"),
        (
            "queries.jsonl",
            b'{"_id": "q1", "text": "a"}\n{"_id": "q1", "text": "b"}\n',
            r"queries.jsonl:2: duplicate query id 'q1'",
        ),
        (
            "queries.jsonl",
            b'{"_id": "q1", "text": "a"}\n{"_id": 3.5, "text": "b"}\n',
            r"queries.jsonl:2: '_id' must be a string, got float",
        ),
        (
            "qrels/test.tsv",
            b"query-id\tcorpus-id\tscore\nq1\td1\tone\n",
            r"test.tsv:2: score must be an integer, got 'one'",
        ),
        ("qrels/test.tsv", b"query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv:2: expected 3 tab-separated columns"),
        (
            "qrels/test.tsv",
            b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq7\td2\t1\n",
            r"test.tsv:3: query id 'q7' is not in queries.jsonl",
        ),
    ],
)
@pytest.mark.parametrize("stream", ["never", "always"])
def test_bad_input_names_file_and_line(
    tiny: Path, name: str, content: bytes, message: str, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEIRCTL_STREAM_CORPUS", stream)
    _corrupt(tiny, name, content)
    if name == "queries.jsonl":
        # keep the qrels consistent with the rewritten queries
        _corrupt(tiny, "qrels/test.tsv", b"query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    with pytest.raises(DataError, match=message) as info:
        load_folder(tiny)
    assert "\n" not in str(info.value)


def test_missing_files(tmp_path: Path, tiny: Path) -> None:
    with pytest.raises(DataError, match="dataset folder not found"):
        load_folder(tmp_path / "nope")
    (tiny / "corpus.jsonl").unlink()
    with pytest.raises(DataError, match=r"corpus.jsonl: file not found"):
        load_folder(tiny)


def test_corpus_has_one_copy_per_document(tiny: Path) -> None:
    ds = load_folder(tiny)
    assert [d["_id"] for d in TINY_CORPUS] == list(ds.corpus)
    assert all(type(doc) is Document for doc in ds.corpus.values())


# --- the streamed corpus ------------------------------------------------------------------------

# Blank lines (an ASCII one, and one blank only to str.strip: U+00A0) between records, titles
# missing, null or empty, non-ASCII text and an integer id: the spans must skip exactly what the
# loader skips.
ODD_LINES = [
    '{"_id": "a", "title": "T\u00e9", "text": "caf\u00e9 \u00fcber"}\n',
    "\n",
    '{"_id": 7, "text": "seven"}\n',
    "  \u00a0 \n",
    '{"_id": "c", "title": null, "text": "line\\nbreak"}\n',
    '{"_id": "d", "title": "", "text": ""}',  # no final newline
]


def _odd_folder(tmp_path: Path, gz: bool) -> Path:
    folder = write_dataset(tmp_path / ("gz" if gz else "plain"), qrels=[("q1", "a", 1)])
    data = "".join(ODD_LINES).encode("utf-8")
    (folder / "corpus.jsonl").unlink()
    if gz:
        with gzip.open(folder / "corpus.jsonl.gz", "wb") as fh:
            fh.write(data)
    else:
        (folder / "corpus.jsonl").write_bytes(data)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_streamed_corpus_is_the_loaded_corpus(tmp_path: Path, gz: bool) -> None:
    folder = _odd_folder(tmp_path, gz)
    memory = load_folder(folder, stream=False)
    streamed = load_folder(folder, stream=True)
    corpus = streamed.corpus
    assert isinstance(corpus, StreamingCorpus) and type(memory.corpus) is dict
    assert streamed.fingerprint == memory.fingerprint and streamed.checksums == memory.checksums
    expected = [
        ("a", Document("T\u00e9", "caf\u00e9 \u00fcber")),
        ("7", Document("", "seven")),
        ("c", Document("", "line\nbreak")),
        ("d", Document("", "")),
    ]
    assert list(memory.corpus.items()) == expected
    assert list(corpus) == ["a", "7", "c", "d"] and len(corpus) == 4
    assert list(corpus.items()) == expected and list(corpus.values()) == [d for _, d in expected]
    assert corpus == memory.corpus
    for size in (1, 3, 4, 10):
        chunks = list(iter_chunks(corpus, size))
        assert [len(c) for c in chunks] == [min(size, 4 - i) for i in range(0, 4, size)]
        assert [pair for c in chunks for pair in c] == expected
    # random access (for .gz: from a decompressed temporary copy)
    assert corpus["c"] == Document("", "line\nbreak") and corpus.get("zz") is None
    assert "7" in corpus and 7 not in corpus and "zz" not in corpus
    with pytest.raises(KeyError):
        corpus["zz"]
    assert take(corpus, ["d", "a", "c"]) == [expected[3][1], expected[0][1], expected[2][1]]
    assert take(corpus, ["7", "c"]) == [expected[1][1], expected[2][1]]  # consecutive: one read
    copy = pickle.loads(pickle.dumps(corpus))
    assert copy == memory.corpus and copy["a"] == expected[0][1]


def test_streamed_corpus_many_documents(tmp_path: Path) -> None:
    rng = random.Random(3)
    docs = [
        {
            "_id": f"x{i}",
            "title": rng.choice(["", "t\u00eftle"]),
            "text": " ".join(rng.choices(["a", "\u00df", "c"], k=9)),
        }
        for i in range(2500)
    ]
    folder = write_dataset(tmp_path / "many", corpus=docs, qrels=[("q1", "x1", 1)])
    memory = load_folder(folder, stream=False).corpus
    corpus = load_folder(folder, stream=True).corpus
    assert [p for c in iter_chunks(corpus, 1000) for p in c] == list(memory.items())
    assert [len(c) for c in iter_chunks(corpus, 1000)] == [1000, 1000, 500]
    ids = rng.sample(list(memory), 700)
    assert take(corpus, ids) == [memory[i] for i in ids]
    assert [len(c) for c in iter_chunks(memory, 1000)] == [1000, 1000, 500]


def test_stream_setting(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(load_folder(tiny).corpus) is dict  # a small file: in memory by default
    monkeypatch.setattr(loader, "STREAM_MIN_BYTES", (tiny / "corpus.jsonl").stat().st_size)
    assert isinstance(load_folder(tiny).corpus, StreamingCorpus)
    monkeypatch.setenv("BEIRCTL_STREAM_CORPUS", "never")
    assert type(load_folder(tiny).corpus) is dict
    monkeypatch.setenv("BEIRCTL_STREAM_CORPUS", "always")
    assert isinstance(load_folder(tiny).corpus, StreamingCorpus)
    assert type(load_folder(tiny, stream=False).corpus) is dict
    monkeypatch.setenv("BEIRCTL_STREAM_CORPUS", "sometimes")
    with pytest.raises(BeirctlError, match="BEIRCTL_STREAM_CORPUS='sometimes': expected auto, always or never"):
        load_folder(tiny)


def test_streamed_corpus_notices_a_changed_file(tiny: Path) -> None:
    corpus = load_folder(tiny, stream=True).corpus
    path = tiny / "corpus.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"_id": "new", "text": "late"}) + "\n")
    with pytest.raises(DataError, match=r"corpus.jsonl: the file changed after the dataset was loaded"):
        list(iter_chunks(corpus, 2))
    with pytest.raises(DataError, match=r"corpus.jsonl: the file changed after the dataset was loaded"):
        corpus["d1"]
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # unchanged stamp, still refused: size differs
    with pytest.raises(DataError, match="changed"):
        corpus["d2"]

"""The BEIR folder loader: good data, and one clear error per kind of bad input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from beirctl.datasets import load_folder
from beirctl.datasets.types import Document
from beirctl.errors import DataError
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
def test_bad_input_names_file_and_line(tiny: Path, name: str, content: bytes, message: str) -> None:
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

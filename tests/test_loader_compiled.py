"""beirctl.datasets._records: the compiled block check loads every corpus as the Python checks do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beirctl.datasets import loader
from beirctl.datasets.fingerprint import fingerprint_bytes
from beirctl.errors import DataError

pytestmark = pytest.mark.skipif(loader._records is None, reason="beirctl.datasets._records not built or turned off")


def _load(path: Path, stream: bool) -> tuple[Any, ...]:
    try:
        corpus, fingerprint, md5 = loader.load_corpus(path, stream=stream)
    except DataError as exc:
        return ("error", str(exc))
    return (list(corpus.items()), fingerprint, md5)


def both_paths(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    compiled = [_load(path, s) for s in (True, False)]
    with monkeypatch.context() as m:
        m.setattr(loader, "_records", None)
        python = [_load(path, s) for s in (True, False)]
    assert compiled == python
    return compiled


def test_block_accepts_good_records_and_gives_the_fingerprint_bytes() -> None:
    assert loader._records is not None
    records = [
        {"_id": "a", "title": "T", "text": "x"},
        {"_id": "é", "text": "ü"},
        {"_id": "3", "title": None, "text": ""},
    ]
    ids, titles, texts, fp = loader._records.block(records, {"z": None}) or ((), (), (), b"")
    assert (ids, titles, texts) == (["a", "é", "3"], ["T", "", ""], ["x", "ü", ""])
    assert fp == b"".join(fingerprint_bytes(i.encode(), t.encode(), x.encode()) for i, t, x in zip(ids, titles, texts))


@pytest.mark.parametrize(
    "bad",
    [
        [1],
        [{"_id": 1, "text": "x"}],
        [{"_id": "", "text": "x"}],
        [{"_id": "a b", "text": "x"}],
        [{"_id": "a\u3000", "text": "x"}],  # ideographic space: whitespace to str.isspace
        [{"_id": "a\ud800", "text": "x"}],
        [{"_id": "a"}],
        [{"_id": "a", "text": None}],
        [{"_id": "a", "text": ["x"]}],
        [{"_id": "a", "title": 3, "text": "x"}],
        [{"_id": "a", "text": "x\udfff"}],
        [{"_id": "a", "title": "\ud800", "text": "x"}],
        [{"_id": "a", "text": "x"}, {"_id": "a", "text": "y"}],  # a duplicate in the block
        [{"_id": "z", "text": "x"}],  # a duplicate of an earlier block's id
    ],
)
def test_block_leaves_every_other_block_to_the_line_by_line_path(bad: list[Any]) -> None:
    assert loader._records is not None
    assert loader._records.block([{"_id": "ok", "text": "fine"}, *bad], {"z": None}) is None


_ID = st.text(alphabet="ab1 \u3000é-", max_size=3)
_FIELD = st.one_of(st.text(alphabet="xyé \n\u2028\U0001f600", max_size=6), st.none(), st.integers(0, 3))
_RECORD = st.one_of(
    st.fixed_dictionaries({"_id": _ID, "text": st.text(max_size=5)}, optional={"title": _FIELD}),
    st.fixed_dictionaries({"_id": st.one_of(_ID, st.integers(0, 3)), "text": _FIELD}, optional={"title": _FIELD}),
    st.lists(st.integers(0, 2), max_size=2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_RECORD, min_size=1, max_size=12), final_newline=st.booleans())
def test_any_corpus_loads_alike_on_both_paths(
    records: list[Any], final_newline: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "corpus.jsonl"
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + ("\n" if final_newline else "")
    path.write_text(text, encoding="utf-8")
    both_paths(path, monkeypatch)


def test_large_blocks_load_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several 4 MB blocks, one with a bad record deep inside: the same documents, or the same line."""
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"_id": f"d{i}", "title": "t" * (i % 3), "text": f"text {i} " * 30}) for i in range(40_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good = both_paths(path, monkeypatch)
    assert len(good[0][0]) == 40_000
    lines[31_337] = json.dumps({"_id": "d7", "text": "again"})
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = both_paths(path, monkeypatch)[0]
    assert error[0] == "error" and ":31338:" in error[1] and "duplicate document id 'd7'" in error[1]

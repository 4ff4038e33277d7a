"""Issue 11.5a: over-long tokens split in linear time, as Lucene's StandardTokenizer splits them
(a token longer than maxTokenLength=255 is emitted in pieces of 255 characters)."""

from __future__ import annotations

import time

import pytest

from beirctl.lucene import native
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.lucene.tokenizer import tokenize

pytestmark = pytest.mark.timeout(120)

CASES = ["a" * 600, "x " + "ab1" * 200 + " y", "9" * 1000, "a." * 700, "\u00e9" * 300]


@pytest.mark.parametrize("text", CASES)
def test_python_and_compiled_paths_agree(text: str) -> None:
    python = tokenize(text)
    assert all(len(t) <= 255 for t in python)
    if native.compiled():
        tokens, ids, counts = native.scan_tokens([text], 255)
        assert [tokens[i] for i in ids.tolist()] == python


def test_lucene_split_rule() -> None:
    assert [len(t) for t in tokenize("a" * 600)] == [255, 255, 90]
    assert [len(t) for t in tokenize("x " + "ab1" * 200 + " y")] == [1, 255, 255, 90, 1]


@pytest.mark.parametrize(
    "make", [lambda n: "a" * n, lambda n: ("ab1" * n)[:n], lambda n: "\u4e00" * n, lambda n: "a." * (n // 2)]
)
def test_long_tokens_take_linear_time(make: object) -> None:
    """10x more text takes at most ~10x the time (plus slack), never the regex backtracking of old:
    4,000 letters once took 15 s, 10,000 letters 50 s."""
    build = make
    times = []
    for n in (20_000, 200_000):
        text = build(n)  # type: ignore[operator]
        t0 = time.perf_counter()
        tokenize(text)
        times.append(time.perf_counter() - t0)
    assert times[0] < 2.0
    assert times[1] < 30 * times[0] + 0.5


def test_a_50_mb_single_token_document_indexes_in_seconds() -> None:
    t0 = time.perf_counter()
    terms = EnglishAnalyzer().analyze("a" * 50_000_000)
    assert len(terms) == 50_000_000 // 255 + 1 and time.perf_counter() - t0 < 30

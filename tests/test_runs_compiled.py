"""beirctl.evaluation.runs: the compiled per-hit loops give the objects and bytes of the Python ones."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beirctl.evaluation import runs
from beirctl.evaluation.trec import read_run, round_scores, write_run
from beirctl.jobs import round_run

pytestmark = pytest.mark.skipif(not runs.compiled(), reason="beirctl.evaluation._runs not built or turned off")

# Scores the 6-decimal formatting could get wrong: halves at the 7th decimal, signed zeros and
# tiny negatives, the 1e9 boundary of the direct digits, float32 values, nan and infinities.
EDGES = [
    0.0,
    -0.0,
    1e-7,
    -1e-7,
    5e-7,
    -5e-7,
    1.5e-6,
    2.5e-6,
    1.0000005,
    0.1234565,
    8.0000005,
    4503599.6270495,
    999999999.9999995,
    999999999.999999,
    -999999999.9999995,
    123456789.123456789,
    float(np.float32(12.3456)),
    float(np.float32(0.1)),
    math.nan,
    math.inf,
    -math.inf,
    1e9,
    -1e9,
    1.7e308,
    5e-324,
]


def python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "_runs", None)


def py_lines(qid: str, hits: list[tuple[str, float]], tag: str) -> bytes:
    return "".join(f"{qid} Q0 {d} {r} {s:.6f} {tag}\n" for r, (d, s) in enumerate(hits, 1)).encode()


def test_trec_lines_edges_and_random_bits() -> None:
    rng = np.random.default_rng(7)
    values = EDGES + [struct.unpack("d", struct.pack("Q", int(b)))[0] for b in rng.integers(0, 2**63, 20_000)]
    values += (rng.uniform(-1, 1, 20_000) * 10.0 ** rng.uniform(-8, 10, 20_000)).tolist()
    halves = (rng.integers(-(10**15), 10**15, 20_000) + 0.5) / 1e6  # ...x.xxxxxx5: the 7th decimal is a half
    values += halves.tolist()
    hits = [(f"d{i}", v) for i, v in enumerate(values)]
    for start in range(0, len(hits), 997):
        chunk = hits[start : start + 997]
        assert runs.trec_lines("q1", chunk, "tag") == py_lines("q1", chunk, "tag")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=8).filter(lambda s: not s.isspace()), st.floats(width=64)), max_size=30
    ),
    st.text(alphabet="qé7-", min_size=1, max_size=5),
)
def test_trec_lines_any_float_and_text(hits: list[tuple[str, float]], qid: str) -> None:
    try:
        expected = py_lines(qid, hits, "t")
    except UnicodeEncodeError:  # lone surrogates: neither path writes them
        with pytest.raises(UnicodeEncodeError):
            runs.trec_lines(qid, hits, "t")
        return
    assert runs.trec_lines(qid, hits, "t") == expected


def test_trec_lines_other_types_take_the_python_path() -> None:
    hits: Any = [("a", 3), ("b", np.float32(1.25)), (7, 0.5)]  # int score, numpy scalar, int doc id
    assert runs.trec_lines("q", hits, "t") == b"q Q0 a 1 3.000000 t\nq Q0 b 2 1.250000 t\nq Q0 7 3 0.500000 t\n"
    assert runs.trec_lines("q", (("a", 1.0),), "t") == b"q Q0 a 1 1.000000 t\n"  # a tuple of hits


def test_hit_lists_match_python(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    docs = [f"doc{i}" for i in range(5000)]
    sizes = [0, 3, 1000, 0, 17, 1]
    idx = rng.integers(0, len(docs), sum(sizes))
    scores = rng.normal(size=sum(sizes)).astype(np.float32)
    compiled = runs.hit_lists(docs, idx, scores, sizes)
    python(monkeypatch)
    expected = runs.hit_lists(docs, idx, scores, sizes)
    assert compiled == expected and [len(h) for h in compiled] == sizes
    assert all(type(s) is float and type(d) is str for hits in compiled for d, s in hits)
    assert compiled[2][0] == (docs[idx[3]], float(scores[3]))


def test_hit_lists_bad_arguments() -> None:
    docs = ["a", "b"]
    with pytest.raises(IndexError):
        runs.hit_lists(docs, np.array([0, 2]), np.zeros(2), [2])
    with pytest.raises(IndexError):
        runs.hit_lists(docs, np.array([-1]), np.zeros(1), [1])
    with pytest.raises(ValueError):
        runs.hit_lists(docs, np.array([0, 1]), np.zeros(2), [1])  # sizes do not cover the hits
    with pytest.raises(ValueError):
        runs.hit_lists(docs, np.array([0, 1]), np.zeros(3), [2])


def sample_run() -> dict[str, list[tuple[str, float]]]:
    rng = np.random.default_rng(3)
    return {
        f"q{q}": [
            (f"d{d}", float(s))
            for d, s in zip(rng.choice(999, n, replace=False), np.sort(rng.normal(size=n))[::-1] * 9)
        ]
        for q, n in enumerate([5, 0, 40, 1, 300])
    }


def test_scores_rescoring_and_round_run_match_python(monkeypatch: pytest.MonkeyPatch) -> None:
    run = sample_run()
    flat = runs.flat_scores(run)
    rounded = round_scores(flat)
    new = runs.with_scores(run, rounded)
    rr = round_run(run)
    python(monkeypatch)
    assert np.array_equal(runs.flat_scores(run), flat)
    assert runs.with_scores(run, rounded) == new == rr == round_run(run)
    assert list(new) == list(run) and rr["q4"][0] == (run["q4"][0][0], round(run["q4"][0][1], 6))


def test_flat_scores_other_types() -> None:
    run = {"q": [("a", 2), ("b", np.float32(0.5))]}
    assert runs.flat_scores(run).tolist() == [2.0, 0.5]


def test_identical_id_hits_match_python(monkeypatch: pytest.MonkeyPatch) -> None:
    run = {"1": [("2", 1.0), ("1", 0.5)], "é": [("é", 1.0)], "ab": [("abc", 1.0), ("a", 0.2)], "x": []}
    run["ÿ" * 3] = [("ÿÿÿ", 1.0)]  # same text built another way: equal, not the same object
    found = runs.identical_id_hits(run)
    assert found == ["1", "é", "ÿÿÿ"]
    ints: Any = {1: [(1, 0.3)]}
    found_ints: list[Any] = runs.identical_id_hits(ints)  # not str: Python's ==
    assert found_ints == [1]
    python(monkeypatch)
    assert runs.identical_id_hits(run) == found


@pytest.mark.parametrize("name", ["run.trec", "run.trec.gz"])
def test_write_run_same_bytes_both_paths(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    run = round_run(sample_run())
    run["q9"] = [("d1", -0.0), ("d2", 3)]  # type: ignore[list-item]  # an int score: its query in Python
    write_run(tmp_path / name, run, tag="bm25")
    compiled = (tmp_path / name).read_bytes()
    python(monkeypatch)
    write_run(tmp_path / ("py-" + name), run, tag="bm25")
    assert compiled == (tmp_path / ("py-" + name)).read_bytes()
    text = gzip.decompress(compiled) if name.endswith(".gz") else compiled
    assert text.decode().splitlines()[-1] == "q9 Q0 d2 2 3.000000 bm25"
    assert read_run(tmp_path / name)["q4"] == run["q4"]

"""Metrics against hand-computed values, trec_eval -c semantics, and run file I/O."""

from __future__ import annotations

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beirctl.errors import ConfigError, DataError
from beirctl.evaluation import evaluate, read_qrels, read_run, write_run
from beirctl.evaluation.trec import round_scores
from beirctl.jobs import round_run

QRELS = {"a": {"d1": 1, "d2": 2, "d9": 0}, "b": {"d5": 1}, "c": {"d7": 1}}


def test_ndcg_and_recall_by_hand() -> None:
    run = {"a": [("d2", 3.0), ("d3", 2.0), ("d1", 1.0)], "b": [("d4", 2.0), ("d5", 1.0)]}
    res = evaluate(run, QRELS, ["nDCG@10", "R@1", "R@100"])
    # trec_eval's nDCG uses the relevance grade itself as gain (not 2^rel - 1):
    # a: DCG = 2/log2(2) + 1/log2(4) = 2.5; ideal order d2, d1: IDCG = 2 + 1/log2(3)
    ndcg_a = 2.5 / (2 + 1 / math.log2(3))
    ndcg_b = (1 / math.log2(3)) / 1.0
    assert res.per_query["nDCG@10"]["a"] == pytest.approx(ndcg_a)
    assert res.per_query["nDCG@10"]["b"] == pytest.approx(ndcg_b)
    # c has no hits at all: it still counts, as 0 (trec_eval -c)
    assert res.per_query["nDCG@10"]["c"] == 0.0
    assert res.aggregate["nDCG@10"] == pytest.approx((ndcg_a + ndcg_b) / 3)
    assert res.per_query["R@1"] == {"a": 0.5, "b": 0.0, "c": 0.0}
    assert res.aggregate["R@100"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    assert res.num_queries == 3


def test_unjudged_run_queries_are_ignored() -> None:
    res = evaluate({"zzz": [("d1", 1.0)], "c": [("d7", 1.0)]}, QRELS, ["R@10"])
    assert set(res.per_query["R@10"]) == {"a", "b", "c"}
    assert res.aggregate["R@10"] == pytest.approx(1 / 3)


def test_unknown_metric() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'nDCG@ten'"):
        evaluate({}, QRELS, ["nDCG@ten"])


def test_run_roundtrip_gz(tmp_path: Path) -> None:
    run = {"b": [("d5", 2.5), ("d1", 1.25)], "a": [("d2", 1.0)]}
    path = tmp_path / "run.trec.gz"
    write_run(path, run, tag="t")
    lines = gzip.open(path, "rt").read().splitlines()
    assert lines == ["a Q0 d2 1 1.000000 t", "b Q0 d5 1 2.500000 t", "b Q0 d1 2 1.250000 t"]
    assert read_run(path) == {"a": [("d2", 1.0)], "b": [("d5", 2.5), ("d1", 1.25)]}
    first = path.read_bytes()
    write_run(path, run, tag="t")
    assert path.read_bytes() == first  # deterministic bytes (gzip mtime fixed)


def test_bad_run_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.trec"
    path.write_text("q1 Q0 d1 1 1.0 x\nq1 Q0 d2 2 oops x\n")
    with pytest.raises(DataError, match=r"bad.trec:2: bad rank or score"):
        read_run(path)
    path.write_text("q1 Q0 d1 1 1.0 x\nq1 Q0 d1 2 0.5 x\n")
    with pytest.raises(DataError, match=r"bad.trec:2: document 'd1' appears twice"):
        read_run(path)


def test_trec_qrels_format(tmp_path: Path) -> None:
    path = tmp_path / "qrels.txt"
    path.write_text("a 0 d1 1\na 0 d2 0\n")
    assert read_qrels(path) == {"a": {"d1": 1, "d2": 0}}


def _as_written(values: list[float]) -> list[float]:
    return [float(f"{v:.6f}") for v in values]


def _same_bits(a: list[float], b: list[float]) -> bool:
    return [struct.pack("<d", x) for x in a] == [struct.pack("<d", x) for x in b]


def test_round_scores_at_the_edges() -> None:
    # exact halves of the 6th decimal (k/128 for odd k: x * 1e6 ends in .5), float32 scores as
    # lucene-exact gives them, signs, zeros, huge and non-finite values
    halves = [k / 128 for k in range(1, 400, 2)] + [-k / 128 for k in range(1, 60, 2)]
    f32 = np.random.default_rng(0).random(5000, dtype=np.float32).astype(np.float64) * 40
    values = [*halves, *f32.tolist(), 0.0, -0.0, -1e-9, 5e-7, -5e-7, 1.5e-6, 2.5e-6, 1e9, -3e12, 1e300]
    values += [math.inf, -math.inf]
    # decimals ending in 5 at the 7th place: s * 1e6 rounds to the wrong side of the half for
    # about half of them (47.3188695 among them), so a plain rint(s * 1e6) / 1e6 fails here
    near = [(m + 0.5) / 1e6 for m in range(47318800, 47319800)] + [47.3188695, 75.5167505]
    values += near + [math.nextafter(v, 0) for v in near] + [math.nextafter(v, 100) for v in near]
    assert _same_bits(round_scores(np.array(values)).tolist(), _as_written(values))
    assert math.isnan(round_scores(np.array([math.nan]))[0])


@given(st.lists(st.floats(allow_nan=False), max_size=50))
def test_round_scores_is_pythons_formatting(values: list[float]) -> None:
    assert _same_bits(round_scores(np.array(values, dtype=np.float64)).tolist(), _as_written(values))


def test_round_run_is_the_run_file_and_keeps_rounded_runs() -> None:
    raw = {"a": [("d1", 1 / 3), ("d2", 0.0078125)], "b": [], "c": [("d3", 2.0)]}
    assert round_run(raw) == {"a": [("d1", 0.333333), ("d2", 0.007812)], "b": [], "c": [("d3", 2.0)]}
    rounded = {"a": [("d1", 0.333333)], "b": [("d2", 1.5)]}
    again = round_run(rounded)
    assert again == rounded and again["a"] is not rounded["a"]  # new lists either way

"""Running configs: results layout, resume after failure, --force, leaderboard and its schema."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import ClassVar

import jsonschema
import pytest

from beirctl.config import load_config
from beirctl.datasets.catalog import CQADUPSTACK_FORUMS
from beirctl.errors import DataError
from beirctl.results import ResultsError, build_leaderboard, collect, cqadupstack_mean
from beirctl.retrievers import IndexContext, Retriever, RetrieverParams, Run, register
from beirctl.runner import run_config
from beirctl.types import Corpus, Queries
from tests.conftest import write_dataset

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "beirctl" / "schemas" / "leaderboard.schema.json").read_text()
)


class Exploding(Retriever[RetrieverParams]):
    """A retriever that fails on datasets named in ``fail_on`` (a test fault)."""

    name = "test-exploding"
    fail_on: ClassVar[set[str]] = set()
    calls: ClassVar[list[str]] = []

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        self.docs = list(corpus)
        if "boom" in corpus:
            raise DataError("boom", "simulated failure while indexing")

    def search(self, queries: Queries, k: int) -> Run:
        Exploding.calls.append(",".join(sorted(queries)))
        # every doc, in corpus order, with decreasing scores; includes the query's own id
        return {q: [(d, float(len(self.docs) - i)) for i, d in enumerate(self.docs)][:k] for q in queries}


register(Exploding)


def make_config(tmp_path: Path, datasets: str, retrievers: str, extra: str = "") -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(
        f"name: bench\ndatasets:\n{datasets}retrievers:\n{retrievers}"
        f"output_dir: {tmp_path / 'results'}\ndata_dir: {tmp_path / 'data'}\n{extra}"
    )
    return path


BM25 = "  - type: bm25\n  - type: rank-bm25\n"


def test_run_writes_results_and_resumes(tiny: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "other")
    cfg = load_config(make_config(tmp_path, "  - tiny\n  - other\n", BM25))
    summary = run_config(cfg)
    assert sorted(summary.done) == [("other", "bm25"), ("other", "rank-bm25"), ("tiny", "bm25"), ("tiny", "rank-bm25")]
    out = tmp_path / "results" / "tiny" / "bm25"
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["aggregate"]) == {"nDCG@10", "R@100"}
    assert set(metrics["per_query"]["nDCG@10"]) == {"q1", "q2", "q3"}
    assert metrics["dataset"]["checksums"]["corpus.jsonl:md5"]
    assert {"load_s", "index_s", "search_s", "eval_s"} <= set(metrics["timings"])
    assert metrics["provenance"]["packages"]["bm25s"]
    assert metrics["config"]["resolved"]["top_k"] == 1000
    lines = gzip.open(out / "run.trec.gz", "rt").read().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "d3", "1"] or lines[0].split()[:4] == ["q1", "Q0", "d1", "1"]
    # q3 is also a document id: its own hit is removed (remove_query_id_hits default true)
    assert not any(line.split()[0] == "q3" and line.split()[2] == "q3" for line in lines)
    # a second run skips everything
    again = run_config(cfg)
    assert again.done == [] and len(again.skipped) == 4
    forced = run_config(cfg, force=True)
    assert len(forced.done) == 4
    board = json.loads((tmp_path / "results" / "leaderboard.json").read_text())
    jsonschema.validate(board, SCHEMA)
    assert [r["label"] for r in board["retrievers"]] == ["bm25", "rank-bm25"]


def test_query_id_hits_kept_when_asked(tiny: Path, tmp_path: Path) -> None:
    cfg = load_config(
        make_config(tmp_path, "  - tiny\n", "  - type: test-exploding\n", "remove_query_id_hits: false\ntop_k: 2\n")
    )
    run_config(cfg)
    lines = gzip.open(tmp_path / "results" / "tiny" / "test-exploding" / "run.trec.gz", "rt").read().splitlines()
    assert len([ln for ln in lines if ln.startswith("q3 ")]) == 2
    cfg2 = load_config(make_config(tmp_path, "  - tiny\n", "  - type: test-exploding\n", "top_k: 5\n"))
    run_config(cfg2)
    lines = gzip.open(tmp_path / "results" / "tiny" / "test-exploding" / "run.trec.gz", "rt").read().splitlines()
    q3 = [ln.split()[2] for ln in lines if ln.startswith("q3 ")]
    assert q3 == ["d1", "d2", "d3", "d4"]  # q3 (a doc too) removed from its own top 5, not topped up


def test_failure_keeps_finished_pairs_and_rerun_does_only_missing(tiny: Path, tmp_path: Path) -> None:
    bad = write_dataset(
        tmp_path / "data" / "bad",
        corpus=[{"_id": "boom", "text": "explodes"}, {"_id": "d1", "text": "fine"}],
        queries=[{"_id": "q1", "text": "fine"}],
        qrels=[("q1", "d1", 1)],
    )
    cfg = load_config(make_config(tmp_path, "  - tiny\n  - bad\n", "  - type: test-exploding\n  - type: bm25\n"))
    summary = run_config(cfg)
    assert ("bad", "test-exploding", "boom: simulated failure while indexing") in summary.failed
    assert ("tiny", "test-exploding") in summary.done and ("bad", "bm25") in summary.done
    assert summary.leaderboard is None  # incomplete: no leaderboard
    # fix the data, run again: the failed pair runs, and so does the one whose corpus changed
    (bad / "corpus.jsonl").write_text('{"_id": "ok", "text": "fine"}\n{"_id": "d1", "text": "fine"}\n')
    Exploding.calls.clear()
    again = run_config(cfg)
    assert sorted(again.done) == [("bad", "bm25"), ("bad", "test-exploding")]
    assert len(again.skipped) == 2 and Exploding.calls == ["q1"]
    assert again.leaderboard is not None
    # nothing changed: everything is reused
    third = run_config(cfg)
    assert third.done == [] and len(third.skipped) == 4


def test_changed_metrics_reevaluate_without_searching(tiny: Path, tmp_path: Path) -> None:
    cfg = load_config(make_config(tmp_path, "  - tiny\n", "  - type: test-exploding\n"))
    run_config(cfg)
    Exploding.calls.clear()
    cfg2 = load_config(make_config(tmp_path, "  - tiny\n", "  - type: test-exploding\n", "metrics: [nDCG@10, AP]\n"))
    summary = run_config(cfg2)
    assert summary.done == [("tiny", "test-exploding")] and Exploding.calls == []
    metrics = json.loads((tmp_path / "results" / "tiny" / "test-exploding" / "metrics.json").read_text())
    assert set(metrics["aggregate"]) == {"nDCG@10", "AP"}


def test_only_runs_the_named_dataset(tiny: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "other")
    cfg = load_config(make_config(tmp_path, "  - tiny\n  - other\n", "  - type: bm25\n"))
    summary = run_config(cfg, only=["other"])
    assert summary.done == [("other", "bm25")]
    assert summary.leaderboard is None  # tiny not finished yet
    summary = run_config(cfg, only=["tiny"])
    assert summary.done == [("tiny", "bm25")]
    assert summary.leaderboard is not None
    board = json.loads(summary.leaderboard.read_text())
    assert sorted(board["retrievers"][0]["datasets"]) == ["other", "tiny"]


def test_missing_dataset_names_the_fix(tmp_path: Path) -> None:
    cfg = load_config(make_config(tmp_path, "  - nowhere\n", "  - type: bm25\n"))
    summary = run_config(cfg)
    # not a BEIR dataset: `datasets download` would fail too (issue 16), so the fix named is a path
    assert "give a folder of your own as path:" in summary.failed[0][2]
    assert "datasets download" not in summary.failed[0][2]


def _entry(name: str, group: str | None, score: float) -> dict:
    return {
        "dataset": {"name": name, "group": group, "checksums": {}},
        "retriever": {"label": "x", "type": "bm25", "params": {}},
        "aggregate": {"nDCG@10": score},
        "provenance": {"packages": {"beirctl": "0"}, "machine": {}},
    }


def test_cqadupstack_is_the_mean_of_12_forums() -> None:
    entries = [_entry(f"cqadupstack/{f}", "cqadupstack", i / 100) for i, f in enumerate(CQADUPSTACK_FORUMS)]
    entries.append(_entry("scifact", None, 0.5))
    board = build_leaderboard(entries, {"name": "t", "sha256": "0" * 64, "resolved": {}})
    jsonschema.validate(board, SCHEMA)
    scores = board["retrievers"][0]["datasets"]
    assert scores["cqadupstack"]["nDCG@10"] == pytest.approx(sum(range(12)) / 100 / 12)
    assert board["retrievers"][0]["average"]["nDCG@10"] == pytest.approx((0.055 + 0.5) / 2)
    with pytest.raises(ResultsError, match="needs all 12 forums; missing 1: wordpress"):
        build_leaderboard(entries[:11] + entries[12:])
    with pytest.raises(ResultsError):
        cqadupstack_mean({"cqadupstack/android": {"nDCG@10": 1.0}})


def test_schema_rejects_bad_leaderboards() -> None:
    board = build_leaderboard([_entry("scifact", None, 0.5)], {"name": "t", "sha256": "0" * 64, "resolved": {}})
    jsonschema.validate(board, SCHEMA)
    for mutate in (
        lambda b: b.pop("retrievers"),
        lambda b: b["retrievers"][0]["datasets"]["scifact"].update({"nDCG@10": 1.5}),
        lambda b: b.update({"schema": "other/9"}),
        lambda b: b["retrievers"][0].update({"surprise": 1}),
    ):
        bad = json.loads(json.dumps(board))
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_collect_requires_results(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no metrics.json found"):
        collect(tmp_path)

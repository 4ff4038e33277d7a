"""The top-level Python API: load_dataset, retriever, search, evaluate — as `beirctl run` does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import beirctl
from beirctl.config import load_config
from beirctl.errors import BeirctlError, ConfigError
from tests.conftest import SHARED_BEIR, needs_shared


def test_api_gives_the_runners_scores(tiny: Path, tmp_path: Path) -> None:
    ds = beirctl.load_dataset(str(tiny))
    assert (ds.name, ds.split, sorted(ds.queries)) == ("tiny", "test", ["q1", "q2", "q3"])
    run = beirctl.search(beirctl.retriever("bm25", k1=1.2, b=0.75), ds, k=10, cache_dir=tmp_path / "c")
    assert all(d != q for q, hits in run.items() for d, _ in hits)  # the query's own document dropped
    scores = beirctl.evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"datasets: [{{path: {tiny}}}]\nretrievers: [{{type: bm25, params: {{k1: 1.2, b: 0.75}}}}]\n"
        f"metrics: [nDCG@10, R@100]\noutput_dir: {tmp_path / 'out'}\n",
        encoding="utf-8",
    )
    beirctl.run_config(load_config(cfg))
    stored = json.loads((tmp_path / "out" / "tiny" / "bm25" / "metrics.json").read_text())["aggregate"]
    assert stored == pytest.approx(scores, abs=1e-12)


def test_api_errors_are_one_line(tiny: Path) -> None:
    with pytest.raises(ConfigError, match=r"^bm25: k1: Input should be greater than 0$"):
        beirctl.retriever("bm25", k1=0)
    with pytest.raises(ConfigError, match="bm25: color: unknown parameter"):
        beirctl.retriever("bm25", color="red")
    with pytest.raises(ConfigError, match="unknown retriever type 'bm26'"):
        beirctl.retriever("bm26")
    with pytest.raises(BeirctlError, match="not found in the data dir"):
        beirctl.load_dataset("scifact", data_dir=tiny.parent, download=False)


@needs_shared
def test_api_reproduces_pyserini_on_scifact() -> None:
    ds = beirctl.load_dataset("scifact", data_dir=SHARED_BEIR, download=False)
    run = beirctl.search(beirctl.retriever("bm25"), ds, k=1000)
    scores = beirctl.evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
    assert (round(scores["nDCG@10"], 4), round(scores["R@100"], 4)) == (0.6789, 0.9253)

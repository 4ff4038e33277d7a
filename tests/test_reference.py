"""Against the real data in ../shared: checksums, official scores, and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from beirctl.datasets import load_folder
from beirctl.evaluation import evaluate, read_run
from beirctl.retrievers.bm25 import BM25Params, BM25Retriever
from beirctl.runner import drop_query_hits
from tests.conftest import REPO, SHARED_BEIR, SHARED_REF, needs_shared

pytestmark = needs_shared

# ../shared/README.md
MD5 = {
    "scifact": (
        "d72e8b280bb371afd017a474804a4323",
        "341a853c15a2bcfd7432a237f127f0a5",
        "8364b6c0380b0aedd1a0bed94ad3eea2",
    ),
    "nfcorpus": (
        "c3c3133f0bc525c84ef4df3ae777d182",
        "cd7889291e912df1f4466b2c83671b8b",
        "572f8f91862455ac735141b5e9b8cc46",
    ),
}


def official(dataset: str, variant: str = "flat") -> dict[str, float]:
    for line in (SHARED_REF / "pyserini-beir-v1.0.0-bm25.tsv").read_text().splitlines()[1:]:
        f = line.split("\t")
        if f[0] == dataset and f[1] == variant:
            return {"nDCG@10": float(f[4]), "R@100": float(f[5]), "R@1000": float(f[6])}
    raise KeyError(dataset)


@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_loader_on_real_data(name: str) -> None:
    ds = load_folder(SHARED_BEIR / name)
    assert (
        ds.checksums["corpus.jsonl:md5"],
        ds.checksums["queries.jsonl:md5"],
        ds.checksums["qrels/test.tsv:md5"],
    ) == MD5[name]
    expected = {"scifact": (5183, 300, 339), "nfcorpus": (3633, 323, 12334)}[name]
    assert (len(ds.corpus), len(ds.queries), sum(len(v) for v in ds.qrels.values())) == expected


@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_official_lucene_run_evaluates_to_official_scores(name: str) -> None:
    ds = load_folder(SHARED_BEIR / name)
    run = read_run(SHARED_REF / "runs" / f"{name}.bm25-flat.anserini-0.22.1.trec.gz")
    got = evaluate(run, ds.qrels, ["nDCG@10", "R@100", "R@1000"]).aggregate
    assert {k: round(v, 4) for k, v in got.items()} == official(name)


@pytest.mark.parametrize(
    ("name", "variant"),
    [("scifact", "flat"), ("nfcorpus", "flat"), ("scifact", "multifield"), ("nfcorpus", "multifield")],
)
def test_bm25_is_close_to_lucene(name: str, variant: str) -> None:
    ds = load_folder(SHARED_BEIR / name)
    retriever = BM25Retriever(BM25Params(fields=variant))  # type: ignore[arg-type]
    retriever.index(ds.corpus, ds.fingerprint)
    run = drop_query_hits(retriever.search(ds.queries, 1001), 1000, True)
    got = evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
    ref = official(name, variant)
    print(name, variant, got, ref)
    assert abs(got["nDCG@10"] - ref["nDCG@10"]) < 0.005
    assert abs(got["R@100"] - ref["R@100"]) < 0.01


def test_demo_config_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results"
    cfg = tmp_path / "demo.yaml"
    cfg.write_text((REPO / "configs" / "scifact-bm25.yaml").read_text() + f"output_dir: {out}\n")
    env = {**os.environ, "BEIRCTL_DATA_DIR": str(SHARED_BEIR)}
    proc = subprocess.run(
        [sys.executable, "-m", "beirctl", "run", str(cfg)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "scifact" / "bm25-flat" / "metrics.json").read_text())
    assert abs(metrics["aggregate"]["nDCG@10"] - 0.6789) < 0.005
    assert metrics["dataset"]["checksums"]["corpus.jsonl:md5"] == MD5["scifact"][0]
    assert (out / "scifact" / "bm25-flat" / "run.trec.gz").is_file()
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["retrievers"][0]["datasets"]["scifact"]["nDCG@10"] == metrics["aggregate"]["nDCG@10"]

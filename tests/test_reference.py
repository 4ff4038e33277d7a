"""Against the real data in ../shared: checksums, official scores, and the demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import load_config
from beirctl.datasets import load_folder
from beirctl.evaluation import evaluate, read_run
from beirctl.runner import run_config
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


@pytest.fixture(scope="module")
def real_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bm25 (flat, multifield), bm25s and rank-bm25 on SciFact and NFCorpus, run once."""
    out = tmp_path_factory.mktemp("real") / "results"
    cfg = out.parent / "real.yaml"
    cfg.write_text(
        "datasets: [scifact, nfcorpus]\n"
        "retrievers:\n"
        "  - {type: bm25, label: bm25-flat}\n"
        "  - {type: bm25, label: bm25-multifield, params: {fields: multifield}}\n"
        "  - {type: bm25, label: bm25s, params: {method: lucene}}\n"
        "  - {type: rank-bm25}\n"
        f"metrics: [nDCG@10, R@100, R@1000]\noutput_dir: {out}\ndata_dir: {SHARED_BEIR}\n"
        f"cache_dir: {out.parent / 'cache'}\n"
    )
    summary = run_config(load_config(cfg))
    assert not summary.failed, summary.failed
    return out


@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
@pytest.mark.parametrize("variant", ["flat", "multifield"])
def test_bm25_reproduces_the_official_figures(real_results: Path, name: str, variant: str) -> None:
    metrics = json.loads((real_results / name / f"bm25-{variant}" / "metrics.json").read_text())
    got = {k: round(v, 4) for k, v in metrics["aggregate"].items()}
    print(name, variant, got, official(name, variant))
    assert got == official(name, variant)


@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_bm25s_method_is_close_to_lucene(real_results: Path, name: str) -> None:
    metrics = json.loads((real_results / name / "bm25s" / "metrics.json").read_text())
    ref = official(name)
    assert abs(metrics["aggregate"]["nDCG@10"] - ref["nDCG@10"]) < 0.005
    assert abs(metrics["aggregate"]["R@100"] - ref["R@100"]) < 0.01


def test_verify_gate_on_real_results(real_results: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    for variant in ("flat", "multifield"):
        ok = runner.invoke(
            app,
            [
                "verify",
                str(real_results),
                "-r",
                f"pyserini-bm25-{variant}",
                "--retriever",
                f"bm25-{variant}",
                "--tolerance",
                "0",
                "--dataset",
                "scifact",
                "--dataset",
                "nfcorpus",
            ],
        )
        assert ok.exit_code == 0, ok.output
        assert "6 ok, 0 off" in ok.output
    altered = tmp_path / "altered"
    shutil.copytree(real_results, altered)
    path = altered / "nfcorpus" / "bm25-flat" / "metrics.json"
    data = json.loads(path.read_text())
    data["aggregate"]["nDCG@10"] += 0.001
    path.write_text(json.dumps(data))
    bad = runner.invoke(app, ["verify", str(altered), "-r", "pyserini-bm25-flat", "--retriever", "bm25-flat"])
    assert bad.exit_code == 1
    assert "FAIL  nfcorpus  bm25-flat  nDCG@10  got 0.3228  expected 0.3218  diff +0.0010" in bad.output
    assert "5 ok, 1 off" in bad.output
    missing = runner.invoke(
        app,
        ["verify", str(real_results), "-r", "pyserini-bm25-flat", "--retriever", "bm25-flat", "--dataset", "arguana"],
    )
    assert missing.exit_code == 1 and "FAIL  arguana  bm25-flat  missing from the results" in missing.output


def test_compare_pvalues_on_real_results(real_results: Path) -> None:
    from beirctl.compare import compare
    from beirctl.results import collect

    comp = compare(collect(real_results), "nDCG@10", baseline="rank-bm25", n_resamples=2000)
    for name in ("scifact", "nfcorpus"):
        a_pq = json.loads((real_results / name / "bm25-flat" / "metrics.json").read_text())["per_query"]["nDCG@10"]
        b_pq = json.loads((real_results / name / "rank-bm25" / "metrics.json").read_text())["per_query"]["nDCG@10"]
        qids = sorted(a_pq)
        a = np.array([a_pq[q] for q in qids])
        b = np.array([b_pq[q] for q in qids])
        test = comp.tests[name]["bm25-flat"]
        assert test.n == len(qids) == {"scifact": 300, "nfcorpus": 323}[name]
        assert test.t_p == pytest.approx(stats.ttest_rel(a, b).pvalue)
        rand = stats.permutation_test(
            (a, b),
            lambda x, y, axis: np.mean(x - y, axis=axis),
            permutation_type="samples",
            n_resamples=2000,
            vectorized=True,
            random_state=np.random.default_rng(0),
        )
        assert test.rand_p == pytest.approx(rand.pvalue)
    out = CliRunner().invoke(app, ["compare", str(real_results), "-b", "rank-bm25", "-f", "csv"])
    assert out.exit_code == 0 and "scifact,bm25-flat" in out.output


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
    assert round(metrics["aggregate"]["nDCG@10"], 4) == 0.6789
    assert metrics["dataset"]["checksums"]["corpus.jsonl:md5"] == MD5["scifact"][0]
    assert (out / "scifact" / "bm25-flat" / "run.trec.gz").is_file()
    board = json.loads((out / "leaderboard.json").read_text())
    assert board["retrievers"][0]["datasets"]["scifact"]["nDCG@10"] == metrics["aggregate"]["nDCG@10"]

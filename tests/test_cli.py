"""The CLI through typer's CliRunner and as a real subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.results import METRICS_FILE, pair_dir
from tests.conftest import REPO, SHARED_BEIR, SHARED_REF, needs_shared, write_dataset

runner = CliRunner()


def _config(tmp_path: Path, datasets: list[str], retrievers: str = "  - type: bm25\n") -> Path:
    path = tmp_path / "bench.yaml"
    lines = "".join(f"  - {d}\n" for d in datasets)
    path.write_text(
        f"name: bench\ndatasets:\n{lines}retrievers:\n{retrievers}metrics: [nDCG@10, R@100]\n"
        f"output_dir: {tmp_path / 'results'}\n"
    )
    return path


def test_run_show_and_formats(tiny: Path, tmp_path: Path) -> None:
    cfg = _config(tmp_path, ["tiny"], "  - type: bm25\n  - type: rank-bm25\n")
    result = runner.invoke(app, ["run", str(cfg), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "tiny" in result.output and "rank-bm25" in result.output
    md = runner.invoke(app, ["show", str(tmp_path / "results"), "--format", "markdown", "-m", "nDCG@10"])
    assert md.exit_code == 0
    assert "| dataset | bm25 | rank-bm25 |" in md.output
    csv = runner.invoke(app, ["show", str(tmp_path / "results"), "-f", "csv", "-m", "R@100"])
    assert csv.output.splitlines()[0] == "dataset (R@100),bm25,rank-bm25"
    js = runner.invoke(app, ["show", str(tmp_path / "results"), "-f", "json", "-m", "nDCG@10"])
    data = json.loads(js.output)
    assert data["metric"] == "nDCG@10" and set(data["scores"]["tiny"]) == {"bm25", "rank-bm25"}
    again = runner.invoke(app, ["run", str(cfg), "--data-dir", str(tmp_path / "data")])
    assert "skipped" in again.output


def test_user_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets: [scifact]\nretrievers:\n  - type: bm25\n    params: {k1: high}\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:4: retrievers[0].params.k1" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["eval", str(tmp_path / "none.trec"), str(tmp_path / "q.tsv")])
    assert missing.exit_code == 2 and "none.trec: file not found" in missing.output


def test_datasets_list_and_retrievers(tmp_path: Path) -> None:
    (tmp_path / "scifact" / "qrels").mkdir(parents=True)
    (tmp_path / "scifact" / "corpus.jsonl").write_text("")
    result = runner.invoke(app, ["datasets", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    assert "cqadupstack/wordpress" in rows and "msmarco" in rows and "climate-fever" in rows
    assert "yes" in rows["scifact"].split("│")[7]  # cached column
    assert len([n for n in rows if n != "dataset"]) == 19 + 12 - 1  # 19 incl. MS MARCO, forums replace cqa
    ret = runner.invoke(app, ["retrievers"], env={"COLUMNS": "200"})
    assert "rank-bm25" in ret.output and "k1" in ret.output and "0.9" in ret.output


@needs_shared
def test_eval_official_run_prints_official_numbers() -> None:
    run = SHARED_REF / "runs" / "scifact.bm25-flat.anserini-0.22.1.trec.gz"
    qrels = SHARED_BEIR / "scifact" / "qrels" / "test.tsv"
    out = subprocess.run(
        [sys.executable, "-m", "beirctl", "eval", str(run), str(qrels)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    assert out.splitlines() == ["nDCG@10\tall\t0.6789", "R@100\tall\t0.9253"]


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    corpus_dir = write_dataset(tmp_path / "data" / "broken")
    (corpus_dir / "corpus.jsonl").write_bytes(b'{"_id": "d1", "text": "ok"}\n{"_id": "d1", "text": "again"}\n')
    cfg = _config(tmp_path, ["broken"])
    proc = subprocess.run(
        [sys.executable, "-m", "beirctl", "run", str(cfg), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "corpus.jsonl:2: duplicate document id 'd1'" in proc.stderr


def test_killed_run_resumes(tmp_path: Path) -> None:
    """SIGKILL mid-run: finished pairs stay, nothing half-written, a re-run does only the rest."""
    write_dataset(tmp_path / "data" / "a-fast")
    slow_corpus = [{"_id": "slow", "text": "cats purr"}, {"_id": "d1", "text": "cats"}]
    write_dataset(
        tmp_path / "data" / "b-slow",
        corpus=slow_corpus,
        queries=[{"_id": "q1", "text": "cats"}],
        qrels=[("q1", "d1", 1)],
    )
    cfg = _config(tmp_path, ["a-fast", "b-slow"], "  - type: test-overlap\n    params: {pause: 60}\n")
    code = "import tests.plugin_retrievers; from beirctl.cli import run_cli; run_cli()"
    cmd = [sys.executable, "-c", code, "run", str(cfg), "--data-dir", str(tmp_path / "data")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = pair_dir(tmp_path / "results", "a-fast", "test-overlap") / METRICS_FILE
    deadline = time.time() + 60
    while not done.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert done.exists()
    assert not (pair_dir(tmp_path / "results", "b-slow", "test-overlap") / METRICS_FILE).exists()
    leftovers = [p for p in (tmp_path / "results").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    before = done.read_bytes()
    rerun = subprocess.run(cmd, cwd=REPO, env={**env, "BEIRCTL_TEST_NO_PAUSE": "1"}, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "a-fast × test-overlap: finished earlier, skipped" in rerun.stderr
    assert "b-slow × test-overlap: nDCG@10 " in rerun.stderr
    assert done.read_bytes() == before
    assert (tmp_path / "results" / "leaderboard.json").is_file()


def test_compare_verify_leaderboard_report_commands(tiny: Path, tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "other")
    cfg = _config(tmp_path, ["tiny", "other"], "  - type: bm25\n  - type: rank-bm25\n    params: {k1: 1.5}\n")
    assert runner.invoke(app, ["run", str(cfg), "--data-dir", str(tmp_path / "data")]).exit_code == 0
    res = str(tmp_path / "results")
    cmp = runner.invoke(app, ["compare", res, "-b", "bm25", "-f", "markdown"])
    assert cmp.exit_code == 0 and "| dataset | bm25 (baseline) | rank-bm25 |" in cmp.output
    assert "randomization p (Holm)" in cmp.output
    table = runner.invoke(app, ["compare", res, "-b", "bm25"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "paired tests against the baseline" in table.output
    refs = runner.invoke(app, ["verify", res, "--list"])
    assert "pyserini-bm25-flat" in refs.output and "pyserini/2cr/beir.yaml" in refs.output
    ver = runner.invoke(app, ["verify", res, "-r", "pyserini-bm25-flat", "--retriever", "bm25"])
    assert ver.exit_code == 1
    assert "FAIL  other  bm25  no pyserini-bm25-flat figure for it" in ver.output
    bad = runner.invoke(app, ["leaderboard", res, "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and "pick one with --retriever" in bad.output
    good = runner.invoke(app, ["leaderboard", res, "--out", str(tmp_path / "b"), "--retriever", "rank-bm25"])
    assert good.exit_code == 0, good.output
    bundle = str(tmp_path / "b" / "rank-bm25.zip")
    val = runner.invoke(app, ["leaderboard", "validate", bundle, "--data-dir", str(tmp_path / "data")])
    assert val.exit_code == 0 and "valid" in val.output
    args = ["leaderboard", "bundle", res, "--out", str(tmp_path / "b2"), "--retriever", "bm25"]
    named = runner.invoke(app, [*args, "--meta", "model.revision=r1", "--meta", "hardware.gpu=none"])
    assert named.exit_code == 0, named.output
    meta = json.loads((tmp_path / "b2" / "bm25" / "metadata.json").read_text())
    assert meta["model"]["revision"] == "r1" and meta["hardware"]["gpu"] == "none"
    wrong = runner.invoke(app, [*args, "--force", "--meta", "colour=red"])
    assert wrong.exit_code == 2 and "--meta colour: unknown key" in wrong.output
    site = runner.invoke(
        app, ["leaderboard", "build", bundle, "-o", str(tmp_path / "site"), "--data-dir", str(tmp_path / "data")]
    )
    assert site.exit_code == 0, site.output
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "leaderboard.json").is_file()
    rep = runner.invoke(app, ["report", res, "-o", str(tmp_path / "r.html")])
    assert rep.exit_code == 0 and (tmp_path / "r.html").stat().st_size > 10_000


def test_show_with_reference(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "data" / "scifact")
    assert folder.is_dir()
    cfg = tmp_path / "r.yaml"
    cfg.write_text(
        f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\nreference: pyserini-bm25-flat\n"
        f"output_dir: {tmp_path / 'res'}\ndata_dir: {tmp_path / 'data'}\n"
    )
    run = runner.invoke(app, ["run", str(cfg)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "pyserini-bm25-flat" in run.output and "0.6789" in run.output
    md = runner.invoke(
        app, ["show", str(tmp_path / "res"), "-f", "markdown", "-m", "nDCG@10", "-r", "pyserini-bm25-flat"]
    )
    line = next(ln for ln in md.output.splitlines() if ln.startswith("| scifact"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    score = float(cells[2].split()[0])
    assert cells[1] == "0.6789" and cells[2].endswith(f"({round(score, 4) - 0.6789:+.4f})")
    cfg.write_text(cfg.read_text().replace("pyserini-bm25-flat", "nope"))
    bad = runner.invoke(app, ["run", str(cfg)])
    assert bad.exit_code == 2 and "r.yaml:3: reference: unknown reference 'nope'" in bad.output

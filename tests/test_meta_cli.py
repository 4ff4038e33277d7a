"""`beirctl meta`: the command over stored results, its formats and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.datasets.catalog import CQADUPSTACK_FORUMS
from beirctl.meta import meta_analysis, meta_schema
from tests.result_factory import make_result, write_results

runner = CliRunner()


def _results(tmp_path: Path, forums: int = 12) -> Path:
    rng = np.random.default_rng(7)
    entries = []
    names = ["scifact", "nfcorpus", "fiqa"] + [f"cqadupstack/{f}" for f in CQADUPSTACK_FORUMS[:forums]]
    for ds in names:
        base = rng.uniform(0, 1, 25)
        group = "cqadupstack" if ds.startswith("cqadupstack/") else None
        for label, shift in (("bm25", 0.0), ("dense", 0.05), ("hybrid", 0.08)):
            scores = np.clip(base + shift + rng.normal(0, 0.1, 25), 0, 1)
            entries.append(make_result(ds, label, {f"q{i}": float(s) for i, s in enumerate(scores)}, group=group))
    return write_results(tmp_path / "results", entries)


def test_meta_json_is_the_library_result_and_follows_the_schema(tmp_path: Path) -> None:
    folder = _results(tmp_path)
    out = runner.invoke(app, ["meta", str(folder), "-b", "bm25", "-f", "json", "--method", "reml", "--knha"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    jsonschema.validate(doc, meta_schema())
    assert (doc["metric"], doc["baseline"], doc["effect"], doc["method"], doc["knha"]) == (
        "nDCG@10",
        "bm25",
        "smd",
        "reml",
        True,
    )
    assert list(doc["systems"]) == ["dense", "hybrid"]
    assert list(doc["systems"]["dense"]["datasets"]) == ["cqadupstack", "fiqa", "nfcorpus", "scifact"]
    assert doc["systems"]["dense"]["datasets"]["cqadupstack"]["n"] == 12 * 25
    assert doc["systems"]["dense"]["pooled"]["q_df"] == 3  # CQADupStack is one study of four

    from beirctl.meta import result_scores
    from beirctl.results import collect

    expected = meta_analysis(
        result_scores(collect(folder), "nDCG@10"), "bm25", metric="nDCG@10", method="reml", knha=True
    )
    assert doc == json.loads(json.dumps(expected.to_json()))
    assert doc["systems"]["hybrid"]["pooled"]["estimate"] > doc["systems"]["dense"]["pooled"]["estimate"] > 0


def test_meta_formats(tmp_path: Path) -> None:
    folder = _results(tmp_path)
    md = runner.invoke(app, ["meta", str(folder), "-b", "bm25", "-f", "markdown", "--effect", "md"])
    assert md.exit_code == 0, md.output
    assert "| dense | random effects (DerSimonian-Laird) |" in md.output and "MD vs bm25" in md.output
    csv = runner.invoke(app, ["meta", str(folder), "-b", "bm25", "-f", "csv"])
    header, first = csv.output.splitlines()[:2]
    assert header.split(",")[1:3] == ["dataset", "SMD vs bm25"] and first.startswith("dense,cqadupstack,")
    float(first.split(",")[2])  # numbers only
    latex = runner.invoke(app, ["meta", str(folder), "-b", "bm25", "-f", "latex"])
    assert latex.exit_code == 0 and "\\begin{tabular}" in latex.output
    table = runner.invoke(app, ["meta", str(folder), "-b", "bm25"], env={"COLUMNS": "220"})
    assert table.exit_code == 0 and "random effects" in table.output and "fixed effect" in table.output


def test_meta_errors_are_one_line(tmp_path: Path) -> None:
    folder = _results(tmp_path, forums=11)
    cases = [
        (["-b", "bm25"], "CQADupStack counts once, from all 12 forums; missing 1: wordpress"),
        (["-b", "bm26"], "baseline 'bm26' not among the systems"),
        (["-b", "bm25", "-m", "R@100"], "no per-query R@100"),
        (["-b", "bm25", "--method", "hedges"], "--method hedges: one of dl, reml, pm"),
        (["-b", "bm25", "--effect", "or"], "--effect or: one of smd, md"),
    ]
    for args, message in cases:
        out = runner.invoke(app, ["meta", str(folder), *args])
        assert out.exit_code == 2, (args, out.output)
        assert message in out.output and len(out.output.strip().splitlines()) == 1, (args, out.output)

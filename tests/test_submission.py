"""Leaderboard bundles: build, validate, and each kind of rejection named."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from beirctl.config import load_config
from beirctl.datasets import catalog
from beirctl.results import collect
from beirctl.runner import run_config
from beirctl.submission import build, validate
from tests.conftest import write_dataset


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_dataset(data / "tiny")
    write_dataset(data / "other")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"datasets: [tiny, other]\nretrievers: [{{type: bm25}}]\noutput_dir: {tmp_path / 'res'}\ndata_dir: {data}\n"
    )
    run_config(load_config(cfg))
    zip_path = build(collect(tmp_path / "res"), tmp_path / "res", tmp_path / "out", model_name="BM25")
    assert zip_path.name == "bm25.zip" and zip_path.is_file()
    return tmp_path / "out" / "bm25"


def _data(bundle: Path) -> Path:
    return bundle.parent.parent / "data"


def test_valid_bundle(bundle: Path) -> None:
    meta = json.loads((bundle / "metadata.json").read_text())
    assert meta["model"]["name"] == "BM25" and meta["datasets"] == ["other", "tiny"] and meta["complete"] is False
    assert sorted(p.name for p in (bundle / "runs").iterdir()) == ["other.trec.gz", "tiny.trec.gz"]
    report = validate(bundle, _data(bundle))
    assert report.ok, report.problems
    assert validate(bundle.parent / "bm25.zip", _data(bundle)).ok
    # Without the datasets locally the scores cannot be checked: said plainly, and a problem.
    problems = validate(bundle, bundle.parent / "nowhere").problems
    assert [p.split(":")[0] for p in problems] == ["other", "tiny"]
    assert all("scores were not checked: no local copy with qrels" in p for p in problems)
    unchecked = validate(bundle, bundle.parent / "nowhere", rescore=False)
    assert unchecked.ok and any("not checked" in n and "--no-rescore" in n for n in unchecked.notes)


def _rewrite_run(path: Path, transform) -> None:  # type: ignore[no-untyped-def]
    lines = gzip.open(path, "rt").read().splitlines()
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(transform(lines)) + "\n")


def test_duplicate_doc_rejected(bundle: Path) -> None:
    _rewrite_run(bundle / "runs" / "tiny.trec.gz", lambda ls: ls + [ls[0].replace(" 1 ", " 99 ", 1)])
    problems = validate(bundle, _data(bundle)).problems
    assert any("tiny.trec.gz:" in p and "appears twice for query" in p for p in problems), problems


def test_unknown_query_rejected(bundle: Path) -> None:
    _rewrite_run(bundle / "runs" / "tiny.trec.gz", lambda ls: ls + ["zz9 Q0 d1 1 1.0 x"])
    problems = validate(bundle, _data(bundle)).problems
    assert any("1 unknown query id(s)" in p and "zz9" in p for p in problems), problems


def test_unknown_query_checked_against_local_qrels(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "data2"
    write_dataset(data / "tiny", qrels=[("q1", "d1", 1)])
    problems = validate(bundle, data_dir=data).problems
    assert any("tiny.trec.gz: 2 unknown query id(s) not in the qrels" in p for p in problems), problems


def test_missing_dataset_rejected(bundle: Path) -> None:
    (bundle / "runs" / "other.trec.gz").unlink()
    assert "missing dataset: runs/other.trec.gz for other" in validate(bundle, _data(bundle)).problems
    meta = json.loads((bundle / "metadata.json").read_text())
    meta["complete"] = True
    (bundle / "metadata.json").write_text(json.dumps(meta))
    problems = validate(bundle, _data(bundle)).problems
    assert any(p.startswith("missing dataset: scifact") for p in problems)
    assert (
        len([p for p in problems if p.startswith("missing dataset:")])
        == len([n for d in catalog.PUBLIC_BENCHMARK for n in catalog.expand(d)]) + 1
    )


def test_eleven_forum_cqadupstack_rejected(bundle: Path) -> None:
    meta = json.loads((bundle / "metadata.json").read_text())
    forums = catalog.expand("cqadupstack")[:11]
    meta["datasets"] += forums
    (bundle / "metadata.json").write_text(json.dumps(meta))
    for f in forums:
        shutil.copy(bundle / "runs" / "tiny.trec.gz", bundle / "runs" / (f.replace("/", "-") + ".trec.gz"))
    problems = validate(bundle, _data(bundle), rescore=False).problems
    assert "CQADupStack incomplete: 11 of 12 forums (missing cqadupstack/wordpress)" in problems


def test_schema_violation_rejected(bundle: Path) -> None:
    results = json.loads((bundle / "results.json").read_text())
    results["datasets"]["tiny"]["nDCG@10"] = 7.0
    del results["average"]
    (bundle / "results.json").write_text(json.dumps(results))
    problems = validate(bundle, _data(bundle)).problems
    assert any("results.json: schema violation at (top level): 'average' is a required property" in p for p in problems)
    assert any("results.json: schema violation at datasets/tiny/nDCG@10: 7.0 is greater than" in p for p in problems)

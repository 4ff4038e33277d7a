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


def test_metadata_records_what_leaderboards_ask_for(bundle: Path) -> None:
    import jsonschema

    from beirctl.submission import schema

    meta = json.loads((bundle / "metadata.json").read_text())
    jsonschema.validate(meta, {**schema(), "$ref": "#/$defs/metadata"})
    assert meta["model"] == {"name": "BM25", "revision": meta["model"]["revision"], "link": None}
    assert meta["model"]["revision"].startswith("beirctl ")  # beirctl's own BM25: no model to name
    assert meta["training"] == {"zero_shot": True, "training_data": [], "saw_beir_test": False}
    assert meta["bm25"]["k1"] == 0.9 and meta["bm25"]["b"] == 0.4 and meta["bm25"]["method"] == "lucene-exact"
    assert meta["encoding"] is None and meta["code"]["repository"] == "beirctl"
    assert meta["evaluation"]["flags"][0] == "-c" and meta["evaluation"]["top_k"] == 1000
    assert set(meta["checksums"]) == {"tiny", "other"} and "platform" in meta["hardware"]


def test_missing_required_metadata_is_one_error_naming_them(bundle: Path) -> None:
    from beirctl.errors import BeirctlError
    from beirctl.submission import parse_meta

    res = bundle.parent.parent / "res"
    entries = [e.model_copy(update={"retriever": e.retriever.model_copy(update={"type": "run"})}) for e in collect(res)]
    with pytest.raises(BeirctlError) as err:
        build(entries, res, bundle.parent.parent / "out2")
    assert str(err.value) == (
        "bm25: submission metadata missing model.name, model.revision, training.zero_shot, training.saw_beir_test "
        "(a run retriever; give --meta model.name=... --meta model.revision=... --meta training.zero_shot=... "
        "--meta training.saw_beir_test=...)"
    )
    assert not (bundle.parent.parent / "out2").exists()  # nothing written
    given = parse_meta(["name=my-model", "revision=abc123", "zero_shot=false", "saw_beir_test=no"])
    with pytest.raises(BeirctlError, match=r"missing training\.training_data"):
        build(entries, res, bundle.parent.parent / "out2", meta=given)
    given["training.training_data"] = "msmarco, nq"
    given["code.repository"] = "https://example.org/x"
    given["hardware.gpu"] = "A100"
    build(entries, res, bundle.parent.parent / "out2", meta=given)
    meta = json.loads((bundle.parent.parent / "out2" / "bm25" / "metadata.json").read_text())
    assert meta["model"] == {"name": "my-model", "revision": "abc123", "link": None}
    assert meta["training"] == {"zero_shot": False, "training_data": ["msmarco", "nq"], "saw_beir_test": False}
    assert meta["code"]["repository"] == "https://example.org/x" and meta["hardware"]["gpu"] == "A100"
    assert meta["bm25"] is None
    assert validate(bundle.parent.parent / "out2" / "bm25", _data(bundle)).ok
    for bad, why in (("colour=red", "unknown key"), ("novalue", "expected key=value")):
        with pytest.raises(BeirctlError, match=why):
            parse_meta([bad])
    with pytest.raises(BeirctlError, match="expected true or false"):
        build(entries, res, bundle.parent.parent / "out3", meta={**given, "training.zero_shot": "maybe"})

"""ir_datasets collections: ids, doc-type mapping, errors, and beir/scifact/test offline vs the BEIR folder."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import parse_config
from beirctl.datasets import catalog, load_folder
from beirctl.datasets.irds import beir_name, default_label, default_split, doc_mapping, lookup
from beirctl.errors import BeirctlError, ConfigError
from beirctl.jobs import targets
from tests.conftest import SHARED_BEIR, needs_shared


@pytest.fixture(autouse=True)
def _irds_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of the test's own, set before ir_datasets is first imported (it creates its home
    folder on import: never the user's ~/.ir_datasets)."""
    home = tmp_path / "irds-home"
    monkeypatch.setenv("IR_DATASETS_HOME", str(home))
    pytest.importorskip("ir_datasets")
    return home


def test_ids_names_and_splits() -> None:
    assert [beir_name(i) for i in ("beir/scifact/test", "beir/arguana", "beir/cqadupstack/tex")] == [
        "scifact",
        "arguana",
        "cqadupstack/tex",
    ]
    assert beir_name("beir/webis-touche2020/v2") == "webis-touche2020" and beir_name("msmarco-passage/dev") is None
    assert default_label("antique/test") == "antique-test" and default_label("beir/msmarco/dev") == "msmarco"
    assert (default_split("beir/msmarco/dev"), default_split("beir/arguana"), default_split("x/train")) == (
        "dev",
        "test",
        "train",
    )
    [target] = targets(parse_config("datasets: [{irds: beir/scifact/test}]\nretrievers: [{type: bm25}]\n").datasets[0])
    assert (target.name, target.split, target.source, target.irds) == ("scifact", "test", "irds", "beir/scifact/test")


def test_catalog_irds_ids_are_ir_datasets_collections() -> None:
    for name, irds_id in catalog.IRDS_IDS.items():
        dataset = lookup(irds_id)  # raises unless docs, queries and qrels are there
        assert beir_name(irds_id) == name
        assert catalog.sources(name)["irds"] == irds_id
        title, text = doc_mapping(dataset.docs_cls())
        assert text == "text", irds_id  # every BEIR doc type has a text field
        assert title == ("title" if "title" in dataset.docs_cls()._fields else None)
    assert catalog.sources("bioasq") == {}
    assert catalog.sources("cqadupstack/tex") == {"zip": "cqadupstack.zip", "irds": "beir/cqadupstack/tex"}


def test_doc_mapping_per_doc_type() -> None:
    from ir_datasets.datasets.beir import BeirTitleDoc, BeirTitleUrlDoc
    from ir_datasets.formats import GenericDoc, TrecDoc

    class BodyDoc(NamedTuple):
        doc_id: str
        title: str
        body: str

    assert doc_mapping(BeirTitleDoc) == doc_mapping(BeirTitleUrlDoc) == ("title", "text")
    assert doc_mapping(GenericDoc) == doc_mapping(TrecDoc) == (None, "text")
    assert doc_mapping(BodyDoc) == ("title", "body")


def test_unknown_or_incomplete_ids_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(BeirctlError) as err:
        lookup("beir/scifac/test")
    assert str(err.value).startswith("unknown ir_datasets id 'beir/scifac/test' (did you mean beir/scifact/test")
    with pytest.raises(BeirctlError) as err:
        lookup("beir/msmarco")  # docs and queries, qrels only in its split subsets
    assert str(err.value) == (
        "ir_datasets id 'beir/msmarco' has no qrels (try beir/msmarco/dev, beir/msmarco/test, beir/msmarco/train)"
    )
    text = "retrievers: [{type: bm25}]\ndatasets:\n  - irds: beir/scifact/test\n  - irds: nope/nothing\n"
    with pytest.raises(ConfigError, match=r"^c\.yaml:4: datasets\[1\]\.irds: unknown ir_datasets id 'nope/nothing'"):
        parse_config(text, "c.yaml")
    config = tmp_path / "c.yaml"
    config.write_text(text)
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 2 and "unknown ir_datasets id 'nope/nothing'" in result.output
    assert "Traceback" not in result.output
    with pytest.raises(ConfigError, match="'irds' cannot be used with 'path'"):
        parse_config("retrievers: [{type: bm25}]\ndatasets: [{irds: beir/nq, path: x}]\n", "c.yaml")


def _beir_zip(home: Path, name: str) -> None:
    """The zip ir_datasets' beir module downloads, where it looks for it first (``cache_path``
    in its downloads.json: ``<home>/beir/<name>/source.zip``), built from the BEIR folder."""
    src = SHARED_BEIR / name
    (home / "beir" / name).mkdir(parents=True)
    with zipfile.ZipFile(home / "beir" / name / "source.zip", "w", zipfile.ZIP_STORED) as zf:
        for rel in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
            zf.write(src / rel, f"{name}/{rel}")


@needs_shared
def test_scifact_through_ir_datasets_equals_the_beir_folder(tmp_path: Path, _irds_home: Path) -> None:
    _beir_zip(_irds_home, "scifact")
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: irds\nretrievers:\n  - type: bm25\n    params: {method: lucene-exact}\n"
        f"datasets:\n  - {{irds: beir/scifact/test, name: scifact-irds}}\n  - {{path: {SHARED_BEIR / 'scifact'}}}\n"
        f"output_dir: {tmp_path / 'results'}\ndata_dir: {tmp_path / 'data'}\n"
    )
    # A process of its own: ir_datasets reads IR_DATASETS_HOME once, when it is imported.
    env = {**os.environ, "BEIRCTL_STREAM_CORPUS": "always"}
    done = subprocess.run(
        [sys.executable, "-m", "beirctl", "run", str(config)], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]
    export = tmp_path / "data" / "_irds" / "beir__scifact__test"
    assert (export / ".complete").is_file()
    ours, theirs = load_folder(export, "test", stream=False), load_folder(SHARED_BEIR / "scifact", "test", stream=False)
    assert ours.fingerprint == theirs.fingerprint and dict(ours.corpus) == dict(theirs.corpus)
    assert ours.queries == theirs.queries and ours.qrels == theirs.qrels and len(ours.corpus) == 5183
    res = tmp_path / "results"
    irds_doc = json.loads((res / "scifact-irds" / "bm25" / "metrics.json").read_text())
    folder_doc = json.loads((res / "scifact" / "bm25" / "metrics.json").read_text())
    assert irds_doc["dataset"]["checksums"]["irds:id"] == "beir/scifact/test"
    assert irds_doc["dataset"]["checksums"]["corpus:sha256"] == folder_doc["dataset"]["checksums"]["corpus:sha256"]
    assert irds_doc["per_query"] == folder_doc["per_query"] and irds_doc["aggregate"] == folder_doc["aggregate"]
    assert irds_doc["aggregate"]["nDCG@10"] == pytest.approx(0.6789, abs=5e-5)  # Pyserini's BM25 flat on SciFact

    def lines(path: Path) -> list[list[str]]:
        with gzip.open(path, "rt") as fh:
            return [line.split()[:5] for line in fh]

    assert lines(res / "scifact-irds" / "bm25" / "run.trec.gz") == lines(res / "scifact" / "bm25" / "run.trec.gz")
    # a second run reuses both the export and the results
    stamp = (export / "corpus.jsonl").stat().st_mtime_ns
    again = subprocess.run(
        [sys.executable, "-m", "beirctl", "run", str(config)], env=env, capture_output=True, text=True, timeout=900
    )
    assert again.returncode == 0 and (export / "corpus.jsonl").stat().st_mtime_ns == stamp
    assert "skipped" in again.stderr

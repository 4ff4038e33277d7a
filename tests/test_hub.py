"""The Hugging Face route, offline: files in the hub's layout written by the test itself."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from beirctl.datasets import load_folder, load_hub
from beirctl.errors import DataError

README = """---
configs:
- config_name: corpus
  data_files:
  - split: corpus
    path: corpus.jsonl
- config_name: queries
  data_files:
  - split: queries
    path: queries.jsonl
---
# BEIR test dataset
"""


def hub_layout(folder: Path, hub_root: Path, name: str) -> None:
    """Lay out ``BeIR/<name>`` (corpus, queries configs) and ``BeIR/<name>-qrels`` as on the hub."""
    main = hub_root / "BeIR" / name
    qrels = hub_root / "BeIR" / f"{name}-qrels"
    main.mkdir(parents=True)
    qrels.mkdir(parents=True)
    (main / "README.md").write_text(README)
    shutil.copy(folder / "corpus.jsonl", main / "corpus.jsonl")
    shutil.copy(folder / "queries.jsonl", main / "queries.jsonl")
    for tsv in (folder / "qrels").glob("*.tsv"):
        shutil.copy(tsv, qrels / tsv.name)


def test_hub_and_folder_give_identical_data(tiny: Path, tmp_path: Path) -> None:
    hub_layout(tiny, tmp_path / "hub", "tiny")
    from_folder = load_folder(tiny)
    from_hub = load_hub("tiny", "test", hub_root=tmp_path / "hub")
    assert from_hub.corpus == from_folder.corpus
    assert list(from_hub.corpus) == list(from_folder.corpus)
    assert from_hub.queries == from_folder.queries
    assert from_hub.qrels == from_folder.qrels
    assert from_hub.fingerprint == from_folder.fingerprint


def test_hub_keeps_string_ids(tmp_path: Path) -> None:
    from tests.conftest import write_dataset

    folder = write_dataset(
        tmp_path / "src",
        corpus=[{"_id": "007", "title": "", "text": "bond"}],
        queries=[{"_id": "01", "text": "spy"}],
        qrels=[("01", "007", 1)],
    )
    hub_layout(folder, tmp_path / "hub", "ids")
    ds = load_hub("ids", hub_root=tmp_path / "hub")
    assert ds.qrels == {"01": {"007": 1}} and ds.queries == {"01": "spy"}


def test_hub_qrels_naming_unknown_query(tiny: Path, tmp_path: Path) -> None:
    (tiny / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq42\td2\t1\n")
    hub_layout(tiny, tmp_path / "hub", "tiny")
    with pytest.raises(DataError, match=r"BeIR/tiny-qrels:test:2: query id 'q42' is not in"):
        load_hub("tiny", hub_root=tmp_path / "hub")


def test_hub_missing_repo(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot load"):
        load_hub("absent", hub_root=tmp_path / "hub")

"""The retriever registry: built-ins, and third-party retrievers found by entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from beirctl.errors import ConfigError
from beirctl.retrievers import available, get
from beirctl.retrievers.bm25 import BM25Retriever


def test_builtins() -> None:
    assert {"bm25", "rank-bm25"} <= set(available())
    assert get("bm25") is BM25Retriever
    assert get("bm25").Params().k1 == 0.9  # type: ignore[attr-defined]


def test_unknown() -> None:
    with pytest.raises(ConfigError, match="unknown retriever type 'nope'"):
        get("nope")


def test_entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution declaring ``[beirctl.retrievers]`` is picked up by name."""
    dist = tmp_path / "acme_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[beirctl.retrievers]\nacme-overlap = tests.plugin_retrievers:Overlap\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "acme-overlap" in available()
    cls = get("acme-overlap")
    assert cls.__name__ == "Overlap" and cls.__module__ == "tests.plugin_retrievers"
    assert "tests.plugin_retrievers" in sys.modules


def test_entry_point_to_non_retriever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "bad_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[beirctl.retrievers]\nbad = pathlib:Path\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="not a beirctl Retriever subclass"):
        get("bad")

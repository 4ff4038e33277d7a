"""Shared fixtures: tiny datasets written by the tests, and the real data in ../shared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared"))
SHARED_BEIR = SHARED / "beir"
SHARED_REF = SHARED / "reference"

needs_shared = pytest.mark.skipif(
    not (SHARED_BEIR / "scifact" / "corpus.jsonl").is_file(),
    reason=f"real BEIR data not found at {SHARED} (set BEIRCTL_SHARED)",
)


def beirctl_process(
    args: Sequence[str],
    data: Path,
    cwd: Path,
    *,
    stdin: str | None = None,
    python: Sequence[str] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python [PYTHON...] -m beirctl ARGS`` in ``cwd`` with ``BEIRCTL_DATA_DIR=data``; stdout
    and stderr captured as text, ``stdin`` fed to it; asserts it exits 0 (with its stderr)."""
    proc = subprocess.run(
        [sys.executable, *python, "-m", "beirctl", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "BEIRCTL_DATA_DIR": str(data)},
        cwd=cwd,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


TINY_CORPUS = [
    {"_id": "d1", "title": "Cats", "text": "Cats are small furry animals that purr."},
    {"_id": "d2", "title": "Dogs", "text": "Dogs are loyal animals that bark."},
    {"_id": "d3", "title": "", "text": "Purring is a sound made by cats and some other felines."},
    {"_id": "d4", "title": "Birds", "text": "Birds fly and sing; some birds talk."},
    {"_id": "q3", "title": "Echo", "text": "Which animals bark loudly?"},
]
TINY_QUERIES = [
    {"_id": "q1", "text": "why do cats purr"},
    {"_id": "q2", "text": "birds that talk"},
    {"_id": "q3", "text": "which animals bark"},
    {"_id": "q9", "text": "an unjudged query"},
]
TINY_QRELS = [("q1", "d1", 1), ("q1", "d3", 2), ("q2", "d4", 1), ("q3", "d2", 1), ("q3", "d1", 0)]


def write_dataset(
    folder: Path,
    corpus: list[dict] | None = None,
    queries: list[dict] | None = None,
    qrels: list[tuple[str, str, int]] | None = None,
    split: str = "test",
) -> Path:
    """Write a BEIR-format dataset folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for doc in TINY_CORPUS if corpus is None else corpus:
            fh.write(json.dumps(doc) + "\n")
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        for q in TINY_QUERIES if queries is None else queries:
            fh.write(json.dumps(q) + "\n")
    with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for row in TINY_QRELS if qrels is None else qrels:
            fh.write("\t".join(map(str, row)) + "\n")
    return folder


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "data" / "tiny")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches out of the user's home and never reach a hub."""
    monkeypatch.setenv("BEIRCTL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("BEIRCTL_DATA_DIR", raising=False)
    monkeypatch.delenv("BEIRCTL_BEIR_URL", raising=False)


# Tiers: a test module that needs an optional backend (torch, Java, Ray), or runs a long
# subprocess or fuzzing campaign, is integration; a test that reads ../shared is reproduction
# (whatever its module); everything else is unit.
INTEGRATION_MODULES = {
    "test_dense",
    "test_splade",
    "test_rerank",
    "test_fusion",
    "test_ray",
    "test_pyserini_bm25",
    "test_trust_fuzz",
    "test_trust_faults",
    "test_trust_cache",
    "test_meta",  # R metafor as the independent check
}


def _uses_shared(item: pytest.Item) -> bool:
    if "shared" in getattr(item, "fixturenames", ()):
        return True
    return any(str(mark.kwargs.get("reason", "")).startswith("real BEIR data") for mark in item.iter_markers("skipif"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""
        if any(item.get_closest_marker(name) for name in ("unit", "integration", "reproduction")):
            continue  # a test that says its tier keeps it
        if _uses_shared(item):
            item.add_marker(pytest.mark.reproduction)
        elif module in INTEGRATION_MODULES:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)

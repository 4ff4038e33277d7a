"""Cross-encoder reranking of a first stage's top-N.

No cross-encoder ships offline, so the test builds a tiny randomly initialised
BertForSequenceClassification (one label) with a tiny WordPiece vocabulary and saves it to a
temporary folder: its scores are meaningless, but they are what the reranked order must follow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from beirctl.datasets import load_folder  # noqa: E402
from beirctl.retrievers import IndexContext, Retriever, RetrieverParams, Run, register  # noqa: E402
from beirctl.retrievers.rerank import RerankParams, RerankRetriever  # noqa: E402
from beirctl.types import Corpus, Queries, doc_text  # noqa: E402
from tests.tiny_models import build_tiny_bert  # noqa: E402


class AllDocs(Retriever[RetrieverParams]):
    """First stage returning every document in reverse id order (scores descending); records
    the index context it was given."""

    name = "test-all-docs"
    seen: list[IndexContext] = []

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        AllDocs.seen.append(ctx)
        self.ids = sorted(corpus, reverse=True)

    def search(self, queries: Queries, k: int) -> Run:
        return {q: [(d, float(-i)) for i, d in enumerate(self.ids[:k])] for q in queries}


@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-ce", "cross-encoder", seed=7)


def test_rerank_orders_top_n_by_cross_encoder_scores(tiny: Path, tmp_path: Path, cross_encoder: Path) -> None:
    from sentence_transformers import CrossEncoder

    register(AllDocs)
    ds = load_folder(tiny, "test")
    params = RerankParams.model_validate(
        {"first_stage": {"type": "test-all-docs"}, "model": str(cross_encoder), "top_n": 3, "batch_size": 2}
    )
    reranker = RerankRetriever(params)
    ctx = IndexContext(corpus_id=ds.fingerprint, dataset="tiny", cache_dir=tmp_path, device="cpu")
    reranker.index(ds.corpus, ctx)
    # The first stage is indexed with the reranker's context: the dataset name reaches it.
    assert AllDocs.seen[-1] is ctx and AllDocs.seen[-1].dataset == "tiny"
    assert not reranker.loaded_from_cache
    first = reranker.first_stage.search(ds.queries, 10)
    run = reranker.search(ds.queries, 10)

    ce = CrossEncoder(str(cross_encoder), device="cpu")
    for qid, hits in first.items():
        top = [d for d, _ in hits[:3]]
        pairs = [(ds.queries[qid], doc_text(ds.corpus[d].title, ds.corpus[d].text)) for d in top]
        logits = np.asarray(ce.predict(pairs, activation_fn=lambda x: x)).reshape(-1)
        expected = [top[i] for i in np.argsort(-logits, kind="stable")]
        got = run[qid]
        assert [d for d, _ in got[:3]] == expected
        assert [s for _, s in got[:3]] == pytest.approx(sorted(logits.tolist(), reverse=True), abs=1e-5)
        # Deeper hits keep their first-stage order, below every reranked score.
        assert [d for d, _ in got[3:]] == [d for d, _ in hits[3:]]
        assert all(s < got[2][1] for _, s in got[3:])
        assert len(got) == len(hits)

    # Batch size changes nothing but speed.
    bigger = RerankRetriever(params.model_copy(update={"batch_size": 64}))
    bigger.index(ds.corpus, ctx)
    other = bigger.search(ds.queries, 10)
    for qid in run:
        assert [d for d, _ in other[qid]] == [d for d, _ in run[qid]]

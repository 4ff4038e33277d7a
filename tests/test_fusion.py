"""Fusion: reciprocal rank fusion and normalised score sums, sub-retrievers from the registry."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from beirctl.datasets import load_folder
from beirctl.retrievers import IndexContext, Retriever, RetrieverParams, Run, register
from beirctl.retrievers.fusion import FusionParams, FusionRetriever, fuse
from beirctl.types import Corpus, Queries

A: Run = {"q": [("d1", 10.0), ("d2", 8.0), ("d3", 2.0)]}
B: Run = {"q": [("d3", 0.9), ("d1", 0.5)], "only-b": [("d9", 1.0)]}


def test_rrf() -> None:
    run = fuse([A, B], [1.0, 1.0], 10, method="rrf", rrf_k=60)
    expected = {"d1": 1 / 61 + 1 / 62, "d2": 1 / 62, "d3": 1 / 63 + 1 / 61}
    assert dict(run["q"]) == pytest.approx(expected)
    assert [d for d, _ in run["q"]] == ["d1", "d3", "d2"]
    assert run["only-b"] == [("d9", pytest.approx(1 / 61))]
    weighted = fuse([A, B], [1.0, 3.0], 10, method="rrf", rrf_k=0)
    assert dict(weighted["q"]) == pytest.approx({"d1": 1 + 3 / 2, "d2": 1 / 2, "d3": 1 / 3 + 3})
    assert len(fuse([A, B], [1, 1], 2)["q"]) == 2


def test_score_fusion_normalisations() -> None:
    minmax = fuse([A, B], [1.0, 1.0], 10, method="score", normalization="min-max")
    assert dict(minmax["q"]) == pytest.approx({"d1": 1.0 + 0.0, "d2": 0.75, "d3": 0.0 + 1.0})
    z = fuse([A, B], [1.0, 0.5], 10, method="score", normalization="z-score")
    mean, std = 20 / 3, math.sqrt(((10 - 20 / 3) ** 2 + (8 - 20 / 3) ** 2 + (2 - 20 / 3) ** 2) / 3)
    assert dict(z["q"])["d2"] == pytest.approx((8 - mean) / std)
    assert dict(z["q"])["d3"] == pytest.approx((2 - mean) / std + 0.5 * 1.0)
    raw = fuse([A, B], [1.0, 1.0], 10, method="score", normalization="none")
    assert dict(raw["q"])["d1"] == pytest.approx(10.5)


class FixedParams(RetrieverParams):
    ranking: list[str] = []


class Fixed(Retriever[FixedParams]):
    """Returns the same ranking for every query; records the index context it was given."""

    name = "test-fixed"
    Params = FixedParams
    seen: list[IndexContext] = []

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        Fixed.seen.append(ctx)
        self.corpus = corpus

    def search(self, queries: Queries, k: int) -> Run:
        ranking = self.params.ranking
        return {q: [(d, float(len(ranking) - i)) for i, d in enumerate(ranking[:k])] for q in queries}


def test_fusion_retriever_with_bm25_and_a_plugin(tiny: Path, tmp_path: Path) -> None:
    register(Fixed)
    ds = load_folder(tiny, "test")
    params = FusionParams.model_validate(
        {
            "retrievers": [{"type": "bm25"}, {"type": "test-fixed", "params": {"ranking": ["d4", "d1"]}, "weight": 2}],
            "depth": 10,
        }
    )
    fusion = FusionRetriever(params)
    ctx = IndexContext(corpus_id=ds.fingerprint, dataset="tiny", cache_dir=tmp_path)
    fusion.index(ds.corpus, ctx)
    # The members are indexed with the fusion's context: the dataset name reaches them.
    assert Fixed.seen[-1] is ctx and Fixed.seen[-1].dataset == "tiny"
    assert not fusion.loaded_from_cache
    run = fusion.search(ds.queries, 3)
    bm25 = fusion.retrievers[0].search(ds.queries, 10)
    q = "q1"
    expected = fuse([bm25, {q: [("d4", 2.0), ("d1", 1.0)]}], [1, 2], 3)[q]
    assert run[q] == expected
    assert run[q][0][0] == "d1"  # first in bm25, second (weight 2) in the plugin


def test_invalid_sub_retrievers_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="unknown retriever type 'nope'"):
        FusionParams.model_validate({"retrievers": [{"type": "bm25"}, {"type": "nope"}]})
    with pytest.raises(ValidationError, match="k1"):
        FusionParams.model_validate({"retrievers": [{"type": "bm25"}, {"type": "bm25", "params": {"k1": "x"}}]})
    with pytest.raises(ValidationError, match="at least 2"):
        FusionParams.model_validate({"retrievers": [{"type": "bm25"}]})

"""``fusion``: combine the runs of several retrievers (reciprocal rank fusion or normalised score sum)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from beirctl.errors import BeirctlError
from beirctl.retrievers.base import IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries


class SubRetriever(RetrieverParams):
    """A retriever used inside another one: its registered type and parameters."""

    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    weight: float = Field(1.0, description="fusion weight")

    @model_validator(mode="after")
    def _check(self) -> SubRetriever:
        # Fail at config time, naming the bad sub-parameter, rather than when the pair runs.
        from beirctl.retrievers import registry

        try:
            registry.get(self.type).Params.model_validate(self.params)
        except BeirctlError as exc:
            raise ValueError(str(exc)) from None
        return self

    def build(self) -> Retriever[Any]:
        from beirctl.retrievers import registry

        cls = registry.get(self.type)
        return cls(cls.Params.model_validate(self.params))


class FusionParams(RetrieverParams):
    retrievers: list[SubRetriever] = Field(
        default_factory=lambda: [{"type": "bm25"}, {"type": "dense"}],
        validate_default=True,
        min_length=2,
        description="retrievers to fuse: {type, params, weight}",
    )
    method: Literal["rrf", "score"] = Field("rrf", description="rrf: sum of weight/(rrf_k+rank); score: weighted sum")
    rrf_k: int = Field(60, ge=0, description="RRF constant")
    normalization: Literal["min-max", "z-score", "none"] = Field(
        "min-max", description="score fusion: per-query normalisation of each run"
    )
    depth: int = Field(1000, ge=1, description="hits taken from each retriever (at least k)")


def _normalized(hits: list[tuple[str, float]], how: str) -> dict[str, float]:
    if not hits:
        return {}
    scores = [s for _, s in hits]
    if how == "min-max":
        lo, hi = min(scores), max(scores)
        span = hi - lo
        return {d: (s - lo) / span if span > 0 else 1.0 for d, s in hits}
    if how == "z-score":
        mean = sum(scores) / len(scores)
        std = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        return {d: (s - mean) / std if std > 0 else 0.0 for d, s in hits}
    return dict(hits)


def fuse(
    runs: list[Run],
    weights: list[float],
    k: int,
    *,
    method: str = "rrf",
    rrf_k: int = 60,
    normalization: str = "min-max",
) -> Run:
    """Fuse runs query by query; a document missing from a run gets nothing from it.

    Ties are broken by document id, so the result does not depend on dict order.
    """
    qids: dict[str, None] = {}
    for run in runs:
        qids.update(dict.fromkeys(run))
    fused: Run = {}
    for qid in qids:
        total: dict[str, float] = {}
        for run, w in zip(runs, weights):
            hits = run.get(qid, [])
            if method == "rrf":
                contrib = {d: w / (rrf_k + rank) for rank, (d, _) in enumerate(hits, start=1)}
            else:
                contrib = {d: w * s for d, s in _normalized(hits, normalization).items()}
            for d, s in contrib.items():
                total[d] = total.get(d, 0.0) + s
        ranked = sorted(total.items(), key=lambda x: (-x[1], x[0]))[:k]
        fused[qid] = ranked
    return fused


class FusionRetriever(Retriever[FusionParams]):
    name = "fusion"
    description = "fuses two or more retrievers: reciprocal rank fusion or normalised score sum"
    Params = FusionParams

    def __init__(self, params: FusionParams | None = None) -> None:
        super().__init__(params)
        self.retrievers = [sub.build() for sub in self.params.retrievers]

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        for retriever in self.retrievers:
            retriever.index(corpus, ctx)
        self.loaded_from_cache = all(r.loaded_from_cache for r in self.retrievers)

    def search(self, queries: Queries, k: int) -> Run:
        depth = max(k, self.params.depth)
        runs = [r.search(queries, depth) for r in self.retrievers]
        weights = [sub.weight for sub in self.params.retrievers]
        return fuse(
            runs,
            weights,
            k,
            method=self.params.method,
            rrf_k=self.params.rrf_k,
            normalization=self.params.normalization,
        )

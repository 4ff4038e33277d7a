"""``rerank``: a cross-encoder re-scores the top-N hits of a first-stage retriever."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from beirctl.dense.encoding import resolve_device
from beirctl.dense.models import ModelRef, resolve_model
from beirctl.retrievers.base import IndexContext, Retriever, RetrieverParams, Run
from beirctl.retrievers.fusion import SubRetriever
from beirctl.types import Corpus, Queries, doc_text


class RerankParams(RetrieverParams):
    first_stage: SubRetriever = Field(
        default_factory=lambda: {"type": "bm25"},
        validate_default=True,
        description="the retriever whose hits are reranked: {type, params}",
    )
    model: str = Field(
        "cross-encoder/ms-marco-MiniLM-L-6-v2",
        description="sentence-transformers CrossEncoder: local folder, hub id (org/name or org/name@revision), "
        "pkg:MODULE or pkg:MODULE/folder",
    )
    top_n: int = Field(100, ge=1, description="first-stage hits re-scored per query")
    batch_size: int = Field(32, ge=1, description="query-passage pairs per forward pass")
    max_length: int | None = Field(512, description="truncate pairs to this many tokens (None: the model's)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, mps")
    fp16: bool = Field(True, description="half precision on CUDA (ignored on CPU)")


class RerankRetriever(Retriever[RerankParams]):
    name = "rerank"
    description = "cross-encoder reranking of a first-stage retriever's top-N"
    Params = RerankParams

    def __init__(self, params: RerankParams | None = None) -> None:
        super().__init__(params)
        self.first_stage = self.params.first_stage.build()
        self.cache_dir: Path | None = None
        self.device: str | None = None  # the IndexContext's device, over params.device
        self._ref: ModelRef | None = None
        self._model: Any = None
        self.corpus: Corpus = {}

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            if self._ref is None:
                self._ref = resolve_model(self.params.model, self.cache_dir / "rerank" if self.cache_dir else None)
            device = resolve_device(self.device or self.params.device)
            model = CrossEncoder(
                self._ref.source, revision=self._ref.revision, device=device, max_length=self.params.max_length
            )
            if self.params.fp16 and device.startswith("cuda"):
                model.model.half()
            self._model = model
        return self._model

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        self.corpus, self.cache_dir, self.device = corpus, ctx.cache_dir, ctx.device
        self.first_stage.index(corpus, ctx)
        self.loaded_from_cache = self.first_stage.loaded_from_cache

    def score(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Cross-encoder scores (raw logits) of (query, passage) pairs, batched."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        import torch

        scores = self.model.predict(
            pairs,
            batch_size=self.params.batch_size,
            show_progress_bar=False,
            activation_fn=torch.nn.Identity(),
            convert_to_numpy=True,
        )
        return np.asarray(scores, dtype=np.float32).reshape(len(pairs), -1)[:, 0]

    def search(self, queries: Queries, k: int) -> Run:
        first = self.first_stage.search(queries, max(k, self.params.top_n))
        pairs: list[tuple[str, str]] = []
        spans: dict[str, tuple[int, int]] = {}
        for qid, hits in first.items():
            start = len(pairs)
            for doc_id, _ in hits[: self.params.top_n]:
                doc = self.corpus[doc_id]
                pairs.append((queries[qid], doc_text(doc.title, doc.text)))
            spans[qid] = (start, len(pairs))
        # One predict call over every pair: the model sorts them by length across queries.
        scores = self.score(pairs)
        run: Run = {}
        for qid, hits in first.items():
            start, end = spans[qid]
            top = hits[: self.params.top_n]
            reranked = sorted(
                ((d, float(s)) for (d, _), s in zip(top, scores[start:end].tolist())), key=lambda x: (-x[1], x[0])
            )
            # Hits below the top N keep their first-stage order, scored below every reranked hit.
            floor = reranked[-1][1] if reranked else 0.0
            rest = [(d, floor - i) for i, (d, _) in enumerate(hits[self.params.top_n :], start=1)]
            run[qid] = (reranked + rest)[:k]
        return run

"""``rank-bm25``: the rank_bm25 package (BM25Okapi / BM25L / BM25Plus), for comparison."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from beirctl.progress import track
from beirctl.retrievers.base import K1, B, IndexContext, Retriever, Run
from beirctl.retrievers.text import TokenizerParams, field_texts, tokenize, top_k
from beirctl.types import Corpus, Queries


class RankBM25Params(TokenizerParams):
    variant: Literal["okapi", "bm25l", "bm25plus"] = Field("okapi", description="rank_bm25 class")
    k1: K1 = Field(0.9, description="term-frequency saturation")
    b: B = Field(0.4, description="length normalisation")
    delta: float | None = Field(None, description="delta of BM25L (default 0.5) / BM25Plus (default 1)")
    epsilon: float = Field(0.25, description="BM25Okapi floor for negative idf, as a share of mean idf")


class RankBM25Retriever(Retriever[RankBM25Params]):
    name = "rank-bm25"
    description = "BM25 from the rank_bm25 package (pure Python; slow, for comparison)"
    Params = RankBM25Params

    def __init__(self, params: RankBM25Params | None = None) -> None:
        super().__init__(params)
        self.doc_ids: list[str] = []
        self.models: dict[str, Any] = {}

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        import rank_bm25

        self.doc_ids = list(corpus)
        with track("indexing", len(corpus), "docs") as advance:
            for field, texts in field_texts(corpus, self.params.fields).items():
                tokens = tokenize(texts, self.params)
                k1, b, delta = self.params.k1, self.params.b, self.params.delta
                if self.params.variant == "okapi":
                    model = rank_bm25.BM25Okapi(tokens, k1=k1, b=b, epsilon=self.params.epsilon)
                elif self.params.variant == "bm25l":
                    model = rank_bm25.BM25L(tokens, k1=k1, b=b, delta=delta or 0.5)
                else:
                    model = rank_bm25.BM25Plus(tokens, k1=k1, b=b, delta=delta or 1.0)
                self.models[field] = model
            advance(len(corpus))

    def search(self, queries: Queries, k: int) -> Run:
        qids = list(queries)
        tokens = tokenize([queries[q] for q in qids], self.params)
        weights = {"contents": 1.0, "title": self.params.title_weight, "text": self.params.text_weight}
        run: Run = {}
        with track("searching", len(qids), "queries") as advance:
            for qid, toks in zip(qids, tokens):
                scores = np.zeros(len(self.doc_ids))
                for field, model in self.models.items():
                    scores += np.asarray(model.get_scores(toks)) * weights[field]
                idx, vals = top_k(scores, k)
                run[qid] = [(self.doc_ids[i], float(v)) for i, v in zip(idx.tolist(), vals.tolist())]
                advance(1)
        return run

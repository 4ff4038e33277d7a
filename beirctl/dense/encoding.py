"""Encoding: the :class:`Encoder` protocol, device choice, length-sorted batching, resumable
sharded corpus encoding (locally or on a :class:`ShardPool` of workers), progress."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

from beirctl.atomic import cache_lock
from beirctl.datasets.stream import take
from beirctl.dense.cache import ShardStore
from beirctl.dense.models import ModelRef
from beirctl.types import Corpus, doc_text

# Texts tokenized at a time to measure lengths for the plan (bounds memory on large corpora).
LENGTH_CHUNK = 10_000


@runtime_checkable
class Encoder(Protocol):
    """A bi-encoder of one's own: ``encode`` a list of texts into a float32 matrix (one row per
    text, in their order). ``name`` and ``revision`` identify what it computes: they key the
    embedding cache, so change the revision when the weights or the code change.

    ``type: dense`` with ``encoder: module:Class`` gives such a class sharding, caching, resume,
    exact and faiss search and Ray encoding. It may also define ``lengths(texts)`` (token counts,
    to batch texts of similar length; characters are used otherwise).
    """

    name: str
    revision: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class CorpusTexts(Mapping[str, str]):
    """The passages to encode, ``prefix + doc_text(title, text)`` by document id, made from the
    corpus when asked for: nothing is materialised for the whole corpus (a streamed corpus is
    read from disk, one shard's documents at a time)."""

    def __init__(self, corpus: Corpus, prefix: str = "") -> None:
        self.corpus = corpus
        self.prefix = prefix

    def __getitem__(self, doc_id: str) -> str:
        doc = self.corpus[doc_id]
        return self.prefix + doc_text(doc.title, doc.text)

    def __iter__(self) -> Iterator[str]:
        return iter(self.corpus)

    def __len__(self) -> int:
        return len(self.corpus)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.corpus

    def take(self, ids: Sequence[str]) -> list[str]:
        """The texts of ``ids``, in that order (batched reads from a streamed corpus)."""
        return [self.prefix + doc_text(d.title, d.text) for d in take(self.corpus, ids)]


def take_texts(texts: Mapping[str, str], ids: Sequence[str]) -> list[str]:
    """``[texts[i] for i in ids]``, through :meth:`CorpusTexts.take` when it can."""
    if isinstance(texts, CorpusTexts):
        return texts.take(ids)
    return [texts[i] for i in ids]


def resolve_device(device: str) -> str:
    """``auto``: cuda if available, else mps, else cpu; anything else is used as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def length_order(lengths: Sequence[int]) -> np.ndarray:
    """Positions sorted longest first (stable): batches of similar length pad little, and an
    out-of-memory error shows up on the first batch rather than the last."""
    return np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")


class BatchEncoder(Protocol):
    """What :func:`encode_corpus` needs from a model: dense (float32 rows) or sparse (csr) output."""

    def lengths(self, texts: list[str]) -> list[int]: ...

    def encode(self, texts: list[str]) -> Any: ...


E = TypeVar("E", bound=BatchEncoder)


class EncoderFactory(Generic[E]):
    """Builds an encoder on first call and keeps it (the corpus and the queries share one model).

    Picklable: ``build`` must be (a class or a ``functools.partial`` of one); a pickled copy,
    as a :class:`ShardPool` sends to its workers, builds its own encoder there.
    """

    def __init__(self, build: Callable[[], E]) -> None:
        self.build = build
        self._made: E | None = None

    def __call__(self) -> E:
        if self._made is None:
            self._made = self.build()
        return self._made

    @property
    def made(self) -> E | None:
        return self._made

    def __getstate__(self) -> dict[str, Any]:
        return {"build": self.build, "_made": None}


class ShardPool(Protocol):
    """Workers that encode a corpus plan's missing shards into a :class:`ShardStore` (the Ray
    executor provides one). Each worker builds its encoder with ``make_encoder`` (pickled) and
    writes the same shard files the local loop writes, so either resumes the other."""

    def encode_shards(
        self,
        store: ShardStore,
        plan: dict[str, Any],
        texts: Mapping[str, str],
        make_encoder: Callable[[], BatchEncoder],
        on_shard: Callable[[int], None] | None = None,
    ) -> None: ...


class CustomEncoder:
    """An :class:`Encoder` class named ``module:Class`` in a config, built with ``params`` on
    first use; lengths are the encoder's own or the texts' characters."""

    def __init__(self, target: str, params: dict[str, Any]) -> None:
        self.target = target
        self.params = params
        self._encoder: Encoder | None = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = load_encoder(self.target, self.params)
        return self._encoder

    @property
    def identity(self) -> str:
        return f"{self.encoder.name}@{self.encoder.revision}"

    def lengths(self, texts: list[str]) -> list[int]:
        own = getattr(self.encoder, "lengths", None)
        return list(own(texts)) if callable(own) else [len(t) for t in texts]

    def encode(self, texts: list[str]) -> np.ndarray:
        emb = np.asarray(self.encoder.encode(texts), dtype=np.float32)
        if not texts:
            return emb.reshape(0, emb.shape[-1] if emb.ndim == 2 else 0)
        if emb.ndim != 2 or emb.shape[0] != len(texts):
            raise ValueError(
                f"encoder {self.target}: encode() of {len(texts)} texts returned shape {emb.shape}, "
                f"expected ({len(texts)}, dim)"
            )
        return emb

    def encode_sorted(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return self.encode([])
        order = length_order(self.lengths(texts))
        emb = self.encode([texts[i] for i in order])
        result = np.empty_like(emb)
        result[order] = emb
        return result


def load_encoder(target: str, params: dict[str, Any]) -> Encoder:
    """Import ``module:Class`` and build it with ``params``; it must follow :class:`Encoder`."""
    import importlib

    from beirctl.errors import ConfigError

    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # a module in the current folder, as `python -m` finds it
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"encoder {target!r}: name a class as module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"encoder {target!r}: cannot import it ({exc})") from None
    try:
        encoder = cls(**params)
    except TypeError as exc:  # wrong or missing constructor arguments
        raise ConfigError(f"encoder {target!r}: {exc} (set encoder_params)") from None
    missing = [a for a in ("name", "revision", "encode") if not hasattr(encoder, a)]
    if missing:
        raise ConfigError(f"encoder {target!r}: not an Encoder (no {', '.join(missing)})")
    return encoder  # type: ignore[no-any-return]


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """:func:`beirctl.progress.track` of ``total`` passages (nothing when not ``enabled``)."""
    if not enabled:
        yield lambda n: None
        return
    from beirctl.progress import track

    with track(description, total, "passages") as advance:
        yield advance


def plan_corpus(
    store: ShardStore, ids: list[str], texts: Mapping[str, str], encoder: BatchEncoder, shard_size: int
) -> dict[str, Any]:
    """Fix the encoding order (longest first) and the shards before any shard is written.

    Lengths are measured ``LENGTH_CHUNK`` texts at a time (a text's length does not depend on
    the others), so only that many texts are in memory.
    """
    lengths: list[int] = []
    for lo in range(0, len(ids), LENGTH_CHUNK):
        lengths.extend(encoder.lengths(take_texts(texts, ids[lo : lo + LENGTH_CHUNK])))
    order = length_order(lengths)
    return store.write_plan([ids[i] for i in order], shard_size)


def encode_corpus(
    store: ShardStore,
    ids: list[str],
    texts: Mapping[str, str],
    encoder_factory: Callable[[], BatchEncoder],
    shard_size: int,
    description: str = "encoding",
    on_shard: Callable[[int], None] | None = None,
    pool: ShardPool | None = None,
) -> None:
    """Encode ``texts`` (by id) into ``store``'s shards, longest first, resuming a killed run.

    Only one shard's texts are read at a time (``texts`` may be a :class:`CorpusTexts`).
    The encoding order is fixed in the plan before the first shard, so a resumed run encodes the
    remaining shards with exactly the batches an uninterrupted run would have used. With a
    ``pool`` the missing shards are encoded by its workers (``encoder_factory`` is pickled to
    them), then the store is finished here.
    """
    if store.complete:
        return
    encoder: BatchEncoder | None = None
    plan = store.read_plan()
    if plan is None or sorted(plan["ids"]) != sorted(ids):
        encoder = encoder_factory()
        plan = plan_corpus(store, ids, texts, encoder, shard_size)
    size = int(plan["shard_size"])
    if pool is not None and store.missing(plan):
        pool.encode_shards(store, plan, texts, encoder_factory, on_shard)
    todo = store.missing(plan)
    ordered: list[str] = plan["ids"]
    from beirctl.progress import track

    finished = len(ordered) - sum(len(ordered[i * size : (i + 1) * size]) for i in todo)
    with track(description, len(ordered), "passages", done=finished) as advance:
        for i in todo:
            if encoder is None:
                encoder = encoder_factory()
            chunk = take_texts(texts, ordered[i * size : (i + 1) * size])
            # An encoder with an ``on_batch`` hook moves the bar per batch, others per shard.
            per_batch = hasattr(encoder, "on_batch")
            if per_batch:
                encoder.on_batch = advance  # type: ignore[attr-defined]
            try:
                store.write_shard(i, encoder.encode(chunk))
            finally:
                if per_batch:
                    encoder.on_batch = None  # type: ignore[attr-defined]
            if not per_batch:
                advance(len(chunk))
            if on_shard is not None:
                on_shard(i)
    store.finish({"n": len(ordered), "shard_size": size, "shards": store.num_shards(plan)})


def encode_cached(
    store: ShardStore,
    ids: list[str],
    texts: Mapping[str, str],
    encoder_factory: Callable[[], BatchEncoder],
    shard_size: int,
    description: str,
    pool: ShardPool | None = None,
) -> tuple[list[str], bool]:
    """:func:`encode_corpus` under the store's cache lock: (the document ids in stored order,
    whether the store was complete before, i.e. a cache hit)."""
    with cache_lock(store.folder):
        hit = store.complete
        encode_corpus(store, ids, texts, encoder_factory, shard_size, description, pool=pool)
        plan = store.read_plan()
    assert plan is not None
    return list(plan["ids"]), hit


class DenseEncoder:
    """A sentence-transformers model, loaded on first use, encoding in length-sorted batches."""

    def __init__(
        self,
        ref: ModelRef,
        *,
        device: str = "auto",
        fp16: bool = True,
        max_seq_length: int | None = None,
        batch_size: int = 32,
        trust_remote_code: bool = False,
        pooling: str | None = None,
    ) -> None:
        self.ref = ref
        self.on_batch: Callable[[int], None] | None = None  # progress: called with each batch's size
        self.pooling = pooling  # None: the model's own pooling; "cls" or "mean" replaces it
        self.device = resolve_device(device)
        self.fp16 = fp16 and self.device.startswith("cuda")
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size
        self.trust_remote_code = trust_remote_code
        self._model: Any = None

    @property
    def dtype(self) -> str:
        return "float16" if self.fp16 else "float32"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(
                self.ref.source,
                device=self.device,
                revision=self.ref.revision,
                trust_remote_code=self.trust_remote_code,
            )
            if self.max_seq_length is not None:
                model.max_seq_length = self.max_seq_length
            if self.pooling is not None:
                _set_pooling(model, self.pooling)
            if self.fp16:
                model.half()
            model.eval()
            self._model = model
        return self._model

    def lengths(self, texts: list[str]) -> list[int]:
        """Token counts after truncation (what a batch pads to), or characters without a tokenizer."""
        tokenizer = getattr(self.model, "tokenizer", None)
        if tokenizer is None or not callable(tokenizer):
            return [len(t) for t in texts]
        limit = self.model.max_seq_length
        enc = tokenizer(texts, truncation=limit is not None, max_length=limit, add_special_tokens=True)
        return [len(x) for x in enc["input_ids"]]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embeddings (float32) of ``texts`` in their order; batches follow the given order."""
        model = self.model
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            emb = model.encode(
                batch,
                batch_size=len(batch),
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=False,
            )
            out.append(np.asarray(emb, dtype=np.float32))
            if self.on_batch is not None:
                self.on_batch(len(batch))
        if not out:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.concatenate(out)

    @property
    def dimension(self) -> int:
        dim = getattr(self.model, "get_embedding_dimension", self.model.get_sentence_embedding_dimension)()
        return int(dim)

    def encode_sorted(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts`` in their order, encoded longest first."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = length_order(self.lengths(texts))
        emb = self.encode([texts[i] for i in order])
        result = np.empty_like(emb)
        result[order] = emb
        return result


def _set_pooling(model: Any, mode: str) -> None:
    """Replace a sentence-transformers model's pooling (a plain Hugging Face checkpoint such as
    TAS-B loads with mean pooling, but was trained with its CLS vector)."""
    from sentence_transformers.sentence_transformer.modules import Pooling

    from beirctl.errors import ConfigError

    for name, module in model.named_children():
        if isinstance(module, Pooling):
            model._modules[name] = Pooling(module.get_embedding_dimension(), pooling_mode=mode)
            return
    raise ConfigError(f"pooling {mode!r}: the model has no pooling module to replace")

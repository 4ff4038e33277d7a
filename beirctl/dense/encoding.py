"""Encoding: device choice, length-sorted batching, resumable sharded corpus encoding, progress."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from beirctl.datasets.stream import take
from beirctl.datasets.types import Corpus
from beirctl.dense.cache import ShardStore
from beirctl.dense.models import ModelRef

# Texts tokenized at a time to measure lengths for the plan (bounds memory on large corpora).
LENGTH_CHUNK = 10_000


def doc_text(title: str, text: str) -> str:
    """Corpus text as BEIR and MTEB build it: ``(title + " " + text).strip()``."""
    return (title + " " + text).strip()


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
    """What :func:`encode_corpus` needs from a model."""

    def lengths(self, texts: list[str]) -> list[int]: ...

    def encode(self, texts: list[str]) -> Any: ...


@contextlib.contextmanager
def progress(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr when it is a terminal; yields ``advance(n)``."""
    if not enabled or not sys.stderr.isatty() or total == 0:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.errors import LiveError
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        bar.start()
    except LiveError:  # another live display (the runner's status line) owns the terminal
        yield lambda n: None
        return
    try:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
    finally:
        bar.stop()


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
) -> None:
    """Encode ``texts`` (by id) into ``store``'s shards, longest first, resuming a killed run.

    Only one shard's texts are read at a time (``texts`` may be a :class:`CorpusTexts`).
    The encoding order is fixed in the plan before the first shard, so a resumed run encodes the
    remaining shards with exactly the batches an uninterrupted run would have used.
    """
    if store.complete:
        return
    encoder: BatchEncoder | None = None
    plan = store.read_plan()
    if plan is None or sorted(plan["ids"]) != sorted(ids):
        encoder = encoder_factory()
        plan = plan_corpus(store, ids, texts, encoder, shard_size)
    size = int(plan["shard_size"])
    todo = store.missing(plan)
    ordered: list[str] = plan["ids"]
    with progress(description, len(ordered)) as advance:
        advance(len(ordered) - sum(len(ordered[i * size : (i + 1) * size]) for i in todo))
        for i in todo:
            if encoder is None:
                encoder = encoder_factory()
            chunk = take_texts(texts, ordered[i * size : (i + 1) * size])
            store.write_shard(i, encoder.encode(chunk))
            advance(len(chunk))
            if on_shard is not None:
                on_shard(i)
    store.finish({"n": len(ordered), "shard_size": size, "shards": store.num_shards(plan)})


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
    ) -> None:
        self.ref = ref
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

"""Learned-sparse reference presets: Pyserini's BEIR 2CR ``splade-pp-ed`` condition over the generic
``splade`` retriever, on a quantized impact index searched as Anserini searches it.

What the preset fixes follows Pyserini's own classes (``pyserini.encode._splade``):
``SpladeDocumentEncoder`` encodes ``title + " " + text`` truncated to 512 tokens, in fp32, as
``max over tokens of log(1 + relu(logits))`` (``torch.log(1 + x)``, not ``log1p``: the integer
weights must match bit for bit); ``SpladeQueryEncoder`` encodes one query at a time, unpadded,
truncated to 256 tokens. Both quantize to ``round(w / 5 * 256)``. Search is
:class:`beirctl.lucene.impact.ImpactIndex` with Pyserini's ``min_idf=0`` (a query term in every
document is dropped), ties broken and perturbed as Anserini does.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from beirctl.dense.encoding import EncoderFactory
from beirctl.dense.models import ModelRef
from beirctl.lucene.impact import ImpactIndex, adjust_ties, quantize_csr
from beirctl.retrievers.base import IndexContext, RetrieverParams, Run
from beirctl.retrievers.splade import SpladeEncoder, SpladeParams, SpladeRetriever
from beirctl.types import Corpus, Queries


class SparsePresetParams(RetrieverParams):
    """The only user-settable parameters of a sparse preset (any other key is an error naming it)."""

    model: str | None = Field(
        default=None, description="local copy of the preset's weights (offline); default: the hub id"
    )
    device: str = Field(default="auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    batch_size: int = Field(default=32, ge=1, description="document encoding batch size")


class PyseriniSpladeEncoder(SpladeEncoder):
    """SPLADE max pooling computed as ``pyserini.encode._splade`` computes it."""

    def __init__(self, ref: ModelRef, *, device: str, max_length: int, query_max_length: int, batch_size: int) -> None:
        super().__init__(ref, device=device, fp16=False, max_length=max_length, batch_size=batch_size)
        self.query_max_length = query_max_length

    def _pool(self, input_ids: Any, attention: Any, pass_mask: bool) -> Any:
        import torch

        logits = self._model(input_ids=input_ids, attention_mask=attention if pass_mask else None).logits
        pooled, _ = torch.max(torch.log(1 + torch.relu(logits)) * attention.unsqueeze(-1), dim=1)
        return pooled.cpu().numpy()

    def _pool_batch(self, batch: list[str]) -> np.ndarray:
        """Documents padded to the longest of their batch (``SpladeDocumentEncoder``)."""
        enc = self._tokenizer(
            batch,
            max_length=self.max_length,
            truncation=True,
            padding="longest",
            return_attention_mask=True,
            return_token_type_ids=False,
            return_tensors="pt",
        ).to(self.device)
        return self._pool(enc["input_ids"], enc["attention_mask"], pass_mask=True)  # type: ignore[no-any-return]

    def encode_queries(self, texts: list[str]) -> Any:
        """Queries one at a time, as ``SpladeQueryEncoder.encode`` (the model sees no mask)."""
        import scipy.sparse
        import torch

        self._load()
        rows = []
        with torch.inference_mode():
            for text in texts:
                enc = self._tokenizer(
                    [text], max_length=self.query_max_length, padding="longest", truncation=True, return_tensors="pt"
                ).to(self.device)
                pooled = self._pool(enc["input_ids"], enc["attention_mask"], pass_mask=False)
                rows.append(scipy.sparse.csr_matrix(pooled, dtype=np.float32))
        return self._stack(rows)


class SpladePPEDPreset(SpladeRetriever):
    """``splade`` with Pyserini 2CR's SPLADE++ ED settings, on a quantized impact index."""

    name = "splade-pp-ed"
    description = (
        "Pyserini 2CR SPLADE++ ED: naver/splade-cocondenser-ensembledistil, weights quantized "
        "round(w/5*256), Lucene impact scoring"
    )
    Params = SparsePresetParams  # type: ignore[assignment]
    settings: ClassVar[dict[str, Any]] = {
        "model": "naver/splade-cocondenser-ensembledistil",
        "max_seq_length": 512,
        "fp16": False,  # SpladeDocumentEncoder ignores --fp16
    }
    query_max_length: ClassVar[int] = 256
    min_idf: ClassVar[float] = 0.0  # LuceneImpactSearcher's default, as 2CR runs it

    def __init__(self, params: SparsePresetParams | None = None) -> None:  # type: ignore[override]
        preset = params if params is not None else SparsePresetParams()
        fixed = dict(self.settings)
        if preset.model is not None:
            fixed["model"] = preset.model
        super().__init__(SpladeParams(**fixed, device=preset.device, batch_size=preset.batch_size))
        self.preset = preset
        self.impact: ImpactIndex | None = None

    @classmethod
    def splade_params(cls) -> SpladeParams:
        """The ``splade`` parameters this preset runs with (its defaults for device and batch size)."""
        return SpladeParams(**cls.settings)

    def encoder_factory(self) -> EncoderFactory[SpladeEncoder]:
        if self._encoder is None:
            p = self.params
            build = functools.partial(
                PyseriniSpladeEncoder,
                self.ref,
                device=self.device or p.device,
                max_length=p.max_seq_length,
                query_max_length=self.query_max_length,
                batch_size=p.batch_size,
            )
            self._encoder = EncoderFactory(build)
        return self._encoder

    def _options(self) -> dict[str, Any]:
        # Its own cache entries: log(1 + x) vectors are not the generic retriever's log1p ones.
        return {**super()._options(), "preset": self.name, "pooling": "pyserini log(1+relu)"}

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        super().index(corpus, ctx)
        self.impact = ImpactIndex(self.doc_ids, quantize_csr(self._inverted.T))
        self._inverted = None

    def encode_queries(self, queries: Queries) -> tuple[list[str], Any]:
        qids = sorted(queries)
        encoder = self.encoder
        assert isinstance(encoder, PyseriniSpladeEncoder)
        return qids, encoder.encode_queries([queries[q] for q in qids])

    def quantized_queries(self, queries: Queries) -> tuple[list[str], Any]:
        """Query ids and their integer weights (csr: queries × vocabulary)."""
        qids, q = self.encode_queries(queries)
        return qids, quantize_csr(q)

    def search(self, queries: Queries, k: int) -> Run:
        if self.impact is None:
            raise RuntimeError(f"{self.name}: search() called before index()")
        qids, q = self.quantized_queries(queries)
        run: Run = {}
        for row, qid in enumerate(qids):
            terms = q.indices[q.indptr[row] : q.indptr[row + 1]]
            weights = q.data[q.indptr[row] : q.indptr[row + 1]]
            positions, scores = self.impact.search(terms, weights, k, self.min_idf)
            run[qid] = [(self.impact.doc_ids[p], float(s)) for p, s in zip(positions.tolist(), adjust_ties(scores))]
        return run


SPARSE_PRESETS: dict[str, type[SpladeRetriever]] = {cls.name: cls for cls in (SpladePPEDPreset,)}

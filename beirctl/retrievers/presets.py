"""Reference-model presets: the dense conditions of Pyserini's BEIR 2CR (``pyserini/2cr/beir.yaml``)
fixed over the generic ``dense`` retriever, so a result is comparable with the official table.

What each preset fixes follows ``pyserini.search.faiss`` as 2CR calls it: ``--encoder-class
contriever`` means mean pooling without L2 normalisation, inner product; ``--encoder-class auto
--l2-norm`` (BGE) means CLS pooling (the model's sentence-transformers config), L2 normalised, and
``--query-prefix`` BGE's instruction on every dataset except ArguAna and Quora. Pyserini joins the
prefix and the query with one space (``f"{prefix} {query}"``), hence the trailing space here.
Documents are ``title + " " + text`` (:func:`beirctl.types.doc_text`), as Pyserini's BEIR corpora.
Only settings that leave the encoding unchanged (device, batch size) or name the same weights
(a local copy of the model) may be set.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from beirctl.retrievers.base import RetrieverParams
from beirctl.retrievers.dense import DenseParams, DenseRetriever, PrefixOverride

BGE_INSTRUCTION = "Represent this sentence for searching relevant passages:"


class PresetParams(RetrieverParams):
    """The only user-settable parameters of a preset (any other key is an error naming it)."""

    model: str | None = Field(
        default=None, description="local copy of the preset's weights (offline); default: the hub id"
    )
    device: str = Field(default="auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    batch_size: int = Field(default=32, ge=1, description="encoding batch size")


class DensePreset(DenseRetriever):
    """A ``dense`` retriever whose reproduction-relevant parameters are fixed by ``settings``."""

    Params = PresetParams  # type: ignore[assignment]
    settings: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: PresetParams | None = None) -> None:  # type: ignore[override]
        preset = params if params is not None else PresetParams()
        fixed = dict(self.settings)
        if preset.model is not None:
            fixed["model"] = preset.model
        super().__init__(DenseParams(**fixed, device=preset.device, batch_size=preset.batch_size))
        self.preset = preset

    @classmethod
    def dense_params(cls) -> DenseParams:
        """The ``dense`` parameters this preset runs with (its defaults for device and batch size)."""
        return DenseParams(**cls.settings)


class ContrieverPreset(DensePreset):
    name = "contriever"
    description = "Pyserini 2CR contriever: facebook/contriever, mean pooling, inner product, fp16 on CUDA"
    settings: ClassVar[dict[str, Any]] = {
        "model": "facebook/contriever",
        "similarity": "dot",
        "normalize": False,
        "max_seq_length": 512,
        "fp16": True,
    }


class ContrieverMsmarcoPreset(DensePreset):
    name = "contriever-msmarco"
    description = "Pyserini 2CR contriever-msmarco: facebook/contriever-msmarco, mean pooling, inner product"
    settings: ClassVar[dict[str, Any]] = {**ContrieverPreset.settings, "model": "facebook/contriever-msmarco"}


class BgeBasePreset(DensePreset):
    name = "bge-base-en-v1.5"
    description = (
        "Pyserini 2CR bge-base-en-v1.5: CLS pooling, L2-normalised, BGE's query instruction (not ArguAna/Quora)"
    )
    settings: ClassVar[dict[str, Any]] = {
        "model": "BAAI/bge-base-en-v1.5",
        "similarity": "dot",
        "normalize": True,
        "max_seq_length": 512,
        "fp16": True,
        "query_prefix": BGE_INSTRUCTION + " ",
        "dataset_overrides": {
            "arguana": PrefixOverride(query_prefix=""),
            "quora": PrefixOverride(query_prefix=""),
        },
    }


PRESETS: dict[str, type[DensePreset]] = {
    cls.name: cls for cls in (ContrieverPreset, ContrieverMsmarcoPreset, BgeBasePreset)
}

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

TAS-B (``tas-b``) is not among Pyserini's BEIR 2CR rows (it has none, 1.6.0's ``2cr/beir.yaml``
included); its preset is what Pyserini's ``--encoder sebastian-hofstaetter/distilbert-dot-tas_b-b256-msmarco``
runs (no class keyword in the name: ``AutoQueryEncoder``/``AutoDocumentEncoder`` with their
defaults, CLS pooling, no L2 normalisation, inner product), queries and passages truncated at 512
tokens. The fixed settings and revisions are :data:`beirctl.conditions.CONDITIONS`, shared with
``beirctl verify``; a result records its preset's pinned ``model@revision`` in its params.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, create_model

from beirctl.conditions import BGE_INSTRUCTION, CONDITIONS
from beirctl.retrievers.base import RetrieverParams
from beirctl.retrievers.dense import DenseParams, DenseRetriever

__all__ = ["BGE_INSTRUCTION", "PRESETS", "DensePreset", "PresetParams"]


class PresetParams(RetrieverParams):
    """The only user-settable parameters of a preset (any other key is an error naming it)."""

    model: str | None = Field(
        default=None, description="local copy of the preset's weights (offline); default: the hub id"
    )
    device: str = Field(default="auto", description="auto (cuda, mps, cpu), cpu, cuda, cuda:1, mps")
    batch_size: int = Field(default=32, ge=1, description="encoding batch size")


def _params_class(preset: str) -> type[PresetParams]:
    """A preset's params: ``model`` defaults to its pinned ``hub-id[@revision]``, so a result
    records the weights it was made with."""
    spec = CONDITIONS[preset].dense["model"]
    return create_model(
        f"{preset.title().replace('-', '').replace('.', '')}Params",
        __base__=PresetParams,
        model=(str | None, Field(default=spec, description=f"default {spec}; or a local copy of those weights")),
    )


class DensePreset(DenseRetriever):
    """A ``dense`` retriever whose reproduction-relevant parameters are fixed by ``settings``."""

    Params = PresetParams  # type: ignore[assignment]
    settings: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name in CONDITIONS:
            cls.settings = dict(CONDITIONS[cls.name].dense)
            cls.Params = _params_class(cls.name)  # type: ignore[assignment]

    def __init__(self, params: PresetParams | None = None) -> None:  # type: ignore[override]
        preset = params if params is not None else self.Params()
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


class ContrieverMsmarcoPreset(DensePreset):
    name = "contriever-msmarco"
    description = "Pyserini 2CR contriever-msmarco: facebook/contriever-msmarco, mean pooling, inner product"


class BgeBasePreset(DensePreset):
    name = "bge-base-en-v1.5"
    description = (
        "Pyserini 2CR bge-base-en-v1.5: CLS pooling, L2-normalised, BGE's query instruction (not ArguAna/Quora)"
    )


class TasBPreset(DensePreset):
    name = "tas-b"
    description = "TAS-B (sebastian-hofstaetter/distilbert-dot-tas_b-b256-msmarco): CLS pooling, inner product, fp32"


PRESETS: dict[str, type[DensePreset]] = {
    cls.name: cls for cls in (ContrieverPreset, ContrieverMsmarcoPreset, BgeBasePreset, TasBPreset)
}

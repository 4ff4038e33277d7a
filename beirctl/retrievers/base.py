"""The retriever protocol: index a corpus once, then search batches of queries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from beirctl.datasets.types import Corpus, Queries

# A ranking per query id: (doc id, score) pairs, best first.
Run = dict[str, list[tuple[str, float]]]


class RetrieverParams(BaseModel):
    """Base class of every retriever's parameters; unknown keys and NaN or infinite numbers are
    errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# The BM25 parameters, one definition for every BM25 retriever: k1 > 0 and 0 <= b <= 1 (a
# boolean or a string is not a number here, whatever YAML or pydantic would coerce).
K1 = Annotated[float, Field(gt=0, strict=True)]
B = Annotated[float, Field(ge=0, le=1, strict=True)]


class Retriever(ABC):
    """A retriever: ``index`` a corpus, then ``search`` queries for their top-k documents.

    Subclasses set ``name`` (the registry key used in configs), ``Params`` (a pydantic
    model of their parameters with defaults) and a one-line ``description``. ``cache_dir``
    is a folder the retriever may use to persist its index between runs; ``corpus_id``
    passed to :meth:`index` identifies the corpus content (safe as a cache key).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[RetrieverParams]] = RetrieverParams

    def __init__(self, params: RetrieverParams | None = None, cache_dir: Path | None = None) -> None:
        self.params = params if params is not None else self.Params()
        self.cache_dir = cache_dir

    @abstractmethod
    def index(self, corpus: Corpus, corpus_id: str) -> None:
        """Build (or load from cache) the index of ``corpus``."""

    @abstractmethod
    def search(self, queries: Queries, k: int) -> Run:
        """Return the top ``k`` documents of each query, best first."""

    def settings_key(self) -> str:
        """A stable string of the parameters, for cache keys."""
        return self.params.model_dump_json()

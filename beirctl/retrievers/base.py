"""The retriever protocol: index a corpus once (told what it needs in an :class:`IndexContext`),
then search batches of queries."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from beirctl.types import Corpus, Queries, Run

if TYPE_CHECKING:
    from beirctl.dense.encoding import ShardPool

__all__ = ["B", "K1", "IndexContext", "Resources", "Retriever", "RetrieverParams", "Run"]


class RetrieverParams(BaseModel):
    """Base class of every retriever's parameters; unknown keys and NaN or infinite numbers are
    errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # Parameters added after results were first stored with this retriever: left out of the
    # dump (so of retrieval keys and metrics.json) while at their default, so that the results
    # stored before them keep their keys; set otherwise, they join the key and the pair runs again.
    omit_at_default: ClassVar[tuple[str, ...]] = ()

    def omitted(self) -> set[str]:
        """The parameters the dump leaves out (see ``omit_at_default``)."""
        fields = type(self).model_fields
        return {
            name
            for name in self.omit_at_default
            if getattr(self, name) == fields[name].get_default(call_default_factory=True)
        }

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in self.omitted():
                data.pop(name, None)
        return data


# The BM25 parameters, one definition for every BM25 retriever: k1 > 0 and 0 <= b <= 1 (a
# boolean or a string is not a number here, whatever YAML or pydantic would coerce).
K1 = Annotated[float, Field(gt=0, strict=True)]
B = Annotated[float, Field(ge=0, le=1, strict=True)]


class Resources(BaseModel):
    """What one (dataset, retriever) task asks of a cluster: a retriever class declares its
    default (one CPU unless it says otherwise, e.g. a GPU for a model too slow on CPUs), a
    config's ``resources`` overrides it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpus: float = Field(default=1.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)


@dataclass(frozen=True)
class IndexContext:
    """What :meth:`Retriever.index` is told besides the corpus.

    ``corpus_id`` identifies the corpus content (safe as a cache key); ``dataset`` is the
    dataset's name (``cqadupstack/android`` for a forum), for per-dataset settings such as an
    instruction some datasets skip; ``cache_dir`` is a folder the retriever may keep its index
    in between runs (None: keep nothing); ``shard_pool`` encodes corpus shards on workers
    (Ray actors) when set; ``device`` overrides the retriever's device (``cuda:1``).
    """

    corpus_id: str = ""
    dataset: str | None = None
    cache_dir: Path | None = None
    shard_pool: ShardPool | None = None
    device: str | None = None


P = TypeVar("P", bound=RetrieverParams)


class Retriever(ABC, Generic[P]):
    """A retriever: ``index`` a corpus, then ``search`` queries for their top-k documents.

    Subclasses set ``name`` (the registry key used in configs), ``Params`` (a pydantic model of
    their parameters with defaults, also the type argument: ``class X(Retriever[XParams])``), a
    one-line ``description`` and, when they need more than one CPU, ``resources``. After
    :meth:`index`, ``loaded_from_cache`` says whether the index came from the cache.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[RetrieverParams]] = RetrieverParams
    resources: ClassVar[Resources] = Resources()

    def __init__(self, params: P | None = None) -> None:
        self.params: P = params if params is not None else cast(P, self.Params())
        self.loaded_from_cache = False

    @abstractmethod
    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        """Build (or load from ``ctx.cache_dir``) the index of ``corpus``."""

    @abstractmethod
    def search(self, queries: Queries, k: int) -> Run:
        """Return the top ``k`` documents of each query, best first."""

    @classmethod
    def input_checksums(cls, params: dict[str, Any], dataset: str) -> dict[str, str]:
        """Checksums of the files the retriever reads besides the dataset (a ``run`` retriever's
        run file), by name: they join the pair's retrieval key, so a changed file re-runs it."""
        return {}

    def settings_key(self) -> str:
        """A stable string of the parameters, for cache keys."""
        return self.params.model_dump_json()

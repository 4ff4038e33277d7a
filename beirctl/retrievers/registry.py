"""Retriever registry: built-ins and third-party retrievers via the ``beirctl.retrievers``
entry-point group (``name = "package.module:Class"``)."""

from __future__ import annotations

from importlib.metadata import entry_points

from beirctl.errors import ConfigError
from beirctl.retrievers.base import Retriever

ENTRY_POINT_GROUP = "beirctl.retrievers"

# Built-ins are listed here as well as in pyproject's entry points, so that a source
# checkout works without an install.
_BUILTIN: dict[str, str] = {
    "bm25": "beirctl.retrievers.bm25:BM25Retriever",
    "rank-bm25": "beirctl.retrievers.rank_bm25:RankBM25Retriever",
    "lucene-bm25": "beirctl.retrievers.lucene_bm25:LuceneBM25Retriever",
    "pyserini-bm25": "beirctl.retrievers.pyserini_bm25:PyseriniBM25Retriever",
    "dense": "beirctl.retrievers.dense:DenseRetriever",
    "splade": "beirctl.retrievers.splade:SpladeRetriever",
    "fusion": "beirctl.retrievers.fusion:FusionRetriever",
    "rerank": "beirctl.retrievers.rerank:RerankRetriever",
}
_registered: dict[str, type[Retriever]] = {}


def register(cls: type[Retriever]) -> type[Retriever]:
    """Register a retriever class under ``cls.name`` (usable as a decorator)."""
    _registered[cls.name] = cls
    return cls


def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    return targets


def available() -> list[str]:
    """Names of every known retriever."""
    return sorted(set(_targets()) | set(_registered))


def get(name: str) -> type[Retriever]:
    """Return the retriever class registered as ``name``."""
    if name in _registered:
        return _registered[name]
    target = _targets().get(name)
    if target is None:
        raise ConfigError(f"unknown retriever type {name!r} (known: {', '.join(available())})")
    module_name, _, attr = target.partition(":")
    try:
        module = __import__(module_name, fromlist=[attr])
    except ImportError as exc:
        raise ConfigError(
            f"retriever {name!r} needs a package that is not installed ({exc.name}); "
            "install the matching extra, e.g. pip install 'beirctl[...]'"
        ) from None
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Retriever)):
        raise ConfigError(f"entry point {target!r} for {name!r} is not a Retriever subclass")
    _registered[name] = cls
    return cls

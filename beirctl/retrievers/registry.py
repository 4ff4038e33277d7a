"""Retriever registry: built-ins, third-party retrievers via the ``beirctl.retrievers``
entry-point group (``name = "package.module:Class"``), and classes named directly in a config
(``type: my_package.module:MyRetriever``), so that trying one's own model needs no package."""

from __future__ import annotations

import importlib
import os
import sys
from importlib.metadata import entry_points
from typing import Any

from beirctl.errors import ConfigError, did_you_mean
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
    "run": "beirctl.retrievers.run_file:RunFileRetriever",
    "contriever": "beirctl.retrievers.presets:ContrieverPreset",
    "contriever-msmarco": "beirctl.retrievers.presets:ContrieverMsmarcoPreset",
    "bge-base-en-v1.5": "beirctl.retrievers.presets:BgeBasePreset",
    "splade-pp-ed": "beirctl.retrievers.sparse_presets:SpladePPEDPreset",
    "tas-b": "beirctl.retrievers.presets:TasBPreset",
}
_registered: dict[str, type[Retriever[Any]]] = {}


def register(cls: type[Retriever[Any]]) -> type[Retriever[Any]]:
    """Register a retriever class under ``cls.name`` (usable as a decorator)."""
    _registered[cls.name] = cls
    return cls


def _targets() -> dict[str, str]:
    targets = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        targets.setdefault(ep.name, ep.value)
    return targets


def add_working_dir_to_path() -> None:
    """Let ``module:Class`` name a module in the current folder, as ``python -m`` would (the
    ``beirctl`` script's own folder is on the path instead); appended, so it shadows nothing."""
    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.append(cwd)


def available() -> list[str]:
    """Names of every known retriever."""
    return sorted(set(_targets()) | set(_registered))


def get(name: str) -> type[Retriever[Any]]:
    """Return the retriever class registered as ``name``, or named by ``name`` when it is
    ``module:Class`` (imported from the current import path)."""
    if name in _registered:
        return _registered[name]
    target = name if ":" in name else _targets().get(name)
    if target is None:
        raise ConfigError(
            f"unknown retriever type {name!r}{did_you_mean(name, available())} "
            f"(known: {', '.join(available())}; or name a class as module:Class)"
        )
    module_name, _, attr = target.partition(":")
    if target == name:
        add_working_dir_to_path()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if target == name and exc.name == module_name:
            raise ConfigError(f"retriever {name!r}: no module named {module_name!r} on the import path") from None
        raise ConfigError(
            f"retriever {name!r} needs a package that is not installed ({exc.name}); "
            "install the matching extra, e.g. pip install 'beirctl[...]'"
        ) from None
    cls = getattr(module, attr, None)
    if cls is None:
        raise ConfigError(f"retriever {name!r}: module {module_name!r} has no {attr!r}")
    if not (isinstance(cls, type) and issubclass(cls, Retriever)):
        what = "entry point" if target != name else "class"
        raise ConfigError(f"{what} {target!r} for {name!r} is not a beirctl Retriever subclass")
    _registered[name] = cls
    return cls

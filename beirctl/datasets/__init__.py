"""BEIR datasets: catalog, download, and loading (folder format or Hugging Face).

The loaders are imported on first use, so that reading the catalog (``beirctl show``, the
results modules) does not import them and numpy. ``download`` (also a submodule's name) is bound
here at once, so that the name is the function whichever is imported first."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from beirctl.datasets.catalog import BENCHMARK, CQADUPSTACK, CQADUPSTACK_FORUMS, DATASETS, DatasetInfo
from beirctl.datasets.download import download
from beirctl.datasets.paths import data_dir, dataset_folder, is_cached

if TYPE_CHECKING:
    from beirctl.datasets.hub import load_hub
    from beirctl.datasets.loader import load_folder
    from beirctl.datasets.stream import StreamingCorpus, iter_chunks
    from beirctl.types import Corpus, Dataset, Document, Qrels, Queries

_WHERE = {"load_hub": "hub", "load_folder": "loader", "StreamingCorpus": "stream", "iter_chunks": "stream"}
_TYPES = ("Corpus", "Dataset", "Document", "Qrels", "Queries")

__all__ = [
    "BENCHMARK",
    "CQADUPSTACK",
    "CQADUPSTACK_FORUMS",
    "DATASETS",
    "Corpus",
    "Dataset",
    "DatasetInfo",
    "Document",
    "Qrels",
    "Queries",
    "StreamingCorpus",
    "data_dir",
    "dataset_folder",
    "download",
    "is_cached",
    "iter_chunks",
    "load_folder",
    "load_hub",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = importlib.import_module(f"beirctl.datasets.{_WHERE[name]}")
    elif name in _TYPES:
        module = importlib.import_module("beirctl.types")
    else:
        raise AttributeError(f"module 'beirctl.datasets' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value

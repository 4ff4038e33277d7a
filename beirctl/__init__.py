"""beirctl: a command-line benchmark runner for zero-shot retrieval on BEIR, and its Python API.

``beirctl.load_dataset``, ``beirctl.retriever``, ``beirctl.search`` and ``beirctl.evaluate`` do in
Python what ``beirctl run`` does for one (dataset, retriever) pair; ``beirctl.run_config`` runs a
whole config. Names are imported on first use, so ``import beirctl`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from beirctl.version import __version__

if TYPE_CHECKING:
    from beirctl.api import load_dataset, retriever, search
    from beirctl.config import Config, load_config
    from beirctl.errors import BeirctlError, ConfigError
    from beirctl.evaluation import EvalResult, evaluate, read_qrels, read_run, write_run
    from beirctl.retrievers import IndexContext, Retriever, RetrieverParams, register
    from beirctl.runner import RunSummary, run_config
    from beirctl.types import Corpus, Dataset, Document, Qrels, Queries, Run

_WHERE = {
    "load_dataset": "beirctl.api",
    "retriever": "beirctl.api",
    "search": "beirctl.api",
    "Config": "beirctl.config",
    "load_config": "beirctl.config",
    "BeirctlError": "beirctl.errors",
    "ConfigError": "beirctl.errors",
    "EvalResult": "beirctl.evaluation",
    "evaluate": "beirctl.evaluation",
    "read_qrels": "beirctl.evaluation",
    "read_run": "beirctl.evaluation",
    "write_run": "beirctl.evaluation",
    "IndexContext": "beirctl.retrievers",
    "Retriever": "beirctl.retrievers",
    "RetrieverParams": "beirctl.retrievers",
    "register": "beirctl.retrievers",
    "RunSummary": "beirctl.runner",
    "run_config": "beirctl.runner",
    "Corpus": "beirctl.types",
    "Dataset": "beirctl.types",
    "Document": "beirctl.types",
    "Qrels": "beirctl.types",
    "Queries": "beirctl.types",
    "Run": "beirctl.types",
}

__all__ = [
    "__version__",
    "BeirctlError",
    "Config",
    "ConfigError",
    "Corpus",
    "Dataset",
    "Document",
    "EvalResult",
    "IndexContext",
    "Qrels",
    "Queries",
    "Retriever",
    "RetrieverParams",
    "Run",
    "RunSummary",
    "evaluate",
    "load_config",
    "load_dataset",
    "read_qrels",
    "read_run",
    "register",
    "retriever",
    "run_config",
    "search",
    "write_run",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'beirctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))

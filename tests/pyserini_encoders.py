"""Pyserini's own encoder modules (``pyserini/encode/_auto.py``, ``_splade.py``, ...), imported
without ``pyserini.encode``'s ``__init__``, which imports every encoder's optional dependencies
(CLIP, OpenAI, ...): the reference the preset tests compare beirctl's encoding with."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest


def pyserini_encoder_module(module: str) -> Any:
    """``pyserini.encode.<module>`` (e.g. ``_auto``, ``_splade``); skips the test without pyserini."""
    pytest.importorskip("jnius_config")
    pyserini = pytest.importorskip("pyserini")
    name = "pyserini.encode"
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(Path(pyserini.__file__).parent / "encode")]
        sys.modules[name] = package
    package = sys.modules[name]
    if "pyserini.util" not in sys.modules:
        # pyserini.util imports its prebuilt-index tables, which start a JVM in this process; the
        # encoders use it only to download pre-encoded queries, which these tests never do.
        util = types.ModuleType("pyserini.util")

        def no_download(*args: object, **kwargs: object) -> None:
            raise AssertionError("pyserini tried to download pre-encoded queries")

        util.download_encoded_queries = no_download  # type: ignore[attr-defined]
        sys.modules["pyserini.util"] = util
    if not hasattr(package, "QueryEncoder"):
        base = importlib.import_module("pyserini.encode._base")
        package.DocumentEncoder, package.QueryEncoder = base.DocumentEncoder, base.QueryEncoder  # type: ignore[attr-defined]
    return importlib.import_module(f"{name}.{module}")

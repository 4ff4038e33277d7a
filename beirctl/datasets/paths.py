"""Where datasets live: ``--data-dir``, else ``$BEIRCTL_DATA_DIR``, else a user cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA_DIR = "BEIRCTL_DATA_DIR"
ENV_CACHE_DIR = "BEIRCTL_CACHE_DIR"


def data_dir(explicit: str | Path | None = None) -> Path:
    """Resolve the dataset cache root."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("beirctl")) / "datasets"


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Resolve the index/embedding cache root (``$BEIRCTL_CACHE_DIR`` or a user cache folder)."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("beirctl")) / "indexes"


def dataset_folder(name: str, root: str | Path | None = None) -> Path:
    """The folder of dataset ``name`` (``cqadupstack/android`` style for forums)."""
    return data_dir(root) / name


def is_cached(name: str, root: str | Path | None = None) -> bool:
    folder = dataset_folder(name, root)
    has_corpus = any((folder / f).is_file() for f in ("corpus.jsonl", "corpus.jsonl.gz"))
    return has_corpus and (folder / "qrels").is_dir()

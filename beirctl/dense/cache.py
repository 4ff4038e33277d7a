"""On-disk embedding caches: corpus embeddings as resumable shards, query embeddings as one file.

A corpus cache folder holds ``plan.json`` (document ids in encoding order, shard size), then
``shard-00000.npy`` (dense) or ``shard-00000.npz`` (scipy sparse) for each ``shard_size``
documents, each written atomically, and finally ``done.json``. A killed encoding leaves the plan
and its finished shards; the next run encodes only the missing shards. Dense shards are read
memory-mapped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from beirctl.atomic import atomic_path, write_json

Format = Literal["dense", "sparse"]
CACHE_VERSION = 1


def cache_key(payload: dict[str, Any]) -> str:
    """A short stable digest of a JSON-able payload."""
    data = json.dumps({"v": CACHE_VERSION, **payload}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def texts_digest(items: list[tuple[str, str]]) -> str:
    """Content digest of (id, text) pairs in the given order."""
    h = hashlib.sha256()
    for key, text in items:
        h.update(key.encode() + b"\0" + text.encode() + b"\0\0")
    return h.hexdigest()


def save_array(path: Path, array: Any, fmt: Format) -> None:
    """Write a dense (``.npy``) or scipy sparse (``.npz``) array atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if fmt == "dense":
            np.save(fh, np.ascontiguousarray(array))
        else:
            import scipy.sparse

            scipy.sparse.save_npz(fh, array.tocsr(), compressed=False)


def load_array(path: Path, fmt: Format) -> Any:
    if fmt == "dense":
        return np.load(path, mmap_mode="r")
    import scipy.sparse

    return scipy.sparse.load_npz(path).tocsr()


class ShardStore:
    """One corpus' encoded shards in ``folder``."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        self.folder = folder
        self.fmt = fmt
        self.suffix = ".npy" if fmt == "dense" else ".npz"

    @property
    def complete(self) -> bool:
        return (self.folder / "done.json").is_file()

    def read_plan(self) -> dict[str, Any] | None:
        path = self.folder / "plan.json"
        if not path.is_file():
            return None
        try:
            plan: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return plan

    def write_plan(self, ids: list[str], shard_size: int) -> dict[str, Any]:
        plan = {"ids": ids, "shard_size": shard_size, "format": self.fmt}
        write_json(self.folder / "plan.json", plan)
        return plan

    def shard_path(self, i: int) -> Path:
        return self.folder / f"shard-{i:05d}{self.suffix}"

    def num_shards(self, plan: dict[str, Any]) -> int:
        return -(-len(plan["ids"]) // int(plan["shard_size"]))

    def missing(self, plan: dict[str, Any]) -> list[int]:
        return [i for i in range(self.num_shards(plan)) if not self.shard_path(i).is_file()]

    def write_shard(self, i: int, array: Any) -> None:
        save_array(self.shard_path(i), array, self.fmt)

    def finish(self, info: dict[str, Any]) -> None:
        write_json(self.folder / "done.json", info)

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / "done.json").read_text(encoding="utf-8"))
        return data

    def shards(self) -> Iterator[Any]:
        """Every shard in order (dense shards memory-mapped)."""
        plan = self.read_plan()
        assert plan is not None
        for i in range(self.num_shards(plan)):
            yield load_array(self.shard_path(i), self.fmt)


class QueryCache:
    """Query encodings, one file per (model, options, query set) key."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        self.folder = folder
        self.fmt = fmt
        self.suffix = ".npy" if fmt == "dense" else ".npz"

    def load(self, key: str) -> Any | None:
        path = self.folder / f"{key}{self.suffix}"
        if not path.is_file():
            return None
        array = load_array(path, self.fmt)
        return np.asarray(array) if self.fmt == "dense" else array

    def save(self, key: str, array: Any) -> None:
        save_array(self.folder / f"{key}{self.suffix}", array, self.fmt)

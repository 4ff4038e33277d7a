"""On-disk embedding caches: corpus embeddings as resumable shards, query embeddings as one file.

A corpus cache folder holds ``plan.json`` (document ids in encoding order, shard size), then
``shard-00000.npy`` (dense) or ``shard-00000.npz`` (scipy sparse) for each ``shard_size``
documents, each written atomically, and finally ``done.json``. A killed encoding leaves the plan
and its finished shards; the next run encodes only the missing shards. Dense shards are read
memory-mapped.

Nothing is trusted unchecked: every JSON file carries a crc32 of its content, each shard's size,
crc32 and shape are recorded in ``crc-00000.json`` after it is written, and ``done.json`` lists
them all with the plan's crc32. :attr:`ShardStore.complete` checks every file against
``done.json``; what does not check out is discarded (with a warning) and encoded again. Query
files have the same records beside them (``<key>.json``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np

from beirctl.atomic import (
    atomic_path,
    cache_write_errors,
    check_file,
    discard,
    file_record,
    read_checked_json,
    write_checked_json,
)
from beirctl.errors import BeirctlError

Format = Literal["dense", "sparse"]
# In the cache keys: unchanged, so a folder written before checksums is checked (and rebuilt) in place.
CACHE_VERSION = 1
# Of plan.json, done.json and the records: 2 adds the checksums.
FILE_VERSION = 2
# The files a corpus folder holds (ShardStore's, and the dense retriever's cached HNSW graphs).
_OWN_FILES = re.compile(r"plan\.json|done\.json|shard-\d{5}\.(npy|npz)|crc-\d{5}\.json|hnsw-.+\.(faiss|json)")
_DERIVED = re.compile(r"hnsw-.+\.(faiss|json)")
_WHAT = "embedding cache"


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


def save_array(path: Path, array: Any, fmt: Format) -> dict[str, Any]:
    """Write a dense (``.npy``) or scipy sparse (``.npz``) array atomically; return its record
    (size and crc32 of the file, shape of the array)."""
    with cache_write_errors(path, _WHAT), atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            if fmt == "dense":
                np.save(fh, np.ascontiguousarray(array))
            else:
                import scipy.sparse

                scipy.sparse.save_npz(fh, array.tocsr(), compressed=False)
        record = file_record(tmp)
    return {**record, "shape": [int(n) for n in array.shape]}


def load_array(path: Path, fmt: Format) -> Any:
    if fmt == "dense":
        return np.load(path, mmap_mode="r")
    import scipy.sparse

    return scipy.sparse.load_npz(path).tocsr()


def write_record(record_path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Write the record of a file (:func:`save_array`, or :func:`beirctl.atomic.file_record`)."""
    with cache_write_errors(record_path, _WHAT):
        return write_checked_json(record_path, {**record, "version": FILE_VERSION})


def checked(path: Path, record_path: Path) -> dict[str, Any] | None:
    """The record of ``path`` if the file matches it; else None, and both files are discarded
    (silently if the record is missing: a kill between the two writes, or an older beirctl)."""
    if not path.is_file():
        discard([record_path], None)
        return None
    try:
        record = read_checked_json(record_path)
        if record is None:
            discard([path], None)
            return None
        if record.get("version") != FILE_VERSION:
            raise ValueError(f"{record_path.name}: version {record.get('version')}")
        check_file(path, record)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        discard([path, record_path], str(exc))
        return None
    return record


class ShardStore:
    """One corpus' encoded shards in ``folder``."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        self.folder = folder
        self.fmt = fmt
        self.suffix = ".npy" if fmt == "dense" else ".npz"
        self._plan: dict[str, Any] | None = None
        self._done: dict[str, Any] | None = None
        self._records: dict[int, dict[str, Any]] = {}  # shards checked or written by this object

    @property
    def complete(self) -> bool:
        """Whether ``done.json`` is there and every file it lists checks out (size and crc32).

        What does not is discarded, with a warning, so that :func:`encode_corpus` redoes it: a
        bad plan takes every shard with it; otherwise only ``done.json`` and the bad shards go.
        """
        if self._done is not None:
            return True
        done_path = self.folder / "done.json"
        if not done_path.is_file():
            return False
        plan = self.read_plan()
        if plan is None:  # a bad plan discarded the folder; a missing one leaves done.json orphaned
            discard([done_path], f"no valid plan.json for {done_path.name}" if done_path.exists() else None)
            return False
        try:
            done = read_checked_json(done_path)
            if done is None or done.get("version") != FILE_VERSION or done["plan"] != plan["checksum"]:
                raise ValueError("done.json is not that of plan.json")
            if len(done["files"]) != self.num_shards(plan):
                raise ValueError(f"done.json lists {len(done['files'])} shards, plan.json has {self.num_shards(plan)}")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            discard([done_path], str(exc))
            return False
        bad: list[tuple[int, Exception]] = []
        for i, record in enumerate(done["files"]):
            try:
                check_file(self.shard_path(i), record)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                bad.append((i, exc))
            else:
                self._records[i] = record
        if bad:
            for i, _ in bad:
                self._records.pop(i, None)
            shards = [p for i, _ in bad for p in (self.shard_path(i), self.record_path(i))]
            derived = [p for p in self.folder.iterdir() if _DERIVED.fullmatch(p.name)]  # built from the shards
            discard([done_path, *shards, *derived], f"{len(bad)} bad shard(s): {bad[0][1]}")
            return False
        self._done = done
        return True

    def read_plan(self) -> dict[str, Any] | None:
        """The plan, if ``plan.json`` checks out; a bad one is discarded with all that was encoded by it."""
        if self._plan is not None:
            return self._plan
        path = self.folder / "plan.json"
        try:
            plan = read_checked_json(path)
            if plan is None:
                return None
            if plan.get("version") != FILE_VERSION or plan.get("format") != self.fmt:
                raise ValueError(f"plan.json of version {plan.get('version')}, format {plan.get('format')}")
            if not isinstance(plan["ids"], list) or int(plan["shard_size"]) < 1:
                raise ValueError("plan.json: no ids or shard size")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            own = sorted(p for p in self.folder.iterdir() if _OWN_FILES.fullmatch(p.name) and p != path)
            discard([path, *own], str(exc))
            self._records.clear()
            return None
        self._plan = plan
        return plan

    def write_plan(self, ids: list[str], shard_size: int) -> dict[str, Any]:
        plan = {"ids": ids, "shard_size": shard_size, "format": self.fmt, "version": FILE_VERSION}
        path = self.folder / "plan.json"
        with cache_write_errors(path, _WHAT):
            self._plan = write_checked_json(path, plan)
        self._done = None
        return self._plan

    def shard_path(self, i: int) -> Path:
        return self.folder / f"shard-{i:05d}{self.suffix}"

    def record_path(self, i: int) -> Path:
        return self.folder / f"crc-{i:05d}.json"

    def num_shards(self, plan: dict[str, Any]) -> int:
        return -(-len(plan["ids"]) // int(plan["shard_size"]))

    def missing(self, plan: dict[str, Any]) -> list[int]:
        """Shards still to encode: absent, or not matching their record (those are discarded)."""
        size, n = int(plan["shard_size"]), len(plan["ids"])
        todo = []
        for i in range(self.num_shards(plan)):
            record = self._records.get(i) or checked(self.shard_path(i), self.record_path(i))
            rows = min(size, n - i * size)
            if record is not None and record["shape"][:1] != [rows]:
                discard([self.shard_path(i), self.record_path(i)], f"{record['shape'][:1]} rows, {rows} planned")
                record = None
            if record is None:
                self._records.pop(i, None)
                todo.append(i)
            else:
                self._records[i] = record
        return todo

    def write_shard(self, i: int, array: Any) -> None:
        record = save_array(self.shard_path(i), array, self.fmt)
        self._records[i] = write_record(self.record_path(i), record)

    def finish(self, info: dict[str, Any]) -> None:
        """Write ``done.json``: ``info``, the plan's crc32 and every shard's record."""
        plan = self.read_plan()
        assert plan is not None
        files = []
        for i in range(self.num_shards(plan)):
            record = self._records.get(i) or checked(self.shard_path(i), self.record_path(i))
            if record is None:
                raise BeirctlError(f"{self.shard_path(i)}: removed while encoding; run again to encode it")
            files.append({"name": self.shard_path(i).name, **{k: record[k] for k in ("bytes", "crc32", "shape")}})
        path = self.folder / "done.json"
        done = {**info, "version": FILE_VERSION, "plan": plan["checksum"], "files": files}
        with cache_write_errors(path, _WHAT):
            self._done = write_checked_json(path, done)

    def info(self) -> dict[str, Any]:
        data = read_checked_json(self.folder / "done.json")
        assert data is not None
        return data

    def shards(self) -> Iterator[Any]:
        """Every shard in order (dense shards memory-mapped), its size and shape checked against
        ``done.json`` (its crc32 is checked by :attr:`complete`)."""
        if not self.complete:
            raise BeirctlError(f"{self.folder}: the embedding cache changed while in use; run again to rebuild it")
        assert self._done is not None
        for i, record in enumerate(self._done["files"]):
            path = self.shard_path(i)
            try:
                if os.stat(path).st_size != record["bytes"]:
                    raise ValueError("size differs")
                array = load_array(path, self.fmt)
                if [int(n) for n in array.shape] != record["shape"]:
                    raise ValueError("shape differs")
            except (OSError, ValueError) as exc:
                self._done = None
                raise BeirctlError(f"{path}: changed while in use ({exc}); run again to rebuild it") from exc
            yield array


class QueryCache:
    """Query encodings, one file per (model, options, query set) key, with its record beside it."""

    def __init__(self, folder: Path, fmt: Format) -> None:
        self.folder = folder
        self.fmt = fmt
        self.suffix = ".npy" if fmt == "dense" else ".npz"

    def load(self, key: str) -> Any | None:
        """The encodings saved under ``key``; None if there are none or they do not check out."""
        path, record_path = self.folder / f"{key}{self.suffix}", self.folder / f"{key}.json"
        record = checked(path, record_path)
        if record is None:
            return None
        try:
            array = load_array(path, self.fmt)
            if [int(n) for n in array.shape] != record["shape"]:
                raise ValueError(f"shape {list(array.shape)}, {record['shape']} recorded")
        except Exception as exc:  # whatever a damaged file raises
            discard([path, record_path], f"{type(exc).__name__}: {exc}")
            return None
        return np.asarray(array) if self.fmt == "dense" else array

    def save(self, key: str, array: Any) -> None:
        record = save_array(self.folder / f"{key}{self.suffix}", array, self.fmt)
        write_record(self.folder / f"{key}.json", record)

"""Atomic file writes: a killed process leaves either the old file or the new one."""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from beirctl.errors import BeirctlError

try:
    import fcntl
except ImportError:  # Windows: no folder locks, so nothing is swept
    fcntl = None  # type: ignore[assignment]

_UMASK = os.umask(0)
os.umask(_UMASK)

log = logging.getLogger("beirctl.cache")


# --- cache entries: a folder lock that sweeps killed writes, write errors, checksums ---


@contextlib.contextmanager
def cache_lock(folder: str | Path, temp_dirs: re.Pattern[str] | None = None) -> Iterator[None]:
    """Read or write the cache entries in ``folder`` under a shared lock on ``folder/.lock``.

    The process that gets the lock alone (no other process is using the folder) first removes
    what killed writes left there: :func:`atomic_path`'s temporary files and the folders whose
    names match ``temp_dirs``, nothing else. Without a lock (no ``fcntl``, a read-only folder)
    nothing is swept.
    """
    folder = Path(folder)
    fd: int | None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        fd = None
    try:
        if fd is not None and fcntl is not None:
            with contextlib.suppress(OSError):  # BlockingIOError: in use, its temp files may be live
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                sweep_temp_files(folder)
                for entry in os.scandir(folder):
                    if temp_dirs and temp_dirs.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)


@contextlib.contextmanager
def cache_write_errors(path: str | Path, what: str = "cache entry") -> Iterator[None]:
    """Re-raise an OSError while writing the cache entry ``path`` as one line saying what to do."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            fix = "free disk space there"
        elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = "make the cache folder writable"
        else:
            fix = "check the cache folder"
        raise BeirctlError(
            f"{path}: cannot write the {what} ({exc.strerror or exc}); {fix}, or point "
            "BEIRCTL_CACHE_DIR (cache_dir in the config) at another folder"
        ) from exc


def file_record(path: str | Path) -> dict[str, Any]:
    """Size and crc32 of a file, as :func:`check_file` verifies them."""
    crc, size = 0, 0
    buf = bytearray(1 << 22)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while n := fh.readinto(buf):
            crc = zlib.crc32(view[:n], crc)
            size += n
    return {"bytes": size, "crc32": f"{crc:08x}"}


def check_file(path: str | Path, record: dict[str, Any]) -> None:
    """Raise ValueError unless ``path`` has the size and crc32 of ``record`` (:func:`file_record`)."""
    size = os.stat(path).st_size  # a truncated file fails here, without reading it
    if size != record["bytes"]:
        raise ValueError(f"{Path(path).name} has {size} bytes, {record['bytes']} expected")
    if file_record(path)["crc32"] != record["crc32"]:
        raise ValueError(f"{Path(path).name}: crc32 differs")


def _json_crc(data: dict[str, Any]) -> str:
    return f"crc32:{zlib.crc32(json.dumps(data, sort_keys=True, separators=(',', ':')).encode()):08x}"


def write_checked_json(path: str | Path, data: dict[str, Any]) -> dict[str, Any]:
    """:func:`write_json` of ``data`` plus its ``checksum`` (a crc32); returns what was written."""
    checked = {**data, "checksum": _json_crc(data)}
    write_json(path, checked)
    return checked


def read_checked_json(path: str | Path) -> dict[str, Any] | None:
    """What :func:`write_checked_json` wrote at ``path`` (with its ``checksum``); None if there is
    no file. ValueError if it is not that: unreadable, not JSON, without or with another checksum."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("checksum"), str):
        raise ValueError(f"{Path(path).name} has no checksum (written by an older beirctl)")
    if _json_crc({k: v for k, v in data.items() if k != "checksum"}) != data["checksum"]:
        raise ValueError(f"{Path(path).name}: checksum differs")
    return data


def discard(paths: Iterable[str | Path], reason: str | None) -> None:
    """Delete the files and folders of a cache entry that cannot be trusted; warn with the
    ``reason`` (None: silently, e.g. a shard whose checksum a kill kept from being written)."""
    entry = [Path(p) for p in paths]
    if reason is not None and entry:
        log.warning("warning: %s: discarding the cache entry (%s); it will be rebuilt", entry[0], reason)
    for p in entry:
        with contextlib.suppress(OSError):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; results are meant to be shared
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


GZIP_LEVEL = 1  # of the .gz files atomic_open writes (run files): fast, and the same bytes every time


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a file for writing atomically; ``.gz`` paths are gzip-compressed."""
    with atomic_path(path) as tmp:
        if str(path).endswith(".gz"):
            # mtime=0 keeps the bytes reproducible across runs. Level 1, not gzip's default 9: at
            # level 9 compressing a 2,000-query top-1000 run took 7-9 s, the longest step of a
            # cached BM25 run on 1M documents (benchmarks/write_run.py compares the two).
            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz,
            ):
                if "b" in mode:
                    yield gz  # type: ignore[misc]
                else:
                    with io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as text:
                        yield text
        else:
            with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
                yield fh


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically with stable formatting."""
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=2, ensure_ascii=False, sort_keys=False)
        fh.write("\n")


# The names atomic_path gives its temporary files: ".<name>.<8 random characters>.tmp".
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def sweep_temp_files(folder: str | Path, min_age_s: float = 0.0) -> int:
    """Remove temporary files that :func:`atomic_path` left in ``folder`` when its process was
    killed (only files named as it names them, at least ``min_age_s`` old); return the count.

    Call it only where no other process may be writing (e.g. under the folder's lock), or with
    an age that no write takes.
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not _TEMP_NAME.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed

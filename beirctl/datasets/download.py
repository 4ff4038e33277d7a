"""Download official BEIR zips: resumable, MD5-verified, safely and atomically extracted.

The archive is fetched to ``<data dir>/.downloads/<name>.zip.part``; an interrupted download
resumes with an HTTP Range request (or restarts when the server ignores it). Only a zip
whose MD5 matches the official checksum is extracted, into a temporary folder beside the
target that is renamed into place when complete, so a dataset folder is either absent or
whole. Extraction is bounded (see :func:`extract_limit`): a member that expands too much, or a
zip that would write more than its bound, is refused, and the bytes actually written are
counted rather than trusting the zip's headers.

Two processes downloading the same archive take turns: each holds an exclusive lock on
``<data dir>/.downloads/<archive>.lock`` (``flock``) while it fetches and extracts, so the second
waits, then finds the dataset cached. Temporary ``.extract-<archive>-*`` folders left by a
killed run are removed by the next download of that archive. A full disk or a read-only data
dir is reported as one line naming the path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from beirctl.datasets import catalog
from beirctl.datasets.paths import data_dir
from beirctl.errors import DownloadError, did_you_mean

if sys.platform != "win32":
    import fcntl

ENV_BASE_URL = "BEIRCTL_BEIR_URL"
CHUNK = 1 << 20

# Extraction bounds. The catalog knows each official zip's size (``zip_bytes``; the MD5 check
# makes the file on disk exactly that zip) but not the sizes of its members once extracted, so
# the bound is derived from the zip's size: BEIR zips hold JSONL and TSV text that deflates
# 3-8x (SciFact and NFCorpus: corpus 3x, qrels up to 7.8x), so 20x the zip (plus 16 MiB) is
# generous, and 64 GiB caps it whatever the zip.
MAX_RATIO = 20  # total uncompressed bytes per zip byte
MAX_MEMBER_RATIO = 100  # one member's uncompressed / compressed size (text deflates < 10x)
RATIO_MIN_BYTES = 1 << 20  # members smaller than this may have any ratio
EXTRACT_SLACK = 16 << 20
MAX_EXTRACT_BYTES = 64 << 30
# Stored and deflated only: bzip2 and LZMA members are decompressed without an output bound.
SAFE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)

# progress(downloaded_bytes, total_bytes_or_None)
Progress = Callable[[int, int | None], None]


def archive_url(archive: str, base_url: str | None = None) -> str:
    base = base_url or os.environ.get(ENV_BASE_URL)
    if base:
        return f"{base.rstrip('/')}/{archive}.zip"
    return catalog.BEIR_URL.format(name=archive)


def md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def disk_error(path: str | Path, exc: OSError, doing: str) -> DownloadError:
    """One line for a failed write: disk full, read-only or not permitted, or anything else."""
    where = exc.filename or path
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DownloadError(
            f"{where}: no space left on the device while {doing}; free some space, or pass --data-dir "
            "(or set BEIRCTL_DATA_DIR) to a folder on a disk with room, then run again"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return DownloadError(
            f"{where}: not writable ({exc.strerror}) while {doing}; pass --data-dir "
            "(or set BEIRCTL_DATA_DIR) to a writable folder"
        )
    return DownloadError(f"{where}: {exc.strerror or exc} while {doing}")


class NetworkError(DownloadError):
    """The server could not be reached or the transfer broke off."""


def offline_hint(name: str, base: Path) -> str:
    """What to do when a dataset cannot be downloaded."""
    return (
        f"offline or the server unreachable? set {ENV_BASE_URL} to a mirror holding {catalog.archive_of(name)}.zip, "
        f"or unzip the dataset into {base / name} (another data dir: --data-dir or BEIRCTL_DATA_DIR) and "
        f"run again; `beirctl datasets download {name}` fetches it when online"
    )


def fetch(url: str, dest: Path, progress: Progress | None = None, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest``, resuming from ``dest.part`` when it exists."""
    part = dest.with_name(dest.name + ".part")
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(part.parent, exc, "creating the download folder") from None
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "beirctl"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete (or too long)
            _replace(part, dest)
            return
        raise NetworkError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise NetworkError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        if have and response.status != 206:
            have = 0  # server ignored the Range header: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if have else "wb"
        done = have
        try:
            with open(part, mode) as fh:
                while True:
                    try:
                        block = response.read(CHUNK)
                    except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
                        raise NetworkError(
                            f"{url}: download interrupted after {done} bytes ({exc}); run again to resume"
                        ) from None
                    if not block:
                        break
                    fh.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except OSError as exc:  # writing the part file (network errors are handled above)
            raise disk_error(part, exc, "downloading") from None
    if total is not None and done < total:
        raise DownloadError(f"{url}: truncated download ({done} of {total} bytes); run again to resume")
    _replace(part, dest)


def _replace(src: Path, dest: Path) -> None:
    try:
        src.replace(dest)
    except OSError as exc:
        raise disk_error(dest, exc, "renaming the download") from None


def check_members(zf: zipfile.ZipFile, source: Path) -> None:
    """Reject members that would land outside the extraction folder, and duplicate names."""
    seen: set[str] = set()
    for info in zf.infolist():
        name = info.filename
        if name in seen:
            raise DownloadError(f"{source}: member {name!r} appears twice")
        seen.add(name)
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise DownloadError(f"{source}: unsafe member {name!r} (absolute path)")
        if ".." in pure.parts:
            raise DownloadError(f"{source}: unsafe member {name!r} ('..' in path)")
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:
            raise DownloadError(f"{source}: unsafe member {name!r} (symbolic link)")


class ExtractLimitError(DownloadError):
    """A zip would expand beyond its bound (a zip bomb, or a zip that is not what it claims)."""


def extract_limit(zip_bytes: int) -> int:
    """The most bytes a dataset zip of ``zip_bytes`` may extract to (see ``MAX_RATIO``)."""
    return min(MAX_RATIO * zip_bytes + EXTRACT_SLACK, MAX_EXTRACT_BYTES)


def check_sizes(
    infos: list[zipfile.ZipInfo],
    source: Path,
    limit: int,
    max_ratio: float = MAX_MEMBER_RATIO,
) -> None:
    """Refuse, from the zip's headers, members that expand too much or a total over ``limit``.

    The headers can lie: :func:`copy_member` also counts the bytes actually written.
    """
    total = 0
    for info in infos:
        if info.compress_type not in SAFE_COMPRESSION:
            raise DownloadError(
                f"{source}: member {info.filename!r} uses compression method {info.compress_type} "
                "(only stored and deflated members are extracted)"
            )
        size, packed = info.file_size, info.compress_size
        if size > RATIO_MIN_BYTES and size > max_ratio * max(packed, 1):
            raise ExtractLimitError(
                f"{source}: member {info.filename!r} expands {size / max(packed, 1):.0f}x ({packed} -> {size} bytes),"
                f" over the {max_ratio:g}x bound; nothing was extracted (a zip bomb?)"
            )
        total += size
    if total > limit:
        raise ExtractLimitError(
            f"{source}: would extract {total} bytes, over the {limit}-byte bound for this zip;"
            " nothing was extracted (a zip bomb?)"
        )


def copy_member(src: IO[bytes], dest: Path, limit: int, source: Path, name: str) -> int:
    """Write ``src`` to the new file ``dest``, counting bytes; stop beyond ``limit``. Returns the count."""
    written = 0
    with open(dest, "xb") as out:
        while True:
            block = src.read(CHUNK)
            if not block:
                return written
            written += len(block)
            if written > limit:
                raise ExtractLimitError(
                    f"{source}: member {name!r} wrote more than {limit} bytes, more than its header or bound"
                    " allows; extraction stopped and removed (a zip bomb?)"
                )
            out.write(block)


def extract(zip_path: Path, archive: str, root: Path, limit: int | None = None) -> Path:
    """Extract ``zip_path`` (holding folder ``archive/``) into ``root/archive`` atomically.

    At most ``limit`` bytes (default: :func:`extract_limit` of the zip's size) are written.
    """
    target = root / archive
    if limit is None:
        limit = extract_limit(zip_path.stat().st_size)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive}-", dir=root))
    except OSError as exc:
        raise disk_error(root, exc, "extracting") from None
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                check_members(zf, zip_path)
                infos = zf.infolist()
                check_sizes(infos, zip_path, limit)
                left = limit
                for info in infos:
                    dest = tmp.joinpath(*PurePosixPath(info.filename).parts)
                    if not dest.resolve().is_relative_to(tmp.resolve()):
                        raise DownloadError(f"{zip_path}: unsafe member {info.filename!r} (outside the folder)")
                    if info.is_dir():
                        dest.mkdir(parents=True, exist_ok=True)
                        continue
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src:
                        left -= copy_member(src, dest, left, zip_path, info.filename)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
            raise DownloadError(f"{zip_path}: not a valid zip ({exc}); remove it and run again") from None
        except OSError as exc:
            raise disk_error(root, exc, f"extracting {zip_path.name}") from None
        extracted = tmp / archive
        if not extracted.is_dir():
            raise DownloadError(f"{zip_path}: expected a top-level folder {archive!r} in the zip")
        try:
            if target.exists():
                # Moved aside (a fresh name beside what was extracted), removed with tmp at the end.
                os.replace(target, Path(tempfile.mkdtemp(prefix="previous-", dir=tmp)) / archive)
            os.replace(extracted, target)
        except OSError as exc:
            raise disk_error(target, exc, "moving the extracted dataset into place") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _stale_extractions(root: Path, archive: str) -> list[Path]:
    """Temporary folders of ``archive``'s extraction left by a killed run (``mkdtemp`` names)."""
    pattern = re.compile(rf"\.extract-{re.escape(archive)}-[a-z0-9_]{{8}}")
    try:
        return [p for p in root.iterdir() if pattern.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


@contextlib.contextmanager
def archive_lock(root: Path, archive: str) -> Iterator[None]:
    """Hold an exclusive lock on ``root/.downloads/<archive>.lock``; wait while another process has it."""
    folder = root / ".downloads"
    path = folder / f"{archive}.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+b")
    except OSError as exc:
        raise disk_error(path, exc, "taking the download lock") from None
    with fh:
        if sys.platform != "win32":
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # released when the file closes, or the process dies
        yield


def download(
    name: str,
    root: str | Path | None = None,
    *,
    force: bool = False,
    base_url: str | None = None,
    progress: Progress | None = None,
    keep_zip: bool = False,
) -> Path:
    """Download and extract dataset ``name`` (a CQADupStack forum fetches all 12); return its folder."""
    # "cqadupstack" names the whole archive; its forums share one zip and checksum.
    info = catalog.DATASETS.get(catalog.expand(name)[0])
    if info is None:
        known = ", ".join(sorted(n for n in catalog.DATASETS if "/" not in n))
        hint = did_you_mean(name, [*catalog.DATASETS, catalog.CQADUPSTACK])
        raise DownloadError(f"unknown dataset {name!r}{hint} (known: {known}, cqadupstack)")
    if not info.public or info.md5 is None:
        raise DownloadError(f"{name}: {info.license}")
    base = data_dir(root)
    archive = catalog.archive_of(name)
    folder = base / name
    if folder.is_dir() and not force:
        return folder
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise disk_error(base, exc, "creating the data dir") from None
    with archive_lock(base, archive):
        if folder.is_dir() and not force:
            return folder  # another process downloaded it while this one waited for the lock
        for stale in _stale_extractions(base, archive):
            shutil.rmtree(stale, ignore_errors=True)
        zip_path = base / ".downloads" / f"{archive}.zip"
        if not zip_path.exists():
            try:
                fetch(archive_url(archive, base_url), zip_path, progress)
            except NetworkError as exc:
                raise NetworkError(f"{exc}; {offline_hint(name, base)}") from None
        actual = md5_file(zip_path)
        if actual != info.md5:
            zip_path.unlink()
            raise DownloadError(
                f"{zip_path.name}: MD5 mismatch (expected {info.md5}, got {actual}); the file was removed, run again"
            )
        # The MD5 makes the file the official zip, so its size is the catalog's zip_bytes when known.
        extract(zip_path, archive, base, extract_limit(max(zip_path.stat().st_size, info.zip_bytes or 0)))
        if not keep_zip:
            zip_path.unlink(missing_ok=True)
    return folder

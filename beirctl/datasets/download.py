"""Download official BEIR zips: resumable, MD5-verified, safely and atomically extracted.

The archive is fetched to ``<data dir>/.downloads/<name>.zip.part``; an interrupted download
resumes with an HTTP Range request (or restarts when the server ignores it). Only a zip
whose MD5 matches the official checksum is extracted, into a temporary folder beside the
target that is renamed into place when complete, so a dataset folder is either absent or
whole.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from beirctl.datasets import catalog
from beirctl.datasets.paths import data_dir
from beirctl.errors import DownloadError

ENV_BASE_URL = "BEIRCTL_BEIR_URL"
CHUNK = 1 << 20

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


def fetch(url: str, dest: Path, progress: Progress | None = None, timeout: float = 60.0) -> None:
    """Download ``url`` to ``dest``, resuming from ``dest.part`` when it exists."""
    part = dest.with_name(dest.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "beirctl"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete (or too long)
            part.replace(dest)
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from None
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
                    block = response.read(CHUNK)
                    if not block:
                        break
                    fh.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (OSError, urllib.error.URLError) as exc:
            raise DownloadError(
                f"{url}: download interrupted after {done} bytes ({exc}); run again to resume"
            ) from None
    if total is not None and done < total:
        raise DownloadError(f"{url}: truncated download ({done} of {total} bytes); run again to resume")
    part.replace(dest)


def check_members(zf: zipfile.ZipFile, source: Path) -> None:
    """Reject members that would land outside the extraction folder."""
    for info in zf.infolist():
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        if pure.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            raise DownloadError(f"{source}: unsafe member {name!r} (absolute path)")
        if ".." in pure.parts:
            raise DownloadError(f"{source}: unsafe member {name!r} ('..' in path)")
        mode = (info.external_attr >> 16) & 0o170000
        if mode == 0o120000:
            raise DownloadError(f"{source}: unsafe member {name!r} (symbolic link)")


def extract(zip_path: Path, archive: str, root: Path) -> Path:
    """Extract ``zip_path`` (holding folder ``archive/``) into ``root/archive`` atomically."""
    target = root / archive
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{archive}-", dir=root))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                check_members(zf, zip_path)
                zf.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{zip_path}: not a valid zip ({exc})") from None
        extracted = tmp / archive
        if not extracted.is_dir():
            raise DownloadError(f"{zip_path}: expected a top-level folder {archive!r} in the zip")
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


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
        raise DownloadError(f"unknown dataset {name!r} (known: {known}, cqadupstack)")
    if not info.public or info.md5 is None:
        raise DownloadError(f"{name}: {info.license}")
    base = data_dir(root)
    base.mkdir(parents=True, exist_ok=True)
    archive = catalog.archive_of(name)
    folder = base / name
    if folder.is_dir() and not force:
        return folder
    zip_path = base / ".downloads" / f"{archive}.zip"
    if not zip_path.exists():
        fetch(archive_url(archive, base_url), zip_path, progress)
    actual = md5_file(zip_path)
    if actual != info.md5:
        zip_path.unlink()
        raise DownloadError(
            f"{zip_path.name}: MD5 mismatch (expected {info.md5}, got {actual}); the file was removed, run again"
        )
    extract(zip_path, archive, base)
    if not keep_zip:
        zip_path.unlink(missing_ok=True)
    return folder

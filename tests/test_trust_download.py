"""Dataset downloads under hostile or unlucky conditions: zip bombs, lying headers, two processes
at once, a full disk, a read-only data dir, leftovers of a killed run.

Everything is served by a local HTTP server on 127.0.0.1 (tests/test_download.py's); the full-disk
and read-only cases use a real tmpfs in a private mount namespace where that is allowed (root with
CAP_SYS_ADMIN and ``unshare``), and /dev/full for a full disk while downloading.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.datasets import catalog, download, load_folder
from beirctl.errors import DownloadError
from tests.conftest import REPO, write_dataset
from tests.test_download import Server, make_zip, register

dl = importlib.import_module("beirctl.datasets.download")  # the module (the package exports the function)
runner = CliRunner()
DEFLATED = zipfile.ZIP_DEFLATED


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


# Runs the CLI in a fresh process with "tinyset" (md5, size given) added to the catalog.
CLI = """
import sys
from beirctl.datasets import catalog
from beirctl.datasets.catalog import DatasetInfo
md5, size = sys.argv[1], int(sys.argv[2])
catalog.DATASETS["tinyset"] = DatasetInfo("tinyset", 5, 3, "test", md5, size, "test data")
sys.argv = ["beirctl", *sys.argv[3:]]
from beirctl.cli import run_cli
run_cli()
"""


def _cli_cmd(blob: bytes, *args: str) -> list[str]:
    return [sys.executable, "-c", CLI, hashlib.md5(blob).hexdigest(), str(len(blob)), *args]


def _env(server: Server) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "BEIRCTL_BEIR_URL": server.url}


def _lie_about_size(blob: bytes, member: str, claimed: int) -> bytes:
    """``blob`` with the uncompressed size of ``member`` rewritten in its local and central headers."""
    data = bytearray(blob)
    name = member.encode()
    local = data.index(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", data, local + 22, claimed)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, claimed)
    return bytes(data)


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".downloads")


# --- zip bombs ----------------------------------------------------------------------------------


def test_extract_limit_from_the_catalog() -> None:
    # The catalog knows zip sizes, not extracted sizes: the bound is 20x the zip, plus 16 MiB.
    assert dl.extract_limit(catalog.DATASETS["scifact"].zip_bytes or 0) == 20 * 2_816_079 + (16 << 20)
    assert dl.extract_limit(catalog.DATASETS["msmarco"].zip_bytes or 0) == 20 * 1_082_258_632 + (16 << 20)
    assert dl.extract_limit(10 << 30) == 64 << 30  # the absolute cap


def test_zip_bomb_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    size = 64 << 20
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {"tinyset/pad.bin": bytes(size)}, DEFLATED)
    assert len(blob) < 200_000
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    packed = zipfile.ZipFile(io.BytesIO(blob)).getinfo("tinyset/pad.bin").compress_size
    zip_path = root / ".downloads" / "tinyset.zip"
    with pytest.raises(DownloadError) as err:
        download("tinyset", root, base_url=server.url)
    assert str(err.value) == (
        f"{zip_path}: member 'tinyset/pad.bin' expands {size / packed:.0f}x ({packed} -> {size} bytes),"
        " over the 100x bound; nothing was extracted (a zip bomb?)"
    )
    assert _leftovers(root) == []


def test_zip_over_its_total_bound_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # 40 members of 1 MiB each (small members may compress any amount): 40 MiB from a ~60 KB zip.
    extra = {f"tinyset/pad{i}.bin": bytes(1 << 20) for i in range(40)}
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", extra, DEFLATED)
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    total = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(blob)).infolist())
    with pytest.raises(DownloadError) as err:
        download("tinyset", root, base_url=server.url)
    assert str(err.value) == (
        f"{root / '.downloads' / 'tinyset.zip'}: would extract {total} bytes, over the"
        f" {20 * len(blob) + (16 << 20)}-byte bound for this zip; nothing was extracted (a zip bomb?)"
    )
    assert _leftovers(root) == []


def test_zip_whose_header_lies_about_its_size(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {"tinyset/pad.bin": bytes(64 << 20)}, DEFLATED)
    blob = _lie_about_size(blob, "tinyset/pad.bin", 1000)  # 64 MiB of zeros behind a 1000-byte header
    assert zipfile.ZipFile(io.BytesIO(blob)).getinfo("tinyset/pad.bin").file_size == 1000
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    written: list[int] = []
    real_copy = dl.copy_member

    def counting_copy(src: object, dest: Path, limit: int, source: Path, name: str) -> int:
        n = real_copy(src, dest, limit, source, name)  # type: ignore[arg-type]
        written.append(n)
        return n

    monkeypatch.setattr(dl, "copy_member", counting_copy)
    t0 = time.perf_counter()
    with pytest.raises(DownloadError, match=r"tinyset.zip: not a valid zip \(Bad CRC-32 for file 'tinyset/pad.bin'\)"):
        download("tinyset", root, base_url=server.url)
    assert time.perf_counter() - t0 < 5
    assert sum(written) < 10_000  # the small members, and 1000 bytes of the liar at most
    assert _leftovers(root) == []


def test_bytes_are_counted_while_extracting(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    with pytest.raises(dl.ExtractLimitError, match="member 'x' wrote more than 4096 bytes"):
        dl.copy_member(io.BytesIO(b"y" * 10_000), dest, 4096, tmp_path / "a.zip", "x")
    assert dest.stat().st_size == 0  # the over-limit block is never written
    assert dl.copy_member(io.BytesIO(b"y" * 4096), tmp_path / "ok.bin", 4096, tmp_path / "a.zip", "x") == 4096


def test_unsupported_compression_is_refused(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as zf:  # bzip2 decompresses without a bound
        zf.writestr("tinyset/corpus.jsonl", b"{}")
    blob = buf.getvalue()
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    with pytest.raises(DownloadError, match="member 'tinyset/corpus.jsonl' uses compression method 12"):
        download("tinyset", tmp_path / "data", base_url=server.url)


# --- two processes, leftovers -------------------------------------------------------------------


def test_concurrent_downloads_take_turns(tmp_path: Path, server: Server) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {"tinyset/pad.bin": os.urandom(200_000)})
    server.files["/tinyset.zip"] = blob
    server.delay = 0.1  # ~0.8 s per download: the two overlap
    root = tmp_path / "data"
    cmd = _cli_cmd(blob, "datasets", "download", "tinyset", "--data-dir", str(root))
    env = _env(server)
    first = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not server.requests and time.time() < deadline:  # the first one is downloading
        time.sleep(0.02)
    second = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    # (rich wraps the line "tinyset: <folder>" at the console width)
    assert all(f"tinyset:{root / 'tinyset'}" in "".join((out + err).split()) for out, err in outs), outs
    assert all("Traceback" not in err for _, err in outs)
    assert [r for r in server.requests if r[0] == "/tinyset.zip"] == [("/tinyset.zip", None)]  # one download
    assert len(load_folder(root / "tinyset").corpus) == 5
    assert _leftovers(root) == ["tinyset"]
    assert sorted(p.name for p in (root / ".downloads").iterdir()) == ["tinyset.lock"]


def test_lock_is_held_while_downloading(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    held: list[bool] = []
    real_fetch = dl.fetch

    def probing_fetch(*args: object, **kwargs: object) -> None:
        with open(root / ".downloads" / "tinyset.lock", "rb") as other:  # another open file: as another process
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
        real_fetch(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dl, "fetch", probing_fetch)
    download("tinyset", root, base_url=server.url)
    assert held == [True]


def test_leftover_extraction_folders_are_removed(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    stale = root / ".extract-tinyset-k1ll3d_x"  # what a killed run leaves (tempfile.mkdtemp's name)
    (stale / "tinyset").mkdir(parents=True)
    (stale / "tinyset" / "corpus.jsonl").write_text("half written")
    other = root / ".extract-tinyset2-abcdefgh"  # another archive's: not this download's to remove
    other.mkdir()
    mine = root / ".extract-tinyset-notmine"  # not a mkdtemp name (7 characters): left alone
    mine.mkdir()
    download("tinyset", root, base_url=server.url)
    assert not stale.exists() and other.is_dir() and mine.is_dir()
    assert _leftovers(root) == [".extract-tinyset-notmine", ".extract-tinyset2-abcdefgh", "tinyset"]


def test_force_replaces_a_dataset_and_leaves_nothing_behind(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", first)
    server.files["/tinyset.zip"] = first
    root = tmp_path / "data"
    download("tinyset", root, base_url=server.url)
    second = make_zip(write_dataset(tmp_path / "src2", corpus=[{"_id": "d1", "text": "only one"}]), "tinyset")
    register(monkeypatch, "tinyset", second)
    server.files["/tinyset.zip"] = second
    download("tinyset", root, base_url=server.url, force=True)
    assert [line for line in (root / "tinyset" / "corpus.jsonl").read_text().splitlines()] == [
        '{"_id": "d1", "text": "only one"}'
    ]
    assert _leftovers(root) == ["tinyset"]


# --- full disk, read-only data dir --------------------------------------------------------------


def test_disk_full_while_downloading(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    part = root / ".downloads" / "tinyset.zip.part"
    part.parent.mkdir(parents=True)
    part.symlink_to("/dev/full")  # every write to the part file fails with ENOSPC, as on a full disk
    monkeypatch.setenv("BEIRCTL_BEIR_URL", server.url)
    result = runner.invoke(app, ["datasets", "download", "tinyset", "--data-dir", str(root)])
    assert result.exit_code == 2
    assert (
        f"error: {part}: no space left on the device while downloading; free some space, or pass --data-dir"
        " (or set BEIRCTL_DATA_DIR) to a folder on a disk with room, then run again"
    ) in result.output
    assert "Traceback" not in result.output and _leftovers(root) == []


def _can_mount() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs root, unshare and tmpfs mounts")


def _in_tmpfs(server: Server, blob: bytes, mount_opts: str, data: Path) -> tuple[int, str, str]:
    """Run `beirctl datasets download tinyset` with its data dir on a fresh tmpfs; list it after."""
    data.mkdir(parents=True, exist_ok=True)
    script = (
        f'mount -t tmpfs -o {mount_opts} tmpfs "$D" || exit 99; "$@"; echo "rc=$?"; '
        'echo "left:" $(ls -A "$D"); echo "downloads:" $(ls -A "$D/.downloads" 2>/dev/null)'
    )
    cmd = ["unshare", "-m", "sh", "-c", script, "sh", *_cli_cmd(blob, "datasets", "download", "tinyset")]
    env = {**_env(server), "D": str(data), "BEIRCTL_DATA_DIR": str(data)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 99, proc.stderr
    rc = int(next(line for line in proc.stdout.splitlines() if line.startswith("rc="))[3:])
    return rc, proc.stdout, proc.stderr


@needs_mount
def test_disk_full_while_extracting(tmp_path: Path, server: Server) -> None:
    # 900 KB of zeros zip to ~1 KB (small members may compress any amount); the disk holds 256 KB.
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {"tinyset/pad.bin": bytes(900_000)}, DEFLATED)
    server.files["/tinyset.zip"] = blob
    data = tmp_path / "mnt"
    rc, out, err = _in_tmpfs(server, blob, "size=256k", data)
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {data}: no space left on the device while extracting tinyset.zip; free some space, or pass"
        " --data-dir (or set BEIRCTL_DATA_DIR) to a folder on a disk with room, then run again"
    ]
    assert "Traceback" not in err
    # Nothing half-extracted is left; the verified zip stays for the next try.
    assert "left: .downloads\n" in out and "downloads: tinyset.lock tinyset.zip" in out


@needs_mount
def test_read_only_data_dir(tmp_path: Path, server: Server) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    server.files["/tinyset.zip"] = blob
    data = tmp_path / "ro"
    rc, out, err = _in_tmpfs(server, blob, "ro,size=64k", data)
    assert rc == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {data / '.downloads'}: not writable (Read-only file system) while taking the download lock;"
        " pass --data-dir (or set BEIRCTL_DATA_DIR) to a writable folder"
    ]
    assert "Traceback" not in err and server.requests == []

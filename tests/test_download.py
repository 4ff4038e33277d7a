"""Downloads against a local HTTP server on 127.0.0.1: checksum, truncation, resume, unsafe zips."""

from __future__ import annotations

import hashlib
import io
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from beirctl.datasets import catalog, download, load_folder
from beirctl.datasets.catalog import DatasetInfo
from beirctl.errors import DownloadError
from tests.conftest import write_dataset


class Server:
    """Serves ``files`` (URL path -> bytes) with Range support; can cut a response short."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate_next: dict[str, int] = {}  # path -> bytes to send before closing
        self.requests: list[tuple[str, str | None]] = []
        self.ignore_range = False
        self.delay = 0.0  # seconds to pause between the 8 pieces of each body (slow server)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                cut = server.truncate_next.pop(self.path, None)
                payload = payload if cut is None else payload[:cut]
                if server.delay:
                    step = len(payload) // 8 + 1
                    for i in range(0, len(payload), step):
                        self.wfile.write(payload[i : i + step])
                        self.wfile.flush()
                        time.sleep(server.delay)
                else:
                    self.wfile.write(payload)
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.close()


def make_zip(
    src: Path, archive: str, extra: dict[str, bytes] | None = None, compression: int = zipfile.ZIP_STORED
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_file():
                zf.write(path, f"{archive}/{path.relative_to(src).as_posix()}")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def register(monkeypatch: pytest.MonkeyPatch, name: str, blob: bytes) -> None:
    md5 = hashlib.md5(blob).hexdigest()
    monkeypatch.setitem(catalog.DATASETS, name, DatasetInfo(name, 5, 3, "test", md5, len(blob), "test data"))


def test_download_verify_extract(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    server.files["/tinyset.zip"] = blob
    register(monkeypatch, "tinyset", blob)
    root = tmp_path / "data"
    folder = download("tinyset", root, base_url=server.url)
    assert folder == root / "tinyset"
    assert len(load_folder(folder).corpus) == 5
    assert not (root / ".downloads" / "tinyset.zip").exists()  # zip removed after extraction
    # Cached: a second call does not download again.
    n = len(server.requests)
    download("tinyset", root, base_url=server.url)
    assert len(server.requests) == n


def test_checksum_mismatch_removes_file(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob[:-1] + bytes([blob[-1] ^ 0xFF])
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"tinyset.zip: MD5 mismatch \(expected [0-9a-f]{32}, got"):
        download("tinyset", root, base_url=server.url)
    assert not (root / "tinyset").exists()
    assert not (root / ".downloads" / "tinyset.zip").exists()


def test_truncated_download_resumes(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {"tinyset/pad.bin": bytes(range(256)) * 64})
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    server.truncate_next["/tinyset.zip"] = len(blob) // 3
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match="run again to resume"):
        download("tinyset", root, base_url=server.url)
    part = root / ".downloads" / "tinyset.zip.part"
    assert part.stat().st_size == len(blob) // 3
    assert not (root / "tinyset").exists()  # nothing half-extracted
    download("tinyset", root, base_url=server.url)
    assert server.requests[-1] == ("/tinyset.zip", f"bytes={len(blob) // 3}-")
    assert len(load_folder(root / "tinyset").corpus) == 5


def test_server_ignoring_range_restarts(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    server.ignore_range = True
    root = tmp_path / "data"
    part = root / ".downloads" / "tinyset.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from some other file")
    download("tinyset", root, base_url=server.url)
    assert server.requests[-1][1] == "bytes=32-"  # it asked to resume, got a full 200 answer
    assert len(load_folder(root / "tinyset").corpus) == 5


def test_overlong_part_file_is_discarded(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    part = root / ".downloads" / "tinyset.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(blob) + 10))  # the server answers 416; the MD5 check rejects it
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        download("tinyset", root, base_url=server.url)
    assert not part.exists()
    download("tinyset", root, base_url=server.url)
    assert (root / "tinyset" / "corpus.jsonl").is_file()


@pytest.mark.parametrize(
    ("member", "why"),
    [("tinyset/../../evil.txt", r"'\.\.' in path"), ("/etc/evil.txt", "absolute path")],
)
def test_unsafe_zip_is_rejected(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, member: str, why: str
) -> None:
    blob = make_zip(write_dataset(tmp_path / "src"), "tinyset", {member: b"pwned"})
    register(monkeypatch, "tinyset", blob)
    server.files["/tinyset.zip"] = blob
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=f"unsafe member .*{why}"):
        download("tinyset", root, base_url=server.url)
    assert not (root / "tinyset").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert [p.name for p in root.iterdir() if not p.name.startswith(".downloads")] == []


def test_failed_update_keeps_existing_dataset(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    good = make_zip(write_dataset(tmp_path / "src"), "tinyset")
    register(monkeypatch, "tinyset", good)
    server.files["/tinyset.zip"] = good
    root = tmp_path / "data"
    download("tinyset", root, base_url=server.url)
    server.files["/tinyset.zip"] = b"not a zip at all"
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        download("tinyset", root, base_url=server.url, force=True)
    assert len(load_folder(root / "tinyset").corpus) == 5


def test_private_and_unknown_datasets(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="bioasq: .*not redistributed by BEIR"):
        download("bioasq", tmp_path)
    with pytest.raises(DownloadError, match="unknown dataset 'nope'"):
        download("nope", tmp_path)


def test_http_error(tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    register(monkeypatch, "tinyset", b"x")
    with pytest.raises(DownloadError, match="HTTP 404"):
        download("tinyset", tmp_path, base_url=server.url)


def test_official_urls() -> None:
    assert (
        catalog.DATASETS["scifact"].url
        == "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip"
    )
    assert catalog.DATASETS["cqadupstack/tex"].url.endswith("/cqadupstack.zip")
    assert len(catalog.BENCHMARK) == 18
    assert len(catalog.expand("cqadupstack")) == 12

"""The HTML report in headless Chromium: a screenshot that shows the table and the charts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from beirctl.config import load_config
from beirctl.runner import run_config
from tests.conftest import write_dataset

pytest.importorskip("matplotlib")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium not installed")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    from typer.testing import CliRunner

    from beirctl.cli import app

    data = tmp_path / "data"
    write_dataset(data / "tiny")
    write_dataset(data / "other")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"datasets: [tiny, other]\nretrievers: [{{type: bm25}}, {{type: rank-bm25, params: {{k1: 1.5}}}}]\n"
        f"output_dir: {tmp_path / 'res'}\ndata_dir: {data}\n"
    )
    run_config(load_config(cfg))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "res"), "-o", str(out), "-b", "bm25", "--title", "Tiny benchmark"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    assert text.count("<svg") == 4  # a bar chart and a box plot per dataset
    # nothing to fetch at view time
    assert not re.search(r"""(src|href)=["']?https?:""", text)
    assert "<script" not in text
    for heading in ("Comparison", "Significance against the baseline", "Wins / ties / losses", "Provenance"):
        assert heading in text


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chrome'}", *args], capture_output=True, text=True, timeout=120
    )


@needs_chromium
def test_report_renders_in_chromium(report: Path, tmp_path: Path) -> None:
    import matplotlib.image

    dom = _chromium("--dump-dom", report.as_uri(), tmp=tmp_path).stdout
    for text in ("Tiny benchmark", "rank-bm25", "bm25 (baseline)", "tiny: per-query nDCG@10", "wins"):
        assert text in dom
    assert dom.count("<svg") == 4
    shot = tmp_path / "report.png"
    _chromium(f"--screenshot={shot}", "--window-size=1200,1800", report.as_uri(), tmp=tmp_path)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] == 1800 and pixels.shape[1] == 1200
    # not blank: many distinct colours (text, table borders, the charts' bars)
    gray = pixels[..., :3].mean(axis=2)
    assert gray.std() > 0.05
    bar_blue = (abs(pixels[..., 0] - 0x4C / 255) < 0.03) & (abs(pixels[..., 2] - 0xB0 / 255) < 0.03)
    assert bar_blue.sum() > 500  # the first retriever's bars are drawn

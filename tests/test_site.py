"""The static leaderboard site (``beirctl leaderboard build``): real bundles in, recomputed scores out.

Three real bundles (beirctl's BM25 flat and multifield, rank-bm25) are built once from runs on
SciFact and NFCorpus (../shared/beir); tampered copies of the flat one (an inflated score, an empty
run, a missing dataset, a duplicate document, a zip bomb) must be rejected with their reasons
without stopping the others. The page is rendered in headless Chromium.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from beirctl import site as site_mod
from beirctl import submission
from beirctl.cli import app
from beirctl.config import load_config
from beirctl.datasets import load_folder
from beirctl.evaluation import evaluate, read_run
from beirctl.results import collect
from beirctl.runner import run_config
from beirctl.submission import build
from tests.conftest import SHARED_BEIR, needs_shared

pytestmark = needs_shared
runner = CliRunner()
GOOD = ["bm25-flat", "bm25-multifield", "rank-bm25"]
TAMPERED = ["inflated", "empty-run", "missing-dataset", "duplicate-doc", "zip-bomb"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian package chromium not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """out/<label>/ + out/<label>.zip for the three real runs, and tampered/<kind> copies."""
    base = tmp_path_factory.mktemp("site")
    cfg = base / "c.yaml"
    cfg.write_text(
        "datasets: [scifact, nfcorpus]\nretrievers:\n  - {type: bm25, label: bm25-flat}\n"
        "  - {type: bm25, label: bm25-multifield, params: {fields: multifield}}\n  - {type: rank-bm25}\n"
        f"metrics: [nDCG@10, R@100]\noutput_dir: {base / 'results'}\ndata_dir: {SHARED_BEIR}\n"
        f"cache_dir: {base / 'cache'}\n"
    )
    run_config(load_config(cfg))
    for label in GOOD:
        build(collect(base / "results"), base / "results", base / "out", label=label)
    flat = base / "out" / "bm25-flat"
    tampered = base / "tampered"
    for kind in TAMPERED[:-1]:
        copy = Path(shutil.copytree(flat, tampered / kind))
        _edit_json(copy / "metadata.json", lambda d, k=kind: d["retriever"].update(label=k))
    _edit_json(tampered / "inflated" / "results.json", _inflate)
    with gzip.open(tampered / "empty-run" / "runs" / "scifact.trec.gz", "wt") as fh:
        fh.write("")
    (tampered / "missing-dataset" / "runs" / "nfcorpus.trec.gz").unlink()
    dup = tampered / "duplicate-doc" / "runs" / "scifact.trec.gz"
    lines = gzip.open(dup, "rt").read().splitlines()
    with gzip.open(dup, "wt") as fh:  # the first hit again, at the end
        fh.write("\n".join([*lines, lines[0].replace(" 1 ", " 1001 ", 1)]) + "\n")
    _bomb(flat, tampered / "zip-bomb.zip")
    return base


def _edit_json(path: Path, edit: Any) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _inflate(doc: dict[str, Any]) -> None:
    doc["datasets"]["scifact"]["nDCG@10"] = 0.9999  # and the average consistent with it
    doc["average"]["nDCG@10"] = (0.9999 + doc["datasets"]["nfcorpus"]["nDCG@10"]) / 2


def _bomb(bundle: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(bundle.rglob("*")):
            rel = path.relative_to(bundle).as_posix()
            if path.is_file() and rel != "runs/scifact.trec.gz":
                zf.write(path, rel)
        with zf.open("runs/scifact.trec.gz", "w") as out:
            for _ in range(200):
                out.write(bytes(1 << 20))


def _inputs(base: Path) -> list[Path]:
    """The good bundles (zips and a folder) and every tampered one."""
    good = [base / "out" / "bm25-flat.zip", base / "out" / "bm25-multifield", base / "out" / "rank-bm25.zip"]
    bad = [base / "tampered" / k for k in TAMPERED[:-1]] + [base / "tampered" / "zip-bomb.zip"]
    return good + bad


def _build(args: list[str]) -> Any:
    return runner.invoke(app, ["leaderboard", "build", *args, "--data-dir", str(SHARED_BEIR)])


@pytest.fixture(scope="module")
def site(bundles: Path) -> tuple[Path, Any]:
    out = bundles / "site"
    result = _build([*map(str, _inputs(bundles)), "-o", str(out), "--summary-json", str(bundles / "summary.json")])
    return out, result


def test_site_shows_recomputed_scores_and_rejects_tampered_bundles(bundles: Path, site: tuple[Path, Any]) -> None:
    out, result = site
    assert result.exit_code == 1, result.output  # rejected bundles: the CI job fails
    rejected = [line for line in result.stderr.splitlines() if line.startswith("rejected: ")]
    assert len(rejected) == len(TAMPERED), result.stderr
    reasons = dict(line.removeprefix("rejected: ").split(": ", 1) for line in rejected)
    tampered = bundles / "tampered"
    got = evaluate(read_run(tampered / "inflated" / "runs" / "scifact.trec.gz"), _qrels("scifact"), ["nDCG@10"])
    assert reasons[str(tampered / "inflated")].startswith(
        f"results.json datasets/scifact/nDCG@10: claims 0.9999, the run scores {got.aggregate['nDCG@10']:.4f}"
    )
    assert "runs/scifact.trec.gz: empty run (no hits)" in reasons[str(tampered / "empty-run")]
    assert "missing dataset: runs/nfcorpus.trec.gz for nfcorpus" in reasons[str(tampered / "missing-dataset")]
    assert "appears twice for query" in reasons[str(tampered / "duplicate-doc")]
    assert "over the 100x bound; nothing was extracted (a zip bomb?)" in reasons[str(tampered / "zip-bomb.zip")]

    doc = json.loads((out / "leaderboard.json").read_text())
    jsonschema.validate(doc, site_mod.site_schema())
    subs = [r for r in doc["rows"] if r["kind"] == "submission"]
    assert sorted(r["id"] for r in subs) == sorted(GOOD)
    assert [r["rank"] for r in subs] == [1, 2, 3]
    averages = [r["average"]["nDCG@10"] for r in doc["rows"]]
    assert averages == sorted(averages, reverse=True)  # references ranked among the submissions
    assert {r["label"] for r in doc["rejected"]} == set(TAMPERED)  # (the bomb by its file name: never opened)
    assert all(r["reasons"] for r in doc["rejected"])
    flat = next(r for r in subs if r["id"] == "bm25-flat")
    # recomputed from the runs: the direct evaluation, and the official Lucene figures
    for ds, official in (("scifact", 0.6789), ("nfcorpus", 0.3218)):
        direct = evaluate(read_run(bundles / "out" / "bm25-flat" / "runs" / f"{ds}.trec.gz"), _qrels(ds), ["nDCG@10"])
        assert flat["datasets"][ds]["nDCG@10"] == pytest.approx(direct.aggregate["nDCG@10"], abs=1e-12)
        assert round(flat["datasets"][ds]["nDCG@10"], 4) == official
    assert flat["average"]["nDCG@10"] == pytest.approx(
        (flat["datasets"]["scifact"]["nDCG@10"] + flat["datasets"]["nfcorpus"]["nDCG@10"]) / 2
    )
    assert flat["num_datasets"] == 2 and flat["complete"] is False
    assert "pyserini-bm25-flat" in flat["verified"]
    ranking = (out / "index.html").read_text().split('id="rejected"')[0]
    assert "0.9999" not in ranking  # claimed scores are never shown (only in the rejection reason)
    # the fairer view: the pooled random-effects effect vs the baseline (README: -0.0061 for multifield)
    assert doc["baseline"] == "bm25-flat" and flat["effect"] is None and flat["effect_note"] == "baseline"
    multi = next(r for r in subs if r["id"] == "bm25-multifield")
    assert round(multi["effect"]["estimate"], 4) == -0.0061
    assert multi["effect"]["ci_low"] < multi["effect"]["estimate"] < multi["effect"]["ci_high"]
    assert "pyserini-bm25-multifield" in multi["verified"]
    refs = [r for r in doc["rows"] if r["kind"] == "reference"]
    assert {r["id"] for r in refs} >= {
        "ref:pyserini-bm25-flat",
        "ref:pyserini-splade-pp-ed",
        "ref:mteb-all-MiniLM-L6-v2",
    }
    assert all(r["rank"] is None and r["effect"] is None for r in refs)
    summary = json.loads((bundles / "summary.json").read_text())
    assert summary["ok"] is False and len(summary["accepted"]) == 3 and len(summary["rejected"]) == 5
    assert all(r["reason"] for r in summary["rejected"])


def _qrels(ds: str) -> dict[str, dict[str, int]]:
    return load_folder(SHARED_BEIR / ds).qrels


def test_submission_pages(site: tuple[Path, Any]) -> None:
    out, _ = site
    assert sorted(p.name for p in (out / "submissions").iterdir()) == sorted(f"{g}.html" for g in GOOD)
    page = (out / "submissions" / "bm25-multifield.html").read_text()
    for text in ("Metadata", "revision", "zero-shot", "saw BEIR test data", "BM25", "multifield", "packages"):
        assert text in page, text
    assert "Δ nDCG@10<br>vs bm25-flat" in page and "Holm" in page
    assert 'id="bc-radar-' in page  # the radar chart
    assert 'data-forest-id="bm25-multifield"' in page and 'id="bc-forest-bm25-multifield-pooled"' in page
    assert "Verified: the re-scored figures match <b>pyserini-bm25-multifield</b>" in page
    base_page = (out / "submissions" / "bm25-flat.html").read_text()
    assert "No baseline to compare with." in base_page and "pyserini-bm25-flat" in base_page
    for html_file in [out / "index.html", *(out / "submissions").iterdir()]:
        text = html_file.read_text()
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
        # offline: nothing fetched (no external script, stylesheet, font or image)
        assert not re.search(r"<script[^>]+src=|<link |@import|@font-face|<img |url\((?!#)", text), html_file
        assert len(re.findall(r"<script>", text)) <= 1
    assert len(site_mod.SORT_JS.strip().splitlines()) <= 12


def test_incremental_rebuild_rescores_only_the_new_bundle(
    bundles: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    first = [bundles / "out" / "bm25-flat.zip", bundles / "out" / "rank-bm25.zip"]
    calls: list[str] = []
    real = submission.validate

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(submission, "validate", counting)
    s1 = site_mod.build_site(first, out, data_dir=SHARED_BEIR)
    assert s1.ok and sorted(calls) == ["bm25-flat.zip", "rank-bm25.zip"]
    calls.clear()
    new = bundles / "out" / "bm25-multifield.zip"
    s2 = site_mod.build_site([*first, new], out, data_dir=SHARED_BEIR)
    assert calls == ["bm25-multifield.zip"]  # only the new bundle is re-scored
    summary = s2.summary()
    assert summary["rescored"] == [str(new)] and summary["cached"] == [str(p) for p in first]
    doc = json.loads((out / "leaderboard.json").read_text())
    assert [r["id"] for r in doc["rows"] if r["kind"] == "submission"] == ["bm25-flat", "rank-bm25", "bm25-multifield"]
    assert [r["cached"] for r in doc["rows"] if r["kind"] == "submission"] == [True, True, False]
    # the same scores from the cache as from re-scoring
    again = site_mod.build_site([*first, new], tmp_path / "fresh", data_dir=SHARED_BEIR)
    fresh = json.loads((tmp_path / "fresh" / "leaderboard.json").read_text())
    strip = [{k: v for k, v in r.items() if k != "cached"} for r in doc["rows"]]
    assert strip == [{k: v for k, v in r.items() if k != "cached"} for r in fresh["rows"]]
    assert again.ok
    # a changed bundle (new content hash) is re-scored
    changed = Path(shutil.copytree(bundles / "out" / "rank-bm25", tmp_path / "rank-bm25"))
    _edit_json(changed / "metadata.json", lambda d: d["model"].update(link="https://example.org/rank-bm25"))
    calls.clear()
    s3 = site_mod.build_site([first[0], changed], out, data_dir=SHARED_BEIR)
    assert calls == ["rank-bm25"] and s3.ok
    assert not (out / "submissions" / "bm25-multifield.html").exists()  # no longer on the board
    assert 'href="https://example.org/rank-bm25"' in (out / "submissions" / "rank-bm25.html").read_text()


def test_exit_codes_and_summary_on_stdout(bundles: Path, tmp_path: Path) -> None:
    good = [str(bundles / "out" / "bm25-flat.zip"), str(bundles / "out" / "rank-bm25.zip")]
    ok = _build([*good, "-o", str(tmp_path / "s"), "--summary-json", "-", "--references", "pyserini-bm25-flat"])
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert summary["ok"] is True and [a["id"] for a in summary["accepted"]] == ["bm25-flat", "rank-bm25"]
    doc = json.loads((tmp_path / "s" / "leaderboard.json").read_text())
    assert [r["id"] for r in doc["rows"] if r["kind"] == "reference"] == ["ref:pyserini-bm25-flat"]
    # a non-bundle never stops the others: a results folder, a missing path, a text file
    junk = tmp_path / "junk.zip"
    junk.write_text("not a zip")
    bad = _build([*good, str(bundles / "results"), str(tmp_path / "nowhere"), str(junk), "-o", str(tmp_path / "s2")])
    assert bad.exit_code == 1
    lines = [line for line in bad.stderr.splitlines() if line.startswith("rejected: ")]
    assert len(lines) == 3, bad.stderr
    assert "a results folder, not a bundle; make one with `beirctl leaderboard bundle" in lines[0]
    assert "not a bundle folder or zip" in lines[1] and "not a bundle folder or zip" in lines[2]
    assert "2 accepted, 3 rejected" in bad.stdout
    # usage errors: exit 2, one line
    no_out = _build(good)
    assert no_out.exit_code == 2 and "usage: beirctl leaderboard build SUBMISSIONS... -o SITE" in no_out.stderr
    base = _build([*good, "-o", str(tmp_path / "s3"), "--baseline", "nope"])
    assert base.exit_code == 2 and "--baseline nope: no submission has that label" in base.stderr
    ref = _build([*good, "-o", str(tmp_path / "s4"), "--references", "nope"])
    assert ref.exit_code == 2 and "unknown reference 'nope'" in ref.stderr


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'chrome'}", *args], capture_output=True, text=True, timeout=120
    )


@needs_chromium
def test_site_renders_in_chromium(site: tuple[Path, Any], tmp_path: Path) -> None:
    import matplotlib.image

    out, _ = site
    doc = json.loads((out / "leaderboard.json").read_text())
    index = out / "index.html"
    dom = _chromium("--dump-dom", index.as_uri(), tmp=tmp_path).stdout
    # every row present, in the ranking's order; references marked as such
    ids = re.findall(r'<tr class="(sub|ref)" data-id="([^"]+)"', dom)
    assert [i for _, i in ids] == [r["id"] for r in doc["rows"]]
    assert [k for k, _ in ids] == ["sub" if r["kind"] == "submission" else "ref" for r in doc["rows"]]
    assert dom.count('class="mark reference"') == sum(r["kind"] == "reference" for r in doc["rows"])
    # the rejected ones, with their reasons
    assert "Rejected submissions (5)" in dom
    for rejected in doc["rejected"]:
        assert f'data-source="{rejected["source"]}"' in dom
        for reason in rejected["reasons"]:
            assert reason.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom
    shot = tmp_path / "index.png"
    _chromium(f"--screenshot={shot}", "--window-size=1200,1600", index.as_uri(), tmp=tmp_path)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels[..., :3].mean(axis=2).std() > 0.05  # not blank
    # a phone: the page is laid out at the device width (the table scrolls inside its wrapper)
    phone = tmp_path / "phone.png"
    _chromium(f"--screenshot={phone}", "--window-size=390,844", index.as_uri(), tmp=tmp_path)
    assert matplotlib.image.imread(phone)[..., :3].mean(axis=2).std() > 0.05
    # a submission page, with its charts
    page = out / "submissions" / "bm25-multifield.html"
    pdom = _chromium("--dump-dom", page.as_uri(), tmp=tmp_path).stdout
    assert 'id="bc-forest-bm25-multifield-pooled"' in pdom and 'id="bc-radar-' in pdom
    pshot = tmp_path / "page.png"
    _chromium(f"--screenshot={pshot}", "--window-size=1200,2400", page.as_uri(), tmp=tmp_path)
    assert matplotlib.image.imread(pshot)[..., :3].mean(axis=2).std() > 0.05

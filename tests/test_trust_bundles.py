"""Leaderboard bundles are not trusted: re-scored, checked against the data, bounded, never clobbering.

A real bundle is built once from a real BM25 run on SciFact (../shared/beir); each test tampers
with a copy of it in one way and checks the exact problem line and exit code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import stat
import struct
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from beirctl import submission
from beirctl.cli import app
from beirctl.config import load_config
from beirctl.datasets import catalog, load_folder
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate, read_run
from beirctl.results import collect
from beirctl.runner import run_config
from beirctl.submission import build, read_bundle_run, validate
from tests.conftest import SHARED_BEIR, needs_shared, write_dataset

pytestmark = needs_shared
runner = CliRunner()
SCIFACT_QRELS = SHARED_BEIR / "scifact" / "qrels" / "test.tsv"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """results/ (a real scifact × bm25 run) and out/bm25/ + out/bm25.zip built from it."""
    base = tmp_path_factory.mktemp("trust")
    cfg = base / "scifact.yaml"
    cfg.write_text(
        f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\noutput_dir: {base / 'results'}\n"
        f"data_dir: {SHARED_BEIR}\ncache_dir: {base / 'cache'}\n"
    )
    run_config(load_config(cfg))
    build(collect(base / "results"), base / "results", base / "out", model_name="BM25")
    return base


@pytest.fixture
def bundle(built: Path, tmp_path: Path) -> Path:
    """A private copy of the real bundle folder."""
    return Path(shutil.copytree(built / "out" / "bm25", tmp_path / "bm25"))


def _validate(target: Path, *extra: str) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["leaderboard", "validate", str(target), "--data-dir", str(SHARED_BEIR), *extra])
    return result.exit_code, result.output.splitlines()


def _problems(lines: list[str]) -> list[str]:
    return [line.removeprefix("problem: ") for line in lines if line.startswith("problem: ")]


def _zip(folder: Path, dest: Path, extra: dict[str, bytes] | None = None, skip: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_file() and rel not in skip:
                zf.write(path, rel)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return dest


def _run_lines(bundle: Path) -> list[str]:
    return gzip.open(bundle / "runs" / "scifact.trec.gz", "rt").read().splitlines()


def _write_run_lines(bundle: Path, lines: list[str]) -> None:
    with gzip.open(bundle / "runs" / "scifact.trec.gz", "wt") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _edit_json(path: Path, edit: Any) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def _qrels() -> dict[str, dict[str, int]]:
    return load_folder(SHARED_BEIR / "scifact").qrels


def _md5s(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


# --- validation re-scores, and checks everything against the local data ------------------------


def test_real_bundle_is_rescored_to_the_direct_evaluation(bundle: Path) -> None:
    report = validate(bundle, SHARED_BEIR)
    assert report.ok, report.problems
    claimed = json.loads((bundle / "results.json").read_text())["datasets"]["scifact"]
    direct = evaluate(read_run(bundle / "runs" / "scifact.trec.gz"), _qrels(), ["nDCG@10", "R@100"]).aggregate
    assert report.rescored == {"scifact": direct}
    assert abs(direct["nDCG@10"] - claimed["nDCG@10"]) < 5e-5 and abs(direct["R@100"] - claimed["R@100"]) < 5e-5
    assert round(direct["nDCG@10"], 4) == 0.6789  # the official Lucene BM25 figure for SciFact
    code, lines = _validate(bundle)
    assert code == 0 and lines[-1] == f"{bundle}: valid", lines
    zipped = bundle.parent / "bm25.zip"
    code, lines = _validate(_zip(bundle, zipped))
    assert code == 0 and lines[-1] == f"{zipped}: valid", lines


def test_inflated_score_is_caught(bundle: Path) -> None:
    def inflate(doc: dict[str, Any]) -> None:
        doc["datasets"]["scifact"]["nDCG@10"] = 0.9999
        doc["average"]["nDCG@10"] = 0.9999  # consistent with itself: only re-scoring catches it

    _edit_json(bundle / "results.json", inflate)
    got = evaluate(read_run(bundle / "runs" / "scifact.trec.gz"), _qrels(), ["nDCG@10"]).aggregate["nDCG@10"]
    code, lines = _validate(bundle)
    assert code == 1
    assert _problems(lines) == [
        f"results.json datasets/scifact/nDCG@10: claims 0.9999, the run scores {got:.4f}"
        " (trec_eval -c against the local qrels)"
    ]
    assert lines[-1] == f"{bundle}: invalid (1 problem(s))"


def test_average_inconsistent_with_datasets(bundle: Path) -> None:
    _edit_json(bundle / "results.json", lambda d: d["average"].update({"R@100": 0.5}))
    mean = json.loads((bundle / "results.json").read_text())["datasets"]["scifact"]["R@100"]
    assert validate(bundle, SHARED_BEIR).problems == [
        f"results.json average/R@100: claims 0.5000, the mean of its datasets is {mean:.4f}"
    ]


def test_empty_run(bundle: Path) -> None:
    _write_run_lines(bundle, [])
    code, lines = _validate(bundle)
    assert code == 1 and _problems(lines) == ["runs/scifact.trec.gz: empty run (no hits)"]


def test_half_the_queries(bundle: Path) -> None:
    lines = _run_lines(bundle)
    qids = sorted({line.split()[0] for line in lines})
    assert len(qids) == 300
    keep = set(qids[:150])
    _write_run_lines(bundle, [line for line in lines if line.split()[0] in keep])
    code, out = _validate(bundle)
    problems = _problems(out)
    assert code == 1
    missing = sorted(set(qids) - keep)
    # A query without hits cannot be written in a TREC run: it is a note (it scores 0, -c) ...
    assert (
        f"note: runs/scifact.trec.gz: answers 150 of the 300 judged queries in the qrels ({SCIFACT_QRELS})"
        f" (150 without hits score 0: {', '.join(missing[:5])}, ... (145 more))"
    ) in out
    # ... and the claimed scores no longer hold for what the run really answers
    assert problems[0].startswith("results.json datasets/scifact/nDCG@10: claims 0.67")
    assert problems[1].startswith("results.json datasets/scifact/R@100: claims 0.")


def test_unknown_doc_id(bundle: Path) -> None:
    lines = _run_lines(bundle)
    fields = lines[5].split()
    fields[2] = "no-such-doc"
    lines[5] = " ".join(fields)
    _write_run_lines(bundle, lines)
    problems = validate(bundle, SHARED_BEIR).problems
    assert problems[0] == (
        f"runs/scifact.trec.gz: 1 hit(s) with document ids not in the corpus ({SHARED_BEIR / 'scifact'}): no-such-doc"
    )


def test_ranks_contradicting_scores(bundle: Path) -> None:
    lines = _run_lines(bundle)
    first, second = lines[0].split(), lines[1].split()
    assert first[0] == second[0] and (first[3], second[3]) == ("1", "2") and float(first[4]) > float(second[4])
    first[4], second[4] = second[4], first[4]  # rank 1 now scores below rank 2
    lines[0], lines[1] = " ".join(first), " ".join(second)
    _write_run_lines(bundle, lines)
    code, out = _validate(bundle)
    assert code == 1
    assert (
        f"runs/scifact.trec.gz: ranks contradict scores (a later rank scores higher) for 1 quer(ies)"
        f" (first: query {first[0]} rank 2: score {second[4]} above rank 1's {float(first[4]):.6f})"
    ) in _problems(out)


def test_rank_rule_allows_ties_either_way(tmp_path: Path) -> None:
    path = tmp_path / "r.trec.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("q1 Q0 d2 1 2.5 t\nq1 Q0 d1 2 2.5 t\nq1 Q0 d3 3 1.0 t\n")  # a tie, in either order
        fh.write("q2 Q0 d1 1 1.0 t\nq2 Q0 d2 3 0.5 t\n")  # rank 2 skipped
        fh.write("q3 Q0 d1 1 1.0 t\nq3 Q0 d2 2 1.5 t\n")  # rank 2 above rank 1
    parsed = read_bundle_run(path, 10_000)
    assert parsed.lines == 7 and parsed.run["q1"] == [("d2", 2.5), ("d1", 2.5), ("d3", 1.0)]
    assert parsed.bad_rank == {"q2": "query q2 line 5: rank 3 after rank 1"}
    assert parsed.bad_score == {"q3": "query q3 rank 2: score 1.5 above rank 1's 1.000000"}
    with pytest.raises(BeirctlError, match=r"r.trec.gz: more than 100 bytes of text, over the bound"):
        read_bundle_run(path, 100)


def test_missing_declared_dataset(bundle: Path) -> None:
    (bundle / "runs" / "scifact.trec.gz").unlink()
    code, out = _validate(bundle)
    assert code == 1 and _problems(out) == ["missing dataset: runs/scifact.trec.gz for scifact"]
    _edit_json(bundle / "metadata.json", lambda d: d["datasets"].append("nfcorpus"))
    problems = validate(bundle, SHARED_BEIR).problems
    assert "missing dataset: runs/nfcorpus.trec.gz for nfcorpus" in problems
    assert "results.json datasets/nfcorpus: no scores for a declared dataset" in problems


def test_wrong_checksum(bundle: Path) -> None:
    _edit_json(bundle / "metadata.json", lambda d: d["checksums"]["scifact"].update({"corpus.jsonl:md5": "0" * 32}))
    real = load_folder(SHARED_BEIR / "scifact").checksums["corpus.jsonl:md5"]
    code, out = _validate(bundle)
    assert code == 1
    assert _problems(out) == [
        f"metadata.json checksums/scifact/corpus.jsonl:md5: {'0' * 32} does not match the local copy"
        f" ({real}, {SHARED_BEIR / 'scifact'})"
    ]


def test_undeclared_file(bundle: Path) -> None:
    zipped = _zip(bundle, bundle.parent / "b.zip", extra={"notes.txt": b"hello", "runs/extra.trec.gz": b"x"})
    (bundle / "notes.txt").write_text("hello")
    (bundle / "stuff").mkdir()
    (bundle / "stuff" / "a.txt").write_text("a")
    # (structure only: --no-rescore; re-scoring is what the other tests check)
    code, out = _validate(bundle, "--no-rescore")
    assert code == 1
    assert _problems(out) == ["undeclared file in the bundle: stuff/", "undeclared file in the bundle: notes.txt"]
    code, out = _validate(zipped, "--no-rescore")
    assert code == 1
    assert _problems(out) == [
        "undeclared file in the bundle: notes.txt (not extracted)",
        "undeclared file in the bundle: runs/extra.trec.gz (not extracted)",
    ]


def test_without_local_data_scores_are_not_checked(bundle: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["leaderboard", "validate", str(bundle), "--data-dir", str(empty)])
    assert result.exit_code == 1
    assert _problems(result.output.splitlines()) == [
        f"scifact: scores were not checked: no local copy with qrels at {empty / 'scifact' / 'qrels' / 'test.tsv'}"
        " (download it with `beirctl datasets download scifact`, pass --data-dir, or --no-rescore to skip re-scoring)"
    ]
    skip = runner.invoke(app, ["leaderboard", "validate", str(bundle), "--data-dir", str(empty), "--no-rescore"])
    assert skip.exit_code == 0, skip.output
    assert (
        "note: scores, document ids and checksums were not checked against the qrels and corpus (--no-rescore)"
        in skip.output.splitlines()
    )


def test_cqadupstack_is_rescored_as_the_mean_of_its_forums(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for forum in catalog.CQADUPSTACK_FORUMS:
        write_dataset(data / "cqadupstack" / forum)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"datasets: [cqadupstack]\nretrievers: [{{type: bm25}}]\noutput_dir: {tmp_path / 'res'}\n")
    run_config(load_config(cfg), data_dir=data)
    build(collect(tmp_path / "res"), tmp_path / "res", tmp_path / "out")
    bundle = tmp_path / "out" / "bm25"
    report = validate(bundle, data)
    assert report.ok, report.problems
    assert len(report.rescored) == 12
    # Drop one forum's best hit: the forum mean moves, and so must the claim.
    lines = gzip.open(bundle / "runs" / "cqadupstack-tex.trec.gz", "rt").read().splitlines()
    with gzip.open(bundle / "runs" / "cqadupstack-tex.trec.gz", "wt") as fh:
        fh.write("".join(line + "\n" for line in lines if not line.startswith("q1 ")))
    report = validate(bundle, data)
    mean = sum(s["nDCG@10"] for s in report.rescored.values()) / 12
    claimed = json.loads((bundle / "results.json").read_text())["datasets"]["cqadupstack"]["nDCG@10"]
    assert abs(mean - claimed) > 1e-3
    assert (
        f"results.json datasets/cqadupstack/nDCG@10: claims {claimed:.4f}, the run scores {mean:.4f}"
        " (trec_eval -c against the local qrels)"
    ) in report.problems


# --- zip bombs ----------------------------------------------------------------------------------


def _bomb_zip(bundle: Path, dest: Path, member: str, size: int = 200 << 20) -> Path:
    """The bundle zipped, with ``member`` replaced by ``size`` zero bytes (deflated ~1000x)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(bundle.rglob("*")):
            rel = path.relative_to(bundle).as_posix()
            if path.is_file() and rel != member:
                zf.write(path, rel)
        with zf.open(member, "w") as out:
            block = bytes(1 << 20)
            for _ in range(size >> 20):
                out.write(block)
    return dest


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where tempfile makes folders during the test (to see what extraction leaves behind)."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_zip_bomb_is_refused_before_extraction(bundle: Path, private_tmp: Path) -> None:
    bomb = _bomb_zip(bundle, bundle.parent / "bomb.zip", "runs/scifact.trec.gz")
    assert bomb.stat().st_size < 2 << 20
    t0 = time.perf_counter()
    code, out = _validate(bomb)
    assert time.perf_counter() - t0 < 5
    packed = zipfile.ZipFile(bomb).getinfo("runs/scifact.trec.gz").compress_size
    assert code == 1
    assert _problems(out) == [
        f"{bomb}: member 'runs/scifact.trec.gz' expands {(200 << 20) / packed:.0f}x ({packed} -> {200 << 20} bytes),"
        " over the 100x bound; nothing was extracted (a zip bomb?)"
    ]
    assert list(private_tmp.iterdir()) == []  # nothing extracted, nothing left


def test_zip_bomb_as_undeclared_member_is_not_extracted(bundle: Path, private_tmp: Path) -> None:
    bomb = _bomb_zip(bundle, bundle.parent / "bomb.zip", "runs/zeros.trec.gz")
    code, out = _validate(bomb, "--no-rescore")
    assert code == 1 and _problems(out) == ["undeclared file in the bundle: runs/zeros.trec.gz (not extracted)"]
    assert list(private_tmp.iterdir()) == []


def _lie_about_size(zip_path: Path, member: str, claimed: int) -> None:
    """Rewrite the uncompressed size of ``member`` in its local and central headers."""
    data = bytearray(zip_path.read_bytes())
    name = member.encode()
    local = data.index(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    struct.pack_into("<I", data, local + 22, claimed)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, claimed)
    zip_path.write_bytes(bytes(data))


def test_zip_whose_header_lies_about_its_size(bundle: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _bomb_zip(bundle, bundle.parent / "liar.zip", "runs/scifact.trec.gz")
    _lie_about_size(bomb, "runs/scifact.trec.gz", 1000)  # 200 MB of zeros, the header says 1000 bytes
    assert zipfile.ZipFile(bomb).getinfo("runs/scifact.trec.gz").file_size == 1000
    written: list[int] = []
    real_copy = submission.copy_member

    def counting_copy(src: Any, dest: Path, limit: int, source: Path, name: str) -> int:
        n = real_copy(src, dest, limit, source, name)
        written.append(n)
        return n

    monkeypatch.setattr(submission, "copy_member", counting_copy)
    t0 = time.perf_counter()
    report = validate(bomb, SHARED_BEIR)
    assert time.perf_counter() - t0 < 5
    assert max(written) <= 1000 + (1 << 20)  # never more than what was checked (one read chunk at most)
    assert report.problems[0].startswith(f"{bomb}: member 'runs/scifact.trec.gz' is corrupt (Bad CRC-32")
    assert "missing dataset: runs/scifact.trec.gz for scifact" in report.problems
    assert list(private_tmp.iterdir()) == []


def test_extraction_is_private_and_removed(bundle: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Path, int]] = []
    real = submission._validate_root

    def spy(root: Path, *args: Any, **kwargs: Any) -> None:
        seen.append((root, stat.S_IMODE(root.stat().st_mode)))
        real(root, *args, **kwargs)

    monkeypatch.setattr(submission, "_validate_root", spy)
    assert validate(_zip(bundle, bundle.parent / "b.zip"), SHARED_BEIR).ok
    assert len(seen) == 1 and seen[0][0].parent == private_tmp and seen[0][1] == 0o700
    assert not seen[0][0].exists()


def _gzip_of(path: Path, block: bytes, count: int) -> None:
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        for _ in range(count):
            fh.write(comp.compress(block))
        fh.write(comp.flush())


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (bytes(1 << 20), "runs/scifact.trec.gz:1: line longer than 4096 bytes"),
        (b"\n" * (1 << 20), "runs/scifact.trec.gz: more than 300000 lines, over the bound for this dataset"),
    ],
)
def test_gzip_bomb_inside_a_run_is_bounded(bundle: Path, block: bytes, problem: str) -> None:
    assert submission.run_bound("scifact", {}) == 300 * 1000 * 512 + (1 << 20)
    path = bundle / "runs" / "scifact.trec.gz"
    _gzip_of(path, block, 256)  # 256 MiB of text in well under 1 MB
    assert path.stat().st_size < 2 << 20
    t0 = time.perf_counter()
    code, out = _validate(bundle)
    assert time.perf_counter() - t0 < 10
    assert code == 1 and _problems(out)[0] == problem


# --- build never deletes or overwrites what it did not make ------------------------------------


def test_label_escaping_the_output_folder(built: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    before = hashlib.md5(victim.read_bytes()).hexdigest()
    entries = collect(built / "results")
    for m in entries:
        m.retriever.label = "./../victim"
    out = tmp_path / "out"
    with pytest.raises(BeirctlError) as err:
        build(entries, built / "results", out)
    assert str(err.value) == (
        "retriever label './../victim' cannot name a bundle (it holds a path separator);"
        " use letters, digits, '.', '-' or '_'"
    )
    assert hashlib.md5(victim.read_bytes()).hexdigest() == before and not out.exists()
    result = runner.invoke(
        app, ["leaderboard", str(built / "results"), "--out", str(out), "--retriever", "./../victim"]
    )
    assert result.exit_code == 2
    assert "error: retriever label './../victim' cannot name a bundle (it holds a path separator)" in result.output
    assert hashlib.md5(victim.read_bytes()).hexdigest() == before
    for bad, why in [("a b", "whitespace"), ("..", "'..'"), ("x\x07", "a control character"), ("", "it is empty")]:
        with pytest.raises(BeirctlError, match=why):
            submission.check_label(bad)


def test_out_is_the_results_folder(built: Path, tmp_path: Path) -> None:
    results = Path(shutil.copytree(built / "results", tmp_path / "results"))
    before = _md5s(results)
    pair = results / "scifact"  # --out results/scifact: the bundle folder would be the pair's own folder
    for extra in ([], ["--force"]):
        result = runner.invoke(app, ["leaderboard", str(results), "--out", str(pair), *extra])
        assert result.exit_code == 2
        assert _md5s(results) == before
    first = runner.invoke(app, ["leaderboard", str(results), "--out", str(pair)])
    assert f"error: {pair / 'bm25'}: already exists; pass --force to replace a previous bundle" in first.output
    forced = runner.invoke(app, ["leaderboard", str(results), "--out", str(pair), "--force"])
    assert (
        f"error: {pair / 'bm25'}: exists and is not a beirctl bundle (only metadata.json, results.json and runs/);"
        " not replaced even with --force" in " ".join(forced.output.split())
    )
    # --out results itself: nothing of the results is touched, the bundle goes beside them.
    ok = runner.invoke(app, ["leaderboard", str(results), "--out", str(results)])
    assert ok.exit_code == 0, ok.output
    assert {k: v for k, v in _md5s(results).items() if not k.startswith("bm25")} == before
    assert validate(results / "bm25.zip", SHARED_BEIR).ok


def test_existing_bundle_replaced_only_with_force(tmp_path: Path) -> None:
    write_dataset(tmp_path / "data" / "tiny")  # a tiny dataset: this test builds four times
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"datasets: [tiny]\nretrievers: [{{type: bm25}}]\noutput_dir: {tmp_path / 'res'}\n")
    run_config(load_config(cfg), data_dir=tmp_path / "data")
    out = tmp_path / "out"
    args = ["leaderboard", str(tmp_path / "res"), "--out", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and f"error: {out / 'bm25'}: already exists; pass --force" in again.output
    old_meta = json.loads((out / "bm25" / "metadata.json").read_text())
    forced = runner.invoke(app, [*args, "--force", "--model-name", "Renamed"])
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "bm25" / "metadata.json").read_text())["model"]["name"] == "Renamed"
    assert old_meta["model"]["name"] == "bm25"
    assert sorted(p.name for p in out.iterdir()) == ["bm25", "bm25.zip"]  # no staging or trash left
    # A zip of the same name that is not a bundle is never replaced, --force or not.
    shutil.rmtree(out / "bm25")
    (out / "bm25.zip").write_bytes(b"my own archive")
    refused = runner.invoke(app, [*args, "--force"])
    assert refused.exit_code == 2 and "bm25.zip: exists and is not a beirctl bundle" in refused.output
    assert (out / "bm25.zip").read_bytes() == b"my own archive" and not (out / "bm25").exists()
    # Nor a folder holding anything more than a bundle does.
    (out / "bm25.zip").unlink()
    assert runner.invoke(app, args).exit_code == 0
    (out / "bm25" / "mine.txt").write_text("keep me")
    refused = runner.invoke(app, [*args, "--force"])
    assert refused.exit_code == 2 and (out / "bm25" / "mine.txt").read_text() == "keep me"


def test_zip_bundle_recognised(built: Path) -> None:
    assert submission._is_bundle_zip(built / "out" / "bm25.zip")
    assert submission._is_bundle_dir(built / "out" / "bm25")
    assert not submission._is_bundle_dir(built / "results" / "scifact" / "bm25")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"schema": "something else"}))
    fake = built / "fake.zip"
    fake.write_bytes(buf.getvalue())
    assert not submission._is_bundle_zip(fake)

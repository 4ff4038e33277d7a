"""Fault injection (issue 11, "trust"): ``beirctl run`` killed with SIGKILL at random moments.

A two-dataset (slices of SciFact and NFCorpus), two-retriever (``bm25`` lucene-exact and
``rank-bm25``) config runs as a subprocess with a private cache and output folder. It is killed
``KILLS`` times at seeded random moments spread over the length of a clean run, and run again
after each kill (every other run with ``--force``, so that there is always a whole run to
interrupt; every third with the index cache wiped, so that index writes are interrupted too).

After every kill, every file under the output folder must read back (``metrics.json`` as a
metrics document, ``run.trec.gz`` as a whole gzip TREC run, ``leaderboard.json`` against its
schema); anything else must be a temporary file (hidden, ``.tmp``), never a half-written file
under a final name. A run that was not killed must exit 0. Finally a complete run must exit 0
and give byte-identical run files and the same scores as a clean run in another folder, and
must leave no temporary files behind.

The campaign runs once (module fixture); the tests below each assert one part of its record.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from beirctl.evaluation import read_run
from beirctl.results import LEADERBOARD_FILE, METRICS_FILE, METRICS_SCHEMA, RUN_FILE, read_metrics
from tests.conftest import SHARED_BEIR, needs_shared

pytestmark = [needs_shared, pytest.mark.timeout(300)]

SEED = 1111
KILLS = 12  # kills that land while the run is still going
MAX_ATTEMPTS = 3 * KILLS
N_DOCS = 1200  # first documents of each corpus; queries and qrels restricted to them
RUN_TIMEOUT_S = 120
DATASETS = ("scifact", "nfcorpus")
RETRIEVERS = ("bm25", "rank-bm25")
LEADERBOARD_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "beirctl" / "schemas" / "leaderboard.schema.json").read_text()
)
METRICS_KEYS = {"schema", "retrieval_key", "dataset", "retriever", "settings", "aggregate", "per_query", "timings"}
# Atomic writes use hidden siblings (.metrics.json.XXXX.tmp, .KEY.XXXX/); ``.lock`` is a folder's
# flock file, one per folder and kept on purpose: not a temporary file.
TEMP_NAME = re.compile(r"^\.(?!lock$).+")
LOCK_NAME = ".lock"
BEIRCTL = Path(sys.executable).with_name("beirctl")
CLI = [str(BEIRCTL)] if BEIRCTL.is_file() else [sys.executable, "-m", "beirctl"]


def slice_dataset(name: str, out: Path) -> Path:
    """The first ``N_DOCS`` documents, the test qrels on them and the queries they judge."""
    src = SHARED_BEIR / name
    (out / "qrels").mkdir(parents=True)
    with open(src / "corpus.jsonl", encoding="utf-8") as fh:
        docs = [line for _, line in zip(range(N_DOCS), fh)]
    ids = {json.loads(line)["_id"] for line in docs}
    (out / "corpus.jsonl").write_text("".join(docs), encoding="utf-8")
    header, *rows = (src / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    kept = [r for r in rows if r.split("\t")[1] in ids]
    (out / "qrels" / "test.tsv").write_text("\n".join([header, *kept]) + "\n", encoding="utf-8")
    qids = {r.split("\t")[0] for r in kept}
    with open(src / "queries.jsonl", encoding="utf-8") as fh:
        queries = [line for line in fh if json.loads(line)["_id"] in qids]
    (out / "queries.jsonl").write_text("".join(queries), encoding="utf-8")
    return out


def write_config(root: Path, data: dict[str, Path]) -> Path:
    lines = ["name: faults", "datasets:"]
    lines += [f"  - path: {json.dumps(str(data[name]))}" for name in DATASETS]
    lines += ["retrievers:"] + [f"  - type: {r}" for r in RETRIEVERS]
    lines += [
        "metrics: [nDCG@10, R@100]",
        f"output_dir: {json.dumps(str(root / 'out'))}",
        f"cache_dir: {json.dumps(str(root / 'cache'))}",
    ]
    path = root / "faults.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def env_for(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BEIRCTL_DATA_DIR", "BEIRCTL_BEIR_URL")}
    env.update(
        BEIRCTL_CACHE_DIR=str(root / "cache"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HOME=str(root / "hf"),
        COLUMNS="120",
    )
    return env


def start(config: Path, root: Path, *args: str) -> subprocess.Popen[bytes]:
    log = open(root / "stderr.log", "wb")  # noqa: SIM115 - closed by finish()
    return subprocess.Popen(
        [*CLI, "run", str(config), *args],
        stdout=subprocess.DEVNULL,
        stderr=log,
        env=env_for(root),
        start_new_session=True,  # its own process group: the kill reaches anything it started
    )


def finish(proc: subprocess.Popen[bytes], root: Path) -> tuple[int, str]:
    try:
        rc = proc.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = -999
    return rc, (root / "stderr.log").read_text(errors="replace")


def run_to_end(config: Path, root: Path, *args: str) -> tuple[int, str, float]:
    t0 = time.monotonic()
    rc, stderr = finish(start(config, root, *args), root)
    return rc, stderr, time.monotonic() - t0


def tree_problems(out: Path) -> tuple[list[str], list[str]]:
    """(problems, temporary files) of the output folder as it is on disk now."""
    problems: list[str] = []
    temps: list[str] = []
    if not out.exists():
        return problems, temps
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        if any(TEMP_NAME.match(part) for part in path.relative_to(out).parts):
            if path.is_file() or not any(path.iterdir()):
                temps.append(rel)
            continue
        if path.is_dir() or path.name == LOCK_NAME:
            continue
        try:
            if path.name == METRICS_FILE:
                data = read_metrics(path)
                missing = METRICS_KEYS - set(data)
                if missing:
                    problems.append(f"{rel}: metrics without {sorted(missing)}")
                elif not data["aggregate"] or not all(isinstance(v, float) for v in data["aggregate"].values()):
                    problems.append(f"{rel}: bad aggregate {data['aggregate']!r}")
                if not (path.parent / RUN_FILE).is_file():
                    problems.append(f"{rel}: metrics.json without its {RUN_FILE}")
            elif path.name == RUN_FILE:
                if not read_run(path):
                    problems.append(f"{rel}: empty run file")
            elif path.name == LEADERBOARD_FILE:
                jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), LEADERBOARD_SCHEMA)
            else:
                problems.append(f"{rel}: unexpected file under a final name")
        except Exception as exc:  # any failure to read back counts, not only the expected kinds
            problems.append(f"{rel}: does not read back: {type(exc).__name__}: {str(exc)[:300]}")
    return problems, temps


def hidden_leftovers(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if TEMP_NAME.match(p.name) and not any(TEMP_NAME.match(q) for q in p.relative_to(folder).parts[:-1])
    )


def final_files(out: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(out)): p
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != LOCK_NAME and not any(TEMP_NAME.match(part) for part in p.relative_to(out).parts)
    }


def scores(out: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for rel, path in final_files(out).items():
        if path.name == METRICS_FILE:
            data = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = {"aggregate": data["aggregate"], "per_query": data["per_query"]}
        elif path.name == LEADERBOARD_FILE:
            board = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = [{k: r[k] for k in ("label", "datasets", "average")} for r in board["retrievers"]]
    return found


@dataclass
class Campaign:
    clean_s: float = 0.0
    clean_rc: int = 0
    clean_stderr: str = ""
    attempts: int = 0
    kills: list[str] = field(default_factory=list)  # one line per landed kill
    completed: list[tuple[int, str, str]] = field(default_factory=list)  # (rc, mode, stderr) of unkilled runs
    problems: list[str] = field(default_factory=list)  # files that did not read back, after a kill
    temps_seen: int = 0
    final_rc: int = 0
    final_stderr: str = ""
    total_s: float = 0.0
    clean_out: Path = Path()
    faulted_out: Path = Path()
    faulted_root: Path = Path()


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Campaign:
    t_start = time.monotonic()
    base = tmp_path_factory.mktemp("faults")
    data = {name: slice_dataset(name, base / "data" / name) for name in DATASETS}
    clean_root, faulted_root = base / "clean", base / "faulted"
    clean_root.mkdir()
    faulted_root.mkdir()
    clean_cfg, faulted_cfg = write_config(clean_root, data), write_config(faulted_root, data)
    rec = Campaign(clean_out=clean_root / "out", faulted_out=faulted_root / "out", faulted_root=faulted_root)

    rec.clean_rc, rec.clean_stderr, rec.clean_s = run_to_end(clean_cfg, clean_root)
    if rec.clean_rc != 0:
        return rec
    rng = random.Random(SEED)
    while len(rec.kills) < KILLS and rec.attempts < MAX_ATTEMPTS:
        rec.attempts += 1
        mode = "--force" if rec.attempts % 2 == 0 else "resume"
        if rec.attempts % 3 == 0:
            shutil.rmtree(faulted_root / "cache", ignore_errors=True)
            mode += "+cold-cache"
        delay = rng.uniform(0.05, rec.clean_s)
        proc = start(faulted_cfg, faulted_root, *(["--force"] if mode.startswith("--force") else []))
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            rc, stderr = finish(proc, faulted_root)
            stage = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
            rec.kills.append(
                f"kill {len(rec.kills) + 1}: {mode} at {delay:.2f} s, during {stage[-1] if stage else '?'}"
            )
        else:
            rc, stderr = finish(proc, faulted_root)
            rec.completed.append((rc, mode, stderr))
        problems, temps = tree_problems(rec.faulted_out)
        rec.temps_seen = max(rec.temps_seen, len(temps))
        rec.problems += [f"after attempt {rec.attempts} ({mode}, {delay:.2f} s): {p}" for p in problems]
    rec.final_rc, rec.final_stderr, _ = run_to_end(faulted_cfg, faulted_root)
    rec.total_s = time.monotonic() - t_start
    print(
        f"\nfault campaign: clean run {rec.clean_s:.2f} s, {len(rec.kills)} kills in {rec.attempts} attempts, "
        f"{len(rec.completed)} runs finished before their kill, {rec.total_s:.1f} s in all\n" + "\n".join(rec.kills)
    )
    return rec


def test_clean_run_succeeds(campaign: Campaign) -> None:
    assert campaign.clean_rc == 0, campaign.clean_stderr[-3000:]
    assert sorted(final_files(campaign.clean_out)) == sorted(
        [f"{d}/{r}/{f}" for d in DATASETS for r in RETRIEVERS for f in (METRICS_FILE, RUN_FILE)] + [LEADERBOARD_FILE]
    )


def test_enough_kills_landed(campaign: Campaign) -> None:
    assert campaign.clean_rc == 0, "no clean run to time the kills against"
    assert len(campaign.kills) >= KILLS, f"only {len(campaign.kills)} kills landed in {campaign.attempts} attempts"


def test_every_file_reads_back_after_each_kill(campaign: Campaign) -> None:
    assert campaign.kills, "no kill landed"
    assert not campaign.problems, "\n".join(campaign.problems[:20])


def test_runs_that_were_not_killed_succeed(campaign: Campaign) -> None:
    failed = [(rc, mode, stderr[-1500:]) for rc, mode, stderr in campaign.completed if rc != 0]
    assert not failed, failed


def test_final_rerun_matches_clean_run(campaign: Campaign) -> None:
    assert campaign.clean_rc == 0, campaign.clean_stderr[-3000:]
    assert campaign.final_rc == 0, f"the re-run after the kills failed:\n{campaign.final_stderr[-3000:]}"
    clean, faulted = final_files(campaign.clean_out), final_files(campaign.faulted_out)
    assert sorted(faulted) == sorted(clean)
    different = [
        rel for rel, path in clean.items() if rel.endswith(RUN_FILE) and path.read_bytes() != faulted[rel].read_bytes()
    ]
    assert not different, f"run files differ from the clean run's: {different}"
    assert scores(campaign.faulted_out) == scores(campaign.clean_out)
    for rel, path in faulted.items():
        if rel.endswith(METRICS_FILE):
            assert read_metrics(path)["schema"] == METRICS_SCHEMA


def test_temp_files_do_not_accumulate(campaign: Campaign) -> None:
    assert campaign.final_rc == 0, f"the re-run after the kills failed:\n{campaign.final_stderr[-3000:]}"
    left_out = hidden_leftovers(campaign.faulted_out)
    left_cache = hidden_leftovers(campaign.faulted_root / "cache")
    assert not left_out and not left_cache, (
        f"temporary files left by the killed runs are still there after a successful run "
        f"(up to {campaign.temps_seen} seen during the kills; expected to fail until stale temp files "
        f"are swept): output dir {left_out}, cache dir {left_cache}"
    )

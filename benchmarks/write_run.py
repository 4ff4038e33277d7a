"""Writing a top-1000 run file: ``write_run`` (gzip level ``beirctl.atomic.GZIP_LEVEL``) against
the same text compressed at gzip's default level 9.

    python benchmarks/write_run.py [--queries 2000] [--k 1000]

The run is synthetic (random scores, ``--queries`` × ``--k`` hits, as a BEIR top-1000 run of
MS MARCO-sized query sets); prints seconds and megabytes of each.
"""

from __future__ import annotations

import argparse
import gzip
import random
import tempfile
import time
import zlib
from pathlib import Path

from beirctl.atomic import GZIP_LEVEL
from beirctl.evaluation.trec import write_run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=1000)
    args = ap.parse_args()
    rng = random.Random(0)
    run = {
        f"q{i}": sorted(
            ((str(rng.randrange(10**7)), round(rng.uniform(0, 40), 6)) for _ in range(args.k)), key=lambda h: -h[1]
        )
        for i in range(args.queries)
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.trec.gz"
        t = time.perf_counter()
        write_run(path, run, tag="bm25")
        ours = time.perf_counter() - t
        text = gzip.decompress(path.read_bytes())
        t = time.perf_counter()
        level9 = zlib.compress(text, 9)
        nine = time.perf_counter() - t
        print(f"run: {args.queries:,} queries x {args.k:,} hits, {len(text) / 1e6:.1f} MB of text")
        print(
            f"  write_run (level {GZIP_LEVEL}): {ours:.2f} s (format, compress, write), "
            f"{path.stat().st_size / 1e6:.1f} MB"
        )
        print(f"  level 9 compression alone:   {nine:.2f} s, {len(level9) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()

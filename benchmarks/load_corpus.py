"""Corpus loading: this tree's ``load_corpus`` against another revision's, same file, same run.

    python benchmarks/load_corpus.py [--corpus FILE] [--before REV] [--repeat 3]

``--corpus`` defaults to SciFact's ``corpus.jsonl`` in ``$BEIRCTL_SHARED/beir`` (../shared); pass
``benchmarks/scale_bm25.py --dir D``'s ``D/synthetic/corpus.jsonl`` for millions of documents.
Each side loads the file streamed (offsets only, as corpora of 256 MB or more load) and in memory
(``--modes``), each in a fresh process, and prints the median seconds. ``--before REV`` (e.g. 4c2f753, the loader
before orjson and block checking) loads it with that revision's code, checked out in a throwaway
``git worktree``; both sides must give the same fingerprint and MD5, or the script fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared"))

# Run in a fresh process with the side's tree first on sys.path.
_CHILD = """
import json, sys, time
from pathlib import Path
from beirctl.datasets.loader import load_corpus
t = time.perf_counter()
corpus, fingerprint, md5 = load_corpus(Path(sys.argv[1]), stream=sys.argv[2] == "stream")
print(json.dumps({"s": time.perf_counter() - t, "docs": len(corpus), "fp": fingerprint, "md5": md5}))
"""


def load(tree: Path, corpus: Path, mode: str) -> dict[str, float | str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(corpus), mode], env=env, cwd=tree, check=True, capture_output=True, text=True
    )
    result: dict[str, float | str] = json.loads(out.stdout)
    return result


def side(tree: Path, corpus: Path, repeat: int, modes: list[str]) -> dict[str, dict[str, float | str]]:
    rows = {}
    for mode in modes:
        runs = [load(tree, corpus, mode) for _ in range(repeat)]
        rows[mode] = {**runs[0], "s": statistics.median(float(r["s"]) for r in runs)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=SHARED / "beir" / "scifact" / "corpus.jsonl")
    ap.add_argument("--before", help="a git revision to compare with")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", nargs="+", default=["stream", "memory"], choices=["stream", "memory"])
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    sides = {"this tree": side(REPO, corpus, args.repeat, args.modes)}
    if args.before:
        with tempfile.TemporaryDirectory(prefix="beirctl-load-") as tmp:
            tree = Path(tmp) / "before"
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(tree), args.before], check=True
            )
            try:
                sides[args.before] = side(tree, corpus, args.repeat, args.modes)
            finally:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)
    mine = sides["this tree"]
    first = mine[args.modes[0]]
    print(f"{corpus}: {first['docs']:,} documents, {corpus.stat().st_size / 1e6:,.0f} MB")
    for name, rows in sides.items():
        cells = []
        for mode, r in rows.items():
            ratio = f" ({float(r['s']) / float(mine[mode]['s']):.2f}x this tree)" if rows is not mine else ""
            cells.append(f"{mode} {float(r['s']):.2f} s{ratio}")
        print(f"  {name:12} " + ", ".join(cells))
        if any((r["fp"], r["md5"]) != (first["fp"], first["md5"]) for r in rows.values()):
            raise SystemExit(f"{name}: another fingerprint or md5 than this tree's")


if __name__ == "__main__":
    main()

"""The compiled pruned search alone, on a cached lucene-exact index: this tree against another revision's.

    python benchmarks/pruned_search.py --dir D [--before REV] [--k 1000] [--queries N]

``D`` is a ``benchmarks/scale_bm25.py --dir D`` folder: its cached index (``D/cache-bm25/lucene-bm25/*.idx``)
and its queries (``D/synthetic/queries.jsonl``). Each side runs in a fresh process: it maps the index, analyses
the queries, searches them once (which computes every term's upper bounds), then times a second pass on one
thread: milliseconds per query of the top-``k`` search itself, without building a run. This tree also prints
how long the bounds of all the queries' terms take to compute (``Searcher.prepare``) on 1 and 2 threads, each in
a fresh process. ``--before REV`` (e.g. 91554e0, the search before windows and bitmaps) checks that revision out
in a throwaway ``git worktree``, builds its extensions there and runs the same timing; both sides must return the
same documents and bit-identical scores (a digest of every result), or the script fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# Run in a fresh process with the side's tree first on sys.path; only APIs both sides have.
_SEARCH = """
import hashlib, json, sys, time
from pathlib import Path
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.lucene.bm25 import BM25Searcher
from beirctl.lucene.index import LuceneIndex
index, queries, k, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
searcher = BM25Searcher(LuceneIndex.load(index))
assert searcher.pruned is not None, "the compiled pruned search is not built"
analyzer = EnglishAnalyzer()
with open(queries, encoding="utf-8") as fh:
    terms = [analyzer.analyze(json.loads(line)["text"]) for line, _ in zip(fh, range(n))]
searcher.search_many(terms, k, threads=1)
t = time.perf_counter()
hits = searcher.search_many(terms, k, threads=1)
s = time.perf_counter() - t
digest = hashlib.sha256()
for docs, scores in hits:
    digest.update(docs.tobytes())
    digest.update(scores.tobytes())
print(json.dumps({"ms": 1e3 * s / len(terms), "queries": len(terms), "digest": digest.hexdigest()}))
"""

_PREPARE = """
import json, sys, time
import numpy as np
from pathlib import Path
from beirctl.lucene.analyzer import EnglishAnalyzer
from beirctl.lucene.bm25 import BM25Searcher
from beirctl.lucene.index import LuceneIndex
index, queries, n, threads = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
searcher = BM25Searcher(LuceneIndex.load(index))
analyzer = EnglishAnalyzer()
with open(queries, encoding="utf-8") as fh:
    clauses = [searcher._clauses(analyzer.analyze(json.loads(line)["text"])) for line, _ in zip(fh, range(n))]
found = [c for c in clauses if c is not None]
fields, terms = np.concatenate([c[0] for c in found]), np.concatenate([c[1] for c in found])
t = time.perf_counter()
searcher.pruned.prepare(fields, terms, threads)
s = time.perf_counter() - t
distinct = set(zip(fields.tolist(), terms.tolist()))
indptr = [scorer.field.indptr for scorer in searcher.scorers]
postings = sum(int(indptr[f][t + 1] - indptr[f][t]) for f, t in distinct)
print(json.dumps({"s": s, "terms": len(distinct), "postings": postings}))
"""


def child(tree: Path, code: str, *args: object) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], env=env, cwd=tree, check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, required=True, help="a benchmarks/scale_bm25.py --dir folder")
    ap.add_argument("--before", help="a git revision to compare with")
    ap.add_argument("--k", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    indexes = sorted((args.dir / "cache-bm25" / "lucene-bm25").glob("*.idx"))
    queries = args.dir / "synthetic" / "queries.jsonl"
    if len(indexes) != 1 or not queries.is_file():
        raise SystemExit(f"{args.dir}: expected one cached index and synthetic/queries.jsonl (run scale_bm25.py)")
    index = indexes[0].resolve()
    mine = child(REPO, _SEARCH, index, queries, args.k, args.queries)
    print(f"{index.name}: {mine['queries']} queries, top {args.k}, one thread")
    print(f"  this tree    {float(mine['ms']):.2f} ms per query")
    for threads in (1, 2):
        prep = child(REPO, _PREPARE, index, queries, args.queries, threads)
        print(
            f"  bounds of {prep['terms']:,} terms ({int(prep['postings']) / 1e6:,.0f}M postings): "
            f"{float(prep['s']):.2f} s on {threads} thread{'s' if threads > 1 else ''}"
        )
    if not args.before:
        return
    with tempfile.TemporaryDirectory(prefix="beirctl-search-") as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(tree), args.before], check=True
        )
        try:
            subprocess.run(
                [sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tree, check=True, capture_output=True
            )
            theirs = child(tree, _SEARCH, index, queries, args.k, args.queries)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=True)
    ratio = float(theirs["ms"]) / float(mine["ms"])
    print(f"  {args.before:12} {float(theirs['ms']):.2f} ms per query ({ratio:.2f}x this tree's time)")
    if theirs["digest"] != mine["digest"]:
        raise SystemExit(f"{args.before}: other results than this tree's")
    print("  same documents and scores on both sides")


if __name__ == "__main__":
    main()

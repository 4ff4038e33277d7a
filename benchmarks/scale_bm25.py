"""BM25 engines at MS MARCO scale: load, index, search, end to end and peak memory, side by side.

    python benchmarks/scale_bm25.py --docs 1000000 [--queries 2000] [--k 1000]
                                    [--engines bm25 bm25s pyserini-bm25] [--rerun bm25]
                                    [--dir FOLDER] [--json out.json]

Writes a seeded synthetic BEIR folder shaped like MS MARCO passages: ``--docs`` passages of 30-90
words drawn from a Zipf (s = 1) distribution over a vocabulary of 200,000 pronounceable,
English-like words (syllables of English onsets, vowels and codas, some with English suffixes;
shorter words at higher frequency ranks, as in English), no titles, integer ids; ``--queries``
queries of 3-8 words, each taken from one passage, which is its one relevant document.

Then runs each engine through ``beirctl run`` (its own process and cache folder), one after the
other: ``bm25`` (lucene-exact), ``bm25s`` (``bm25`` with ``method: lucene``: the bm25s library)
and ``pyserini-bm25`` (Anserini in a Java subprocess, one search thread per core). Each
``--rerun`` engine runs a second time on its warm cache (index loaded, not built). Reported per
row: load / index / search seconds from the run's ``metrics.json`` (``timings``), queries/s,
end to end (the wall time of the whole ``beirctl run`` process: start-up, load, index, search,
evaluation, writing), and peak memory of the process tree (its processes' proportional set
sizes summed, sampled every 50 ms: Java's and forked workers' memory included, pages they
share counted once; ``largest_process_rss_mb`` in the JSON is the largest one's ``ru_maxrss``).
Ratios are against pyserini-bm25 (index throughput, queries/s, end to end) and bm25s (queries/s).

``--dir`` keeps the corpus (reused when it was written with the same settings); otherwise it
lives in a temporary folder. The corpus of 1M documents is about 0.5 GB, of 5M about 2.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

VOCAB = 200_000
ENGINES: dict[str, dict[str, Any]] = {
    "bm25": {"type": "bm25", "params": {"method": "lucene-exact"}},
    "bm25s": {"type": "bm25", "params": {"method": "lucene"}},
    "pyserini-bm25": {"type": "pyserini-bm25", "params": {}},
}


def _split(text: str) -> list[str]:
    return text.split()


_ONSETS = _split("b c d f g h j k l m n p r s t v w y z bl br ch cl cr dr fl fr gl gr pl pr qu sc sh sk sl sm sn sp st")
_ONSETS += _split("str sw th tr tw wh") + [""] * 6
_VOWELS = _split("a e i o u a e i o ai au ea ee ie oa oo ou oi ay")
_CODAS = _split("b ck d ft g l ld lf lk ll lm lp lt m mp n nd ng nk nt p r rb rd rk rm rn rt s sh sk ss st t th x")
_CODAS += [""] * 12
_SUFFIXES = _split("s ed ing er ers ly ness ment tion al ic ous able ity ive less ful ist ism ize")


def make_vocabulary(n: int = VOCAB, seed: int = 0) -> list[str]:
    """``n`` distinct pronounceable words, most frequent first: one syllable for the first ranks,
    then two and three, a quarter of them with an English suffix."""
    rng = random.Random(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < n:
        rank = len(words)
        syllables = 1 if rank < 5_000 else 2 if rank < 80_000 else 3
        syllables = max(1, syllables - (rng.random() < 0.3))
        word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))
        if rank >= 500 and rng.random() < 0.25:
            word += rng.choice(_SUFFIXES)
        if len(word) >= 2 and word not in seen:
            seen.add(word)
            words.append(word)
    return words


def make_corpus(folder: Path, n_docs: int, n_queries: int, seed: int = 0) -> None:
    """Write ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv`` (see the module docstring)."""
    vocab = make_vocabulary(seed=seed)
    rng = np.random.default_rng(seed)
    # All the words, each followed by a space, in one byte array: a batch of token ids becomes
    # its text by one gather instead of a Python join per word.
    encoded = [w.encode() + b" " for w in vocab]
    word_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    word_len = np.array([len(e) for e in encoded], dtype=np.int64)
    word_start = np.cumsum(word_len) - word_len
    p = 1.0 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    query_docs = set(rng.choice(n_docs, size=min(n_queries, n_docs), replace=False).tolist())
    query_text: dict[int, str] = {}
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "wb") as fh:
        for start in range(0, n_docs, 100_000):
            n = min(100_000, n_docs - start)
            lengths = rng.integers(30, 91, size=n)
            tokens = rng.choice(len(vocab), size=int(lengths.sum()), p=p)
            tok_len = word_len[tokens]
            tok_end = np.cumsum(tok_len)
            gather = np.repeat(word_start[tokens] - (tok_end - tok_len), tok_len)
            gather += np.arange(int(tok_end[-1]))
            blob = word_bytes[gather].tobytes()
            doc_end = tok_end[np.cumsum(lengths) - 1]
            lines = []
            begin = 0
            for i, end in enumerate(doc_end.tolist()):
                text = blob[begin : end - 1].decode()
                lines.append(f'{{"_id": "{start + i}", "title": "", "text": "{text}"}}\n')
                if start + i in query_docs:
                    words = text.split()
                    k = int(rng.integers(3, 9))
                    query_text[start + i] = " ".join(words[j] for j in sorted(rng.choice(len(words), k, replace=False)))
                begin = end
            fh.write("".join(lines).encode())
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as qf, open(folder / "qrels" / "test.tsv", "w") as qr:
        qr.write("query-id\tcorpus-id\tscore\n")
        for q, doc in enumerate(sorted(query_text)):
            qf.write(json.dumps({"_id": f"q{q}", "text": query_text[doc]}) + "\n")
            qr.write(f"q{q}\t{doc}\t1\n")


def _tree_memory(pid: int) -> int:
    """Bytes of memory ``pid`` and all its descendants hold: the sum of their proportional set
    sizes (Linux /proc/<pid>/smaps_rollup; pages a forked worker shares with its parent count
    once, not in each), or of their resident set sizes where smaps_rollup is missing."""
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            try:
                with open(f"/proc/{p}/smaps_rollup") as fh:
                    total += next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("Pss:"))
            except (FileNotFoundError, StopIteration):
                with open(f"/proc/{p}/statm") as fh:
                    total += int(fh.read().split()[1]) * page
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_engine(engine: str, folder: Path, work: Path, k: int, label: str) -> dict[str, Any]:
    """``beirctl run`` of one engine on the corpus in ``folder``; its timings, peak RSS and scores."""
    spec = ENGINES[engine]
    slug = label.replace(" (re-run)", "-rerun")
    out = work / f"results-{slug}"
    shutil.rmtree(out, ignore_errors=True)
    config = {
        "name": f"scale-{slug}",
        "datasets": [{"path": str(folder)}],
        "retrievers": [{"type": spec["type"], "label": engine, "params": spec["params"]}],
        "metrics": ["nDCG@10", f"R@{k}"],
        "top_k": k,
        "output_dir": str(out),
        "cache_dir": str(work / f"cache-{engine}"),
    }
    config_path = work / f"{slug}.yaml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    beirctl = Path(sys.executable).with_name("beirctl")
    cmd = [str(beirctl), "run", str(config_path)] if beirctl.exists() else [sys.executable, "-m", "beirctl"]
    if not beirctl.exists():
        cmd += ["run", str(config_path)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, _tree_memory(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{engine}: beirctl run failed ({proc.returncode}): {output.decode()[-1500:]}")
    metrics = json.loads(next(out.rglob("metrics.json")).read_text())
    t = metrics["timings"]
    return {
        "engine": label,
        "load_s": t["load_s"],
        "index_s": t["index_s"],
        "search_s": t["search_s"],
        "qps": metrics["dataset"]["num_queries"] / t["search_s"] if t["search_s"] else float("nan"),
        "end_to_end_s": wall,
        "peak_rss_mb": peak / 2**20,  # of the process tree (summed PSS)
        "largest_process_rss_mb": usage.ru_maxrss / 1024,
        "ndcg@10": metrics["aggregate"]["nDCG@10"],
        f"recall@{k}": metrics["aggregate"][f"R@{k}"],
    }


def _ratios(row: dict[str, Any], rows: dict[str, dict[str, Any]]) -> str:
    out = []
    base = rows.get("pyserini-bm25")
    if base is not None and row["engine"] != "pyserini-bm25":
        out.append(f"index {base['index_s'] / row['index_s']:.1f}x" if row["index_s"] else "index -")
        out.append(f"q/s {row['qps'] / base['qps']:.1f}x")
        out.append(f"e2e {base['end_to_end_s'] / row['end_to_end_s']:.1f}x pyserini")
    bm25s = rows.get("bm25s")
    if bm25s is not None and row["engine"] not in ("bm25s", "pyserini-bm25"):
        out.append(f"q/s {row['qps'] / bm25s['qps']:.1f}x bm25s")
    return ", ".join(out)


def _minutes(s: float) -> str:
    return f"{int(s // 60)} min {s % 60:02.0f} s" if s >= 60 else f"{s:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--k", type=int, default=1000, help="top k searched (the run's top_k)")
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--rerun", nargs="*", default=["bm25"], choices=list(ENGINES), help="engines run again, cached")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, help="keep the corpus (and caches) here; reused if written alike")
    ap.add_argument("--json", type=Path, help="also write the rows here as JSON")
    args = ap.parse_args()
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="beirctl-scale-bm25-")
    work = args.dir or Path(tmp.name)  # type: ignore[union-attr]
    folder = work / "synthetic"
    stamp = {"docs": args.docs, "queries": args.queries, "seed": args.seed, "vocab": VOCAB, "format": 1}
    try:
        stamp_path = work / "corpus.json"
        if not (stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp):
            shutil.rmtree(work, ignore_errors=True) if args.dir else None
            t = time.perf_counter()
            make_corpus(folder, args.docs, args.queries, args.seed)
            stamp_path.write_text(json.dumps(stamp))
            print(f"synthetic corpus written in {time.perf_counter() - t:.0f} s")
        size = (folder / "corpus.jsonl").stat().st_size / 1e6
        print(
            f"corpus: {args.docs:,} passages, {size:,.0f} MB; {args.queries:,} queries; top {args.k}; "
            f"{os.cpu_count()} CPUs"
        )
        for engine in args.engines:  # a fresh cache: the first run builds the index
            shutil.rmtree(work / f"cache-{engine}", ignore_errors=True)
        rows: dict[str, dict[str, Any]] = {}
        plan = [(e, e) for e in args.engines] + [(e, f"{e} (re-run)") for e in args.rerun if e in args.engines]
        for engine, label in plan:
            rows[label] = run_engine(engine, folder, work, args.k, label)
            print(f"  {label}: done in {_minutes(rows[label]['end_to_end_s'])}", flush=True)
        print(
            f"{'engine':22} {'load s':>7} {'index s':>8} {'search q/s':>10} {'end to end':>12} {'peak RSS':>10}  "
            "nDCG@10  ratios"
        )
        for label, r in rows.items():
            print(
                f"{label:22} {r['load_s']:7.1f} {r['index_s']:8.1f} {r['qps']:10.1f} {_minutes(r['end_to_end_s']):>12} "
                f"{r['peak_rss_mb'] / 1024:7.2f} GB  {r['ndcg@10']:.4f}  {_ratios(r, rows)}"
            )
        if args.json:
            args.json.write_text(json.dumps({"corpus": stamp, "rows": list(rows.values())}, indent=2) + "\n")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()

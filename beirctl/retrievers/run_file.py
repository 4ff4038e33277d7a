"""``run``: a TREC run file made elsewhere (a ColBERT index, a production engine, a Pyserini
run), per dataset, evaluated and bundled like any retriever's results.

``path`` is a template: ``{dataset}`` becomes the dataset's name, a CQADupStack forum
``cqadupstack-<forum>`` (as in submission bundles). A relative path is resolved against the
current working directory (a retriever is not told where its config file lies; ``beirctl
import`` writes absolute paths).

The file is checked as a whole, each problem one line naming ``file:line``: 6 columns, numeric
and finite scores, no document twice for a query (:func:`beirctl.evaluation.read_run`), at
least one hit, and -- at index time, against the corpus -- every doc id in the corpus. Query
ids are checked at search time, against the queries searched: the runner searches exactly the
queries judged in the split, so a query id of the file that is not among them is an error.

The file's ranks are not trusted: hits are ranked again by their score as beirctl writes it
(6 decimals), descending, ties by doc id ascending -- the order Lucene/Anserini write (and
``lucene-exact`` reproduces: on the official Anserini BEIR runs, whose 4-decimal scores have
their ties separated by 1e-6, this order is the file's own) -- then the top ``k`` are kept.

The run file's content is part of the pair's retrieval key (:meth:`RunFileRetriever.input_checksums`,
read by :func:`beirctl.jobs.input_checksums`): a changed file re-runs the pair.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from beirctl.errors import BeirctlError, DataError
from beirctl.evaluation import read_run
from beirctl.retrievers.base import IndexContext, Retriever, RetrieverParams, Run
from beirctl.types import Corpus, Queries

PLACEHOLDER = "{dataset}"
_GZIP_MAGIC = b"\x1f\x8b"


class RunFileParams(RetrieverParams):
    path: str = Field(
        "runs/{dataset}.trec.gz",
        description="TREC run file per dataset (plain or .gz); {dataset} is the dataset name, "
        "CQADupStack forums cqadupstack-<forum>; relative to the working directory",
    )

    @field_validator("path")
    @classmethod
    def _template(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the run file path is empty")
        if "\0" in value:
            raise ValueError("the run file path contains a NUL character")
        return value


def file_name(dataset: str) -> str:
    """``{dataset}`` in a path template: the dataset's name, ``cqadupstack-<forum>`` for a forum."""
    return dataset.replace("/", "-")


def run_path(template: str, dataset: str) -> Path:
    """The run file of ``dataset`` under the path ``template``."""
    return Path(template.replace(PLACEHOLDER, file_name(dataset))).expanduser()


def _sort_key(hit: tuple[str, float]) -> tuple[float, str]:
    return (-float(f"{hit[1]:.6f}"), hit[0])


def _scan(path: Path) -> list[tuple[int, str, str]]:
    """(line, query id, doc id) of each hit of an already validated run file."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    found = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if fields:
                found.append((lineno, fields[0], fields[2]))
    return found


def _failing_line(path: Path) -> int:
    """The line at which reading ``path`` fails (bad gzip data, invalid UTF-8): one after the
    last line that decodes."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    count = 0
    try:
        with opener(path, "rb") as fh:
            for raw in fh:
                raw.decode("utf-8")
                count += 1
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        pass
    return count + 1


def load_run_file(path: Path) -> Run:
    """Read and check a run file; every problem is one :class:`DataError` naming ``file:line``."""
    if not path.is_file():
        raise DataError(path, "run file not found" if not path.exists() else "not a file")
    try:
        run = read_run(path)
    except DataError as exc:
        if exc.line is not None:
            raise
        message = str(exc).removeprefix(f"{exc.path}: ")
        try:
            with open(path, "rb") as fh:
                magic = fh.read(2)
        except OSError:
            raise exc from None
        if path.suffix != ".gz" and magic == _GZIP_MAGIC:
            message += " (gzip data in a file not named .gz)"
        elif path.suffix == ".gz" and magic != _GZIP_MAGIC:
            message += " (a .gz name, but not gzip data)"
        raise DataError(path, message, _failing_line(path)) from None
    if not run:
        raise DataError(path, "no hits (an empty run file)", 1)
    return run


class RunFileRetriever(Retriever[RunFileParams]):
    name = "run"
    description = "a TREC run file per dataset, made elsewhere (path template with {dataset})"
    Params = RunFileParams

    def __init__(self, params: RunFileParams | None = None) -> None:
        super().__init__(params)
        self.path: Path | None = None
        self.run: Run = {}

    @classmethod
    def input_checksums(cls, params: dict[str, Any], dataset: str) -> dict[str, str]:
        """What the pair reads besides the dataset, for its retrieval key: ``{"<path>:md5": md5}``
        of the dataset's run file (``missing`` when it cannot be read: indexing says why)."""
        path = run_path(RunFileParams.model_validate(params).path, dataset)
        digest = hashlib.md5()
        try:
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return {f"{path}:md5": "missing"}
        return {f"{path}:md5": digest.hexdigest()}

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        if ctx.dataset is None:
            raise BeirctlError("the run retriever needs the dataset's name (IndexContext.dataset) for its path")
        path = run_path(self.params.path, ctx.dataset)
        run = load_run_file(path)
        unknown = [(q, d) for q, hits in run.items() for d, _ in hits if d not in corpus]
        if unknown:
            first = set(unknown[:1])
            line = next(n for n, q, d in _scan(path) if (q, d) in first)
            more = f" ({len(unknown):,} hits name documents outside it)" if len(unknown) > 1 else ""
            raise DataError(
                path,
                f"document {unknown[0][1]!r} (query {unknown[0][0]!r}) is not in the corpus of {ctx.dataset}{more}",
                line,
            )
        self.path = path
        self.run = {q: sorted(hits, key=_sort_key) for q, hits in run.items()}

    def search(self, queries: Queries, k: int) -> Run:
        if self.path is None:
            raise BeirctlError("the run retriever searched before index()")
        unjudged = [q for q in self.run if q not in queries]
        if unjudged:
            first = unjudged[0]
            line = next(n for n, q, _ in _scan(self.path) if q == first)
            more = f" ({len(unjudged):,} such queries)" if len(unjudged) > 1 else ""
            raise DataError(
                self.path,
                f"query {first!r} is not one of the queries searched (those judged in the split){more}; "
                "keep only the split's judged queries in the run file",
                line,
            )
        return {q: self.run[q][:k] for q in queries if q in self.run}

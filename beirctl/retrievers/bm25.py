"""``bm25``: the default sparse retriever.

``method: lucene-exact`` (the default) is Lucene's BM25 as Anserini/Pyserini run it,
reproduced in-process (:mod:`beirctl.lucene`): the official BEIR numbers without a JVM. The
other methods are bm25s' variants over beirctl's tokenizer options. Indexes are cached on disk.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from beirctl.atomic import (
    cache_lock,
    cache_write_errors,
    check_file,
    discard,
    file_record,
    read_checked_json,
    write_checked_json,
)
from beirctl.progress import track
from beirctl.retrievers.base import K1, B, IndexContext, Retriever, Run
from beirctl.retrievers.text import TokenizerParams, field_texts, tokenize, top_k
from beirctl.types import Corpus, Queries

# An index folder's list of its files with their sizes and crc32s, written last.
MANIFEST = "manifest.json"
# _save's temporary folders: ".<key>.<random>.tmp" (".<key>.<random>" before manifests).
_TEMP_DIRS = re.compile(r"\.[0-9a-f]{24}\.[a-z0-9_]{8}(\.tmp)?")


class BM25Params(TokenizerParams):
    k1: K1 = Field(0.9, description="term-frequency saturation")
    b: B = Field(0.4, description="length normalisation")
    method: Literal["lucene-exact", "lucene", "robertson", "atire", "bm25l", "bm25+"] = Field(
        "lucene-exact",
        description="lucene-exact: Lucene/Anserini exactly (own English analyzer); others: bm25s variants",
    )
    delta: float = Field(0.5, description="delta of bm25l / bm25+")
    exhaustive: bool = Field(
        False, description="lucene-exact: score every document instead of the pruned top-k search (same run files)"
    )

    omit_at_default = ("exhaustive",)  # exhaustive: true searches again; its run files are the same

    @model_validator(mode="after")
    def _analyzer_options(self) -> BM25Params:
        if self.exhaustive and self.method != "lucene-exact":
            raise ValueError("exhaustive: applies to method lucene-exact (the bm25s methods score every document)")
        if self.method == "lucene-exact":
            defaults = {"stemmer": "porter", "stopwords": "lucene"}
            clash = [k for k, v in defaults.items() if getattr(self, k) != v]
            if clash:
                raise ValueError(
                    f"{', '.join(clash)}: lucene-exact uses Lucene's English analyzer; "
                    "these options apply to the bm25s methods (e.g. method: lucene)"
                )
        return self


class BM25Retriever(Retriever[BM25Params]):
    name = "bm25"
    description = (
        "BM25, by default lucene-exact: Lucene/Anserini's BM25 and English analyzer in-process "
        "(method: lucene, robertson, ... for bm25s variants); index cached on disk"
    )
    Params = BM25Params

    def __init__(self, params: BM25Params | None = None) -> None:
        super().__init__(params)
        self.doc_ids: list[str] = []
        self.fields: dict[str, object] = {}

    def _cache_path(self, cache_dir: Path | None, corpus_id: str) -> Path | None:
        if cache_dir is None:
            return None
        import bm25s

        key = hashlib.sha256(f"{self.name}|{bm25s.__version__}|{corpus_id}|{self.settings_key()}".encode()).hexdigest()[
            :24
        ]
        return cache_dir / "bm25" / key

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        if self.params.method == "lucene-exact":
            from beirctl.retrievers.lucene_bm25 import LuceneBM25Params, LuceneBM25Retriever

            params = LuceneBM25Params(
                k1=self.params.k1,
                b=self.params.b,
                fields=self.params.fields,
                title_weight=self.params.title_weight,
                text_weight=self.params.text_weight,
                exhaustive=self.params.exhaustive,
            )
            self.lucene = LuceneBM25Retriever(params)
            self.lucene.index(corpus, ctx)
            self.loaded_from_cache = self.lucene.loaded_from_cache
            return
        import bm25s

        path = self._cache_path(ctx.cache_dir, ctx.corpus_id)
        with cache_lock(path.parent, _TEMP_DIRS) if path is not None else contextlib.nullcontext():
            if path is not None and self._load(path):
                self.loaded_from_cache = True
                return
            self.doc_ids = list(corpus)
            self.fields = {}
            with track("indexing", len(corpus), "docs") as advance:
                for field, texts in field_texts(corpus, self.params.fields).items():
                    model = bm25s.BM25(
                        k1=self.params.k1, b=self.params.b, delta=self.params.delta, method=self.params.method
                    )
                    model.index(tokenize(texts, self.params), show_progress=False)
                    self.fields[field] = model
                advance(len(corpus))
            if path is not None:
                self._save(path)

    def _load(self, path: Path) -> bool:
        """Load the index folder at ``path`` if its files match its manifest; else discard it."""
        import bm25s

        if not path.exists():
            return False
        try:
            manifest = read_checked_json(path / MANIFEST)
            if manifest is None:
                raise ValueError(f"no {MANIFEST} (written by an older beirctl, or incomplete)")
            if manifest.get("version") != 1:
                raise ValueError(f"{MANIFEST} of version {manifest.get('version')}")
            files = manifest["files"]
            found = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()} - {MANIFEST}
            if found != set(files):
                raise ValueError(f"files differ from {MANIFEST}: {sorted(found ^ set(files))[:3]}")
            for name, record in files.items():
                check_file(path / name, record)
            doc_ids = json.loads((path / "doc_ids.json").read_text(encoding="utf-8"))
            fields = {
                f.name: bm25s.BM25.load(f, show_progress=False, verbosity=0)
                for f in sorted(path.iterdir())
                if f.is_dir()
            }
        except Exception as exc:  # whatever a damaged folder raises
            discard([path], f"{type(exc).__name__}: {exc}")
            return False
        self.doc_ids, self.fields = doc_ids, fields
        return True

    def _save(self, path: Path) -> None:
        # Save into a temporary sibling, then rename: a killed run never leaves half an index.
        with cache_write_errors(path, "bm25 index cache"):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
            try:
                for field, model in self.fields.items():
                    model.save(tmp / field, show_progress=False)  # type: ignore[attr-defined]
                (tmp / "doc_ids.json").write_text(json.dumps(self.doc_ids), encoding="utf-8")
                files = {p.relative_to(tmp).as_posix(): file_record(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
                write_checked_json(tmp / MANIFEST, {"version": 1, "files": files})
                try:
                    os.replace(tmp, path)
                except OSError as exc:
                    # Another process finished the same index first: keep theirs.
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def _weights(self) -> dict[str, float]:
        return {"contents": 1.0, "title": self.params.title_weight, "text": self.params.text_weight}

    def search(self, queries: Queries, k: int) -> Run:
        if self.params.method == "lucene-exact":
            return self.lucene.search(queries, k)
        qids = list(queries)
        tokens = tokenize([queries[q] for q in qids], self.params)
        weights = self._weights()
        run: Run = {}
        with track("searching", len(qids), "queries") as advance:
            for qid, toks in zip(qids, tokens):
                scores: np.ndarray | None = None
                for field, model in self.fields.items():
                    s = model.get_scores(toks) * weights[field]  # type: ignore[attr-defined]
                    scores = s if scores is None else scores + s
                assert scores is not None
                idx, vals = top_k(scores, k)
                run[qid] = [(self.doc_ids[i], float(v)) for i, v in zip(idx.tolist(), vals.tolist())]
                advance(1)
        return run

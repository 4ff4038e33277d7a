"""The shared data types: documents, queries, judgments and rankings.

This module imports nothing of beirctl (as ir_measures keeps ``Qrel`` and ``ScoredDoc``): every
layer may use it, and it depends on none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, SupportsIndex, overload

__all__ = ["Corpus", "Dataset", "Document", "Qrels", "Queries", "Run", "doc_text"]


class Document(NamedTuple):
    """A corpus document; BEIR documents have a title (possibly empty) and a text.

    Also read as the BEIR library's ``{"title": ..., "text": ...}`` dicts are: ``doc["text"]``,
    ``doc.get("title", "")``, ``doc.keys()``.
    """

    title: str
    text: str

    @overload  # type: ignore[override]
    def __getitem__(self, key: SupportsIndex, /) -> str: ...
    @overload
    def __getitem__(self, key: slice, /) -> tuple[str, ...]: ...
    @overload
    def __getitem__(self, key: str, /) -> str: ...
    def __getitem__(self, key: SupportsIndex | slice | str, /) -> str | tuple[str, ...]:
        if isinstance(key, str):
            if key in self._fields:
                return str(getattr(self, key))
            raise KeyError(key)
        return tuple.__getitem__(self, key)

    def get(self, key: str, default: str | None = None) -> str | None:
        """The field ``key`` (``title`` or ``text``), else ``default``."""
        return str(getattr(self, key)) if key in self._fields else default

    def keys(self) -> tuple[str, ...]:
        return self._fields


# A dict, or a read-only mapping backed by the corpus file for large corpora
# (beirctl.datasets.stream.StreamingCorpus); iterate it in chunks with stream.iter_chunks.
Corpus = Mapping[str, Document]
Queries = dict[str, str]
Qrels = dict[str, dict[str, int]]
# A ranking per query id: (doc id, score) pairs, best first.
Run = dict[str, list[tuple[str, float]]]


def doc_text(title: str, text: str) -> str:
    """A document as one text, as BEIR, MTEB and Pyserini's BEIR indexes join it:
    ``(title + " " + text).strip()``."""
    return (title + " " + text).strip()


#: CQADupStack's 12 forums, as BEIR names their folders (``cqadupstack/<forum>``).
CQADUPSTACK_FORUMS: tuple[str, ...] = (
    "android",
    "english",
    "gaming",
    "gis",
    "mathematica",
    "physics",
    "programmers",
    "stats",
    "tex",
    "unix",
    "webmasters",
    "wordpress",
)


@dataclass
class Dataset:
    """One BEIR dataset split, ready to evaluate.

    ``queries`` holds only the queries judged in ``qrels`` (the ones that are evaluated).
    ``checksums`` maps a file name (or a content key) to its digest, for provenance.
    ``fingerprint`` identifies the corpus content, independent of how it was loaded; caches
    are keyed on it.
    """

    name: str
    split: str
    corpus: Corpus
    queries: Queries
    qrels: Qrels
    fingerprint: str
    checksums: dict[str, str] = field(default_factory=dict)
    source: str = ""
    notes: list[str] = field(default_factory=list)  # warnings found while loading, one line each

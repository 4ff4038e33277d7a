"""BEIR data: corpus, queries, qrels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class Document(NamedTuple):
    """A corpus document; BEIR documents have a title (possibly empty) and a text."""

    title: str
    text: str


# A dict, or a read-only mapping backed by the corpus file for large corpora
# (beirctl.datasets.stream.StreamingCorpus); iterate it in chunks with stream.iter_chunks.
Corpus = Mapping[str, Document]
Queries = dict[str, str]
Qrels = dict[str, dict[str, int]]


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

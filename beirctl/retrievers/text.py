"""Tokenizer options shared by the sparse retrievers (lowercase, split, stop words, stem)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from beirctl.lucene.analyzer import ENGLISH_STOP_WORDS
from beirctl.retrievers.base import RetrieverParams
from beirctl.types import Corpus, doc_text

# \w+ keeps one-letter tokens and digits, as Lucene's StandardTokenizer does (bm25s' default
# pattern drops one-character tokens, which costs about 0.005 nDCG@10 on SciFact).
TOKEN_PATTERN = r"(?u)\b\w+\b"


class TokenizerParams(RetrieverParams):
    """Text analysis: lowercase, ``\\w+`` tokens, stop words removed, then stemmed."""

    stemmer: str = Field("porter", description="PyStemmer algorithm (porter, english, ...) or 'none'")
    stopwords: Literal["lucene", "en", "none"] | list[str] = Field(
        "lucene", description="lucene (Lucene's 33 English words), en (bm25s' list), none, or a list"
    )
    fields: Literal["flat", "multifield"] = Field(
        "flat", description="flat: title + text in one field; multifield: scored separately, summed"
    )
    title_weight: float = Field(1.0, description="multifield weight of the title field")
    text_weight: float = Field(1.0, description="multifield weight of the text field")


@lru_cache(maxsize=8)
def _stemmer(name: str) -> object | None:
    if name == "none":
        return None
    import Stemmer

    if name not in Stemmer.algorithms():
        from beirctl.errors import ConfigError

        raise ConfigError(f"unknown stemmer {name!r} (PyStemmer algorithms: {', '.join(Stemmer.algorithms())}, none)")
    stemmer: object = Stemmer.Stemmer(name)
    return stemmer


def tokenize(texts: list[str], params: TokenizerParams) -> list[list[str]]:
    """Tokenize ``texts`` with bm25s' tokenizer and the configured options."""
    import bm25s

    stopwords: str | list[str]
    if params.stopwords == "lucene":
        stopwords = sorted(ENGLISH_STOP_WORDS)  # the 33 words Anserini removes
    elif params.stopwords == "none":
        stopwords = []
    else:
        stopwords = params.stopwords
    result = bm25s.tokenize(
        texts,
        lower=True,
        token_pattern=TOKEN_PATTERN,
        stopwords=stopwords,
        stemmer=_stemmer(params.stemmer),
        return_ids=False,
        show_progress=False,
    )
    tokens: list[list[str]] = result
    return tokens


def field_texts(corpus: Corpus, fields: str) -> dict[str, list[str]]:
    """The texts to index per field: ``{"contents": doc_text(title, text)}`` or title and text apart."""
    if fields == "flat":
        return {"contents": [doc_text(d.title, d.text) for d in corpus.values()]}
    return {"title": [d.title for d in corpus.values()], "text": [d.text for d in corpus.values()]}


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` best non-zero scores, ties broken by index (as Lucene does).

    A zero score means the document matched no query term, so it is not a hit.
    """
    nonzero = np.flatnonzero(scores)
    if nonzero.size > k:
        part = scores[nonzero]
        kth = np.partition(part, part.size - k)[part.size - k]
        # Keep every score tied with the k-th so that the tie-break below is exact.
        nonzero = nonzero[part >= kth]
    order = np.lexsort((nonzero, -scores[nonzero]))[:k]
    idx = nonzero[order]
    return idx, scores[idx]

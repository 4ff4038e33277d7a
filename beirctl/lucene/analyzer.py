"""Lucene's English analysis chain as Anserini's ``DefaultEnglishAnalyzer`` builds it.

StandardTokenizer (UAX#29 word breaks, max token length 255; :mod:`beirctl.lucene.tokenizer`) ->
EnglishPossessiveFilter (a trailing ``'s``, with apostrophe U+0027, U+2019 or U+FF07, removed) ->
LowerCaseFilter (Java's per-code-point ``Character.toLowerCase``) -> StopFilter (the 33 words of
``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``) -> PorterStemFilter (:mod:`beirctl.lucene.porter`).

Public: :class:`EnglishAnalyzer`, :func:`analyze`, ``ENGLISH_STOP_WORDS`` (the one Lucene stop
word list of beirctl) and ``MAX_TOKEN_LENGTH``. Tokenizing and stemming run compiled where
:mod:`beirctl.lucene.native` says so, with the same terms either way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from itertools import chain

import numpy as np

from beirctl.lucene import native
from beirctl.lucene.tokenizer import MAX_TOKEN_LENGTH, tokenize, tokenize_many

__all__ = ["ENGLISH_STOP_WORDS", "MAX_TOKEN_LENGTH", "EnglishAnalyzer", "analyze"]

# EnglishAnalyzer.ENGLISH_STOP_WORDS_SET: the 33 words Anserini's default analyzer removes.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
        "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
        "this", "to", "was", "will", "with",
    }
)  # fmt: skip


def _possessive(token: str) -> str:
    """EnglishPossessiveFilter: strip a trailing 's (apostrophe U+0027, U+2019 or U+FF07)."""
    if len(token) >= 2 and token[-1] in "sS" and token[-2] in "'\u2019\uff07":
        return token[:-2]
    return token


def _lower(token: str) -> str:
    """LowerCaseFilter: Character.toLowerCase per code point (simple case mapping)."""
    if token.isascii():
        return token.lower()
    # str.lower() applies full mappings (U+0130 -> 'i' + U+0307) and final-sigma context;
    # Java's per-code-point mapping has neither.
    return "".join("i" if c == "\u0130" else (lc if len(lc := c.lower()) == 1 else c) for c in token)


class EnglishAnalyzer:
    """Anserini's default English analyzer; a per-instance cache maps surface tokens to terms."""

    def __init__(self, max_token_length: int = MAX_TOKEN_LENGTH) -> None:
        self.max_token_length = max_token_length
        self._terms: dict[str, str] = {}

    def _term(self, token: str) -> str:
        """The indexed term for one raw token; "" for a stop word."""
        lowered = _lower(_possessive(token))
        term = "" if lowered in ENGLISH_STOP_WORDS else native.stem(lowered)
        self._terms[token] = term
        return term

    def analyze(self, text: str) -> list[str]:
        """The indexed terms of ``text``, in order."""
        cache = self._terms
        terms = [cache[t] if t in cache else self._term(t) for t in tokenize(text, self.max_token_length)]
        return [t for t in terms if t]

    def analyze_ids(
        self, texts: Sequence[str], chunk: int | None = None, processes: int | None = None
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The terms of many texts as ids: ``(terms, ids, counts)``.

        ``ids`` (int64) holds, text after text, the index in ``terms`` of each token's term, or -1
        for a stop word; ``counts[i]`` is the number of tokens (stop words included) of text i.
        ``[terms[j] for j in ids[a:b] if j >= 0]`` is ``analyze`` of text i (a, b: its token range).
        Each distinct token is analyzed once; the rest is dictionary look-ups in C loops.
        ``chunk``: texts scanned at a time (default: 20,000 in pure Python, whose token lists it
        bounds; 200,000 compiled, where each part's distinct tokens are stemmed again, so larger
        parts pay: 0.49 s against 0.64 s for 100,000 synthetic passages).

        ``processes``: how many processes share the work (default: the idle CPUs, at most 4,
        for texts of over PARALLEL_MIN_CHARS characters, on Linux, where forked workers inherit
        the texts); the parts are merged into the same result.
        """
        if chunk is None:
            chunk = 200_000 if native.compiled() else 20_000
        n = processes if processes is not None else _default_processes(texts)
        if n <= 1 or len(texts) < 2 * n:
            return self._analyze_ids(texts, chunk)
        cuts = [len(texts) * i // n for i in range(n + 1)]
        global _FORK_STATE
        try:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            _FORK_STATE = (self, texts, chunk)
            with ctx.Pool(n - 1) as pool:
                pending = pool.map_async(_analyze_part, list(zip(cuts[1:-1], cuts[2:])))
                parts = [self._analyze_ids(texts[: cuts[1]], chunk), *pending.get()]
        except (OSError, ValueError, ImportError):  # no fork here, or no resources for it
            return self._analyze_ids(texts, chunk)
        finally:
            _FORK_STATE = None
        term_ids: dict[str, int] = {}
        id_parts = []
        for terms, ids, _ in parts:
            remap = np.fromiter(
                (term_ids.setdefault(t, len(term_ids)) for t in terms), dtype=np.int64, count=len(terms)
            )
            id_parts.append(np.where(ids >= 0, remap[np.maximum(ids, 0)] if len(terms) else -1, -1))
        return list(term_ids), np.concatenate(id_parts), np.concatenate([c for _, _, c in parts])

    def _analyze_ids(self, texts: Sequence[str], chunk: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        term_ids: dict[str, int] = {}
        id_parts: list[np.ndarray] = []
        count_parts: list[np.ndarray] = []
        parts = self._compiled_parts if native.compiled() else self._python_parts
        for lo in range(0, len(texts), chunk):
            ids, counts = parts(texts[lo : lo + chunk], term_ids)
            id_parts.append(ids)
            count_parts.append(counts)
        empty = np.empty(0, dtype=np.int64)
        ids = np.concatenate(id_parts) if id_parts else empty
        counts = np.concatenate(count_parts) if count_parts else empty
        return list(term_ids), ids, counts

    def _term_id(self, token: str, term_ids: dict[str, int]) -> int:
        """The id of a token's term in ``term_ids`` (added if new); -1 for a stop word."""
        term = self._terms[token] if token in self._terms else self._term(token)
        return term_ids.setdefault(term, len(term_ids)) if term else -1

    def _compiled_parts(self, texts: Sequence[str], term_ids: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, token counts) of texts with the compiled scanner: Python runs once per
        distinct token, numpy maps the occurrences."""
        tokens, occurrences, counts = native.scan_tokens(texts, self.max_token_length)
        ids = native.term_ids(tokens, ENGLISH_STOP_WORDS, term_ids, self._term)
        return ids[occurrences], counts

    def _python_parts(self, texts: Sequence[str], term_ids: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, token counts) of texts with the pure-Python tokenizer."""
        # Lowercasing an ASCII text first gives the same spans (case keeps the word-break
        # class) and the tokens LowerCaseFilter would make: fewer distinct tokens for _term.
        lists = tokenize_many(texts, self.max_token_length, lower_ascii=True)
        counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = list(chain.from_iterable(lists))
        del lists
        tok_ids = {tok: self._term_id(tok, term_ids) for tok in dict.fromkeys(flat)}
        return np.fromiter(map(tok_ids.__getitem__, flat), dtype=np.int64, count=len(flat)), counts


# With the pure-Python tokenizer, forking pays off from a few million characters, and only where
# cores are idle: on SciFact (7.7M characters) two processes took 0.5-0.65 s against 0.7-0.85 s
# for one on an idle 2-core machine, but 0.85-1.05 s against 0.7-0.8 s while another job kept the
# cores busy. With the compiled scanner one process does SciFact in 0.12 s and forking only adds
# (0.21 s; 62M characters: 0.88 s in one process, 1.03 s in two), so it is not used then.
PARALLEL_MIN_CHARS = 2_000_000
_FORK_STATE: tuple[EnglishAnalyzer, Sequence[str], int] | None = None


def _default_processes(texts: Sequence[str]) -> int:
    """The usable CPUs that look idle (this process counted as running), at most 4; 1 for small
    inputs, where forking is not the default way to start processes (not Linux), or where this
    process runs other threads."""
    import threading

    if native.compiled():
        return 1
    if not sys.platform.startswith("linux") or sum(map(len, texts)) < PARALLEL_MIN_CHARS:
        return 1
    if threading.active_count() > 1:  # forking a process that runs other threads risks deadlocks
        return 1
    cpus = len(os.sched_getaffinity(0))
    if cpus < 2:
        return 1
    return max(1, min(4, cpus - _busy_cpus()))


def _busy_cpus(samples: int = 5) -> int:
    """CPUs busy with other work now: the median count of runnable tasks in /proc/loadavg over a
    few milliseconds, less this process (the load averages lag by a minute)."""
    import time

    counts = []
    try:
        for i in range(samples):
            with open("/proc/loadavg", encoding="ascii") as fh:
                counts.append(int(fh.read().split()[3].split("/")[0]))
            if i + 1 < samples:
                time.sleep(0.002)
    except (OSError, ValueError, IndexError):
        return len(os.sched_getaffinity(0))  # unknown: assume busy
    return max(sorted(counts)[len(counts) // 2] - 1, 0)


def _analyze_part(bounds: tuple[int, int]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A forked worker's share of ``analyze_ids`` (the analyzer and texts are inherited)."""
    assert _FORK_STATE is not None
    analyzer, texts, chunk = _FORK_STATE
    terms, ids, counts = analyzer._analyze_ids(texts[bounds[0] : bounds[1]], chunk)
    return terms, ids.astype(np.int32), counts


def analyze(text: str) -> list[str]:
    """Analyze one text with a fresh analyzer (convenient for tests; slow for corpora)."""
    return EnglishAnalyzer().analyze(text)

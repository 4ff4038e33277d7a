"""Glue to the compiled extension ``beirctl.lucene._scan``, and the choice between it and pure Python.

``_scan`` (C sources ``_scan.c``: the scanner, ``_porter.c``: the Porter stemmer) gives the same
tokens as :func:`beirctl.lucene.tokenizer.tokenize_many` and the same stems as
:func:`beirctl.lucene.porter.porter_stem`, several times faster. It is optional: built by
``pip install`` wherever a C compiler is; without it everything runs in pure Python, with
identical results, only slower to index.

Environment switch: ``BEIRCTL_NATIVE=0`` makes beirctl ignore the compiled extension even where it
is built, so the pure-Python paths run (:mod:`beirctl.compiled`; re-exported here).

Public: :func:`compiled` (which path is in use), ``stem`` (the Porter stemmer of that path),
:func:`scan_tokens`, :func:`term_ids`, :func:`postings` and :func:`scatter` (the compiled steps; only while
:func:`compiled`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from beirctl.compiled import DISABLED_BY_ENV, ENV_SWITCH, enabled_by_env, load_extension  # noqa: F401 (re-exported)
from beirctl.lucene.porter import porter_stem
from beirctl.lucene.tokenizer import _A_BODIES, _FOLD, _KIND, tokenize

if TYPE_CHECKING:  # typed by _scan.pyi; None at run time where not in use (see compiled())
    from beirctl.lucene import _scan
else:
    _scan = load_extension("beirctl.lucene._scan")

# _scan's character classes (bits of its enum) per code point; 255: not classified yet.
_S_AHL, _S_NUM, _S_ENL, _S_MIDL, _S_MIDN, _S_EMOJI, _S_FULL, _S_UNKNOWN = 1, 2, 4, 8, 16, 32, 64, 255
_S_BODY_BITS = (_S_AHL, _S_NUM, _S_ENL, _S_MIDL, _S_MIDN)  # the order of _A_BODIES
_S_FOLD_BITS = {"a": _S_AHL, "0": _S_NUM, "_": _S_ENL, ".": _S_MIDL | _S_MIDN, ":": _S_MIDL, ";": _S_MIDN}
_S_FOLD_BITS["'"] = _S_MIDL | _S_MIDN


def _scan_class(code: int) -> int:
    """A code point's class for _scan: ASCII as the ASCII pattern has it; others as
    tokenize_many treats them (full grammar, simple emoji, or the classes of their fold)."""
    ch = chr(code)
    if code < 128:
        return sum(bit for body, bit in zip(_A_BODIES, _S_BODY_BITS) if re.fullmatch(f"[{body}]", ch))
    kind = _KIND[ch]
    return _S_FULL if kind == 2 else _S_EMOJI if kind == 1 else _S_FOLD_BITS.get(_FOLD[code], 0)


# The Porter stemmer in use: the same algorithm either way (_porter.c is ~10x faster).
stem: Callable[[str], str] = porter_stem if _scan is None else _scan.porter

_CLASS_TABLE = bytearray([_S_UNKNOWN]) * 0x110000
_CLASS_TABLE[:128] = bytes(_scan_class(c) for c in range(128))


def search_module() -> ModuleType | None:
    """The compiled pruned BM25 search (``beirctl.lucene._search``); None where it is not built
    or ``BEIRCTL_NATIVE`` turns it off (lucene-exact then scores every document: same results)."""
    return load_extension("beirctl.lucene._search")


def compiled() -> bool:
    """Whether the compiled scanner is in use (else the pure-Python tokenizer, same tokens)."""
    return _scan is not None


def scan_tokens(texts: Sequence[str], max_token_length: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``_scan.scan`` over texts, classifying their new characters first: (distinct tokens,
    int32 token index per occurrence, int64 token count per text). Tokens are those of
    ``tokenize_many`` with ASCII letters lowercased."""
    for code in _scan.unknown(texts, _CLASS_TABLE):
        _CLASS_TABLE[code] = _scan_class(code)
    tokens, ids, counts = _scan.scan(texts, _CLASS_TABLE, max_token_length, lambda t: tokenize(t, max_token_length))
    return tokens, np.frombuffer(ids, dtype=np.int32), np.frombuffer(counts, dtype=np.int64)


def postings(
    ids: np.ndarray, counts: np.ndarray, n_terms: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_scan.postings``: a chunk's (per_term, docs, tfs, lengths) as int32 arrays, from the
    int64 term id per token (-1: stop word) and the int64 token count per text (see
    :class:`beirctl.lucene.index.ChunkPostings`)."""
    per_term, docs, tfs, lengths = _scan.postings(
        np.ascontiguousarray(ids, dtype=np.int64).data, np.ascontiguousarray(counts, dtype=np.int64).data, n_terms
    )
    return tuple(np.frombuffer(b, dtype=np.int32) for b in (per_term, docs, tfs, lengths))  # type: ignore[return-value]


def scatter(
    docs: np.ndarray,
    tfs: np.ndarray,
    fill: np.ndarray,
    remap: np.ndarray,
    per_term: np.ndarray,
    part_docs: np.ndarray,
    part_tfs: np.ndarray,
    base: int,
) -> None:
    """``_scan.scatter``: one chunk's postings into the term-major ``docs``/``tfs`` at each term's
    ``fill`` position (advanced in place); see :meth:`beirctl.lucene.index.FieldBuilder.finish`."""
    _scan.scatter(
        docs.data,
        tfs.data,
        fill.data,
        np.ascontiguousarray(remap, dtype=np.int64).data,
        np.ascontiguousarray(per_term, dtype=np.int32).data,
        np.ascontiguousarray(part_docs, dtype=np.int32).data,
        np.ascontiguousarray(part_tfs).data,
        base,
    )


def term_ids(
    tokens: Sequence[str], stop_words: AbstractSet[str], ids: dict[str, int], fallback: Callable[[str], str]
) -> np.ndarray:
    """``_scan.term_ids`` as an int64 array: each token's term id in ``ids`` (new terms added), -1
    for a stop word; ASCII tokens are analyzed in C, the others by ``fallback`` (their term, "")."""
    return np.frombuffer(_scan.term_ids(tokens, stop_words, ids, fallback), dtype=np.int64)

"""The compiled tokenizer and Porter stemmer (``beirctl.lucene._scan``) against the pure-Python
reference they replace: the same tokens, stems and index terms, on generated and real text."""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from beirctl.lucene import native
from beirctl.lucene.analyzer import ENGLISH_STOP_WORDS, EnglishAnalyzer
from beirctl.lucene.porter import porter_stem
from beirctl.lucene.tokenizer import tokenize, tokenize_many
from tests.conftest import SHARED_BEIR, needs_shared
from tests.test_lucene_analysis import FOLD_TEXTS, PORTER_CASES, TOKENIZER_CASES

compiled = pytest.mark.skipif(not native.compiled(), reason="beirctl.lucene._scan is not built or BEIRCTL_NATIVE=0")


@pytest.mark.skipif(native.DISABLED_BY_ENV, reason="BEIRCTL_NATIVE=0 turns the compiled extension off")
def test_scanner_is_built_where_a_compiler_is() -> None:
    """pip builds the extension wherever a C compiler is; a silent pure-Python fallback there would
    only show as slower indexing."""
    if shutil.which("cc") or shutil.which("gcc"):
        assert native.compiled()


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, True), ("1", True), ("", True), ("yes", True), ("0", False), (" OFF ", False), ("false", False)],
)
def test_env_switch(value: str | None, enabled: bool) -> None:
    env = {} if value is None else {native.ENV_SWITCH: value}
    assert native.enabled_by_env(env) is enabled


def test_env_switch_selects_the_pure_python_path() -> None:
    """BEIRCTL_NATIVE=0, read at import: no compiled scanner or stemmer, the same terms."""
    import os
    import subprocess
    import sys

    code = (
        "from beirctl.lucene import native, porter; from beirctl.lucene.analyzer import analyze; "
        "assert not native.compiled() and native.stem is porter.porter_stem; "
        'print(analyze("The cats\' RUNNING naïve"))'
    )
    env = {**os.environ, native.ENV_SWITCH: "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['cat', 'run', 'naïv']"


def _words(rnd: random.Random, n: int) -> list[str]:
    """Random words over letters that drive Porter's rules, many ending in its suffixes."""
    alpha = "aeiouyslbtzngcdrmwxpqv"
    suffixes = "ational tional enci anci izer bli alli entli eli ousli ization ation ator alism iveness fulness "
    suffixes += "ousness aliti iviti biliti logi icate ative alize iciti ical ful ness al ance ence er ic able ible "
    suffixes += "ant ement ment ent ion sion tion ou ism ate iti ous ive ize sses ies s eed ed ing y e ll at bl iz"
    ends = suffixes.split()
    words = ["".join(rnd.choice(alpha) for _ in range(rnd.randint(1, 12))) for _ in range(n)]
    words += [
        "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 6))) + "".join(rnd.choices(ends, k=rnd.randint(1, 3)))
        for _ in range(n)
    ]
    return words


@compiled
def test_porter_equals_the_python_stemmer() -> None:
    rnd = random.Random(7)
    words = [*PORTER_CASES, *_words(rnd, 40_000), "naïveties", "ñandúes", "αβγing", "zoölogical", "éé", "ﬁling"]
    assert [native.stem(w) for w in words] == [porter_stem(w) for w in words]
    assert native.stem is not porter_stem


def _texts() -> list[str]:
    rnd = random.Random(3)
    alphabet = list("aZ1_.:',; \n-éß") + ["\u2019", "\u00b7", "\uff0e", "\u0660", "\u203f", "α", "\u00a9", "\u2122"]
    alphabet += ["\u0301", "\ufe0f", "\u0e01", "\u4e2d", "\U0001f44d", "\U0001d41a", "İ"]
    texts = [c for c, _ in TOKENIZER_CASES] + FOLD_TEXTS
    texts += ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40))) for _ in range(3000)]
    texts += [
        "a. .a a.b 1, ,1 1,2 _ __ a_ _1 dog's's O'Neil’s ＳＨＯＵＴ's",  # mid characters at the ends, ENL runs
        "x" * 255 + " " + "y" * 256,  # the longest whole token, and one cut at the buffer limit
        "é " + "z" * 300,
        "\U0001d41a" * 127 + " " + "\U0001d41a" * 128,  # 254 and 256 UTF-16 code units (astral letters)
        "the and of THE",
    ]
    return texts


@compiled
def test_scanner_tokens_equal_tokenize_many() -> None:
    texts = _texts()
    tokens, ids, counts = native.scan_tokens(texts, 255)
    assert ids.dtype == np.int32 and counts.dtype == np.int64 and int(counts.sum()) == len(ids)
    ends = np.cumsum(counts)
    got = [[tokens[j] for j in ids[a:b]] for a, b in zip(ends - counts, ends)]
    lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    assert got == [[t.translate(lower) for t in toks] for toks in tokenize_many(texts)]
    assert len(set(tokens)) == len(tokens)  # each distinct token once


@compiled
def test_scanner_vocabulary_of_many_tokens_near_the_inline_key_limits() -> None:
    """100k+ distinct tokens (the hash table grows several times) of 15-18 code points, Latin-1
    and not, that differ in one code point only: a token is found again exactly where it is
    equal, whether its slot holds its code points inline (at most 16, each below 256) or not."""
    rnd = random.Random(5)
    stems = ["".join(rnd.choice("abcdefghij") for _ in range(14)) for _ in range(15_000)]
    tails = ["", "k", "é", "ß", "kk", "ké", "ω", "kω", "éé", "kkk", "kkω", "ωkk", "ÿ", "ÿÿÿÿ"]
    words = [s + t for s in stems for t in tails]
    rnd.shuffle(words)
    texts = [" ".join(words[i : i + 50]) + " " + " ".join(rnd.sample(words, 20)) for i in range(0, len(words), 50)]
    tokens, ids, counts = native.scan_tokens(texts, 255)
    assert len(tokens) == len(set(words)) == len(set(tokens))
    ends = np.cumsum(counts)
    got = [[tokens[j] for j in ids[a:b]] for a, b in zip(ends - counts, ends)]
    assert got == [text.split() for text in texts]


@compiled
def test_analyze_ids_equals_the_pure_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _texts()
    fast = EnglishAnalyzer().analyze_ids(texts, chunk=700)
    monkeypatch.setattr(native, "_scan", None)
    monkeypatch.setattr(native, "stem", porter_stem)
    slow = EnglishAnalyzer().analyze_ids(texts, chunk=700, processes=1)
    assert _per_text(*fast) == _per_text(*slow)


def _per_text(terms: list[str], ids: np.ndarray, counts: np.ndarray) -> list[list[str | None]]:
    ends = np.cumsum(counts)
    return [[terms[j] if j >= 0 else None for j in ids[a:b]] for a, b in zip(ends - counts, ends)]


@compiled
def test_scanner_rejects_bad_input() -> None:
    from beirctl.lucene import _scan

    table = bytearray(native._CLASS_TABLE)
    table[ord("é")] = 255
    with pytest.raises(ValueError, match="without a class"):
        _scan.scan(["café"], table, 255, tokenize)
    with pytest.raises(ValueError, match="0x110000"):
        _scan.scan(["a"], bytearray(10), 255, tokenize)
    with pytest.raises(TypeError, match="not a str"):
        _scan.scan(["a", 1], native._CLASS_TABLE, 255, tokenize)  # type: ignore[list-item]
    assert _scan.unknown(["café", "x", "ascii only"], table) == {ord("é")}
    table[ord("x")] = 255  # ASCII entries are the caller's to fill: scan() refuses, unknown() skips them
    assert _scan.unknown(["x"], table) == set()
    with pytest.raises(ValueError, match="without a class"):
        _scan.scan(["x"], table, 255, tokenize)


@needs_shared
@compiled
@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_real_corpus_terms_equal_the_pure_python_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from beirctl.datasets import load_folder

    ds = load_folder(SHARED_BEIR / name)
    texts = [f"{d.title}\n{d.text}" for d in ds.corpus.values()]
    fast = EnglishAnalyzer().analyze_ids(texts)
    monkeypatch.setattr(native, "_scan", None)
    monkeypatch.setattr(native, "stem", porter_stem)
    slow = EnglishAnalyzer().analyze_ids(texts, processes=1)
    assert _per_text(*fast) == _per_text(*slow)


@compiled
def test_term_ids_equal_term_id() -> None:
    """The compiled token -> term id step (possessive, lowercase, stop words, Porter) on edge cases."""
    from beirctl.lucene import _scan

    tokens = ["Dog's", "dogs'", "IT'S", "it's", "The", "s", "'s", "x's", "RUNNING", "naïve's", "Cat\u2019s", "cats"]
    tokens += ["ＳＨＯＵＴ's", "İstanbul", "a", "and", "Running", "relational", "possibly", "", "ß's"]
    fast: dict[str, int] = {}
    ids = np.frombuffer(_scan.term_ids(tokens, ENGLISH_STOP_WORDS, fast, EnglishAnalyzer()._term), np.int64)
    slow: dict[str, int] = {}
    reference = EnglishAnalyzer()
    assert ids.tolist() == [reference._term_id(t, slow) for t in tokens]
    assert fast == slow
    terms = {i: t for t, i in fast.items()}
    by_token = {tok: terms.get(int(i)) for tok, i in zip(tokens, ids)}
    assert by_token["Dog's"] == "dog" and by_token["RUNNING"] == by_token["Running"] == "run"
    assert by_token["IT'S"] is None and by_token["The"] is None and by_token["a"] is None
    assert by_token["x's"] == "x" and by_token["relational"] == "relat" and by_token["possibly"] == "possibl"
    with pytest.raises(TypeError, match="not a str"):
        _scan.term_ids(["a", 1], ENGLISH_STOP_WORDS, {}, str)  # type: ignore[list-item]
    with pytest.raises(TypeError, match="fallback must return a str"):
        _scan.term_ids(["é"], ENGLISH_STOP_WORDS, {}, lambda t: 1)  # type: ignore[arg-type,return-value]


def _token_stream(data: st.DataObject, n_terms: int) -> tuple[np.ndarray, np.ndarray]:
    draw = data.draw
    counts = np.array(draw(st.lists(st.integers(0, 12), max_size=30)), dtype=np.int64)
    ids = np.array(
        draw(st.lists(st.integers(-1, n_terms - 1), min_size=int(counts.sum()), max_size=int(counts.sum()))),
        dtype=np.int64,
    )
    return ids, counts


@compiled
@given(data=st.data(), n_terms=st.integers(1, 9))
def test_compiled_postings_equal_the_numpy_sort(data: st.DataObject, n_terms: int) -> None:
    """_scan.postings (two linear passes) gives ChunkPostings.from_ids's sort-based arrays, dtype
    for dtype: documents ascending within each term, term frequencies, non-stop lengths."""
    from beirctl.lucene.index import ChunkPostings

    ids, counts = _token_stream(data, n_terms)
    terms = [f"t{i}" for i in range(n_terms)]
    fast = ChunkPostings.from_ids(terms, ids, counts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native, "_scan", None)
        slow = ChunkPostings.from_ids(terms, ids, counts)
    for name in ("per_term", "docs", "tfs", "lengths"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and a.tolist() == b.tolist(), name


@compiled
def test_compiled_postings_hand_computed() -> None:
    # texts: [t1 t0 t1 stop], [], [t0]
    per_term, docs, tfs, lengths = native.postings(np.array([1, 0, 1, -1, 0]), np.array([4, 0, 1]), 3)
    assert per_term.tolist() == [2, 1, 0]
    assert docs.tolist() == [0, 2, 0]  # t0: texts 0 and 2; t1: text 0
    assert tfs.tolist() == [1, 1, 2]
    assert lengths.tolist() == [3, 0, 1]


@compiled
@pytest.mark.parametrize(
    ("ids", "counts", "n_terms"),
    [([0, 1], [1], 2), ([0], [1, 1], 2), ([2], [1], 2), ([-2], [1], 2), ([0], [-1], 1)],
)
def test_compiled_postings_reject_inconsistent_input(ids: list[int], counts: list[int], n_terms: int) -> None:
    with pytest.raises(ValueError, match="add up|out of range"):
        native.postings(np.array(ids, dtype=np.int64), np.array(counts, dtype=np.int64), n_terms)


@compiled
def test_compiled_scatter_places_each_terms_run_and_rejects_overflow() -> None:
    docs = np.full(5, -1, dtype=np.int32)
    tfs = np.zeros(5, dtype=np.uint16)
    fill = np.array([0, 3], dtype=np.int64)  # global term 0's row is [0, 3), term 1's [3, 5)
    # the chunk's term 0 is global term 1 (2 postings), its term 1 global term 0 (1 posting)
    native.scatter(
        docs,
        tfs,
        fill,
        np.array([1, 0]),
        np.array([2, 1]),
        np.array([0, 4, 2]),
        np.array([7, 1, 3], dtype=np.uint8),
        10,
    )
    assert docs.tolist() == [12, -1, -1, 10, 14] and tfs.tolist() == [3, 0, 0, 7, 1]
    assert fill.tolist() == [1, 5]
    with pytest.raises(ValueError, match="outside"):
        native.scatter(docs, tfs, fill, np.array([1]), np.array([1]), np.array([0]), np.array([1], dtype=np.uint8), 0)

"""Pins the token stream of the Lucene English analyzer port on tricky strings.

Expected tokens follow Lucene's StandardTokenizer (UAX#29 word-break rules as its JFlex
grammar implements them) and the cases of Lucene's TestStandardAnalyzer (apostrophes,
numbers, Korean, Chinese, emoji sequences, combining marks), TestEnglishAnalyzer
(possessives, stop words, stemming) and Porter's reference C stemmer as Lucene ports it.
"""

from __future__ import annotations

import numpy as np
import pytest

from beirctl.lucene.analyzer import EnglishAnalyzer, analyze
from beirctl.lucene.index import byte4_to_int, int_to_byte4
from beirctl.lucene.porter import porter_stem
from beirctl.lucene.tokenizer import tokenize

TOKENIZER_CASES = [
    # decimals, thousands separators, IPs, version-like numbers (WB11/WB12)
    (
        "pi is 3.14, e is 2.718; 1,000,000 people",
        ["pi", "is", "3.14", "e", "is", "2.718", "1,000,000", "people"],
    ),
    ("216.239.63.104 and 21.35", ["216.239.63.104", "and", "21.35"]),
    ("R2D2 C3PO 5x 2nd", ["R2D2", "C3PO", "5x", "2nd"]),
    ("10.5% of $20", ["10.5", "of", "20"]),
    # hyphens split, underscores join (ExtendNumLet), dots and colons join letters (MidNumLet/MidLetter)
    ("Wi-Fi e-mail __init__ a_b", ["Wi", "Fi", "e", "mail", "__init__", "a_b"]),
    ("U.S.A. e.g. TCP:IP", ["U.S.A", "e.g", "TCP:IP"]),
    # apostrophes (Single_Quote / MidNumLet U+2019)
    ("O'Reilly's you're don't dogs' John\u2019s", ["O'Reilly's", "you're", "don't", "dogs", "John\u2019s"]),
    # URLs and e-mails are not special to StandardTokenizer
    (
        "http://www.example.com/a?b=c foo@bar.com",
        ["http", "www.example.com", "a", "b", "c", "foo", "bar.com"],
    ),
    # accented, Greek, Cyrillic, combining marks (WB4)
    (
        "café naïve Ærøskøbing Ωμέγα Москва mo\u0364chte",
        ["café", "naïve", "Ærøskøbing", "Ωμέγα", "Москва", "mo\u0364chte"],
    ),
    # Korean words, single Han ideographs and hiragana, katakana runs, fullwidth forms
    ("안녕하세요 한글입니다", ["안녕하세요", "한글입니다"]),
    ("我是中国人。 １２３４ Ｔｅｓｔｓ", ["我", "是", "中", "国", "人", "１２３４", "Ｔｅｓｔｓ"]),
    ("ひらがな カタカナ", ["ひ", "ら", "が", "な", "カタカナ"]),
    ("ภาษาไทย", ["ภาษาไทย"]),
    # emoji: single, modifier, presentation, ZWJ, flag and keycap sequences
    ("💩 💩💩", ["💩", "💩", "💩"]),
    ("👍🏻 ❤️ 👩\u200d❤️\u200d👩 🇺🇸🇺🇸 #️⃣", ["👍🏻", "❤️", "👩\u200d❤️\u200d👩", "🇺🇸", "🇺🇸", "#️⃣"]),
    # nothing to index
    ("", []),
    (" . -- !? ", []),
    ('"QUOTED" word', ["QUOTED", "word"]),
]


@pytest.mark.parametrize(("text", "tokens"), TOKENIZER_CASES)
def test_standard_tokenizer(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_long_tokens_are_split_at_255() -> None:
    # StandardTokenizer's scanner buffer is the max token length: longer tokens are cut.
    assert tokenize("a" * 600) == ["a" * 255, "a" * 255, "a" * 90]
    assert tokenize("x " + "b" * 300) == ["x", "b" * 255, "b" * 45]


ANALYZER_CASES = [
    (
        "The quick brown fox's jumps over the lazy dogs",
        ["quick", "brown", "fox", "jump", "over", "lazi", "dog"],
    ),
    # EnglishPossessiveFilter strips 's with U+0027, U+2019 and U+FF07 before lowercasing
    ("Steven's STEVEN'S steven\u2019s steven\uff07s", ["steven"] * 4),
    # the 33 stop words go; "not", "no" are stop words, "its", "he" are not
    ("it is not no such thing as its he", ["thing", "it", "he"]),
    # Java's per-code-point lowercasing: no final sigma, dotted I -> i
    ("ΟΔΟΣ İstanbul", ["οδοσ", "istanbul"]),
    ("Possibly biology technologies generalizations", ["possibl", "biologi", "technolog", "gener"]),
    ("3.14 U.S.A.", ["3.14", "u.s.a"]),
]


@pytest.mark.parametrize(("text", "terms"), ANALYZER_CASES)
def test_english_analyzer(text: str, terms: list[str]) -> None:
    assert analyze(text) == terms
    assert EnglishAnalyzer().analyze(text) == terms


PORTER_CASES = {
    # examples of Porter (1980)
    "caresses": "caress",
    "ponies": "poni",
    "ties": "ti",
    "caress": "caress",
    "cats": "cat",
    "feed": "feed",
    "agreed": "agre",
    "plastered": "plaster",
    "motoring": "motor",
    "sing": "sing",
    "conflated": "conflat",
    "troubled": "troubl",
    "sized": "size",
    "hopping": "hop",
    "tanned": "tan",
    "falling": "fall",
    "hissing": "hiss",
    "fizzed": "fizz",
    "failing": "fail",
    "filing": "file",
    "happy": "happi",
    "sky": "sky",
    "relational": "relat",
    "conditional": "condit",
    "rational": "ration",
    "valenci": "valenc",
    "digitizer": "digit",
    "conformabli": "conform",
    "radicalli": "radic",
    "differentli": "differ",
    "vileli": "vile",
    "analogousli": "analog",
    "vietnamization": "vietnam",
    "predication": "predic",
    "operator": "oper",
    "feudalism": "feudal",
    "decisiveness": "decis",
    "hopefulness": "hope",
    "callousness": "callous",
    "formaliti": "formal",
    "sensitiviti": "sensit",
    "sensibiliti": "sensibl",
    "triplicate": "triplic",
    "formative": "form",
    "formalize": "formal",
    "electriciti": "electr",
    "electrical": "electr",
    "hopeful": "hope",
    "goodness": "good",
    "revival": "reviv",
    "allowance": "allow",
    "inference": "infer",
    "airliner": "airlin",
    "gyroscopic": "gyroscop",
    "adjustable": "adjust",
    "defensible": "defens",
    "irritant": "irrit",
    "replacement": "replac",
    "adjustment": "adjust",
    "dependent": "depend",
    "adoption": "adopt",
    "homologou": "homolog",
    "communism": "commun",
    "activate": "activ",
    "angulariti": "angular",
    "homologous": "homolog",
    "effective": "effect",
    "bowdlerize": "bowdler",
    "probate": "probat",
    "rate": "rate",
    "cease": "ceas",
    "controll": "control",
    "roll": "roll",
    # departures of the C reference implementation that Lucene keeps (Snowball differs)
    "possibly": "possibl",
    "pathology": "patholog",
    "reproducibly": "reproduc",
    # at most two characters: untouched
    "is": "is",
    "us": "us",
    "s": "s",
}


def test_porter_matches_lucene() -> None:
    assert {w: porter_stem(w) for w in PORTER_CASES} == PORTER_CASES


def test_smallfloat_norms() -> None:
    lengths = np.arange(0, 100_000)
    enc = int_to_byte4(lengths)
    dec = byte4_to_int(enc)
    assert (dec[:40] == lengths[:40]).all()  # exact up to 39, as BM25Similarity's explain says
    assert (dec <= lengths).all() and (np.diff(enc.astype(int)) >= 0).all()
    assert int(int_to_byte4(np.array([2**31 - 1]))[0]) == 255
    # byte -> int -> byte round-trips for every byte value
    assert (int_to_byte4(byte4_to_int(np.arange(256))) == np.arange(256)).all()


# --- the fast paths against the reference ones ------------------------------------------------


def test_ascii_pattern_equals_the_word_rule() -> None:
    """The simple ASCII pattern gives the tokens of the JFlex-derived rule, on every string of up
    to 5 characters over one representative of each class (and a few random longer ones)."""
    import itertools
    import random
    import re

    from beirctl.lucene.tokenizer import _ASCII_RULE, _ascii_tokens

    rule = re.compile(_ASCII_RULE)
    alphabet = "a1_:,.';- "
    for length in range(1, 6):
        for chars in itertools.product(alphabet, repeat=length):
            text = "".join(chars)
            assert _ascii_tokens(text) == rule.findall(text), text
    rnd = random.Random(0)
    for _ in range(20_000):
        text = "".join(rnd.choice("aZ19__:,.';;-  x") for _ in range(rnd.randint(1, 40)))
        assert _ascii_tokens(text) == rule.findall(text), text


FOLD_TEXTS = [
    "abc©def ® 3™4 x",
    "\u00a9\u00a9 a\u00ae'b 1\u2122.5",
    "naïve café_au‿lait α-synuclein 3·4 l·l O\u2019Neil \u2018q\u2019 ٣٫٥",
    "‿‿ _‿_ a‿ ‿1 ＿",
    "µg/ml ≥ 5 – 10 % ± 2",
    "MicroRNA‐21 ↔ ® © ™ ‼ \u2194\u2195",
]


@pytest.mark.parametrize("text", FOLD_TEXTS)
def test_folded_paths_equal_the_full_grammar(text: str) -> None:
    from beirctl.lucene.tokenizer import _slow_tokens, tokenize_many

    expected = _slow_tokens(text, 255)
    assert tokenize(text) == expected
    assert tokenize_many([text, "plain ascii", text.upper()]) == [expected, ["plain", "ascii"], tokenize(text.upper())]


def test_tokenize_many_equals_tokenize() -> None:
    import random

    from beirctl.lucene.tokenizer import _SIMPLE_EMOJI, tokenize_many

    rnd = random.Random(1)
    ranges = (range(0x80, 0x3400), range(0x1F000, 0x1FB00))
    simple = [c for r in ranges for c in map(chr, r) if _SIMPLE_EMOJI.fullmatch(c)]
    assert {"\u00a9", "\u00ae", "\u2122"} <= set(simple)
    alphabet = list("aZ1_.:',; \n-éß") + ["\u2019", "\u00b7", "\uff0e", "\u0660", "\u203f", "α", "\u02bc"]
    alphabet += rnd.sample(simple, 20) + ["\u0301", "\ufe0f", "\u0e01", "\u4e2d", "\U0001f44d"]
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 30))) for _ in range(1500)]
    long = "é " + "y" * 300  # a long token is cut at 255 (in the folded path too)
    assert tokenize_many([long]) == [tokenize(long)] == [["é", "y" * 255, "y" * 45]]
    assert tokenize_many(texts) == [tokenize(t) for t in texts]
    assert tokenize_many(texts, lower_ascii=True) == [tokenize(t.lower() if t.isascii() else t) for t in texts]
    for t in rnd.sample(texts, 50):
        assert tokenize(t) == _slow_or_fast(t)


def _slow_or_fast(text: str) -> list[str]:
    """The reference tokenizer: the full grammar (``_slow_tokens``) wherever ``tokenize`` used it."""
    from beirctl.lucene.tokenizer import _AMBIGUOUS, _FAST, _slow_tokens

    if _AMBIGUOUS.search(text) is not None:
        return _slow_tokens(text, 255)
    tokens: list[str] = _FAST.findall(text)
    if any(len(t) > 127 for t in tokens):
        return _slow_tokens(text, 255)
    return tokens


def test_analyze_ids_equals_analyze() -> None:
    texts = [c for c, _ in TOKENIZER_CASES] + [
        "The cats' CATS cat's running Runs ran, ©2020 Elsevier",
        "",
        "the and of",
        "naïve NAÏVE İstanbul ΣΊΣΥΦΟΣ",
    ]
    terms, ids, counts = EnglishAnalyzer().analyze_ids(texts, chunk=5)
    assert len(counts) == len(texts) and int(counts.sum()) == len(ids)
    ends = np.cumsum(counts)
    for text, a, b in zip(texts, ends - counts, ends):
        assert [terms[j] for j in ids[a:b] if j >= 0] == EnglishAnalyzer().analyze(text), text


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_analyze_ids_in_processes_equals_one() -> None:
    texts = [f"Doc {i}: the cats' running, naïve dogs {i % 7} ©{i} chased {'mice ' * (i % 3)}" for i in range(40)]
    texts += ["", "of the", "α-synuclein αβ"]
    one = EnglishAnalyzer().analyze_ids(texts, chunk=7, processes=1)
    for n in (2, 3):
        terms, ids, counts = EnglishAnalyzer().analyze_ids(texts, chunk=7, processes=n)
        assert np.array_equal(counts, one[2])
        assert [terms[j] if j >= 0 else None for j in ids] == [one[0][j] if j >= 0 else None for j in one[1]]

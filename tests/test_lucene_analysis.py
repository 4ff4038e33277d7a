"""Pins the token stream of the Lucene English analyzer port on tricky strings.

Expected tokens follow Lucene's StandardTokenizer (UAX#29 word-break rules as its JFlex
grammar implements them) and the cases of Lucene's TestStandardAnalyzer (apostrophes,
numbers, Korean, Chinese, emoji sequences, combining marks), TestEnglishAnalyzer
(possessives, stop words, stemming) and Porter's reference C stemmer as Lucene ports it.
"""

from __future__ import annotations

import numpy as np
import pytest

from beirctl.lucene.analysis import EnglishAnalyzer, analyze, tokenize
from beirctl.lucene.index import byte4_to_int, int_to_byte4
from beirctl.lucene.porter import porter_stem

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

"""Lucene's English analysis chain as Anserini's ``DefaultEnglishAnalyzer`` builds it.

StandardTokenizer (UAX#29 word breaks, max token length 255) -> EnglishPossessiveFilter ->
LowerCaseFilter -> StopFilter (EnglishAnalyzer.ENGLISH_STOP_WORDS_SET) -> PorterStemFilter.

The tokenizer mirrors the JFlex grammar of Lucene's ``StandardTokenizerImpl`` (Lucene 8/9):
a token is the *longest* match of its rules at the current position; characters that
start no rule are skipped one code point at a time. Differences that remain: Lucene's
grammar uses Unicode 9 word-break data and Unicode 11 emoji data, while the ``regex``
module has current Unicode data, so letters (and emoji) assigned after those versions
are tokens here but skipped by Lucene; none occur in the BEIR sets checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import regex

from beirctl.lucene.porter import porter_stem

MAX_TOKEN_LENGTH = 255  # StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH (in UTF-16 code units)

# EnglishAnalyzer.ENGLISH_STOP_WORDS_SET: the 33 words Anserini's default analyzer removes.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
        "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they",
        "this", "to", "was", "will", "with",
    }
)  # fmt: skip

# --- StandardTokenizerImpl.jflex, rule by rule ------------------------------------------------
# WB4: X (Extend | Format | ZWJ)* -> X. Emoji modifiers (skin tones) are excluded because they
# were WB=E_Modifier, not Extend, in the Unicode 9 data Lucene's grammar is built from.
_EXT = r"[[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}]--\p{Emoji_Modifier}]*"
# ... and the emoji rules also exclude the presentation selectors U+FE0E/U+FE0F.
_EXT_SANS = r"[[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}]--[\uFE0E\uFE0F\p{Emoji_Modifier}]]*"

_C_AHL = r"[\p{WB=ALetter}\p{WB=Hebrew_Letter}]"
_C_NUM = r"[\p{WB=Numeric}[\p{Block=Halfwidth_And_Fullwidth_Forms}&&\p{Nd}]]"
_C_ENL = r"\p{WB=ExtendNumLet}"
_C_MIDL = r"[\p{WB=MidLetter}\p{WB=MidNumLet}\p{WB=Single_Quote}]"
_C_MIDN = r"[\p{WB=MidNum}\p{WB=MidNumLet}\p{WB=Single_Quote}]"


def _word_rule(ahl: str, num: str, enl: str, midl: str, midn: str, ext: str, full: bool = True) -> str:
    """The ALPHANUM rule (WB5-WB13b) over the given character classes.

    It subsumes the NUM, HANGUL and KATAKANA rules, whose matches are prefixes of it (the
    token type is not used by the English analyzer). ``full=False`` leaves out the Katakana
    and Hebrew-quote branches, for texts without such characters.
    """
    enl, num, ahl, midl, midn = (c + ext for c in (enl, num, ahl, midl, midn))
    branches = [
        rf"{num}(?:(?:(?:{enl})*|{midn}){num})*",
        rf"{ahl}(?:(?:(?:{enl})*|{midl}){ahl})*",
    ]
    kat = ""
    if full:
        heb, sq, dq = (
            c + ext for c in (r"\p{WB=Hebrew_Letter}", r"\p{WB=Single_Quote}", r"\p{WB=Double_Quote}")
        )
        branches.insert(0, rf"{heb}(?:{sq}|{dq}{heb})")
        k = r"\p{WB=Katakana}" + ext
        kat = rf"{k}(?:(?:{enl})*{k})*|"
    core = rf"(?:{kat}(?:{'|'.join(branches)})+)"
    return rf"(?:{enl})*{core}(?:(?:{enl})+{core})*(?:{enl})*"


def _ascii_class(cls: str) -> str:
    """The ASCII members of a character class, as a plain class (fast to match)."""
    pat = regex.compile(cls, regex.V1)
    members = "".join(regex.escape(chr(c)) for c in range(128) if pat.fullmatch(chr(c)))
    return f"[{members}]" if members else r"[^\x00-\U0010FFFF]"


_WORD = _word_rule(_C_AHL, _C_NUM, _C_ENL, _C_MIDL, _C_MIDN, _EXT)

# The EMOJI rule: TR#51 emoji sequences (flags, keycaps, modifier, ZWJ and tag sequences).
_EMOJI_RKAM = r"\p{WB=Regional_Indicator}0-9#*\u00A9\u00AE\u2122\u3030\u303D\p{Emoji_Modifier}"
_EMOJI_CHAR = rf"[\p{{Extended_Pictographic}}[\p{{Emoji}}--[{_EMOJI_RKAM}]]]" + _EXT_SANS
_EMOJI_MOD_BASE = r"\p{Emoji_Modifier_Base}" + _EXT_SANS
_EMOJI_MOD = r"\p{Emoji_Modifier}" + _EXT_SANS
# Modifier sequences first: with ordered alternation that is the longer of the two.
_EMOJI_ELEM = rf"(?:(?:\u200D*{_EMOJI_MOD_BASE})?{_EMOJI_MOD}|\u200D*{_EMOJI_CHAR}\uFE0F?)"
_EMOJI = (
    rf"(?:{_EMOJI_ELEM}(?:[\U000E0020-\U000E007E]+\U000E007F|(?:\u200D{_EMOJI_ELEM})*)"
    rf"|[0-9#*]{_EXT_SANS}\uFE0F?\u20E3{_EXT_SANS}"
    rf"|(?:\p{{WB=Regional_Indicator}}{_EXT_SANS}){{2}})"
)
# SOUTHEAST_ASIAN (runs of Line_Break=Complex_Context), IDEOGRAPHIC and HIRAGANA (one each).
_SEA = r"(?:\p{Line_Break=Complex_Context}" + _EXT + r")+"
_HAN = r"\p{Script=Han}" + _EXT
_HIRA = r"\p{Script=Hiragana}" + _EXT

_RULES = (_EMOJI, _WORD, _SEA, _HAN, _HIRA)  # JFlex order: the first rule wins length ties
_FAST = regex.compile("|".join(f"(?:{r})" for r in (_WORD, _EMOJI, _SEA, _HAN, _HIRA)), regex.V1)
_ANCHORED = [regex.compile(r, regex.V1 | regex.POSIX) for r in _RULES]
# Where ordered alternation may not find JFlex's longest match: a letter that is also an emoji
# (e.g. U+2139) can start both rules, a Hebrew letter before a quote has two parses, and a
# ZWJ may end an emoji (WB4) or join the next one (emoji ZWJ sequences).
_AMBIGUOUS = regex.compile(
    r"\u200D|[[\p{WB=ALetter}\p{WB=Hebrew_Letter}\p{WB=Katakana}\p{WB=ExtendNumLet}]"
    r"&&[\p{Extended_Pictographic}\p{Emoji}]]"
    r"|\p{WB=Hebrew_Letter}" + _EXT + r"[\p{WB=Single_Quote}\p{WB=Double_Quote}]",
    regex.V1,
)
# Texts without any character that only the full grammar handles (extenders, emoji, Katakana,
# Hebrew, SE Asian, Han, Hiragana) are scanned with the ALPHANUM rule alone and no WB4
# extenders, which gives the same tokens several times faster; pure ASCII texts even faster.
_NEEDS_FULL = regex.compile(
    r"[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}\p{WB=Regional_Indicator}\p{Extended_Pictographic}"
    r"[\p{Emoji}--[0-9#*]]\p{WB=Katakana}\p{WB=Hebrew_Letter}\p{Line_Break=Complex_Context}"
    r"\p{Script=Han}\p{Script=Hiragana}]",
    regex.V1,
)
_A_AHL, _A_NUM, _A_ENL, _A_MIDL, _A_MIDN = (
    _ascii_class(c) for c in (_C_AHL, _C_NUM, _C_ENL, _C_MIDL, _C_MIDN)
)
_ASCII = re.compile(_word_rule(_A_AHL, _A_NUM, _A_ENL, _A_MIDL, _A_MIDN, ext="", full=False))


class _FoldTable(dict[int, str]):
    """str.translate table: a character -> an ASCII character of the same word-break class.

    In texts that need only the ALPHANUM rule without extenders, a character's role depends
    on its class alone, so the folded text has the same token spans under the ASCII pattern.
    """

    _CLASSES = (
        (_C_AHL, "a"),
        (_C_NUM, "0"),
        (_C_ENL, "_"),
        (r"\p{WB=MidNumLet}", "."),
        (r"\p{WB=MidLetter}", ":"),
        (r"\p{WB=MidNum}", ";"),
        (r"\p{WB=Single_Quote}", "'"),
    )
    _PATTERNS = [(regex.compile(c, regex.V1), rep) for c, rep in _CLASSES]

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        rep = next((r for p, r in self._PATTERNS if p.fullmatch(ch)), " ")
        self[code] = rep
        return rep


_FOLD = _FoldTable()


def _utf16_len(s: str) -> int:
    return len(s) + sum(1 for c in s if ord(c) > 0xFFFF)


def _utf16_end(text: str, start: int, units: int) -> int:
    """Index where ``units`` UTF-16 code units after ``start`` end (JFlex's buffer limit)."""
    end = start
    n = len(text)
    while end < n and units > 0:
        units -= 2 if ord(text[end]) > 0xFFFF else 1
        if units < 0:
            break
        end += 1
    return end


def _slow_tokens(text: str, max_len: int) -> list[str]:
    """Exact JFlex semantics: longest match over all rules, within a ``max_len`` buffer.

    Lucene's StandardTokenizer sets the scanner buffer to the max token length and never
    grows it, so a longer token is cut at the buffer end and scanning resumes there.
    """
    out: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        endpos = _utf16_end(text, pos, max_len)
        best = pos
        for pat in _ANCHORED:
            m = pat.match(text, pos, endpos)
            if m is not None and m.end() > best:
                best = m.end()
        if best > pos:
            out.append(text[pos:best])
            pos = best
        else:
            pos += 1  # the [^] rule: skip one code point
    return out


def tokenize(text: str, max_token_length: int = MAX_TOKEN_LENGTH) -> list[str]:
    """StandardTokenizer: the raw tokens of ``text`` (no case folding)."""
    if text.isascii():
        tokens: list[str] = _ASCII.findall(text)
    elif _NEEDS_FULL.search(text) is None:
        folded = text.translate(_FOLD)
        tokens = [text[m.start() : m.end()] for m in _ASCII.finditer(folded)]
    else:
        tokens = _FAST.findall(text)
        if _AMBIGUOUS.search(text) is not None:
            return _slow_tokens(text, max_token_length)
    long_tokens = tokens and max(map(len, tokens)) * 2 > max_token_length
    if long_tokens and any(_utf16_len(t) > max_token_length for t in tokens):
        return _slow_tokens(text, max_token_length)
    return tokens


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
        term = "" if lowered in ENGLISH_STOP_WORDS else porter_stem(lowered)
        self._terms[token] = term
        return term

    def analyze(self, text: str) -> list[str]:
        """The indexed terms of ``text``, in order."""
        cache = self._terms
        terms = [cache[t] if t in cache else self._term(t) for t in tokenize(text, self.max_token_length)]
        return [t for t in terms if t]

    def analyze_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.analyze(t) for t in texts]


def analyze(text: str) -> list[str]:
    """Analyze one text with a fresh analyzer (convenient for tests; slow for corpora)."""
    return EnglishAnalyzer().analyze(text)

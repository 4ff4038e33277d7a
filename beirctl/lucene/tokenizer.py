"""Lucene's ``StandardTokenizer`` in pure Python: UAX#29 word breaks, tokens of at most 255 units.

The scanner mirrors the JFlex grammar of Lucene's ``StandardTokenizerImpl`` (Lucene 8/9): a
token is the *longest* match of its rules (ALPHANUM, EMOJI, SOUTHEAST_ASIAN, IDEOGRAPHIC,
HIRAGANA; the first rule wins length ties) at the current position; characters that start no
rule are skipped one code point at a time. Differences that remain: Lucene's grammar uses
Unicode 9 word-break data and Unicode 11 emoji data, while the ``regex`` module has current
Unicode data, so letters (and emoji) assigned after those versions are tokens here but skipped
by Lucene; none occur in the BEIR sets checked.

Long tokens: ``StandardTokenizer.setMaxTokenLength`` (default 255, counted in UTF-16 code units)
sizes the JFlex buffer, which never grows, so a token is the longest match within the next 255
code units and a longer run is emitted in pieces, scanning resuming where a piece ends.

Public: :func:`tokenize`, :func:`tokenize_many` and ``MAX_TOKEN_LENGTH``. The compiled fast path
of ``tokenize_many`` is in :mod:`beirctl.lucene.native`; it gives the same tokens.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import regex

MAX_TOKEN_LENGTH = 255  # StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH (in UTF-16 code units)

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
        heb, sq, dq = (c + ext for c in (r"\p{WB=Hebrew_Letter}", r"\p{WB=Single_Quote}", r"\p{WB=Double_Quote}"))
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
_EMOJI_CHAR_SET = rf"[\p{{Extended_Pictographic}}[\p{{Emoji}}--[{_EMOJI_RKAM}]]]"
_EMOJI_CHAR = _EMOJI_CHAR_SET + _EXT_SANS
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
# Where ordered alternation may not find JFlex's longest match: a letter that is also an emoji
# (e.g. U+2139) can start both rules, a Hebrew letter before a quote has two parses, and a
# ZWJ may end an emoji (WB4) or join the next one (emoji ZWJ sequences).
_AMBIG_CHAR = (
    r"\u200D|[[\p{WB=ALetter}\p{WB=Hebrew_Letter}\p{WB=Katakana}\p{WB=ExtendNumLet}]"
    r"&&[\p{Extended_Pictographic}\p{Emoji}]]"
)
_HEB_QUOTE = regex.compile(r"\p{WB=Hebrew_Letter}" + _EXT + r"[\p{WB=Single_Quote}\p{WB=Double_Quote}]", regex.V1)
_AMBIGUOUS = regex.compile(f"{_AMBIG_CHAR}|{_HEB_QUOTE.pattern}", regex.V1)
# Texts without any character that only the full grammar handles (extenders, emoji, Katakana,
# Hebrew, SE Asian, Han, Hiragana) are scanned with the ALPHANUM rule alone and no WB4
# extenders, which gives the same tokens several times faster; pure ASCII texts even faster.
_NEEDS_FULL = regex.compile(
    r"[\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}\p{WB=Regional_Indicator}\p{Extended_Pictographic}"
    r"[\p{Emoji}--[0-9#*]]\p{WB=Katakana}\p{WB=Hebrew_Letter}\p{Line_Break=Complex_Context}"
    r"\p{Script=Han}\p{Script=Hiragana}]",
    regex.V1,
)
_A_AHL, _A_NUM, _A_ENL, _A_MIDL, _A_MIDN = (_ascii_class(c) for c in (_C_AHL, _C_NUM, _C_ENL, _C_MIDL, _C_MIDN))
# _word_rule over these ASCII classes (kept as the reference in the tests) ...
_ASCII_RULE = _word_rule(_A_AHL, _A_NUM, _A_ENL, _A_MIDL, _A_MIDN, ext="", full=False)
# ... matches the same tokens as this simpler pattern, which ``re`` runs 2-3 times faster (it can
# skip to a word character): a run of word characters and ExtendNumLet, extended over a single
# MidLetter between two letters or a single MidNum between two digits (WB6/7, WB11/12). The one
# difference: a run of ExtendNumLet alone is no token, so such matches are dropped (see
# _ascii_tokens). Possessive quantifiers (Python 3.11+) only save backtracking that cannot succeed.
_POSS = "+" if sys.version_info >= (3, 11) else ""


def _alnum_pattern(ahl: str, num: str, enl: str, midl: str, midn: str, emoji: str = "") -> re.Pattern[str]:
    """That pattern over the given class contents (bodies of ``[...]``); ``emoji``: characters
    that are one-character tokens of their own."""
    word = f"[{ahl}{num}{enl}]+{_POSS}"
    mid = f"(?:(?<=[{ahl}])[{midl}](?=[{ahl}])|(?<=[{num}])[{midn}](?=[{num}]))"
    return re.compile(f"{word}(?:{mid}{word})*{_POSS}" + (f"|[{emoji}]" if emoji else ""))


_A_BODIES = tuple(c[1:-1] for c in (_A_AHL, _A_NUM, _A_ENL, _A_MIDL, _A_MIDN))
_ASCII = _alnum_pattern(*_A_BODIES)
_ENL_ONLY = re.compile(rf"{_A_ENL}+")


def _ascii_tokens(text: str) -> list[str]:
    """``_ASCII_RULE`` tokens of an ASCII (or class-folded) text."""
    tokens: list[str] = _ASCII.findall(text)
    if "_" in text:  # the only ASCII ExtendNumLet
        tokens = [t for t in tokens if not _ENL_ONLY.fullmatch(t)]
    return tokens


# Emoji that are always a token of their own in a text without any other _NEEDS_FULL character:
# no extenders, ZWJ, presentation selectors, modifiers, keycaps, tags or regional indicators
# follow or precede them there, so the EMOJI rule matches them alone, and no other rule
# matches them (they are in no word-break class, script or complex-context set). In BEIR
# texts these are mostly (c), (R) and TM signs.
_SIMPLE_EMOJI = regex.compile(
    r"[[\p{Extended_Pictographic}[\p{Emoji}--[0-9#*]]]"
    r"--[\p{Emoji_Component}\p{Emoji_Modifier}\p{Emoji_Modifier_Base}\p{WB=Regional_Indicator}"
    r"\p{WB=ALetter}\p{WB=Hebrew_Letter}\p{WB=Katakana}\p{WB=Numeric}\p{WB=ExtendNumLet}"
    r"\p{WB=MidLetter}\p{WB=MidNum}\p{WB=MidNumLet}\p{WB=Single_Quote}\p{WB=Double_Quote}"
    r"\p{WB=Format}\p{WB=Extend}\p{WB=ZWJ}\p{Line_Break=Complex_Context}\p{Script=Han}"
    r"\p{Script=Hiragana}]]",
    regex.V1,
)


class _KindTable(dict[str, int]):
    """A character -> 2 if its text needs the full grammar (a _NEEDS_FULL character other than
    a simple emoji), 1 for a simple emoji, 0 otherwise; filled on demand."""

    def __missing__(self, ch: str) -> int:
        kind = 1 if _SIMPLE_EMOJI.fullmatch(ch) else 2 if _NEEDS_FULL.fullmatch(ch) else 0
        self[ch] = kind
        return kind


_KIND = _KindTable()
_EMOJI_MARK = "\x01"  # what a simple emoji folds to (a real U+0001 folds to " ")


class _FoldTable(dict[int, str]):
    """str.translate table: a character -> an ASCII character of the same word-break class.

    In texts that need only the ALPHANUM rule without extenders, a character's role depends
    on its class alone, so the folded text has the same token spans under the ASCII pattern
    (a simple emoji folds to _EMOJI_MARK, a one-character token of _FOLDED).
    """

    _CLASSES = (
        (_SIMPLE_EMOJI.pattern, _EMOJI_MARK),
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
_FOLDED = re.compile(f"{_ASCII.pattern}|{_EMOJI_MARK}")


# --- StandardTokenizer's buffer: tokens of at most max_token_length UTF-16 code units -----------
# Lucene's StandardTokenizer.setMaxTokenLength sizes the JFlex buffer (StandardTokenizerImpl's
# ZZ_BUFFERSIZE) to the limit and its skeleton never grows that buffer. A scan that reaches the
# buffer end returns the longest match found inside it, so a token is the longest match within
# the next max_token_length code units, and a longer run is "chopped up at this token length and
# emitted as multiple tokens": scanning resumes where the piece ends. Here every piece is found
# in time linear in the text: the scanners never re-read a whole long run from each piece.
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _utf16_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-16-le", "surrogatepass")) // 2


class _Units:
    """UTF-16 code unit offsets of a text's characters (O(1) per query without astral ones)."""

    def __init__(self, text: str) -> None:
        self.n = len(text)
        self.cum: np.ndarray | None = None
        if not text.isascii() and _ASTRAL.search(text) is not None:
            codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
            cum = np.zeros(self.n + 1, dtype=np.int32 if self.n < 2**30 else np.int64)
            np.cumsum(codes > 0xFFFF, out=cum[1:])
            cum += np.arange(self.n + 1, dtype=cum.dtype)
            self.cum = cum

    def length(self, a: int, b: int) -> int:
        return b - a if self.cum is None else int(self.cum[b] - self.cum[a])

    def end(self, pos: int, units: int) -> int:
        """The end of the JFlex buffer at ``pos``: the last index j with text[pos:j] in ``units``."""
        if self.cum is None:
            return min(self.n, pos + units)
        return int(np.searchsorted(self.cum, self.cum[pos] + units, "right")) - 1

    def start(self, last: int, units: int) -> int:
        """The first start whose buffer holds the character at ``last`` (``last + 1`` if none)."""
        if self.cum is None:
            return max(0, last + 1 - units)
        return int(np.searchsorted(self.cum, self.cum[last + 1] - units, "left"))


def _distinct(text: str) -> set[str]:
    """``set(text)``; for long texts counted with numpy (set() makes a str per character)."""
    if len(text) < 50_000:
        return set(text)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return set(map(chr, np.flatnonzero(np.bincount(codes)).tolist()))


_A_ALONE, _A_HEBREW, _A_QUOTE = 1, 2, 4
_AMBIG_ALONE = regex.compile(_AMBIG_CHAR, regex.V1)
_AMBIG_HEBREW = regex.compile(r"\p{WB=Hebrew_Letter}", regex.V1)
_AMBIG_QUOTE = regex.compile(r"[\p{WB=Single_Quote}\p{WB=Double_Quote}]", regex.V1)


class _AmbigKind(dict[str, int]):
    """A character -> its part in an _AMBIGUOUS match (_A_* bits); filled on demand."""

    def __missing__(self, ch: str) -> int:
        kind = _A_ALONE if _AMBIG_ALONE.fullmatch(ch) else 0
        kind |= (_A_HEBREW if _AMBIG_HEBREW.fullmatch(ch) else 0) | (_A_QUOTE if _AMBIG_QUOTE.fullmatch(ch) else 0)
        self[ch] = kind
        return kind


_AMBIG_KIND = _AmbigKind()


def _is_ambiguous(text: str, chars: set[str]) -> bool:
    """``_AMBIGUOUS.search(text) is not None``, from the text's distinct characters where they decide."""
    kinds = 0
    for ch in chars:
        kinds |= _AMBIG_KIND[ch]
    if kinds & _A_ALONE:
        return True
    return kinds & (_A_HEBREW | _A_QUOTE) == _A_HEBREW | _A_QUOTE and _HEB_QUOTE.search(text) is not None


_MIDS = frozenset(".:;'")  # the folds of MidLetter, MidNum, MidNumLet and Single_Quote
_NOT_ENL = regex.compile(r"\P{WB=ExtendNumLet}", regex.V1)


def _cut_long(token: str, max_len: int) -> list[str]:
    """Lucene's pieces of one over-long token of the ALPHANUM rule without extenders (the simple
    paths' tokens: word characters, single mid characters between two letters or digits).

    Within such a token the longest match from a piece start is the buffer, less a mid character
    at its end, and no match if it holds ExtendNumLet only (skipped one code point at a time, until
    the buffer reaches a letter or digit); a mid character after a piece is skipped.
    """
    units = _Units(token)
    out: list[str] = []
    fold = _FOLD
    p, n = 0, len(token)
    while p < n:
        end = units.end(p, max_len)
        k = end - 1 if p < end < n and fold[ord(token[end - 1])] in _MIDS else end
        if k > p and (fold[ord(token[p])] != "_" or _NOT_ENL.search(token, p, k) is not None):
            out.append(token[p:k])
            p = k + (k < n and fold[ord(token[k])] in _MIDS)
            continue
        m = _NOT_ENL.search(token, p)
        if m is None:  # ExtendNumLet to the end: no more tokens
            break
        p = max(p + 1, units.start(m.start(), max_len))
    return out


def _cut_long_tokens(tokens: list[str], max_len: int) -> list[str]:
    """The simple paths' tokens with each over-long one cut as Lucene's buffer cuts it."""
    if not tokens or max(map(len, tokens)) * 2 <= max_len:
        return tokens
    out: list[str] = []
    for t in tokens:
        if len(t) * 2 > max_len and _utf16_len(t) > max_len:
            out += _cut_long(t, max_len)
        else:
            out.append(t)
    return out


# The full grammar, exactly: at each position the longest match of any rule within the buffer.
# The ALPHANUM rule runs as a DFA (lazily built from the NFA of _word_rule's grammar), which finds
# the longest match in one pass where the regex POSIX mode backtracks (cubic in the match length:
# 0.35 s per 255-character piece); the other rules keep their regexes (POSIX only for EMOJI, whose
# ZWJ sequences need it; greedy matches of SEA, HAN and HIRA are their longest).
_WP_HEB, _WP_AHL, _WP_NUM, _WP_ENL, _WP_MIDL, _WP_MIDN, _WP_SQ, _WP_DQ, _WP_KAT, _WP_EXT = (1 << i for i in range(10))
_WP_SOURCES = (
    (_WP_HEB, r"\p{WB=Hebrew_Letter}"),
    (_WP_AHL, _C_AHL),
    (_WP_NUM, _C_NUM),
    (_WP_ENL, _C_ENL),
    (_WP_MIDL, _C_MIDL),
    (_WP_MIDN, _C_MIDN),
    (_WP_SQ, r"\p{WB=Single_Quote}"),
    (_WP_DQ, r"\p{WB=Double_Quote}"),
    (_WP_KAT, r"\p{WB=Katakana}"),
    (_WP_EXT, _EXT[:-1]),  # the class of the WB4 extenders, without its "*"
)
_WP_CLASSES = [(bit, regex.compile(cls, regex.V1)) for bit, cls in _WP_SOURCES]


# Runs the DFA skips in one regex call (the bulk of a long token): letters and digits, Katakana,
# ExtendNumLet, each with extenders. A class holds only characters whose _WCLASS bits are those
# of its group or _WP_EXT (the word-break classes are disjoint; tested).
_WP_GROUPS = (
    ((_WP_AHL, _WP_AHL | _WP_HEB, _WP_NUM), rf"[\p{{WB=ALetter}}\p{{WB=Hebrew_Letter}}{_C_NUM}{_EXT[:-1]}]+"),
    ((_WP_KAT,), rf"[\p{{WB=Katakana}}{_EXT[:-1]}]+"),
    ((_WP_ENL,), rf"[{_C_ENL}{_EXT[:-1]}]+"),
)
_WP_GROUP_OF = {bits: g for g, (members, _) in enumerate(_WP_GROUPS) for bits in members}
_WP_GROUP_RUNS = [regex.compile(cls, regex.V1) for _, cls in _WP_GROUPS]
_WP_CORE = _WP_AHL | _WP_NUM | _WP_KAT  # what may follow a run of ExtendNumLet (Hebrew is AHLetter)


class _WordClasses(dict[str, int]):
    """A character -> the bits of the word-rule classes it is in; filled on demand."""

    def __missing__(self, ch: str) -> int:
        bits = sum(bit for bit, pat in _WP_CLASSES if pat.fullmatch(ch))
        self[ch] = bits
        return bits


_WCLASS = _WordClasses()


# A node of the ALPHANUM grammar tree: ("sym", bits) or (kind, *children).
_Node = tuple[Any, ...]


def _word_grammar() -> _Node:
    """_word_rule(full=True), less its extenders (skipped by the scan), as a tree of ("sym", bits),
    ("seq" | "alt", *nodes) and ("star" | "plus", node). Inside a letter or digit branch the
    ExtendNumLet run is "plus", not "star": the same strings, without a second parse of adjacent
    letters, so that the DFA goes to one state after a letter whatever came before (see sync)."""

    def x(bit: int) -> _Node:
        return ("sym", bit)

    enl = x(_WP_ENL)
    heb = ("seq", x(_WP_HEB), ("alt", x(_WP_SQ), ("seq", x(_WP_DQ), x(_WP_HEB))))
    num = ("seq", x(_WP_NUM), ("star", ("seq", ("alt", ("plus", enl), x(_WP_MIDN)), x(_WP_NUM))))
    ahl = ("seq", x(_WP_AHL), ("star", ("seq", ("alt", ("plus", enl), x(_WP_MIDL)), x(_WP_AHL))))
    kat = ("seq", x(_WP_KAT), ("star", ("seq", ("star", enl), x(_WP_KAT))))
    core = ("alt", kat, ("plus", ("alt", heb, num, ahl)))
    return ("seq", ("star", enl), core, ("star", ("seq", ("plus", enl), core)), ("star", enl))


class _WordDfa:
    """The ALPHANUM rule's DFA over _WCLASS bits, its states built on first use."""

    def __init__(self) -> None:
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[int, int]]] = []
        start, self.final = self._build(_word_grammar())
        self.sets: list[frozenset[int]] = []
        self.index: dict[frozenset[int], int] = {}
        self.trans: list[dict[int, int]] = []
        self.accept: list[bool] = []
        self.syncs: dict[int, dict[int, int] | None] = {}
        self.start = self._state(frozenset([start]))

    def _new(self) -> int:
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def _build(self, node: _Node) -> tuple[int, int]:
        """Thompson's construction: the (start, end) states of a fresh sub-automaton."""
        kind = node[0]
        if kind == "seq":
            parts = [self._build(c) for c in node[1:]]
            for (_, end), (start, _) in zip(parts, parts[1:]):
                self.eps[end].append(start)
            return parts[0][0], parts[-1][1]
        s, e = self._new(), self._new()
        if kind == "sym":
            self.edges[s].append((node[1], e))
        elif kind == "alt":
            for c in node[1:]:
                cs, ce = self._build(c)
                self.eps[s].append(cs)
                self.eps[ce].append(e)
        else:  # star, plus
            cs, ce = self._build(node[1])
            self.eps[s].append(cs)
            self.eps[ce] += [cs, e]
            if kind == "star":
                self.eps[s].append(e)
        return s, e

    def _state(self, states: frozenset[int]) -> int:
        stack, seen = list(states), set(states)
        while stack:
            for t in self.eps[stack.pop()]:
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        closed = frozenset(seen)
        if closed not in self.index:
            self.index[closed] = len(self.sets)
            self.sets.append(closed)
            self.trans.append({})
            self.accept.append(self.final in closed)
        return self.index[closed]

    def sync(self, state: int, group: int) -> dict[int, int] | None:
        """Where a run of the group's characters from ``state`` ends up, by the class of its last
        character, if that alone decides and every state on the way accepts; else None."""
        key = state * len(_WP_GROUPS) + group
        if key in self.syncs:
            return self.syncs[key]
        members = _WP_GROUPS[group][0]
        seen, stack, result = {state}, [state], None
        while stack:
            s = stack.pop()
            for bits in members:
                t = self.trans[s].get(bits)
                t = self.step(s, bits) if t is None else t
                if t < 0:
                    stack = []
                    seen = set()
                    break
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
        if seen and all(self.accept[s] for s in seen):
            ends = {bits: {self.trans[s][bits] for s in seen} for bits in members}
            if all(len(e) == 1 for e in ends.values()):
                result = {bits: e.pop() for bits, e in ends.items()}
        self.syncs[key] = result
        return result

    def step(self, state: int, bits: int) -> int:
        """The state after a character with these class bits; -1: no match goes on."""
        targets = frozenset(t for s in self.sets[state] for pred, t in self.edges[s] if pred & bits)
        nxt = self._state(targets) if targets else -1
        self.trans[state][bits] = nxt
        return nxt


_WDFA = _WordDfa()
_NOT_ENL_EXT = regex.compile(rf"[^{_C_ENL}{_EXT[:-1]}]", regex.V1)


def _word_match(text: str, pos: int, endpos: int, units: _Units, max_len: int) -> tuple[int, int]:
    """(end of the longest ALPHANUM match in text[pos:endpos], or pos; the first position from
    which one can start). Only a match that starts with ExtendNumLet can fail to reach a letter
    within the buffer: then positions whose buffers hold ExtendNumLet and extenders only are skipped."""
    dfa, cls, trans, accept = _WDFA, _WCLASS, _WDFA.trans, _WDFA.accept
    state, best, i = dfa.start, pos, pos
    while i < endpos:
        bits = cls[text[i]]
        if bits == _WP_EXT:  # WB4: an extender joins the character before it
            if i == pos:
                break
            i += 1
        else:
            nxt = trans[state].get(bits)
            if nxt is None:
                nxt = dfa.step(state, bits)
            if nxt < 0:
                break
            state = nxt
            i += 1
            group = _WP_GROUP_OF.get(bits)
            sync = None if group is None else dfa.sync(state, group)
            if sync is not None:
                run = _WP_GROUP_RUNS[group].match(text, i, endpos)  # type: ignore[index]
                if run is not None:
                    last = run.end() - 1
                    while cls[text[last]] == _WP_EXT:
                        last -= 1
                    if last >= i:
                        state = sync[cls[text[last]]]
                    i = run.end()
        if accept[state]:
            best = i
    if best > pos:
        return best, pos
    if i < endpos:  # stopped before a character no match from the run ahead can take
        return pos, i
    m = _NOT_ENL_EXT.search(text, endpos)
    if m is None:
        return pos, len(text)
    f = m.start()
    return pos, max(pos + 1, units.start(f, max_len)) if cls[text[f]] & _WP_CORE else f


_R_WORD, _R_EMOJI, _R_SEA, _R_HAN, _R_HIRA = 1, 2, 4, 8, 16
_RULE_STARTS = (
    (_R_WORD, rf"[{_C_ENL}{_C_AHL}{_C_NUM}\p{{WB=Katakana}}]"),
    (
        _R_EMOJI,
        rf"[\u200D\p{{Emoji_Modifier_Base}}\p{{Emoji_Modifier}}{_EMOJI_CHAR_SET}0-9#*\p{{WB=Regional_Indicator}}]",
    ),
    (_R_SEA, r"\p{Line_Break=Complex_Context}"),
    (_R_HAN, r"\p{Script=Han}"),
    (_R_HIRA, r"\p{Script=Hiragana}"),
)
_START = regex.compile("[" + "".join(c for _, c in _RULE_STARTS) + "]", regex.V1)  # a character a rule can start with
_START_NOT_WORD = regex.compile("[" + "".join(c for _, c in _RULE_STARTS[1:]) + "]", regex.V1)
_START_PATTERNS = [(bit, regex.compile(c, regex.V1)) for bit, c in _RULE_STARTS]
_OTHER_RULES = (
    (_R_EMOJI, regex.compile(_EMOJI, regex.V1 | regex.POSIX)),
    (_R_SEA, regex.compile(_SEA, regex.V1)),
    (_R_HAN, regex.compile(_HAN, regex.V1)),
    (_R_HIRA, regex.compile(_HIRA, regex.V1)),
)


class _RuleStarts(dict[str, int]):
    """A character -> the bits (_R_*) of the rules that can start with it; filled on demand."""

    def __missing__(self, ch: str) -> int:
        bits = sum(bit for bit, pat in _START_PATTERNS if pat.fullmatch(ch))
        self[ch] = bits
        return bits


_STARTS = _RuleStarts()


def _scan_full(text: str, max_len: int, pos: int, stop: int, units: _Units) -> tuple[list[str], int]:
    """The full grammar's tokens from ``pos`` (a position between tokens) on; it stops at the first
    token start at or after ``stop`` that does not follow a long piece. Returns (tokens, where it stopped)."""
    out: list[str] = []
    n = len(text)
    word_from = pos  # no ALPHANUM match starts before this
    carry = False  # the last token was long: a long run may go on
    while pos < n:
        m = _START_NOT_WORD.search(text, pos, word_from) if pos < word_from else _START.search(text, pos)
        if m is None:
            if pos < word_from:
                pos = word_from
                continue
            pos = n
            break
        s = m.start()
        if s >= stop and not carry:
            pos = s
            break
        endpos = units.end(s, max_len)
        bits = _STARTS[text[s]]
        best = s
        if bits & _R_WORD and s >= word_from:
            best, word_from = _word_match(text, s, endpos, units, max_len)
        for bit, pat in _OTHER_RULES:
            if bits & bit:
                om = pat.match(text, s, endpos)
                if om is not None and om.end() > best:
                    best = om.end()
        if best > s:
            out.append(text[s:best])
            carry = (best - s) * 2 > max_len
            pos = best
        else:
            pos = s + 1  # the [^] rule: skip one code point
    return out, pos


def _slow_tokens(text: str, max_len: int) -> list[str]:
    """Exact JFlex semantics: the longest match over all rules, within a ``max_len`` buffer."""
    return _scan_full(text, max_len, 0, len(text), _Units(text))[0]


_DIRECT_MAX = 250_000  # longer texts are matched in chunks: the regex runs out of memory on huge matches
_CHUNK = 1 << 16


def _full_tokens(text: str, max_len: int, chars: set[str]) -> list[str]:
    """The tokens of a text that needs the full grammar.

    Without _AMBIGUOUS characters the ordered alternation _FAST finds each rule's longest match,
    also on a prefix of the text, so a match that starts at least ``max_len`` characters before the
    end of a chunk and fits the buffer is the token; the scan of _scan_full takes over at a longer one.
    """
    if _is_ambiguous(text, chars):
        return _slow_tokens(text, max_len)
    n = len(text)
    if n <= _DIRECT_MAX:
        tokens: list[str] = _FAST.findall(text)
        if not tokens or max(map(len, tokens)) * 2 <= max_len or max(map(_utf16_len, tokens)) <= max_len:
            return tokens
    units = _Units(text)
    out: list[str] = []
    chunk = max(_CHUNK, 4 * max_len)
    pos = 0
    while pos < n:
        limit = min(n, pos + chunk)
        safe = limit if limit == n else limit - max_len
        last = pos
        for m in _FAST.finditer(text, pos, limit):
            s, e = m.span()
            if s >= safe:
                pos = s
                break
            if (e - s) * 2 > max_len and units.length(s, e) > max_len:
                tokens, pos = _scan_full(text, max_len, s, e, units)
                out += tokens
                break
            out.append(m.group())
            last = e
        else:
            pos = max(last, safe)
    return out


def tokenize(text: str, max_token_length: int = MAX_TOKEN_LENGTH) -> list[str]:
    """StandardTokenizer: the raw tokens of ``text`` (no case folding)."""
    if text.isascii():
        tokens = _ascii_tokens(text)
    elif max(map(_KIND.__getitem__, chars := _distinct(text))) < 2:  # _NEEDS_FULL.search, emoji aside
        folded = text.translate(_FOLD)
        spans = [m.span() for m in _FOLDED.finditer(folded)]
        if "_" in folded:
            spans = [(a, b) for a, b in spans if not _ENL_ONLY.fullmatch(folded, a, b)]
        tokens = [text[a:b] for a, b in spans]
    else:
        return _full_tokens(text, max_token_length, chars)
    return _cut_long_tokens(tokens, max_token_length)


# Fold characters -> the ASCII class bodies of _alnum_pattern their fold belongs to.
_FOLD_CLASSES = {"a": (0,), "0": (1,), "_": (2,), ".": (3, 4), ":": (3,), ";": (4,), "'": (3, 4)}


def tokenize_many(
    texts: Sequence[str], max_token_length: int = MAX_TOKEN_LENGTH, lower_ascii: bool = False
) -> list[list[str]]:
    """``[tokenize(t) for t in texts]``, faster; ``lower_ascii``: lowercase the ASCII texts first.

    Rather than folding each text that needs no full grammar (as ``tokenize`` does), the
    non-ASCII characters of all of them are put into the classes of one ``_alnum_pattern``
    (each into the classes of its fold), which then runs on the texts themselves: a
    character matches a class exactly when its fold does, so the spans are the same.
    """
    out: list[list[str]] = [[] for _ in texts]
    folded: list[int] = []
    chars: set[str] = set()
    for i, text in enumerate(texts):
        if text.isascii():
            out[i] = tokenize(text.lower() if lower_ascii else text, max_token_length)
            continue
        cs = _distinct(text)
        if max(map(_KIND.__getitem__, cs)) < 2:
            folded.append(i)
            chars |= cs
        else:
            out[i] = _full_tokens(text, max_token_length, cs)
    if not folded:
        return out
    bodies = [list(b) for b in _A_BODIES]
    emoji: list[str] = []
    for ch in sorted(c for c in chars if not c.isascii()):
        rep = _FOLD[ord(ch)]
        if rep == _EMOJI_MARK:
            emoji.append(ch)
        for k in _FOLD_CLASSES.get(rep, ()):
            bodies[k].append(ch)
    ahl, num, enl, midl, midn = ("".join(b) for b in bodies)
    pattern = _alnum_pattern(ahl, num, enl, midl, midn, "".join(emoji))
    enl_chars = frozenset(enl.replace("\\", ""))
    enl_only = re.compile(f"[{enl}]+")
    for i in folded:
        text = texts[i]
        tokens: list[str] = pattern.findall(text)
        if not enl_chars.isdisjoint(text):
            tokens = [t for t in tokens if not enl_only.fullmatch(t)]
        out[i] = _cut_long_tokens(tokens, max_token_length)
    return out

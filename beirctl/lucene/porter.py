"""The Porter stemmer as Lucene's ``PorterStemFilter`` applies it.

Lucene's ``PorterStemmer`` is a port of Martin Porter's ANSI C reference implementation
(release 3), which departs from the 1980 paper in two places that matter here: step 2 maps
``-bli`` to ``-ble`` (the paper: ``-abli`` to ``-able``) and adds ``-logi`` to ``-log``.
Snowball's ``porter`` (PyStemmer) follows the paper, so it stems e.g. ``possibly`` and
``biology`` differently; hence this implementation. Words of at most two characters are
left alone, and only a, e, i, o, u (and y after a consonant) count as vowels: every other
character, including non-ASCII letters, is a consonant.

The step numbering follows Lucene's (step1 = the paper's 1a+1b, step2 = 1c, ...).
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = frozenset("aeiou")


class _Word:
    """The word being stemmed: a char list ``b`` with end ``k`` and stem end ``j``."""

    __slots__ = ("b", "j", "k")

    def __init__(self, word: str) -> None:
        self.b = list(word)
        self.k = len(word) - 1
        self.j = 0

    def cons(self, i: int) -> bool:
        ch = self.b[i]
        if ch in _VOWELS:
            return False
        if ch == "y":
            return True if i == 0 else not self.cons(i - 1)
        return True

    def m(self) -> int:
        """Number of consonant-vowel sequences (VC) in b[0..j]."""
        n = 0
        i = 0
        j = self.j
        while True:
            if i > j:
                return n
            if not self.cons(i):
                break
            i += 1
        i += 1
        while True:
            while True:
                if i > j:
                    return n
                if self.cons(i):
                    break
                i += 1
            i += 1
            n += 1
            while True:
                if i > j:
                    return n
                if not self.cons(i):
                    break
                i += 1
            i += 1

    def vowel_in_stem(self) -> bool:
        return any(not self.cons(i) for i in range(self.j + 1))

    def doublec(self, j: int) -> bool:
        return j >= 1 and self.b[j] == self.b[j - 1] and self.cons(j)

    def cvc(self, i: int) -> bool:
        if i < 2 or not self.cons(i) or self.cons(i - 1) or not self.cons(i - 2):
            return False
        return self.b[i] not in ("w", "x", "y")

    def ends(self, s: str) -> bool:
        n = len(s)
        o = self.k - n + 1
        if o < 0 or self.b[self.k] != s[-1] or "".join(self.b[o : self.k + 1]) != s:
            return False
        self.j = self.k - n
        return True

    def setto(self, s: str) -> None:
        o = self.j + 1
        self.b[o : o + len(s)] = list(s)
        self.k = self.j + len(s)

    def r(self, s: str) -> None:
        if self.m() > 0:
            self.setto(s)


# Step tables keyed by the penultimate (step 3, step 5) or last (step 4) character, tried in
# order; the first suffix that matches decides (as the C switch statements do).
_STEP3: dict[str, tuple[tuple[str, str], ...]] = {
    "a": (("ational", "ate"), ("tional", "tion")),
    "c": (("enci", "ence"), ("anci", "ance")),
    "e": (("izer", "ize"),),
    "l": (("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous")),
    "o": (("ization", "ize"), ("ation", "ate"), ("ator", "ate")),
    "s": (("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous")),
    "t": (("aliti", "al"), ("iviti", "ive"), ("biliti", "ble")),
    "g": (("logi", "log"),),
}
_STEP4: dict[str, tuple[tuple[str, str], ...]] = {
    "e": (("icate", "ic"), ("ative", ""), ("alize", "al")),
    "i": (("iciti", "ic"),),
    "l": (("ical", "ic"), ("ful", "")),
    "s": (("ness", ""),),
}
_STEP5: dict[str, tuple[str, ...]] = {
    "a": ("al",),
    "c": ("ance", "ence"),
    "e": ("er",),
    "i": ("ic",),
    "l": ("able", "ible"),
    "n": ("ant", "ement", "ment", "ent"),
    "s": ("ism",),
    "t": ("ate", "iti"),
    "u": ("ous",),
    "v": ("ive",),
    "z": ("ize",),
}


def _step1(w: _Word) -> None:
    b = w.b
    if b[w.k] == "s":
        if w.ends("sses"):
            w.k -= 2
        elif w.ends("ies"):
            w.setto("i")
        elif b[w.k - 1] != "s":
            w.k -= 1
    if w.ends("eed"):
        if w.m() > 0:
            w.k -= 1
    elif (w.ends("ed") or w.ends("ing")) and w.vowel_in_stem():
        w.k = w.j
        if w.ends("at"):
            w.setto("ate")
        elif w.ends("bl"):
            w.setto("ble")
        elif w.ends("iz"):
            w.setto("ize")
        elif w.doublec(w.k):
            ch = b[w.k]
            w.k -= 1
            if ch in ("l", "s", "z"):
                w.k += 1
        elif w.m() == 1 and w.cvc(w.k):
            w.setto("e")


def _step2(w: _Word) -> None:
    if w.ends("y") and w.vowel_in_stem():
        w.b[w.k] = "i"


def _replace_step(w: _Word, table: dict[str, tuple[tuple[str, str], ...]], key: str) -> None:
    for suffix, repl in table.get(key, ()):
        if w.ends(suffix):
            w.r(repl)
            return


def _step5(w: _Word) -> None:
    if w.k == 0:
        return
    key = w.b[w.k - 1]
    if key == "o":
        # -ion only after s or t; otherwise try -ou.
        if not ((w.ends("ion") and w.j >= 0 and w.b[w.j] in ("s", "t")) or w.ends("ou")):
            return
    elif not any(w.ends(s) for s in _STEP5.get(key, ())):
        return
    if w.m() > 1:
        w.k = w.j


def _step6(w: _Word) -> None:
    w.j = w.k
    if w.b[w.k] == "e":
        a = w.m()
        if a > 1 or (a == 1 and not w.cvc(w.k - 1)):
            w.k -= 1
    if w.b[w.k] == "l" and w.doublec(w.k) and w.m() > 1:
        w.k -= 1


# Every suffix that step1 to step6 test or remove ends in one of these letters; a word ending in
# any other character (a digit, "a", "o", ...) passes every step unchanged.
_STEM_LAST = frozenset("sdgyeilnrmctu")


@lru_cache(maxsize=1 << 20)
def porter_stem(word: str) -> str:
    """Stem ``word`` (lowercase) exactly as Lucene's ``PorterStemmer.stem`` does."""
    if len(word) <= 2 or word[-1] not in _STEM_LAST:
        return word
    w = _Word(word)
    _step1(w)
    _step2(w)
    if w.k != 0:
        _replace_step(w, _STEP3, w.b[w.k - 1])
    _replace_step(w, _STEP4, w.b[w.k])
    _step5(w)
    _step6(w)
    return "".join(w.b[: w.k + 1])

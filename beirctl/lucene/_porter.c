/*
 * beirctl.lucene._scan, Porter part: Lucene's PorterStemmer, and the token -> term id step of
 * beirctl.lucene.analyzer.EnglishAnalyzer (possessive filter, ASCII lowercasing, stop set,
 * stemmer) for ASCII tokens. The scanner and the module definition are in _scan.c.
 */
#include "_scan.h"
#include <stdint.h>
#include <string.h>

/* --- Porter stemmer: Lucene's PorterStemmer (Martin Porter's ANSI C reference, release 3) ---
 * The same algorithm as beirctl/lucene/porter.py, whose docstring says where it departs from
 * the 1980 paper; only a, e, i, o, u (and y after a consonant) are vowels, every other code
 * point a consonant. Why C: stemming each distinct token in Python took as long as all the
 * rest of indexing. */

typedef struct {
    Py_UCS4 *b;
    Py_ssize_t k, j;
} Stem;

static int cons(const Stem *z, Py_ssize_t i) {
    for (;;) {
        switch (z->b[i]) {
        case 'a': case 'e': case 'i': case 'o': case 'u':
            return 0;
        case 'y':
            if (i == 0)
                return 1;
            /* y is a consonant unless it follows a consonant: cons(i) = !cons(i - 1) */
            return !cons(z, i - 1);
        default:
            return 1;
        }
    }
}

/* The first index from i to j whose cons() is want, or j + 1. */
static Py_ssize_t skip_to(const Stem *z, Py_ssize_t i, int want) {
    while (i <= z->j && cons(z, i) != want)
        i++;
    return i;
}

/* The number of VC sequences in b[0..j]. */
static int measure(const Stem *z) {
    int n = 0;
    Py_ssize_t i = skip_to(z, 0, 0) + 1; /* past the leading consonants and the first vowel */
    for (;;) {
        i = skip_to(z, i, 1);
        if (i > z->j)
            return n;
        n++; /* a vowel run ended by a consonant */
        i = skip_to(z, i + 1, 0);
        if (i > z->j)
            return n;
        i++;
    }
}

static int vowel_in_stem(const Stem *z) {
    for (Py_ssize_t i = 0; i <= z->j; i++)
        if (!cons(z, i))
            return 1;
    return 0;
}

static int doublec(const Stem *z, Py_ssize_t j) {
    return j >= 1 && z->b[j] == z->b[j - 1] && cons(z, j);
}

static int cvc(const Stem *z, Py_ssize_t i) {
    if (i < 2 || !cons(z, i) || cons(z, i - 1) || !cons(z, i - 2))
        return 0;
    Py_UCS4 ch = z->b[i];
    return !(ch == 'w' || ch == 'x' || ch == 'y');
}

static int ends(Stem *z, const char *s) {
    Py_ssize_t n = (Py_ssize_t)strlen(s), o = z->k - n + 1;
    if (o < 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (z->b[o + i] != (Py_UCS4)(unsigned char)s[i])
            return 0;
    z->j = z->k - n;
    return 1;
}

static void setto(Stem *z, const char *s) {
    Py_ssize_t n = (Py_ssize_t)strlen(s);
    for (Py_ssize_t i = 0; i < n; i++)
        z->b[z->j + 1 + i] = (Py_UCS4)(unsigned char)s[i];
    z->k = z->j + n;
}

static void r(Stem *z, const char *s) {
    if (measure(z) > 0)
        setto(z, s);
}

static void step1(Stem *z) {
    if (z->b[z->k] == 's') {
        if (ends(z, "sses"))
            z->k -= 2;
        else if (ends(z, "ies"))
            setto(z, "i");
        else if (z->b[z->k - 1] != 's')
            z->k--;
    }
    if (ends(z, "eed")) {
        if (measure(z) > 0)
            z->k--;
    } else if ((ends(z, "ed") || ends(z, "ing")) && vowel_in_stem(z)) {
        z->k = z->j;
        if (ends(z, "at"))
            setto(z, "ate");
        else if (ends(z, "bl"))
            setto(z, "ble");
        else if (ends(z, "iz"))
            setto(z, "ize");
        else if (doublec(z, z->k)) {
            Py_UCS4 ch = z->b[z->k];
            z->k--;
            if (ch == 'l' || ch == 's' || ch == 'z')
                z->k++;
        } else if (measure(z) == 1 && cvc(z, z->k))
            setto(z, "e");
    }
}

static void step2(Stem *z) {
    if (ends(z, "y") && vowel_in_stem(z))
        z->b[z->k] = 'i';
}

/* Try the (suffix, replacement) pairs in order (NULL-terminated); the first suffix that
   matches decides, whether or not the replacement happens. */
static void replace_first(Stem *z, const char *const *pairs) {
    for (; pairs[0]; pairs += 2)
        if (ends(z, pairs[0])) {
            r(z, pairs[1]);
            return;
        }
}

static void step3(Stem *z) {
    static const char *const a[] = {"ational", "ate", "tional", "tion", NULL};
    static const char *const c[] = {"enci", "ence", "anci", "ance", NULL};
    static const char *const e[] = {"izer", "ize", NULL};
    static const char *const l[] = {"bli", "ble", "alli", "al", "entli", "ent", "eli", "e", "ousli", "ous", NULL};
    static const char *const o[] = {"ization", "ize", "ation", "ate", "ator", "ate", NULL};
    static const char *const s[] = {"alism", "al", "iveness", "ive", "fulness", "ful", "ousness", "ous", NULL};
    static const char *const t[] = {"aliti", "al", "iviti", "ive", "biliti", "ble", NULL};
    static const char *const g[] = {"logi", "log", NULL};
    if (z->k == 0)
        return;
    switch (z->b[z->k - 1]) {
    case 'a': replace_first(z, a); break;
    case 'c': replace_first(z, c); break;
    case 'e': replace_first(z, e); break;
    case 'l': replace_first(z, l); break;
    case 'o': replace_first(z, o); break;
    case 's': replace_first(z, s); break;
    case 't': replace_first(z, t); break;
    case 'g': replace_first(z, g); break;
    }
}

static void step4(Stem *z) {
    static const char *const e[] = {"icate", "ic", "ative", "", "alize", "al", NULL};
    static const char *const i[] = {"iciti", "ic", NULL};
    static const char *const l[] = {"ical", "ic", "ful", "", NULL};
    static const char *const s[] = {"ness", "", NULL};
    switch (z->b[z->k]) {
    case 'e': replace_first(z, e); break;
    case 'i': replace_first(z, i); break;
    case 'l': replace_first(z, l); break;
    case 's': replace_first(z, s); break;
    }
}

static int ends_any(Stem *z, const char *const *suffixes) {
    for (; *suffixes; suffixes++)
        if (ends(z, *suffixes))
            return 1;
    return 0;
}

static void step5(Stem *z) {
    static const char *const a[] = {"al", NULL}, *const c[] = {"ance", "ence", NULL}, *const e[] = {"er", NULL};
    static const char *const i[] = {"ic", NULL}, *const l[] = {"able", "ible", NULL};
    static const char *const n[] = {"ant", "ement", "ment", "ent", NULL}, *const s[] = {"ism", NULL};
    static const char *const t[] = {"ate", "iti", NULL}, *const u[] = {"ous", NULL}, *const v[] = {"ive", NULL};
    static const char *const zz[] = {"ize", NULL};
    const char *const *suffixes;
    if (z->k == 0)
        return;
    switch (z->b[z->k - 1]) {
    case 'a': suffixes = a; break;
    case 'c': suffixes = c; break;
    case 'e': suffixes = e; break;
    case 'i': suffixes = i; break;
    case 'l': suffixes = l; break;
    case 'n': suffixes = n; break;
    case 's': suffixes = s; break;
    case 't': suffixes = t; break;
    case 'u': suffixes = u; break;
    case 'v': suffixes = v; break;
    case 'z': suffixes = zz; break;
    case 'o':
        /* -ion only after s or t; otherwise -ou */
        if (ends(z, "ion") && z->j >= 0 && (z->b[z->j] == 's' || z->b[z->j] == 't'))
            goto remove;
        if (ends(z, "ou"))
            goto remove;
        return;
    default:
        return;
    }
    if (!ends_any(z, suffixes))
        return;
remove:
    if (measure(z) > 1)
        z->k = z->j;
}

static void step6(Stem *z) {
    z->j = z->k;
    if (z->b[z->k] == 'e') {
        int a = measure(z);
        if (a > 1 || (a == 1 && !cvc(z, z->k - 1)))
            z->k--;
    }
    if (z->b[z->k] == 'l' && doublec(z, z->k) && measure(z) > 1)
        z->k--;
}

PyDoc_STRVAR(porter_doc, "porter(word) -> str\n\nStem a lowercase word as Lucene's PorterStemmer does.");

/* Stem b[0..n) in place (b has room for n + 4 code points); the stem's length. */
static Py_ssize_t stem_buf(Py_UCS4 *b, Py_ssize_t n) {
    if (n <= 2)
        return n;
    Stem z = {b, n - 1, 0};
    step1(&z);
    step2(&z);
    step3(&z);
    step4(&z);
    step5(&z);
    step6(&z);
    return z.k + 1;
}

static PyObject *porter(PyObject *self, PyObject *word) {
    if (!PyUnicode_Check(word)) {
        PyErr_SetString(PyExc_TypeError, "porter() takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(word);
    if (n <= 2) {
        Py_INCREF(word);
        return word;
    }
    Py_UCS4 small[64];
    /* setto may write one character past the word's end (e.g. "-ated" -> "-ate" after "-ed"). */
    Py_UCS4 *b = n + 4 <= 64 ? small : PyMem_Malloc((size_t)(n + 4) * sizeof(Py_UCS4));
    if (!b)
        return PyErr_NoMemory();
    PyObject *out = NULL;
    if (PyUnicode_AsUCS4(word, b, n + 4, 0))
        out = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b, stem_buf(b, n));
    if (b != small)
        PyMem_Free(b);
    return out;
}

/* The id of term in term_ids, added as len(term_ids) if new (dict.setdefault); -1 on error. */
static int64_t term_id(PyObject *term_ids, PyObject *term) {
    PyObject *id = PyDict_GetItemWithError(term_ids, term);
    if (id)
        return (int64_t)PyLong_AsLongLong(id);
    if (PyErr_Occurred())
        return -1;
    PyObject *next = PyLong_FromSsize_t(PyDict_GET_SIZE(term_ids));
    if (!next || PyDict_SetItem(term_ids, term, next) < 0) {
        Py_XDECREF(next);
        return -1;
    }
    Py_DECREF(next);
    return (int64_t)PyDict_GET_SIZE(term_ids) - 1;
}

PyDoc_STRVAR(term_ids_doc,
             "term_ids(tokens, stop_words, term_ids, fallback) -> bytes\n\n"
             "The term id (int64; -1 for a stop word) of each token, as EnglishAnalyzer._term_id gives it:\n"
             "an ASCII token goes through the possessive filter, ASCII lowercasing, the stop set and the\n"
             "Porter stemmer here; any other token's term is fallback(token) (\"\" for a stop word).\n"
             "New terms are added to the dict term_ids with the next id.");

static PyObject *term_ids(PyObject *self, PyObject *args) {
    PyObject *tokens, *stop, *ids_dict, *fallback;
    if (!PyArg_ParseTuple(args, "OOO!O:term_ids", &tokens, &stop, &PyDict_Type, &ids_dict, &fallback))
        return NULL;
    PyObject *seq = PySequence_Fast(tokens, "tokens must be a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * 8);
    Py_UCS4 *b = NULL;
    Py_ssize_t cap = 0;
    if (!out)
        goto fail;
    int64_t *ids = (int64_t *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *tok = PySequence_Fast_GET_ITEM(seq, i), *term;
        if (!PyUnicode_Check(tok)) {
            PyErr_Format(PyExc_TypeError, "token %zd is not a str", i);
            goto fail;
        }
        if (PyUnicode_IS_ASCII(tok)) {
            const char *data = (const char *)PyUnicode_DATA(tok);
            Py_ssize_t len = PyUnicode_GET_LENGTH(tok);
            /* EnglishPossessiveFilter (the non-ASCII apostrophes make a token non-ASCII) */
            if (len >= 2 && (data[len - 1] == 's' || data[len - 1] == 'S') && data[len - 2] == '\'')
                len -= 2;
            if (len + 4 > cap) {
                cap = 2 * (len + 4);
                PyMem_Free(b);
                b = PyMem_Malloc((size_t)cap * sizeof(Py_UCS4));
                if (!b) {
                    PyErr_NoMemory();
                    goto fail;
                }
            }
            for (Py_ssize_t j = 0; j < len; j++) {
                Py_UCS4 c = (unsigned char)data[j];
                b[j] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            }
            PyObject *lowered = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b, len);
            if (!lowered)
                goto fail;
            int is_stop = PySet_Contains(stop, lowered);
            Py_DECREF(lowered);
            if (is_stop < 0)
                goto fail;
            if (is_stop) {
                ids[i] = -1;
                continue;
            }
            term = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b, stem_buf(b, len));
        } else {
            term = PyObject_CallOneArg(fallback, tok);
            if (term && !PyUnicode_Check(term)) {
                PyErr_SetString(PyExc_TypeError, "fallback must return a str");
                Py_CLEAR(term);
            }
        }
        if (!term)
            goto fail;
        if (PyUnicode_GET_LENGTH(term) == 0) {
            ids[i] = -1;
        } else {
            ids[i] = term_id(ids_dict, term);
            if (ids[i] < 0 && PyErr_Occurred()) {
                Py_DECREF(term);
                goto fail;
            }
        }
        Py_DECREF(term);
    }
    PyMem_Free(b);
    Py_DECREF(seq);
    return out;
fail:
    PyMem_Free(b);
    Py_XDECREF(out);
    Py_DECREF(seq);
    return NULL;
}

PyMethodDef beirctl_porter_methods[] = {
    {"porter", porter, METH_O, porter_doc},
    {"term_ids", term_ids, METH_VARARGS, term_ids_doc},
    {NULL, NULL, 0, NULL},
};

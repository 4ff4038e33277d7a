/*
 * beirctl.lucene._scan: the StandardTokenizer fast path of beirctl.lucene.tokenizer, compiled.
 * One extension from three sources: this file (the scanner: scan, unknown; and the module),
 * _porter.c (the Porter stemmer: porter, term_ids) and _postings.c (postings); _scan.h is what
 * they share. The Python
 * glue is beirctl.lucene.native.
 *
 * Why C: on a BEIR corpus, Python spent most of lucene-exact's indexing time in re.findall,
 * building token lists and hashing every token occurrence into dictionaries. This module does
 * the same work in one pass per text: it splits a text into tokens by the rule of
 * tokenizer._alnum_pattern (a run of word characters, extended over a single MidLetter between
 * two letters or a single MidNum between two digits; a run of ExtendNumLet alone is no token;
 * a "simple emoji" is a one-character token), lowercases ASCII letters, and gives each distinct
 * token an id with its own hash table; a token longer than the maximum length is cut as Lucene's
 * buffer cuts it (cut_long). Texts the rule does not cover (a character that needs the full
 * grammar) go to a Python callback, the pure-Python tokenizer, so the token stream is exactly the
 * one tokenizer.tokenize_many gives.
 *
 * Character classes come from a 0x110000-byte table the caller fills (native._CLASS_TABLE).
 */
#include "_scan.h"
#include <stdint.h>
#include <string.h>

enum {
    C_AHL = 1,   /* ALetter, Hebrew_Letter */
    C_NUM = 2,   /* Numeric */
    C_ENL = 4,   /* ExtendNumLet */
    C_MIDL = 8,  /* MidLetter, MidNumLet, Single_Quote */
    C_MIDN = 16, /* MidNum, MidNumLet, Single_Quote */
    C_EMOJI = 32,
    C_FULL = 64,
    C_UNKNOWN = 255,
};
#define C_WORD (C_AHL | C_NUM | C_ENL)
#define TABLE_SIZE 0x110000

/* A slot of the open-addressing table: the token's hash (high 32 bits), id + 1 (0: empty),
 * length, start in chars and, for a token of at most 16 code points below 256 (most tokens), its
 * code points as bytes (zero-padded; 'short'), so that a probe compares a token within its slot
 * instead of reading the per-id arrays and chars: on a vocabulary of 100k+ tokens each of those
 * is a cache miss, and they were half the scan's time. */
typedef struct {
    uint32_t hash, id1, len, off; /* len: the length, SHORT_BIT set for a short token */
    uint64_t key[2];
} Slot;
#define SHORT_BIT 0x80000000u

typedef struct {
    uint32_t *chars; /* all distinct tokens, lowercased, back to back */
    Py_ssize_t chars_len, chars_cap;
    Py_ssize_t *off; /* per token id: start in chars, length */
    Py_ssize_t *len;
    uint64_t *hash;
    Py_ssize_t n, cap;
    Slot *slots;
    Py_ssize_t nslots;
} Vocab;

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = PyMem_Realloc(b->data, (size_t)cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static void vocab_free(Vocab *v) {
    PyMem_Free(v->chars);
    PyMem_Free(v->off);
    PyMem_Free(v->len);
    PyMem_Free(v->hash);
    PyMem_Free(v->slots);
    memset(v, 0, sizeof(*v));
}

static int vocab_init(Vocab *v) {
    memset(v, 0, sizeof(*v));
    v->nslots = 1 << 16;
    v->slots = PyMem_Calloc((size_t)v->nslots, sizeof(Slot));
    if (!v->slots) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The token's code points as zero-padded bytes in key if it is short (at most 16 code points, each
 * below 256); 1 if so, else 0 (key zeroed). */
static inline int short_key(const uint32_t *chars, Py_ssize_t n, uint64_t key[2]) {
    uint8_t b[16] = {0};
    int ok = n <= 16;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        ok = chars[i] < 256;
        b[i] = (uint8_t)chars[i];
    }
    if (!ok)
        memset(b, 0, sizeof b);
    memcpy(key, b, sizeof b);
    return ok;
}

static int vocab_grow(Vocab *v) {
    Py_ssize_t nslots = v->nslots * 2;
    Slot *slots = PyMem_Calloc((size_t)nslots, sizeof(Slot));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t id = 0; id < v->n; id++) {
        Py_ssize_t s = (Py_ssize_t)(v->hash[id] & (uint64_t)(nslots - 1));
        while (slots[s].id1)
            s = (s + 1) & (nslots - 1);
        uint64_t key[2];
        uint32_t len = (uint32_t)v->len[id] | (short_key(v->chars + v->off[id], v->len[id], key) ? SHORT_BIT : 0);
        slots[s] = (Slot){(uint32_t)(v->hash[id] >> 32), (uint32_t)(id + 1), len, (uint32_t)v->off[id], {key[0], key[1]}};
    }
    PyMem_Free(v->slots);
    v->slots = slots;
    v->nslots = nslots;
    return 0;
}

/* The id of the token chars[0..n) (already lowercased), adding it if new; -1 on error. */
static Py_ssize_t vocab_add(Vocab *v, const uint32_t *chars, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over code points */
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= chars[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 29;
    uint32_t top = (uint32_t)(h >> 32);
    uint64_t key[2];
    int is_short = short_key(chars, n, key);
    uint32_t len = (uint32_t)n | (is_short ? SHORT_BIT : 0);
    Py_ssize_t mask = v->nslots - 1;
    Py_ssize_t s = (Py_ssize_t)(h & (uint64_t)mask);
    for (;;) {
        const Slot *e = &v->slots[s];
        if (!e->id1)
            break;
        if (e->hash == top && e->len == len) {
            if (is_short) { /* same length, both short: equal keys are equal tokens */
                if (e->key[0] == key[0] && e->key[1] == key[1])
                    return (Py_ssize_t)e->id1 - 1;
            } else {
                const uint32_t *t = v->chars + e->off;
                Py_ssize_t i = 0;
                while (i < n && t[i] == chars[i])
                    i++;
                if (i == n)
                    return (Py_ssize_t)e->id1 - 1;
            }
        }
        s = (s + 1) & mask;
    }
    if (v->n >= INT32_MAX - 1 || n >= (Py_ssize_t)SHORT_BIT || v->chars_len + n > (Py_ssize_t)UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many distinct tokens");
        return -1;
    }
    if (v->n == v->cap) {
        Py_ssize_t cap = v->cap ? v->cap * 2 : 1 << 14;
        Py_ssize_t *off = PyMem_Realloc(v->off, (size_t)cap * sizeof(Py_ssize_t));
        if (off)
            v->off = off;
        Py_ssize_t *len = PyMem_Realloc(v->len, (size_t)cap * sizeof(Py_ssize_t));
        if (len)
            v->len = len;
        uint64_t *hash = PyMem_Realloc(v->hash, (size_t)cap * sizeof(uint64_t));
        if (hash)
            v->hash = hash;
        if (!off || !len || !hash) {
            PyErr_NoMemory();
            return -1;
        }
        v->cap = cap;
    }
    if (v->chars_len + n > v->chars_cap) {
        Py_ssize_t cap = v->chars_cap ? v->chars_cap : 1 << 16;
        while (cap < v->chars_len + n)
            cap *= 2;
        uint32_t *p = PyMem_Realloc(v->chars, (size_t)cap * 4);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        v->chars = p;
        v->chars_cap = cap;
    }
    Py_ssize_t id = v->n++;
    memcpy(v->chars + v->chars_len, chars, (size_t)n * 4);
    v->off[id] = v->chars_len;
    v->len[id] = n;
    v->hash[id] = h;
    v->slots[s] = (Slot){top, (uint32_t)(id + 1), len, (uint32_t)v->chars_len, {key[0], key[1]}};
    v->chars_len += n;
    if (v->n * 2 > v->nslots && vocab_grow(v) < 0)
        return -1;
    return id;
}

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* Add the token text[a..b), ASCII letters lowercased, and append its id to ids. */
INLINE int emit(Vocab *v, Buf *ids, Buf *tmp, int kind, const void *data, Py_ssize_t a, Py_ssize_t b) {
    Py_ssize_t n = b - a;
    if (buf_reserve(tmp, n * 4) < 0 || buf_reserve(ids, 4) < 0)
        return -1;
    uint32_t *t = (uint32_t *)tmp->data;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, a + i);
        t[i] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
    }
    Py_ssize_t id = vocab_add(v, t, n);
    if (id < 0)
        return -1;
    int32_t id32 = (int32_t)id;
    memcpy(ids->data + ids->len, &id32, 4);
    ids->len += 4;
    return 0;
}

INLINE int add_span(Buf *spans, Py_ssize_t a, Py_ssize_t b) {
    if (buf_reserve(spans, 2 * (Py_ssize_t)sizeof(Py_ssize_t)) < 0)
        return -1;
    Py_ssize_t *sp = (Py_ssize_t *)(spans->data + spans->len);
    sp[0] = a;
    sp[1] = b;
    spans->len += 2 * (Py_ssize_t)sizeof(Py_ssize_t);
    return 0;
}

#define UNITS(c) ((c) > 0xFFFF ? 2 : 1)

/* Lucene's pieces of the over-long token [p, q) (tokenizer._cut_long): StandardTokenizer's buffer
   holds max_len UTF-16 code units and never grows, so a token is the longest match within the
   buffer and scanning resumes where it ends. Within a token of this rule that is the buffer, less
   a mid character at its end; none if the buffer holds ExtendNumLet only (skipped up to the first
   start whose buffer reaches a letter or digit); a mid character after a piece is skipped. Linear
   in q - p. The number of spans added goes to *k. */
INLINE int cut_long(const uint8_t *table, int kind, const void *data, Py_ssize_t p, Py_ssize_t q, Py_ssize_t max_len,
                    Buf *spans, Py_ssize_t *k) {
    while (p < q) {
        Py_ssize_t end = p, units = 0;
        while (end < q) {
            int w = UNITS(PyUnicode_READ(kind, data, end));
            if (units + w > max_len)
                break;
            units += w;
            end++;
        }
        Py_ssize_t cut = (end > p && end < q && !(table[PyUnicode_READ(kind, data, end - 1)] & C_WORD)) ? end - 1 : end;
        int letters = 0;
        for (Py_ssize_t i = p; i < cut && !letters; i++)
            letters = table[PyUnicode_READ(kind, data, i)] != C_ENL;
        if (letters) {
            if (add_span(spans, p, cut) < 0)
                return -1;
            (*k)++;
            p = cut;
            if (p < q && !(table[PyUnicode_READ(kind, data, p)] & C_WORD))
                p++;
            continue;
        }
        Py_ssize_t f = p; /* the buffer holds ExtendNumLet only: find the next letter or digit */
        while (f < q && table[PyUnicode_READ(kind, data, f)] == C_ENL)
            f++;
        if (f >= q)
            break;
        Py_ssize_t s = f + 1; /* the first start whose buffer reaches f */
        units = 0;
        while (s > p) {
            int w = UNITS(PyUnicode_READ(kind, data, s - 1));
            if (units + w > max_len)
                break;
            units += w;
            s--;
        }
        p = s > p + 1 ? s : p + 1;
    }
    return 0;
}

/* Tokenize one text into spans (pairs of Py_ssize_t in spans); 1 if it needs the fallback. */
INLINE int split(const uint8_t *table, int kind, const void *data, Py_ssize_t n, Py_ssize_t max_len, Buf *spans,
                 Py_ssize_t *nspans) {
    Py_ssize_t p = 0, k = 0;
    spans->len = 0;
    while (p < n) {
        uint8_t c = table[PyUnicode_READ(kind, data, p)];
        if (c == C_UNKNOWN) {
            PyErr_SetString(PyExc_ValueError, "a character without a class in the table");
            return -1;
        }
        if (c & C_FULL)
            return 1;
        Py_ssize_t q;
        if (c & C_WORD) {
            int enl_only = 1;
            q = p;
            uint8_t prev = 0;
            for (;;) {
                uint8_t d;
                while (q < n && ((d = table[PyUnicode_READ(kind, data, q)]) & C_WORD)) {
                    if (d == C_UNKNOWN) {
                        PyErr_SetString(PyExc_ValueError, "a character without a class in the table");
                        return -1;
                    }
                    if (d != C_ENL)
                        enl_only = 0;
                    prev = d;
                    q++;
                }
                if (q + 1 >= n)
                    break;
                uint8_t m = table[PyUnicode_READ(kind, data, q)];
                uint8_t next = table[PyUnicode_READ(kind, data, q + 1)];
                if (m == C_UNKNOWN || next == C_UNKNOWN) {
                    PyErr_SetString(PyExc_ValueError, "a character without a class in the table");
                    return -1;
                }
                if ((m | next) & C_FULL)
                    return 1;
                int joins = ((m & C_MIDL) && (prev & C_AHL) && (next & C_AHL)) ||
                            ((m & C_MIDN) && (prev & C_NUM) && (next & C_NUM));
                if (!joins)
                    break;
                q++; /* the mid character; a word character follows */
            }
            if (enl_only) {
                p = q;
                continue;
            }
        } else if (c & C_EMOJI) {
            q = p + 1;
        } else {
            p++;
            continue;
        }
        /* StandardTokenizer's buffer holds max_len UTF-16 code units: a longer token is cut. */
        if (q - p > max_len / 2) {
            Py_ssize_t units = q - p;
            for (Py_ssize_t i = p; i < q; i++)
                units += PyUnicode_READ(kind, data, i) > 0xFFFF;
            if (units > max_len) {
                if (cut_long(table, kind, data, p, q, max_len, spans, &k) < 0)
                    return -1;
                p = q;
                continue;
            }
        }
        if (add_span(spans, p, q) < 0)
            return -1;
        k++;
        p = q;
    }
    *nspans = k;
    return 0;
}

/* split and emit with the string kind a compile-time constant (PyUnicode_READ then needs no
   switch per character): about twice as fast. */
static int split_any(const uint8_t *table, int kind, const void *data, Py_ssize_t n, Py_ssize_t max_len, Buf *spans,
                     Py_ssize_t *nspans) {
    switch (kind) {
    case PyUnicode_1BYTE_KIND:
        return split(table, PyUnicode_1BYTE_KIND, data, n, max_len, spans, nspans);
    case PyUnicode_2BYTE_KIND:
        return split(table, PyUnicode_2BYTE_KIND, data, n, max_len, spans, nspans);
    default:
        return split(table, PyUnicode_4BYTE_KIND, data, n, max_len, spans, nspans);
    }
}

static int emit_spans(Vocab *v, Buf *ids, Buf *tmp, int kind, const void *data, const Py_ssize_t *sp, Py_ssize_t k) {
#define EMIT_ALL(KIND)                                                                                                 \
    for (Py_ssize_t j = 0; j < k; j++)                                                                                \
        if (emit(v, ids, tmp, KIND, data, sp[2 * j], sp[2 * j + 1]) < 0)                                              \
            return -1;                                                                                                 \
    return 0;
    switch (kind) {
    case PyUnicode_1BYTE_KIND:
        EMIT_ALL(PyUnicode_1BYTE_KIND)
    case PyUnicode_2BYTE_KIND:
        EMIT_ALL(PyUnicode_2BYTE_KIND)
    default:
        EMIT_ALL(PyUnicode_4BYTE_KIND)
    }
#undef EMIT_ALL
}

/* A read-only view of the class table; -1 (with an exception) unless it has TABLE_SIZE bytes. */
static int get_table(PyObject *obj, Py_buffer *view) {
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len != TABLE_SIZE) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "the class table must have 0x110000 entries");
        return -1;
    }
    return 0;
}

/* texts as a fast sequence (new reference) and a view of the class table; NULL on error. */
static PyObject *texts_and_table(PyObject *texts, PyObject *table_obj, Py_buffer *table) {
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq && get_table(table_obj, table) < 0)
        Py_CLEAR(seq);
    return seq;
}

PyDoc_STRVAR(scan_doc,
             "scan(texts, table, max_len, fallback) -> (tokens, ids, counts)\n\n"
             "Tokenize each text; tokens: the distinct tokens (ASCII lowercased) in order of first\n"
             "occurrence; ids: int32 bytes, each token occurrence's index in tokens, text after text;\n"
             "counts: int64 bytes, the number of tokens of each text. fallback(text) gives the tokens\n"
             "of a text this scanner does not cover.");

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *texts, *table_obj, *fallback;
    Py_ssize_t max_len;
    if (!PyArg_ParseTuple(args, "OOnO:scan", &texts, &table_obj, &max_len, &fallback))
        return NULL;
    Py_buffer table;
    PyObject *seq = texts_and_table(texts, table_obj, &table);
    if (!seq)
        return NULL;
    PyObject *result = NULL;
    Vocab v;
    Buf ids = {0}, counts = {0}, tmp = {0}, spans = {0};
    if (vocab_init(&v) < 0)
        goto done;
    const uint8_t *tab = table.buf;
    Py_ssize_t ntexts = PySequence_Fast_GET_SIZE(seq);
    if (buf_reserve(&counts, ntexts * 8 + 8) < 0)
        goto fail;
    for (Py_ssize_t i = 0; i < ntexts; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text %zd is not a str", i);
            goto fail;
        }
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text), k = 0;
        int r = split_any(tab, kind, data, n, max_len, &spans, &k);
        if (r < 0)
            goto fail;
        if (r == 0) {
            if (emit_spans(&v, &ids, &tmp, kind, data, (const Py_ssize_t *)spans.data, k) < 0)
                goto fail;
        } else {
            PyObject *toks = PyObject_CallOneArg(fallback, text);
            if (!toks)
                goto fail;
            PyObject *tseq = PySequence_Fast(toks, "fallback must return a sequence of str");
            Py_DECREF(toks);
            if (!tseq)
                goto fail;
            k = PySequence_Fast_GET_SIZE(tseq);
            for (Py_ssize_t j = 0; j < k; j++) {
                PyObject *tok = PySequence_Fast_GET_ITEM(tseq, j);
                if (!PyUnicode_Check(tok)) {
                    PyErr_SetString(PyExc_TypeError, "fallback must return a sequence of str");
                    Py_DECREF(tseq);
                    goto fail;
                }
                if (emit(&v, &ids, &tmp, PyUnicode_KIND(tok), PyUnicode_DATA(tok), 0, PyUnicode_GET_LENGTH(tok)) < 0) {
                    Py_DECREF(tseq);
                    goto fail;
                }
            }
            Py_DECREF(tseq);
        }
        int64_t k64 = (int64_t)k;
        memcpy(counts.data + counts.len, &k64, 8);
        counts.len += 8;
    }
    PyObject *tokens = PyList_New(v.n);
    if (!tokens)
        goto fail;
    for (Py_ssize_t id = 0; id < v.n; id++) {
        PyObject *s = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, v.chars + v.off[id], v.len[id]);
        if (!s) {
            Py_DECREF(tokens);
            goto fail;
        }
        PyList_SET_ITEM(tokens, id, s);
    }
    result = Py_BuildValue("(Ny#y#)", tokens, ids.data ? ids.data : "", ids.len, counts.data, counts.len);
fail:
    vocab_free(&v);
done:
    PyMem_Free(ids.data);
    PyMem_Free(counts.data);
    PyMem_Free(tmp.data);
    PyMem_Free(spans.data);
    PyBuffer_Release(&table);
    Py_DECREF(seq);
    return result;
}

PyDoc_STRVAR(unknown_doc,
             "unknown(texts, table) -> set of int\n\n"
             "The non-ASCII code points of the texts whose entry in table is 255 (not classified yet);\n"
             "the ASCII entries must be filled already.");

static PyObject *unknown(PyObject *self, PyObject *args) {
    PyObject *texts, *table_obj;
    if (!PyArg_ParseTuple(args, "OO:unknown", &texts, &table_obj))
        return NULL;
    Py_buffer table;
    PyObject *seq = texts_and_table(texts, table_obj, &table);
    if (!seq)
        return NULL;
    PyObject *out = PySet_New(NULL);
    if (!out)
        goto done;
    const uint8_t *tab = table.buf;
    Py_ssize_t ntexts = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < ntexts; i++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(text)) {
            PyErr_Format(PyExc_TypeError, "text %zd is not a str", i);
            Py_CLEAR(out);
            goto done;
        }
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        if (PyUnicode_IS_ASCII(text))
            continue; /* the caller classifies ASCII once, up front */
        for (Py_ssize_t j = 0; j < n; j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            if (tab[c] == C_UNKNOWN) {
                PyObject *o = PyLong_FromUnsignedLong(c);
                if (!o || PySet_Add(out, o) < 0) {
                    Py_XDECREF(o);
                    Py_CLEAR(out);
                    goto done;
                }
                Py_DECREF(o);
            }
        }
    }
done:
    PyBuffer_Release(&table);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, scan_doc},
    {"unknown", unknown, METH_VARARGS, unknown_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan", "Compiled StandardTokenizer fast path (see _scan.c).", -1, methods,
};

/* The scanner's functions, then the Porter stemmer's (_porter.c: porter, term_ids) and postings (_postings.c). */
PyMODINIT_FUNC PyInit__scan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m && (PyModule_AddFunctions(m, beirctl_porter_methods) < 0 ||
              PyModule_AddFunctions(m, beirctl_postings_methods) < 0))
        Py_CLEAR(m);
    return m;
}

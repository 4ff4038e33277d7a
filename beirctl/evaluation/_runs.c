/* beirctl.evaluation._runs: the per-hit loops over a run's (doc id, score) lists, compiled.
 *
 * A run of 2,000 queries at top 1000 holds 2M hits; building its lists from the search's arrays,
 * reading their scores, giving them the rounded scores and formatting them as TREC lines cost
 * 0.5-3 s each in Python (one bytecode loop or several list/zip/tolist passes per step), several
 * times the compiled search itself. These functions do the same work in one C loop each and give
 * the same objects and bytes as the pure-Python versions in beirctl/evaluation/runs.py, which the
 * tests compare them with. Anything they do not handle exactly (a score that is not a Python
 * float, a doc id that is not a str) raises TypeError, and the caller takes the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_cbuf.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p, write) __builtin_prefetch((p), (write))
#else
#define PREFETCH(p, write) ((void)0)
#endif

/* A contiguous read-only buffer of n items of format fmt ("q": int64, "d": float64). */
static int get_buffer(PyObject *obj, Py_buffer *view, const char *fmt, const char *what) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    const char *f = view->format ? view->format : "B";
    if (f[0] == '<' || f[0] == '=' || f[0] == '@') f++;
    int ok = view->itemsize == 8 && ((fmt[0] == 'q' && (f[0] == 'q' || f[0] == 'l')) || (fmt[0] == 'd' && f[0] == 'd'));
    if (!ok || f[1] != '\0') {
        PyErr_Format(PyExc_TypeError, "%s: expected a contiguous %s array", what, fmt[0] == 'q' ? "int64" : "float64");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* hit_lists(doc_ids, idx, scores, ends) -> list of lists of (doc_ids[idx[j]], scores[j]) tuples,
 * list i holding hits ends[i-1] to ends[i] - 1. */
static PyObject *hit_lists(PyObject *self, PyObject *args) {
    PyObject *doc_ids, *idx_obj, *score_obj, *end_obj;
    if (!PyArg_ParseTuple(args, "O!OOO", &PyList_Type, &doc_ids, &idx_obj, &score_obj, &end_obj)) return NULL;
    Py_buffer idx, sc, ends;
    if (get_buffer(idx_obj, &idx, "q", "idx") < 0) return NULL;
    if (get_buffer(score_obj, &sc, "d", "scores") < 0) {
        PyBuffer_Release(&idx);
        return NULL;
    }
    if (get_buffer(end_obj, &ends, "q", "ends") < 0) {
        PyBuffer_Release(&idx);
        PyBuffer_Release(&sc);
        return NULL;
    }
    PyObject *out = NULL;
    Py_ssize_t n = idx.len / 8, nq = ends.len / 8, ndocs = PyList_GET_SIZE(doc_ids);
    const int64_t *ix = idx.buf, *en = ends.buf;
    const double *s = sc.buf;
    if (sc.len / 8 != n || (nq > 0 && en[nq - 1] != n)) {
        PyErr_SetString(PyExc_ValueError, "idx, scores and ends do not agree");
        goto done;
    }
    out = PyList_New(nq);
    if (!out) goto done;
    Py_ssize_t start = 0;
    for (Py_ssize_t q = 0; q < nq; q++) {
        Py_ssize_t stop = (Py_ssize_t)en[q];
        if (stop < start || stop > n) {
            PyErr_SetString(PyExc_ValueError, "ends must be non-decreasing and within the hits");
            goto fail;
        }
        PyObject *hits = PyList_New(stop - start);
        if (!hits) goto fail;
        PyList_SET_ITEM(out, q, hits);
        for (Py_ssize_t j = start; j < stop; j++) {
            /* The doc ids are scattered over the heap: fetch the list slot 32 hits ahead and the
             * str it holds 16 ahead, so the increfs below do not wait on memory (3x faster). */
            if (j + 32 < n && ix[j + 32] >= 0 && ix[j + 32] < ndocs)
                PREFETCH(((PyListObject *)doc_ids)->ob_item + ix[j + 32], 0);
            if (j + 16 < n && ix[j + 16] >= 0 && ix[j + 16] < ndocs)
                PREFETCH(PyList_GET_ITEM(doc_ids, ix[j + 16]), 1);
            int64_t d = ix[j];
            if (d < 0 || d >= ndocs) {
                PyErr_SetString(PyExc_IndexError, "document index out of range");
                goto fail;
            }
            PyObject *score = PyFloat_FromDouble(s[j]);
            if (!score) goto fail;
            PyObject *doc = PyList_GET_ITEM(doc_ids, d);
            Py_INCREF(doc);
            PyObject *pair = PyTuple_New(2);
            if (!pair) {
                Py_DECREF(doc);
                Py_DECREF(score);
                goto fail;
            }
            PyTuple_SET_ITEM(pair, 0, doc);
            PyTuple_SET_ITEM(pair, 1, score);
            PyList_SET_ITEM(hits, j - start, pair);
        }
        start = stop;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&idx);
    PyBuffer_Release(&sc);
    PyBuffer_Release(&ends);
    return out;
}

/* The hit lists' total length; -1 with TypeError where one is not a list. */
static Py_ssize_t total_hits(PyObject *lists) {
    Py_ssize_t total = 0;
    for (Py_ssize_t q = 0; q < PyList_GET_SIZE(lists); q++) {
        PyObject *hits = PyList_GET_ITEM(lists, q);
        if (!PyList_Check(hits)) {
            PyErr_SetString(PyExc_TypeError, "hits must be lists");
            return -1;
        }
        total += PyList_GET_SIZE(hits);
    }
    return total;
}

/* The (doc, score) tuple at hits[j], checked: a 2-tuple whose score is a float. */
static PyObject *hit_at(PyObject *hits, Py_ssize_t j) {
    PyObject *pair = PyList_GET_ITEM(hits, j);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyFloat_Check(PyTuple_GET_ITEM(pair, 1))) {
        PyErr_SetString(PyExc_TypeError, "hits must be (doc id, float score) tuples");
        return NULL;
    }
    return pair;
}

/* scores(lists) -> bytes: every hit's score as a native float64, list after list. */
static PyObject *scores(PyObject *self, PyObject *lists) {
    if (!PyList_Check(lists)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of hit lists");
        return NULL;
    }
    Py_ssize_t total = total_hits(lists);
    if (total < 0) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(double));
    if (!out) return NULL;
    double *o = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t q = 0; q < PyList_GET_SIZE(lists); q++) {
        PyObject *hits = PyList_GET_ITEM(lists, q);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(hits); j++) {
            PyObject *pair = hit_at(hits, j);
            if (!pair) {
                Py_DECREF(out);
                return NULL;
            }
            *o++ = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(pair, 1));
        }
    }
    return out;
}

/* rescored(lists, values) -> new lists of (doc, values[j]) tuples, the hits' docs in order. */
static PyObject *rescored(PyObject *self, PyObject *args) {
    PyObject *lists, *values_obj;
    if (!PyArg_ParseTuple(args, "O!O", &PyList_Type, &lists, &values_obj)) return NULL;
    Py_ssize_t total = total_hits(lists);
    if (total < 0) return NULL;
    Py_buffer vb;
    if (get_buffer(values_obj, &vb, "d", "values") < 0) return NULL;
    PyObject *out = NULL;
    if (vb.len / 8 != total) {
        PyErr_SetString(PyExc_ValueError, "one value per hit expected");
        goto done;
    }
    const double *v = vb.buf;
    Py_ssize_t nq = PyList_GET_SIZE(lists);
    out = PyList_New(nq);
    if (!out) goto done;
    for (Py_ssize_t q = 0; q < nq; q++) {
        PyObject *hits = PyList_GET_ITEM(lists, q);
        Py_ssize_t m = PyList_GET_SIZE(hits);
        PyObject *fresh = PyList_New(m);
        if (!fresh) goto fail;
        PyList_SET_ITEM(out, q, fresh);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *pair = PyList_GET_ITEM(hits, j);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_TypeError, "hits must be (doc id, score) tuples");
                goto fail;
            }
            PyObject *score = PyFloat_FromDouble(*v++);
            if (!score) goto fail;
            PyObject *doc = PyTuple_GET_ITEM(pair, 0);
            Py_INCREF(doc);
            PyObject *np = PyTuple_New(2);
            if (!np) {
                Py_DECREF(doc);
                Py_DECREF(score);
                goto fail;
            }
            PyTuple_SET_ITEM(np, 0, doc);
            PyTuple_SET_ITEM(np, 1, score);
            PyList_SET_ITEM(fresh, j, np);
        }
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    PyBuffer_Release(&vb);
    return out;
}

typedef ByteBuf Buf;

static int buf_put(Buf *b, const char *s, Py_ssize_t n) { return bytebuf_put(b, s, n, 4096); }

/* The UTF-8 of an exact str (TypeError otherwise: the caller formats it in Python). */
static const char *utf8_of(PyObject *s, Py_ssize_t *n, const char *what) {
    if (!PyUnicode_CheckExact(s)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str", what);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(s, n);
}

/* Writes the decimal digits of v (>= 0) at p; returns their count. */
static int put_digits(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

/* format(x, ".6f") at p (room for 64 bytes); returns its length, -1 with an exception set.
 * Where x * 1e6 (one rounding) is not within a few ulps of a half, rint of it is the correctly
 * rounded 6-decimal value of x, whose digits are printed directly (the argument of
 * beirctl.evaluation.trec.round_scores); elsewhere, and for |x| >= 1e9, nan and inf, the
 * digits come from PyOS_double_to_string(x, 'f', 6, 0), which is what float.__format__ calls
 * for ".6f". */
static int put_score(char *p, double x) {
    if (fabs(x) < 1e9) {
        double y = x * 1e6, n = nearbyint(y);
        if (fabs(fabs(y - n) - 0.5) > fabs(y) * 0x1p-50) {
            int len = 0;
            if (n < 0 || (n == 0 && signbit(x))) p[len++] = '-'; /* -0.0 and tiny negatives: "-0.000000" */
            uint64_t v = (uint64_t)fabs(n);
            char digits[24];
            int nd = put_digits(digits, v);
            if (nd <= 6) { /* 0.00xxxx */
                p[len++] = '0';
                p[len++] = '.';
                for (int i = nd; i < 6; i++) p[len++] = '0';
                memcpy(p + len, digits, (size_t)nd);
                return len + nd;
            }
            memcpy(p + len, digits, (size_t)(nd - 6));
            len += nd - 6;
            p[len++] = '.';
            memcpy(p + len, digits + nd - 6, 6);
            return len + 6;
        }
    }
    char *s = PyOS_double_to_string(x, 'f', 6, 0, NULL);
    if (!s) return -1;
    size_t n = strlen(s);
    if (n > 63) n = 63; /* not reached: under 1e9, nan and inf, at most 17 characters */
    memcpy(p, s, n);
    PyMem_Free(s);
    return (int)n;
}

/* trec_lines(qid, hits, tag) -> bytes: the UTF-8 of
 * "".join(f"{qid} Q0 {doc} {rank} {score:.6f} {tag}\n" for rank, (doc, score) in enumerate(hits, 1)). */
static PyObject *trec_lines(PyObject *self, PyObject *args) {
    PyObject *qid, *hits, *tag;
    if (!PyArg_ParseTuple(args, "UO!U", &qid, &PyList_Type, &hits, &tag)) return NULL;
    Py_ssize_t nq, nt;
    const char *q = utf8_of(qid, &nq, "qid"), *t = q ? utf8_of(tag, &nt, "tag") : NULL;
    if (!t) return NULL;
    Buf b = {NULL, 0, 0};
    char num[96];
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(hits); j++) {
        PyObject *pair = hit_at(hits, j);
        if (!pair) goto fail;
        Py_ssize_t nd;
        const char *d = utf8_of(PyTuple_GET_ITEM(pair, 0), &nd, "doc id");
        if (!d) goto fail;
        double x = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(pair, 1));
        if (!(fabs(x) < 1e9) && isfinite(x)) { /* long digits: the caller formats this query */
            PyErr_SetString(PyExc_TypeError, "score of 1e9 or more");
            goto fail;
        }
        int nr = 0;
        num[nr++] = ' ';
        nr += put_digits(num + nr, (uint64_t)(j + 1));
        num[nr++] = ' ';
        int ns = put_score(num + nr, x);
        if (ns < 0) goto fail;
        nr += ns;
        num[nr++] = ' ';
        if (buf_put(&b, q, nq) < 0 || buf_put(&b, " Q0 ", 4) < 0 || buf_put(&b, d, nd) < 0 ||
            buf_put(&b, num, nr) < 0 || buf_put(&b, t, nt) < 0 || buf_put(&b, "\n", 1) < 0)
            goto fail;
    }
    PyObject *out = PyBytes_FromStringAndSize(b.p ? b.p : "", b.len);
    PyMem_Free(b.p);
    return out;
fail:
    PyMem_Free(b.p);
    return NULL;
}

/* self_hit_queries(qids, lists) -> the qids[i] (exact str) equal to the doc id of a hit in lists[i]. */
static PyObject *self_hit_queries(PyObject *self, PyObject *args) {
    PyObject *qids, *lists;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &qids, &PyList_Type, &lists)) return NULL;
    if (PyList_GET_SIZE(qids) != PyList_GET_SIZE(lists)) {
        PyErr_SetString(PyExc_ValueError, "one hit list per query expected");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(qids); i++) {
        PyObject *q = PyList_GET_ITEM(qids, i), *hits = PyList_GET_ITEM(lists, i);
        if (!PyUnicode_CheckExact(q) || !PyList_Check(hits)) {
            PyErr_SetString(PyExc_TypeError, "query ids must be str and hits lists");
            goto fail;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(q);
        int kind = PyUnicode_KIND(q);
        const void *data = PyUnicode_DATA(q);
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(hits); j++) {
            PyObject *pair = PyList_GET_ITEM(hits, j);
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) < 1) {
                PyErr_SetString(PyExc_TypeError, "hits must be (doc id, score) tuples");
                goto fail;
            }
            PyObject *d = PyTuple_GET_ITEM(pair, 0);
            if (!PyUnicode_CheckExact(d)) {
                PyErr_SetString(PyExc_TypeError, "doc ids must be str");
                goto fail;
            }
            /* Equal str: same length, kind (canonical: the narrowest that holds it) and code units. */
            if (d == q || (PyUnicode_GET_LENGTH(d) == len && PyUnicode_KIND(d) == kind &&
                           memcmp(PyUnicode_DATA(d), data, (size_t)len * (size_t)kind) == 0)) {
                if (PyList_Append(out, q) < 0) goto fail;
                break;
            }
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"hit_lists", hit_lists, METH_VARARGS, "hit_lists(doc_ids, idx, scores, ends) -> list of hit lists"},
    {"scores", scores, METH_O, "scores(lists) -> bytes of float64: every hit's score"},
    {"rescored", rescored, METH_VARARGS, "rescored(lists, values) -> the hit lists with these scores"},
    {"trec_lines", trec_lines, METH_VARARGS, "trec_lines(qid, hits, tag) -> bytes: the query's TREC run lines"},
    {"self_hit_queries", self_hit_queries, METH_VARARGS, "self_hit_queries(qids, lists) -> qids found among their hits"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_runs", "Compiled loops over run hit lists.", -1, methods};

PyMODINIT_FUNC PyInit__runs(void) { return PyModule_Create(&module); }

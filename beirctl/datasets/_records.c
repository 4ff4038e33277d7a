/* beirctl.datasets._records: the corpus loader's check of a block of parsed records, compiled.
 *
 * beirctl.datasets.loader._CorpusReader._fast checks a block of records (dicts from orjson) with a
 * dozen list-wide Python passes (types, the three fields, duplicate ids, whitespace in ids, the
 * UTF-8 encoding of every field, the fingerprint bytes): 60% of loading a 1M-document corpus was
 * those passes. block() makes the same checks and the same fingerprint bytes in one loop; where
 * any record needs the line-by-line path (a missing or mistyped field, an empty, duplicate or
 * blank-containing id, a lone surrogate) it returns None and changes nothing, as _fast returns
 * False, and the loader's Python path finds the problem and its line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "_cbuf.h"
#include <stdint.h>
#include <string.h>

static PyObject *key_id, *key_title, *key_text, *empty;

typedef ByteBuf Buf;

static int put(Buf *b, const void *s, Py_ssize_t n) { return bytebuf_put(b, s, n, 1 << 20); }

/* The field's 8-byte little-endian UTF-8 length, then its UTF-8 (fingerprint.fingerprint_bytes);
 * 1 where the text has a lone surrogate (no UTF-8), -1 on another error. */
static int put_field(Buf *b, PyObject *s) {
    PyObject *encoded = NULL; /* not PyUnicode_AsUTF8AndSize: it would keep a copy on each text */
    const char *u;
    Py_ssize_t n;
    if (PyUnicode_IS_ASCII(s)) {
        u = (const char *)PyUnicode_DATA(s);
        n = PyUnicode_GET_LENGTH(s);
    } else {
        encoded = PyUnicode_AsUTF8String(s);
        if (!encoded) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                return 1;
            }
            return -1;
        }
        u = PyBytes_AS_STRING(encoded);
        n = PyBytes_GET_SIZE(encoded);
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    int r = put(b, len, 8) < 0 || put(b, u, n) < 0 ? -1 : 0;
    Py_XDECREF(encoded);
    return r;
}

/* Whether an id holds whitespace (str.isspace, as the loader's regex \s) or a surrogate. */
static int bad_id(PyObject *s) {
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(s); i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISSPACE(c) || (c >= 0xD800 && c <= 0xDFFF))
            return 1;
    }
    return 0;
}

/* block(records, seen) -> (ids, titles, texts, fingerprint bytes), or None where a record needs
 * the line-by-line path. records: the parsed lines; seen: the ids of earlier blocks (a dict). */
static PyObject *block(PyObject *self, PyObject *args) {
    PyObject *records, *seen;
    if (!PyArg_ParseTuple(args, "O!O!:block", &PyList_Type, &records, &PyDict_Type, &seen))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(records);
    PyObject *ids = PyList_New(n), *titles = PyList_New(n), *texts = PyList_New(n), *mine = PySet_New(NULL);
    Buf fp = {NULL, 0, 0};
    PyObject *result = NULL;
    int fallback = 0;
    if (!ids || !titles || !texts || !mine)
        goto done;
    for (Py_ssize_t i = 0; i < n && !fallback; i++) {
        PyObject *r = PyList_GET_ITEM(records, i);
        if (!PyDict_CheckExact(r)) {
            fallback = 1;
            break;
        }
        PyObject *id = PyDict_GetItemWithError(r, key_id);
        PyObject *title = id ? PyDict_GetItemWithError(r, key_title) : NULL;
        PyObject *text = id ? PyDict_GetItemWithError(r, key_text) : NULL;
        if (PyErr_Occurred())
            goto done;
        if (!id || !text || !PyUnicode_CheckExact(id) || !PyUnicode_CheckExact(text) ||
            (title && title != Py_None && !PyUnicode_CheckExact(title)) || PyUnicode_GET_LENGTH(id) == 0 ||
            bad_id(id)) {
            fallback = 1;
            break;
        }
        if (!title || title == Py_None)
            title = empty;
        int dup = PyDict_Contains(seen, id);
        if (dup < 0)
            goto done;
        if (!dup) {
            dup = PySet_Contains(mine, id);
            if (dup < 0 || (!dup && PySet_Add(mine, id) < 0))
                goto done;
        }
        if (dup) {
            fallback = 1;
            break;
        }
        for (int f = 0; f < 3 && !fallback; f++) {
            int r2 = put_field(&fp, f == 0 ? id : f == 1 ? title : text);
            if (r2 < 0)
                goto done;
            fallback = r2;
        }
        Py_INCREF(id);
        Py_INCREF(title);
        Py_INCREF(text);
        PyList_SET_ITEM(ids, i, id);
        PyList_SET_ITEM(titles, i, title);
        PyList_SET_ITEM(texts, i, text);
    }
    if (fallback) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *fpb = PyBytes_FromStringAndSize(fp.p ? fp.p : "", fp.len);
    if (fpb)
        result = PyTuple_Pack(4, ids, titles, texts, fpb);
    Py_XDECREF(fpb);
done:
    Py_XDECREF(ids); /* items not yet set are NULL: list_dealloc skips them */
    Py_XDECREF(titles);
    Py_XDECREF(texts);
    Py_XDECREF(mine);
    PyMem_Free(fp.p);
    return result;
}

static PyMethodDef methods[] = {
    {"block", block, METH_VARARGS, "block(records, seen) -> (ids, titles, texts, fingerprint) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_records", "The corpus loader's record checks.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__records(void) {
    key_id = PyUnicode_InternFromString("_id");
    key_title = PyUnicode_InternFromString("title");
    key_text = PyUnicode_InternFromString("text");
    empty = PyUnicode_InternFromString("");
    if (!key_id || !key_title || !key_text || !empty)
        return NULL;
    return PyModule_Create(&module);
}

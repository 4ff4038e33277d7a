/*
 * beirctl.lucene._scan.postings: one chunk's postings from its token stream, compiled (part of
 * the _scan extension; see _scan.h).
 *
 * Why C: ChunkPostings.from_ids found the distinct (term, document) pairs by sorting one 32- or
 * 64-bit key per token occurrence, which was the largest single step of indexing (0.46 s of
 * about 1.1 s per 100,000 synthetic MS MARCO passages). The token stream is already grouped by
 * document, so two linear passes do the same work: the first counts each term's documents (a
 * term is counted once per document by remembering the last document that counted it), a
 * prefix sum places each term's row, and the second fills the rows, which come out sorted by
 * document because documents are visited in order. The arrays are those of the numpy path,
 * value for value.
 */
#include "_scan.h"
#include <stdint.h>
#include <string.h>

PyDoc_STRVAR(postings_doc,
             "postings(ids, counts, n_terms) -> (per_term, docs, tfs, lengths)\n\n"
             "ids: int64 term id per token (-1 for a stop word), text after text; counts: int64 tokens per\n"
             "text; n_terms: ids are below it. Returns bytes of: int32 documents per term, the int32\n"
             "document indices term after term (each term's ascending), their int32 term frequencies,\n"
             "and the int32 number of non-stop tokens per text.");

static PyObject *postings(PyObject *self, PyObject *args) {
    Py_buffer ids_b, counts_b;
    Py_ssize_t n_terms;
    if (!PyArg_ParseTuple(args, "y*y*n:postings", &ids_b, &counts_b, &n_terms))
        return NULL;
    PyObject *result = NULL, *per_term_o = NULL, *docs_o = NULL, *tfs_o = NULL, *lengths_o = NULL;
    int32_t *last = NULL;
    int64_t *fill = NULL, *slot = NULL;
    const int64_t *ids = (const int64_t *)ids_b.buf;
    const int64_t *counts = (const int64_t *)counts_b.buf;
    Py_ssize_t n_tok = ids_b.len / 8, n_docs = counts_b.len / 8, total = 0;
    if (ids_b.len % 8 || counts_b.len % 8 || n_terms < 0) {
        PyErr_SetString(PyExc_ValueError, "ids and counts must be int64 buffers, n_terms >= 0");
        goto done;
    }
    if (n_docs > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many texts for int32 document indices");
        goto done;
    }
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        if (counts[d] < 0 || counts[d] > n_tok - total) {
            PyErr_SetString(PyExc_ValueError, "counts do not add up to the number of ids");
            goto done;
        }
        total += counts[d];
    }
    if (total != n_tok) {
        PyErr_SetString(PyExc_ValueError, "counts do not add up to the number of ids");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_tok; i++) {
        if (ids[i] < -1 || ids[i] >= n_terms) {
            PyErr_Format(PyExc_ValueError, "term id %lld out of range", (long long)ids[i]);
            goto done;
        }
    }
    per_term_o = PyBytes_FromStringAndSize(NULL, n_terms * 4);
    lengths_o = PyBytes_FromStringAndSize(NULL, n_docs * 4);
    last = PyMem_Malloc((size_t)(n_terms ? n_terms : 1) * sizeof(int32_t));
    fill = PyMem_Malloc((size_t)(n_terms ? n_terms : 1) * sizeof(int64_t));
    slot = PyMem_Malloc((size_t)(n_terms ? n_terms : 1) * sizeof(int64_t));
    if (!per_term_o || !lengths_o || !last || !fill || !slot) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    int32_t *per_term = (int32_t *)PyBytes_AS_STRING(per_term_o);
    int32_t *lengths = (int32_t *)PyBytes_AS_STRING(lengths_o);
    int64_t nnz = 0;
    const int64_t *p;
    Py_BEGIN_ALLOW_THREADS;
    memset(per_term, 0, (size_t)n_terms * sizeof(int32_t));
    memset(last, 0xff, (size_t)n_terms * sizeof(int32_t)); /* -1: no document yet */
    p = ids;
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        int32_t len = 0;
        for (const int64_t *end = p + counts[d]; p < end; p++) {
            int64_t t = *p;
            if (t < 0)
                continue;
            len++;
            if (last[t] != (int32_t)d) {
                last[t] = (int32_t)d;
                per_term[t]++;
            }
        }
        lengths[d] = len;
    }
    for (Py_ssize_t t = 0; t < n_terms; t++) {
        fill[t] = nnz;
        nnz += per_term[t];
    }
    Py_END_ALLOW_THREADS;
    docs_o = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)nnz * 4);
    tfs_o = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)nnz * 4);
    if (!docs_o || !tfs_o)
        goto done;
    int32_t *docs = (int32_t *)PyBytes_AS_STRING(docs_o);
    int32_t *tfs = (int32_t *)PyBytes_AS_STRING(tfs_o);
    Py_BEGIN_ALLOW_THREADS;
    memset(last, 0xff, (size_t)n_terms * sizeof(int32_t));
    p = ids;
    for (Py_ssize_t d = 0; d < n_docs; d++) {
        for (const int64_t *end = p + counts[d]; p < end; p++) {
            int64_t t = *p;
            if (t < 0)
                continue;
            if (last[t] != (int32_t)d) {
                last[t] = (int32_t)d;
                int64_t s = fill[t]++;
                slot[t] = s;
                docs[s] = (int32_t)d;
                tfs[s] = 1;
            } else {
                tfs[slot[t]]++;
            }
        }
    }
    Py_END_ALLOW_THREADS;
    result = PyTuple_Pack(4, per_term_o, docs_o, tfs_o, lengths_o);
done:
    Py_XDECREF(per_term_o);
    Py_XDECREF(docs_o);
    Py_XDECREF(tfs_o);
    Py_XDECREF(lengths_o);
    PyMem_Free(last);
    PyMem_Free(fill);
    PyMem_Free(slot);
    PyBuffer_Release(&ids_b);
    PyBuffer_Release(&counts_b);
    return result;
}

static inline int64_t load_tf(const char *a, int size, int64_t i) {
    return size == 1 ? ((const uint8_t *)a)[i] : size == 2 ? ((const uint16_t *)a)[i] : ((const int32_t *)a)[i];
}

static inline void store_tf(char *a, int size, int64_t i, int64_t v) {
    if (size == 1)
        ((uint8_t *)a)[i] = (uint8_t)v;
    else if (size == 2)
        ((uint16_t *)a)[i] = (uint16_t)v;
    else
        ((int32_t *)a)[i] = (int32_t)v;
}

PyDoc_STRVAR(scatter_doc,
             "scatter(docs, tfs, fill, remap, per_term, part_docs, part_tfs, base)\n\n"
             "FieldBuilder.finish's step for one chunk: the per_term[i] postings of the chunk's term i\n"
             "(part_docs + base, part_tfs; term after term) go to docs and tfs from fill[remap[i]] on,\n"
             "which advances by per_term[i]. docs, part_docs: int32; fill, remap: int64; per_term: int32;\n"
             "tfs and part_tfs: 1-, 2- or 4-byte unsigned integers (values fit the destination).");

static PyObject *scatter(PyObject *self, PyObject *args) {
    Py_buffer docs_b, tfs_b, fill_b, remap_b, per_b, pdocs_b, ptfs_b;
    long long base;
    if (!PyArg_ParseTuple(args, "w*w*w*y*y*y*y*L:scatter", &docs_b, &tfs_b, &fill_b, &remap_b, &per_b, &pdocs_b,
                          &ptfs_b, &base))
        return NULL;
    PyObject *result = NULL;
    int tsize = (int)tfs_b.itemsize, psize = (int)ptfs_b.itemsize;
    int64_t n_out = docs_b.len / 4, n_terms = fill_b.len / 8, n = remap_b.len / 8, nnz = pdocs_b.len / 4;
    const int64_t *remap = (const int64_t *)remap_b.buf;
    const int32_t *per_term = (const int32_t *)per_b.buf;
    int64_t *fill = (int64_t *)fill_b.buf;
    if ((tsize != 1 && tsize != 2 && tsize != 4) || (psize != 1 && psize != 2 && psize != 4) ||
        tfs_b.len / tsize != n_out || per_b.len / 4 != n || ptfs_b.len / psize != nnz) {
        PyErr_SetString(PyExc_ValueError, "scatter: buffers of mismatched sizes or types");
        goto done;
    }
    int64_t total = 0;
    int outside = 0;
    for (int64_t i = 0; i < n; i++) {
        if (remap[i] < 0 || remap[i] >= n_terms || per_term[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "scatter: a term id or count out of range");
            goto done;
        }
        total += per_term[i];
    }
    if (total != nnz) {
        PyErr_SetString(PyExc_ValueError, "scatter: per_term does not add up to the chunk's postings");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    int32_t *docs = (int32_t *)docs_b.buf;
    const int32_t *pdocs = (const int32_t *)pdocs_b.buf;
    int64_t src = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t dst = fill[remap[i]];
        if (dst < 0 || dst + per_term[i] > n_out) {
            outside = 1;
            break;
        }
        for (int64_t j = 0; j < per_term[i]; j++) {
            docs[dst + j] = (int32_t)(pdocs[src + j] + base);
            store_tf((char *)tfs_b.buf, tsize, dst + j, load_tf((const char *)ptfs_b.buf, psize, src + j));
        }
        fill[remap[i]] = dst + per_term[i];
        src += per_term[i];
    }
    Py_END_ALLOW_THREADS;
    if (outside)
        PyErr_SetString(PyExc_ValueError, "scatter: a term's postings fall outside the arrays");
    else
        result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&docs_b);
    PyBuffer_Release(&tfs_b);
    PyBuffer_Release(&fill_b);
    PyBuffer_Release(&remap_b);
    PyBuffer_Release(&per_b);
    PyBuffer_Release(&pdocs_b);
    PyBuffer_Release(&ptfs_b);
    return result;
}

PyMethodDef beirctl_postings_methods[] = {
    {"postings", postings, METH_VARARGS, postings_doc},
    {"scatter", scatter, METH_VARARGS, scatter_doc},
    {NULL, NULL, 0, NULL},
};

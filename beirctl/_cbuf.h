/* A growable byte buffer, shared by the C extensions beirctl.evaluation._runs and
 * beirctl.datasets._records (header only). */
#ifndef BEIRCTL_CBUF_H
#define BEIRCTL_CBUF_H
#include <Python.h>
#include <string.h>

typedef struct {
    char *p;
    Py_ssize_t len, cap;
} ByteBuf;

/* Append s[0..n) to b, growing it (from first bytes, doubling); -1 with MemoryError set. */
static inline int bytebuf_put(ByteBuf *b, const void *s, Py_ssize_t n, Py_ssize_t first) {
    if (b->len + n > b->cap) {
        Py_ssize_t cap = b->cap ? b->cap : first;
        while (cap < b->len + n)
            cap *= 2;
        char *p = PyMem_Realloc(b->p, (size_t)cap);
        if (!p) {
            PyErr_NoMemory();
            return -1;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

#endif

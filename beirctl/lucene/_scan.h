/*
 * Shared by the sources of the one extension beirctl.lucene._scan: _scan.c (the
 * StandardTokenizer scanner, and the module itself), _porter.c (the Porter stemmer and the
 * token -> term id step) and _postings.c (a chunk's postings from its term ids).
 */
#ifndef BEIRCTL_LUCENE_SCAN_H
#define BEIRCTL_LUCENE_SCAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__GNUC__)
#define BEIRCTL_HIDDEN __attribute__((visibility("hidden")))
#else
#define BEIRCTL_HIDDEN
#endif

/* porter() and term_ids() (NULL-terminated), defined in _porter.c; PyInit__scan adds them to the module. */
BEIRCTL_HIDDEN extern PyMethodDef beirctl_porter_methods[];
/* postings() (NULL-terminated), defined in _postings.c. */
BEIRCTL_HIDDEN extern PyMethodDef beirctl_postings_methods[];

#endif

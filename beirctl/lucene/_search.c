/*
 * beirctl.lucene._search: exact top-k BM25 by dynamic pruning (block-max MaxScore), compiled.
 *
 * It returns exactly what BM25Searcher's exhaustive path returns (beirctl/lucene/bm25.py): the
 * same float32 Lucene scores, computed the same way (clause = w - w / (1f + tf * cache[norm]) in
 * float32; a field's clauses summed in a double in query order, then rounded to float; fields
 * summed in a double in field order, then rounded), ranked by score descending then by the rank
 * of the document's id, and only documents scoring above 0.
 *
 * Pruning. Clause scores only grow with tf * cache[norm] (every float32 operation is monotone),
 * so the clause at a term's largest tf * cache[norm] bounds all of its clauses; the same over
 * BLOCK postings bounds a block. A document is dropped only where a bound of its score is below
 * the current k-th score (theta) with a relative margin MARGIN: the bound is a double sum of clause
 * scores and upper bounds, in any order, while the exact score is a double sum in another order,
 * rounded to float once per field and once overall; each of those differs from the real sum by
 * far less than 1e-6 relative (a double sum of n terms by n * 2^-53, a float rounding by 2^-24),
 * so bound * (1 + 1e-6) < theta proves that the exact score is below theta. A document scoring
 * exactly theta is never dropped (it enters when its id ranks first).
 *
 * Traversal (MaxScore over windows of documents): clauses sorted by bound; the longest prefix
 * whose bounds sum below theta is "non-essential" (a document only in those lists cannot enter),
 * so candidates come from the other lists. Window by window (4096 documents, fewer for very long
 * queries), the essential lists' postings are scored list after list into per-document sums (no
 * merging of cursors, no branch per document); the documents whose sum plus the non-essential
 * bounds can reach theta are probed in the non-essential lists, one list for all of them at a
 * time, highest bound first: first the block that may hold each (its block bound may already rule
 * it out; the block is prefetched), then the posting inside the block, or one bit and a popcount
 * where the list is kept as a bitmap (lists holding 1/32 of the documents or more: the bitmap is no
 * larger than their doc ids). The few documents left are scored exactly, in query order, in
 * document order. theta starts from the k-th largest lower bound of the documents in the
 * highest-bound lists (a safe start: k documents score at least that), then follows the heap; the
 * split into essential and non-essential lists is revised between windows.
 *
 * Upper bounds are computed per term when a query first uses it (holding the GIL, so threads
 * never write them concurrently); a search itself releases the GIL. Postings are read where they
 * lie (read-only buffers are fine: nothing is written into them): indptr int64, docs int32
 * ascending within a term, tfs any 1, 2, 4 or 8-byte integer type, norms uint8 per document.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <pthread.h>
#endif

#define BLOCK 32
#define END_DOC INT32_MAX
#define MARGIN (1.0 + 1e-6)
#define LOWER (1.0 - 1e-6)

/* The documents of a long postings list as a bitmap with a rank directory: bit d says whether
 * document d is in the list; its posting is the number of bits set before it, which is rank[d /
 * 512] plus the bits set before d in its 512-bit line. A probe is then one cache line of bits,
 * not a search in the doc ids. */
typedef struct {
    uint64_t *bits;
    uint32_t *rank;
} Dense;

typedef struct {
    Py_buffer indptr_v, docs_v, tfs_v, norms_v;
    const int64_t *indptr;
    const int32_t *docs;
    const char *tfs;
    int tf_size, tf_signed;
    const uint8_t *norms;
    float cache[256];
    Py_ssize_t nterms, nposts;
    float *term_max; /* max tf * cache[norm] per term; -1: not computed yet */
    float *block_max; /* per term, per block of BLOCK postings, from block_offset(term) */
    int32_t *block_last; /* the last doc of each of those blocks, same offsets */
    Dense **dense; /* per term: its documents as a bitmap where that is no larger than its doc ids */
} Field;

typedef struct {
    PyObject_HEAD
    Field *fields;
    Py_ssize_t nfields, ndocs;
    Py_ssize_t dense; /* lists of at least ndocs / dense postings get a bitmap (0: none) */
    Py_buffer rank_v;
    const uint64_t *rank;
} Searcher;

static inline int64_t tf_at(const Field *f, int64_t p) {
    switch (f->tf_size) {
    case 1:
        return f->tf_signed ? ((const int8_t *)f->tfs)[p] : ((const uint8_t *)f->tfs)[p];
    case 2:
        return f->tf_signed ? ((const int16_t *)f->tfs)[p] : ((const uint16_t *)f->tfs)[p];
    case 4:
        return f->tf_signed ? (int64_t)((const int32_t *)f->tfs)[p] : (int64_t)((const uint32_t *)f->tfs)[p];
    default:
        return ((const int64_t *)f->tfs)[p];
    }
}

/* tf * normInverse of a posting, as numpy computes it: float32(tf) * float32 cache entry. */
static inline float tfn_at(const Field *f, int64_t p) {
    return (float)tf_at(f, p) * f->cache[f->norms[f->docs[p]]];
}

static inline float clause(float w, float tfn) { return w - w / (1.0f + tfn); }

static inline int64_t block_offset(const Field *f, int64_t term) { return f->indptr[term] / BLOCK + term; }

/* Upper bounds of one term (first use): also checks its doc ids (in range, ascending). No Python
 * API: prepare() runs it on several threads at once, each on its own terms. */
enum { PREP_OK = 0, PREP_RANGE = -1, PREP_INVALID = -2, PREP_MEMORY = -3 };
static int prepare_core(const Searcher *s, Field *f, int64_t t) {
    int64_t lo = f->indptr[t], hi = f->indptr[t + 1];
    if (lo < 0 || hi < lo || hi > f->nposts)
        return PREP_RANGE;
    float *bm = f->block_max + block_offset(f, t);
    int32_t *bl = f->block_last + block_offset(f, t);
    float tmax = 0.0f;
    int32_t prev = -1;
    for (int64_t b = lo; b < hi; b += BLOCK) {
        int64_t e = b + BLOCK < hi ? b + BLOCK : hi;
        float m = 0.0f;
        for (int64_t p = b; p < e; p++) {
            int32_t d = f->docs[p];
            if (d <= prev || d >= s->ndocs || tf_at(f, p) < 0)
                return PREP_INVALID;
            prev = d;
            float x = tfn_at(f, p);
            if (x > m)
                m = x;
        }
        *bm++ = m;
        *bl++ = f->docs[e - 1];
        if (m > tmax)
            tmax = m;
    }
    if (s->dense > 0 && (hi - lo) * s->dense >= s->ndocs && hi > lo) {
        Py_ssize_t words = (s->ndocs + 63) / 64 + 8, lines = words / 8 + 1;
        Dense *dn = malloc(sizeof(Dense));
        uint64_t *bits = dn ? calloc((size_t)words, sizeof(uint64_t)) : NULL;
        uint32_t *rank = bits ? malloc(sizeof(uint32_t) * (size_t)lines) : NULL;
        if (!rank) {
            free(bits);
            free(dn);
            return PREP_MEMORY;
        }
        for (int64_t p = lo; p < hi; p++)
            bits[f->docs[p] >> 6] |= (uint64_t)1 << (f->docs[p] & 63);
        uint32_t total = 0;
        for (Py_ssize_t l = 0; l < lines; l++) {
            rank[l] = total;
            for (Py_ssize_t w = l * 8; w < l * 8 + 8 && w < words; w++)
                total += (uint32_t)__builtin_popcountll(bits[w]);
        }
        dn->bits = bits;
        dn->rank = rank;
        f->dense[t] = dn;
    }
    f->term_max[t] = tmax;
    return 0;
}

/* prepare_core with its error raised (the GIL held). */
static int prepare_term(const Searcher *s, Field *f, int64_t t) {
    int rc = prepare_core(s, f, t);
    if (rc == PREP_RANGE)
        PyErr_Format(PyExc_ValueError, "index postings of term %lld out of range", (long long)t);
    else if (rc == PREP_INVALID)
        PyErr_Format(PyExc_ValueError, "index postings of term %lld are not valid", (long long)t);
    else if (rc == PREP_MEMORY)
        PyErr_NoMemory();
    return rc;
}

typedef struct {
    const Field *f;
    int64_t pos, end, start, blk, nblk;
    const float *bmax;
    const int32_t *blast;
    const Dense *dense;
    float w, ub;
    int clause;
    int64_t ub_blk; /* the block whose clause bound is ub_val (-1: none yet) */
    double ub_val;
} Cursor;

typedef struct {
    float score;
    int32_t doc;
    uint64_t rank;
} Hit;

/* a ranks below b: lower score, or the same score and a later id */
static inline int worse(const Hit *a, const Hit *b) {
    return a->score < b->score || (a->score == b->score && a->rank > b->rank);
}

static void sift_down(Hit *h, Py_ssize_t n, Py_ssize_t i) {
    for (;;) {
        Py_ssize_t l = 2 * i + 1, m = i;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (l + 1 < n && worse(&h[l + 1], &h[m]))
            m = l + 1;
        if (m == i)
            return;
        Hit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(Hit *h, Py_ssize_t i) {
    while (i > 0) {
        Py_ssize_t p = (i - 1) / 2;
        if (!worse(&h[i], &h[p]))
            return;
        Hit t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int better_first(const void *x, const void *y) {
    const Hit *a = x, *b = y;
    return worse(b, a) ? -1 : worse(a, b) ? 1 : 0;
}

static inline int32_t cur_doc(const Cursor *c) { return c->pos < c->end ? c->f->docs[c->pos] : END_DOC; }

/* The block of c that holds doc d if any posting does (the first whose last doc is >= d); false
 * when every posting of c is below d. */
static inline int seek_block(Cursor *c, int32_t d) {
    while (c->blk < c->nblk) {
        if (c->blast[c->blk] >= d)
            return 1;
        c->blk++;
    }
    return 0;
}

/* The clause bound of c's current block. */
static inline double block_ub(Cursor *c) {
    if (c->ub_blk != c->blk) {
        c->ub_val = clause(c->w, c->bmax[c->blk]);
        c->ub_blk = c->blk;
    }
    return c->ub_val;
}

/* The first of docs[lo..hi) that is >= d (hi if none); docs ascending. */
static inline int64_t lower_bound(const int32_t *docs, int64_t lo, int64_t hi, int32_t d) {
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (docs[mid] < d)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Move c to its first posting >= d, within its current block (seek_block found it). */
static inline void seek_in_block(Cursor *c, int32_t d) {
    int64_t lo = c->start + c->blk * BLOCK;
    if (lo < c->pos)
        lo = c->pos;
    int64_t hi = c->start + (c->blk + 1) * BLOCK;
    if (hi > c->end)
        hi = c->end;
    /* the postings are ascending: count those below d, without branches (vectorized) */
    const int32_t *docs = c->f->docs;
    int64_t below = 0;
    for (int64_t i = lo; i < hi; i++)
        below += docs[i] < d;
    c->pos = lo + below;
}

typedef struct {
    Py_ssize_t nc, k;
    Cursor *cur;
    int *order;   /* cursors by upper bound, ascending */
    double *pref; /* prefix sums of their upper bounds */
    const int *cfield; /* field of each clause */
    Hit *heap;
    Py_ssize_t nheap;
    /* the current window of documents [base, base + win) */
    int wbits;
    Py_ssize_t win;
    double *acc;   /* per document: sum of its essential clause scores */
    uint64_t *bits; /* documents with an essential posting */
    float *val;    /* clause scores, clause-major (clause * win + document); 0 where absent */
    int32_t *cand; /* candidates still in the running, ascending */
    double *cest;  /* their partial scores */
    int64_t *cblk; /* per candidate: the block of the probed list that may hold it (bitmap: its posting) */
    int32_t *probed; /* the candidates sent to the non-essential lists */
    int64_t *first; /* each cursor's position when the window started */
} Query;

/* The exact score of document j of the window: each field's clause scores summed in a double in
 * query order, rounded to float, the fields' floats summed in a double. An absent clause adds 0.0,
 * which leaves a non-negative double sum as it is. */
static inline float exact_score(const Query *q, Py_ssize_t j) {
    double total = 0.0, acc = 0.0;
    int field = q->cfield[0];
    for (Py_ssize_t c = 0; c < q->nc; c++) {
        if (q->cfield[c] != field) {
            total += (double)(float)acc;
            acc = 0.0;
            field = q->cfield[c];
        }
        acc += (double)q->val[(c << q->wbits) + j];
    }
    total += (double)(float)acc;
    return (float)total;
}

/* Each document of the postings of cursors sel[0..ns) with the sum of its clause scores in those
 * lists: a lower bound of its score (summed in any order: LOWER absorbs the difference), merged
 * list after list through tmp_d/tmp_lb. Returns how many documents, in docs/lb (ascending). */
static Py_ssize_t union_scores(Query *q, const int *sel, Py_ssize_t ns, int32_t *docs, double *lb, int32_t *tmp_d,
                               double *tmp_lb) {
    Py_ssize_t m = 0;
    for (Py_ssize_t s = 0; s < ns; s++) {
        const Cursor *c = &q->cur[sel[s]];
        Py_ssize_t i = 0, out = 0;
        for (int64_t p = c->start; p < c->end; p++) {
            int32_t d = c->f->docs[p];
            while (i < m && docs[i] < d) {
                tmp_d[out] = docs[i];
                tmp_lb[out++] = lb[i++];
            }
            double v = clause(c->w, tfn_at(c->f, p));
            if (i < m && docs[i] == d)
                v += lb[i++];
            tmp_d[out] = d;
            tmp_lb[out++] = v;
        }
        while (i < m) {
            tmp_d[out] = docs[i];
            tmp_lb[out++] = lb[i++];
        }
        m = out;
        memcpy(docs, tmp_d, sizeof(int32_t) * (size_t)m);
        memcpy(lb, tmp_lb, sizeof(double) * (size_t)m);
    }
    return m;
}

/* The k-th largest of a[0..n) (k <= n), reordering a: quickselect. */
static double kth_largest(double *a, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        double pivot = a[lo + (hi - lo) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pivot)
                i++;
            while (a[j] < pivot)
                j--;
            if (i <= j) {
                double t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    return a[want];
}

/* A safe starting threshold: the k-th largest lower bound of the scores of the documents of the
 * highest-bound cursors (as many as hold k documents, within a budget of postings); 0 if none. */
#define FIRST_LIST_CAP ((int64_t)1 << 21)
static double initial_threshold(Query *q) {
    Py_ssize_t n = q->nc, k = q->k, total = 0, ns = 0;
    int64_t budget = 8 * (int64_t)k + 4096;
    int *sel = malloc(sizeof(int) * (size_t)n);
    if (!sel)
        return 0.0;
    for (Py_ssize_t i = n - 1; i >= 0 && total < k; i--) {
        const Cursor *c = &q->cur[q->order[i]];
        /* the first list whatever its length (up to a cap): it is essential, so read anyway */
        if (total + (c->end - c->start) > (ns ? budget : FIRST_LIST_CAP))
            break;
        sel[ns++] = q->order[i];
        total += c->end - c->start;
    }
    double theta = 0.0;
    if (ns > 0 && total >= k) {
        int32_t *docs = malloc(sizeof(int32_t) * (size_t)total * 2);
        double *lb = malloc(sizeof(double) * (size_t)total * 2);
        if (docs && lb) {
            Py_ssize_t m = union_scores(q, sel, ns, docs, lb, docs + total, lb + total);
            if (m >= k)
                theta = kth_largest(lb, m, k) * LOWER;
        }
        free(docs);
        free(lb);
    }
    free(sel);
    return theta;
}

/* A build for x86-64 CPUs with the popcnt instruction (nearly all) beside the default one, picked
 * when the module loads: without it __builtin_popcountll is a libgcc call (4% of a 1M search). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define POPCNT_CLONES
#endif

static inline void offer(Query *q, Hit h, double *theta) {
    if (q->nheap < q->k) {
        q->heap[q->nheap++] = h;
        sift_up(q->heap, q->nheap - 1);
    } else if (worse(&q->heap[0], &h)) {
        q->heap[0] = h;
        sift_down(q->heap, q->nheap, 0);
    }
    if (q->nheap == q->k && (double)q->heap[0].score > *theta)
        *theta = (double)q->heap[0].score;
}

/* probe() for a list kept as a bitmap: the posting itself from one bit and its rank. Its own
 * loops, not a branch inside probe()'s: one function for both measured 4-6% slower at 5M. */
POPCNT_CLONES static Py_ssize_t probe_dense(Query *q, Cursor *c, int32_t base, Py_ssize_t m, double rest,
                                            double theta) {
    const Field *f = c->f;
    const uint64_t *bits = c->dense->bits;
    const uint32_t *rank = c->dense->rank;
    float *val = q->val + ((Py_ssize_t)c->clause << q->wbits);
    Py_ssize_t kept = 0;
    for (Py_ssize_t t = 0; t < m; t++) {
        int32_t j = q->cand[t], d = base + j;
        double est = q->cest[t];
        uint64_t word = bits[d >> 6];
        int64_t at = -1;
        if ((word >> (d & 63)) & 1) {
            int64_t r = rank[d >> 9];
            for (int32_t w = (d >> 9) * 8; w < (d >> 6); w++)
                r += __builtin_popcountll(bits[w]);
            r += __builtin_popcountll(word & (((uint64_t)1 << (d & 63)) - 1));
            at = c->start + r;
            if ((est + rest + clause(c->w, c->bmax[r / BLOCK])) * MARGIN < theta)
                continue;
            __builtin_prefetch(f->tfs + at * f->tf_size);
        } else if ((est + rest) * MARGIN < theta) {
            continue;
        }
        q->cand[kept] = j;
        q->cest[kept] = est;
        q->cblk[kept++] = at;
    }
    m = kept;
    kept = 0;
    for (Py_ssize_t t = 0; t < m; t++) {
        int32_t j = q->cand[t];
        double est = q->cest[t];
        if (q->cblk[t] >= 0) {
            float v = clause(c->w, (float)tf_at(f, q->cblk[t]) * f->cache[f->norms[base + j]]);
            val[j] = v;
            est += v;
        }
        if ((est + rest) * MARGIN < theta)
            continue;
        q->cand[kept] = j;
        q->cest[kept++] = est;
    }
    return kept;
}

/* Probe non-essential cursor c for the candidates of the window starting at base (partial scores
 * cest, bound of the lists still to probe after c: rest); keeps those that can still reach theta
 * and returns how many. Two passes: the block of each candidate (and the candidates that its
 * block bound already rules out), prefetching the blocks; then the search inside each block. */
static Py_ssize_t probe(Query *q, Cursor *c, int32_t base, Py_ssize_t m, double rest, double theta) {
    if (c->dense)
        return probe_dense(q, c, base, m, rest, theta);
    const int32_t *docs = c->f->docs;
    float *val = q->val + ((Py_ssize_t)c->clause << q->wbits);
    Py_ssize_t kept = 0;
    for (Py_ssize_t t = 0; t < m; t++) {
        int32_t j = q->cand[t];
        double est = q->cest[t];
        int64_t blk = -1;
        if (seek_block(c, base + j)) {
            if ((est + rest + block_ub(c)) * MARGIN < theta)
                continue;
            blk = c->blk;
            const int32_t *at = docs + c->start + blk * BLOCK;
            for (int line = 0; line < BLOCK; line += 16)
                __builtin_prefetch(at + line);
            __builtin_prefetch(c->f->tfs + (c->start + blk * BLOCK) * c->f->tf_size);
        } else if ((est + rest) * MARGIN < theta) {
            continue;
        }
        q->cand[kept] = j;
        q->cest[kept] = est;
        q->cblk[kept++] = blk;
    }
    m = kept;
    kept = 0;
    for (Py_ssize_t t = 0; t < m; t++) {
        int32_t j = q->cand[t], d = base + j;
        double est = q->cest[t];
        if (q->cblk[t] >= 0) {
            c->blk = q->cblk[t];
            seek_in_block(c, d);
            if (c->pos < c->end && docs[c->pos] == d) {
                float v = clause(c->w, tfn_at(c->f, c->pos));
                val[j] = v;
                est += v;
            }
        }
        if ((est + rest) * MARGIN < theta)
            continue;
        q->cand[kept] = j;
        q->cest[kept++] = est;
    }
    return kept;
}

/* MaxScore over windows of documents. In each window, the essential lists' postings are scored
 * list after list into per-document sums (no merging of cursors); the documents whose sum plus the
 * non-essential bounds can reach theta are then probed in the non-essential lists, one list at a
 * time for all of them (highest bound first), and those still in the running are scored exactly,
 * in document order. The split into essential and non-essential lists is revised between windows. */
static void run_query(Query *q, const uint64_t *rank) {
    Py_ssize_t n = q->nc, ne = 0, win = q->win;
    double theta = initial_threshold(q);
    while (ne < n && q->pref[ne] * MARGIN < theta)
        ne++;
    for (;;) {
        int32_t d = END_DOC;
        for (Py_ssize_t i = ne; i < n; i++) {
            int32_t x = cur_doc(&q->cur[q->order[i]]);
            if (x < d)
                d = x;
        }
        if (d == END_DOC)
            break;
        int32_t base = d & ~(int32_t)(win - 1);
        int64_t lim = (int64_t)base + win;
        for (Py_ssize_t i = ne; i < n; i++) {
            Cursor *c = &q->cur[q->order[i]];
            const Field *f = c->f;
            const int32_t *docs = f->docs;
            float w = c->w;
            int64_t p = c->pos;
            q->first[i] = p;
            for (; p < c->end && docs[p] < lim; p++) {
                int32_t j = docs[p] - base;
                q->acc[j] += clause(w, tfn_at(f, p));
                q->bits[j >> 6] |= (uint64_t)1 << (j & 63);
            }
            c->pos = p;
        }
        double rest = ne > 0 ? q->pref[ne - 1] : 0.0; /* bound of the non-essential clauses */
        Py_ssize_t m = 0;
        for (Py_ssize_t word = 0; word < (win >> 6); word++) {
            uint64_t b = q->bits[word];
            q->bits[word] = 0;
            for (; b; b &= b - 1) {
                int32_t j = (int32_t)(word * 64 + __builtin_ctzll(b));
                double est = q->acc[j];
                q->acc[j] = 0.0;
                if (theta > 0.0 && (est + rest) * MARGIN < theta)
                    continue;
                q->cand[m] = j;
                q->probed[m] = j;
                q->cest[m++] = est;
            }
        }
        Py_ssize_t nprobed = m;
        for (Py_ssize_t i = ne - 1; i >= 0 && m > 0; i--) {
            Cursor *c = &q->cur[q->order[i]];
            rest -= c->ub;
            m = probe(q, c, base, m, rest, theta);
        }
        /* the few documents left: their essential clause scores again (found in this window's
         * stretch of each essential list), then the exact score */
        for (Py_ssize_t i = ne; i < n && m > 0; i++) {
            const Cursor *c = &q->cur[q->order[i]];
            float *val = q->val + ((Py_ssize_t)c->clause << q->wbits);
            const int32_t *docs = c->f->docs;
            int64_t at = q->first[i];
            int merge = m * 8 > c->pos - at; /* many documents: walk the stretch, else search it */
            for (Py_ssize_t t = 0; t < m; t++) {
                int32_t d = base + q->cand[t];
                if (merge)
                    while (at < c->pos && docs[at] < d)
                        at++;
                else
                    at = lower_bound(docs, at, c->pos, d);
                if (at < c->pos && docs[at] == d)
                    val[q->cand[t]] = clause(c->w, tfn_at(c->f, at));
            }
        }
        for (Py_ssize_t t = 0; t < m; t++) {
            int32_t j = q->cand[t];
            Hit h = {exact_score(q, j), base + j, rank[base + j]};
            if (h.score > 0.0f)
                offer(q, h, &theta);
        }
        /* clear the window's clause scores */
        for (Py_ssize_t i = 0; i < n; i++) {
            const Cursor *c = &q->cur[q->order[i]];
            float *val = q->val + ((Py_ssize_t)c->clause << q->wbits);
            const int32_t *docs = i < ne ? q->probed : q->cand;
            for (Py_ssize_t t = 0, e = i < ne ? nprobed : m; t < e; t++)
                val[docs[t]] = 0.0f;
        }
        Py_ssize_t was = ne;
        while (ne < n && q->pref[ne] * MARGIN < theta)
            ne++;
        for (Py_ssize_t i = was; i < ne; i++) { /* newly non-essential: its block follows its position */
            Cursor *c = &q->cur[q->order[i]];
            c->blk = (c->pos - c->start) / BLOCK;
        }
    }
}

static int get_buffer(PyObject *obj, Py_buffer *view, int writable) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0)
        return -1;
    if (view->ndim > 1) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "expected a one-dimensional array");
        return -1;
    }
    return 0;
}

/* The integer kind of a buffer format ("<i", "=I", "q", ...): size and signedness. */
static int int_format(const Py_buffer *v, int *size, int *is_signed) {
    const char *fmt = v->format ? v->format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '!')
        fmt++;
    if (!*fmt || fmt[1])
        return -1;
    const char *sig = strchr("bhilq", *fmt), *uns = strchr("BHILQ", *fmt);
    if (!sig && !uns)
        return -1;
    *size = (int)v->itemsize;
    *is_signed = sig != NULL;
    return (*size == 1 || *size == 2 || *size == 4 || *size == 8) ? 0 : -1;
}

static void field_clear(Field *f) {
    if (f->indptr_v.obj)
        PyBuffer_Release(&f->indptr_v);
    if (f->docs_v.obj)
        PyBuffer_Release(&f->docs_v);
    if (f->tfs_v.obj)
        PyBuffer_Release(&f->tfs_v);
    if (f->norms_v.obj)
        PyBuffer_Release(&f->norms_v);
    if (f->dense) {
        for (Py_ssize_t t = 0; t < f->nterms; t++)
            if (f->dense[t]) {
                free(f->dense[t]->bits);
                free(f->dense[t]->rank);
                free(f->dense[t]);
            }
        free(f->dense);
    }
    free(f->term_max);
    free(f->block_max);
    free(f->block_last);
    memset(f, 0, sizeof(*f));
}

static void searcher_dealloc(Searcher *s) {
    for (Py_ssize_t i = 0; i < s->nfields; i++)
        field_clear(&s->fields[i]);
    PyMem_Free(s->fields);
    if (s->rank_v.obj)
        PyBuffer_Release(&s->rank_v);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static int expect_int(const Py_buffer *v, int size, const char *what) {
    int sz, sg;
    if (int_format(v, &sz, &sg) < 0 || sz != size) {
        PyErr_Format(PyExc_TypeError, "%s: expected %d-byte integers", what, size);
        return -1;
    }
    return 0;
}

static int field_init(Field *f, PyObject *spec, Py_ssize_t ndocs) {
    PyObject *indptr, *docs, *tfs, *norms, *cache;
    if (!PyArg_ParseTuple(spec, "OOOOO", &indptr, &docs, &tfs, &norms, &cache))
        return -1;
    if (get_buffer(indptr, &f->indptr_v, 0) < 0 || get_buffer(docs, &f->docs_v, 0) < 0 ||
        get_buffer(tfs, &f->tfs_v, 0) < 0 || get_buffer(norms, &f->norms_v, 0) < 0)
        return -1;
    if (expect_int(&f->indptr_v, 8, "indptr") < 0 || expect_int(&f->docs_v, 4, "docs") < 0 ||
        expect_int(&f->norms_v, 1, "norms") < 0)
        return -1;
    if (int_format(&f->tfs_v, &f->tf_size, &f->tf_signed) < 0) {
        PyErr_SetString(PyExc_TypeError, "tfs: expected an integer array");
        return -1;
    }
    Py_buffer cv;
    if (get_buffer(cache, &cv, 0) < 0)
        return -1;
    int ok = cv.itemsize == 4 && cv.len == 256 * 4 && cv.format && strchr(cv.format, 'f');
    if (ok)
        memcpy(f->cache, cv.buf, sizeof(f->cache));
    PyBuffer_Release(&cv);
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "cache: expected 256 float32");
        return -1;
    }
    f->indptr = f->indptr_v.buf;
    f->docs = f->docs_v.buf;
    f->tfs = f->tfs_v.buf;
    f->norms = f->norms_v.buf;
    f->nterms = f->indptr_v.len / 8 - 1;
    f->nposts = f->docs_v.len / 4;
    if (f->nterms < 0 || f->tfs_v.len / f->tf_size != f->nposts || f->norms_v.len != ndocs ||
        f->indptr[f->nterms] != f->nposts || f->nposts >= ((int64_t)1 << 40)) {
        PyErr_SetString(PyExc_ValueError, "index arrays of inconsistent sizes");
        return -1;
    }
    f->term_max = malloc(sizeof(float) * (size_t)(f->nterms + 1));
    f->dense = calloc((size_t)f->nterms + 1, sizeof(Dense *));
    f->block_max = malloc(sizeof(float) * (size_t)(f->nposts / BLOCK + f->nterms + 1));
    f->block_last = malloc(sizeof(int32_t) * (size_t)(f->nposts / BLOCK + f->nterms + 1));
    if (!f->term_max || !f->block_max || !f->block_last || !f->dense) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t t = 0; t < f->nterms; t++)
        f->term_max[t] = -1.0f;
    return 0;
}

static PyObject *searcher_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *fields, *rank;
    Py_ssize_t ndocs, dense = 32;
    static char *names[] = {"fields", "id_rank", "n_docs", "dense", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!On|n", names, &PyList_Type, &fields, &rank, &ndocs, &dense))
        return NULL;
    if (dense < 0) {
        PyErr_SetString(PyExc_ValueError, "dense: expected a non-negative ratio");
        return NULL;
    }
    Searcher *s = (Searcher *)type->tp_alloc(type, 0);
    if (!s)
        return NULL;
    s->ndocs = ndocs;
    s->dense = dense;
    Py_ssize_t nf = PyList_GET_SIZE(fields);
    s->fields = PyMem_Calloc((size_t)(nf ? nf : 1), sizeof(Field));
    if (!s->fields) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    if (get_buffer(rank, &s->rank_v, 0) < 0 || expect_int(&s->rank_v, 8, "id_rank") < 0 ||
        s->rank_v.len / 8 != ndocs || ndocs >= END_DOC) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "id_rank: one entry per document expected");
        Py_DECREF(s);
        return NULL;
    }
    s->rank = s->rank_v.buf;
    for (Py_ssize_t i = 0; i < nf; i++) {
        s->nfields = i + 1;
        if (field_init(&s->fields[i], PyList_GET_ITEM(fields, i), ndocs) < 0) {
            Py_DECREF(s);
            return NULL;
        }
    }
    return (PyObject *)s;
}

/* search(fields: int32 buffer, terms: int64 buffer, weights: float32 buffer, k) -> (docs, scores):
 * the clauses in scoring order (grouped by field, in field order; in query order within a
 * field); docs: int64 document indices, scores: float32, as bytes, best first. */
static PyObject *searcher_search(Searcher *s, PyObject *args) {
    Py_buffer fv, tv, wv;
    Py_ssize_t k;
    if (!PyArg_ParseTuple(args, "y*y*y*n", &fv, &tv, &wv, &k))
        return NULL;
    PyObject *result = NULL;
    int *cfield = NULL;
    Query q;
    memset(&q, 0, sizeof(q));
    Py_ssize_t nc = tv.len / 8;
    const int32_t *cf = fv.buf;
    const int64_t *ct = tv.buf;
    const float *cw = wv.buf;
    if (fv.len != nc * 4 || wv.len != nc * 4 || k < 0) {
        PyErr_SetString(PyExc_ValueError, "search: clause arrays of different lengths");
        goto done;
    }
    if (k > s->ndocs)
        k = s->ndocs;
    q.nc = nc;
    q.k = k;
    q.cur = calloc((size_t)nc + 1, sizeof(Cursor));
    q.order = calloc((size_t)nc + 1, sizeof(int));
    q.pref = calloc((size_t)nc + 1, sizeof(double));
    /* windows of 4096 documents, fewer for long queries: the window's clause scores take at
     * most 4 MB */
    q.wbits = 12;
    while (q.wbits > 6 && ((nc + 1) << q.wbits) > (1 << 20))
        q.wbits--;
    q.win = (Py_ssize_t)1 << q.wbits;
    q.val = calloc((size_t)(nc + 1) << q.wbits, sizeof(float));
    q.acc = calloc((size_t)q.win, sizeof(double));
    q.bits = calloc((size_t)q.win / 64, sizeof(uint64_t));
    q.cand = malloc(sizeof(int32_t) * (size_t)q.win);
    q.probed = malloc(sizeof(int32_t) * (size_t)q.win);
    q.cest = malloc(sizeof(double) * (size_t)q.win);
    q.cblk = malloc(sizeof(int64_t) * (size_t)q.win);
    q.first = malloc(sizeof(int64_t) * ((size_t)nc + 1));
    cfield = calloc((size_t)nc + 1, sizeof(int));
    q.cfield = cfield;
    q.heap = malloc(sizeof(Hit) * (size_t)(k + 1));
    if (!q.cur || !q.order || !q.pref || !q.val || !q.acc || !q.bits || !q.cand || !q.probed || !q.cest ||
        !q.cblk || !q.first || !cfield || !q.heap) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t j = 0; j < nc; j++) {
        if (cf[j] < 0 || cf[j] >= s->nfields || (j > 0 && cf[j] < cf[j - 1])) {
            PyErr_SetString(PyExc_ValueError, "search: bad field order");
            goto done;
        }
        Field *f = &s->fields[cf[j]];
        int64_t t = ct[j];
        if (t < 0 || t >= f->nterms || !(cw[j] > 0.0f) || cw[j] > 3.0e38f) {
            PyErr_SetString(PyExc_ValueError, "search: term out of range or weight not positive");
            goto done;
        }
        if (f->term_max[t] < 0.0f && prepare_term(s, f, t) < 0)
            goto done;
        Cursor *c = &q.cur[j];
        c->f = f;
        c->start = c->pos = f->indptr[t];
        c->end = f->indptr[t + 1];
        c->nblk = (c->end - c->start + BLOCK - 1) / BLOCK;
        c->bmax = f->block_max + block_offset(f, t);
        c->blast = f->block_last + block_offset(f, t);
        c->dense = f->dense[t];
        c->w = cw[j];
        c->ub = clause(cw[j], f->term_max[t]);
        c->clause = (int)j;
        c->ub_blk = -1;
        cfield[j] = cf[j];
        q.order[j] = (int)j;
    }
    Py_BEGIN_ALLOW_THREADS;
    for (Py_ssize_t i = 1; i < nc; i++) { /* insertion sort by upper bound */
        int x = q.order[i];
        Py_ssize_t j = i;
        while (j > 0 && q.cur[q.order[j - 1]].ub > q.cur[x].ub) {
            q.order[j] = q.order[j - 1];
            j--;
        }
        q.order[j] = x;
    }
    double sum = 0.0;
    for (Py_ssize_t i = 0; i < nc; i++) {
        sum += q.cur[q.order[i]].ub;
        q.pref[i] = sum;
    }
    if (nc > 0 && k > 0)
        run_query(&q, s->rank);
    qsort(q.heap, (size_t)q.nheap, sizeof(Hit), better_first);
    Py_END_ALLOW_THREADS;
    PyObject *docs = PyBytes_FromStringAndSize(NULL, q.nheap * 8);
    PyObject *scores = PyBytes_FromStringAndSize(NULL, q.nheap * 4);
    if (docs && scores) {
        int64_t *dp = (int64_t *)PyBytes_AS_STRING(docs);
        float *sp = (float *)PyBytes_AS_STRING(scores);
        for (Py_ssize_t i = 0; i < q.nheap; i++) {
            dp[i] = q.heap[i].doc;
            sp[i] = q.heap[i].score;
        }
        result = PyTuple_Pack(2, docs, scores);
    }
    Py_XDECREF(docs);
    Py_XDECREF(scores);
done:
    free(q.cur);
    free(q.order);
    free(q.pref);
    free(q.val);
    free(q.acc);
    free(q.bits);
    free(q.cand);
    free(q.probed);
    free(q.cest);
    free(q.cblk);
    free(q.first);
    free(cfield);
    free(q.heap);
    PyBuffer_Release(&fv);
    PyBuffer_Release(&tv);
    PyBuffer_Release(&wv);
    return result;
}

/* prepare(): the terms to prepare, and the first error met. */
typedef struct {
    int field;
    int64_t term, size;
    int rc;
} Job;

typedef struct {
    const Searcher *s;
    Job *jobs;
    Py_ssize_t n;
    Py_ssize_t next; /* the next job to take (atomic) */
} Jobs;

static void *work(void *arg) {
    Jobs *w = arg;
    for (;;) {
        Py_ssize_t i = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
        if (i >= w->n)
            return NULL;
        Job *j = &w->jobs[i];
        j->rc = prepare_core(w->s, &w->s->fields[j->field], j->term);
    }
}

static int by_term(const void *x, const void *y) {
    const Job *a = x, *b = y;
    return a->field != b->field ? (a->field < b->field ? -1 : 1) : a->term < b->term ? -1 : a->term > b->term;
}

static int by_size(const void *x, const void *y) {
    const Job *a = x, *b = y;
    return a->size > b->size ? -1 : a->size < b->size;
}

/* prepare(fields: int32 buffer, terms: int64 buffer, threads) -> None: the upper bounds (and
 * bitmaps) of these terms, as their first search would compute them, on up to `threads` threads
 * (longest lists first). The GIL stays held meanwhile, so no search runs while bounds are
 * written; each term is prepared once, by one thread. */
static PyObject *searcher_prepare(Searcher *s, PyObject *args) {
    Py_buffer fv, tv;
    Py_ssize_t threads;
    if (!PyArg_ParseTuple(args, "y*y*n", &fv, &tv, &threads))
        return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = tv.len / 8;
    const int32_t *cf = fv.buf;
    const int64_t *ct = tv.buf;
    Job *jobs = NULL;
    if (fv.len != n * 4) {
        PyErr_SetString(PyExc_ValueError, "prepare: field and term arrays of different lengths");
        goto done;
    }
    jobs = malloc(sizeof(Job) * (size_t)(n + 1));
    if (!jobs) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (cf[i] < 0 || cf[i] >= s->nfields || ct[i] < 0 || ct[i] >= s->fields[cf[i]].nterms) {
            PyErr_SetString(PyExc_ValueError, "prepare: field or term out of range");
            goto done;
        }
        jobs[i] = (Job){cf[i], ct[i], 0, 0};
    }
    qsort(jobs, (size_t)n, sizeof(Job), by_term);
    Py_ssize_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) { /* distinct terms not prepared yet */
        const Field *f = &s->fields[jobs[i].field];
        if ((m > 0 && by_term(&jobs[m - 1], &jobs[i]) == 0) || f->term_max[jobs[i].term] >= 0.0f)
            continue;
        jobs[i].size = f->indptr[jobs[i].term + 1] - f->indptr[jobs[i].term];
        jobs[m++] = jobs[i];
    }
    qsort(jobs, (size_t)m, sizeof(Job), by_size);
    Jobs w = {s, jobs, m, 0};
#ifndef _WIN32
    pthread_t extra[16];
    int started = 0;
    for (Py_ssize_t i = 1; i < threads && i <= 16 && m > 1; i++)
        if (pthread_create(&extra[started], NULL, work, &w) == 0)
            started++;
    work(&w);
    for (int i = 0; i < started; i++)
        pthread_join(extra[i], NULL);
#else
    (void)threads;
    work(&w);
#endif
    for (Py_ssize_t i = 0; i < m; i++)
        if (jobs[i].rc != PREP_OK) {
            /* raise the error (a term that failed is left unprepared: its search raises it again) */
            prepare_term(s, &s->fields[jobs[i].field], jobs[i].term);
            goto done;
        }
    result = Py_NewRef(Py_None);
done:
    free(jobs);
    PyBuffer_Release(&fv);
    PyBuffer_Release(&tv);
    return result;
}

static PyMethodDef searcher_methods[] = {
    {"prepare", (PyCFunction)searcher_prepare, METH_VARARGS,
     "prepare(fields, terms, threads): upper bounds of these terms, on several threads"},
    {"search", (PyCFunction)searcher_search, METH_VARARGS,
     "search(fields, terms, weights, k) -> (docs, scores): exact top k, pruned"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SearcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "beirctl.lucene._search.Searcher",
    .tp_basicsize = sizeof(Searcher),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Searcher(fields, id_rank, n_docs, dense=32): pruned exact BM25 top k over an index's postings; "
              "lists of n_docs / dense postings or more probed through a bitmap (dense=0: none)",
    .tp_new = searcher_new,
    .tp_dealloc = (destructor)searcher_dealloc,
    .tp_methods = searcher_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_search", "Exact BM25 top k by dynamic pruning (see _search.c).", -1, NULL,
};

PyMODINIT_FUNC PyInit__search(void) {
    if (PyType_Ready(&SearcherType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    Py_INCREF(&SearcherType);
    if (PyModule_AddObject(m, "Searcher", (PyObject *)&SearcherType) < 0) {
        Py_DECREF(&SearcherType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/*
 * Diff loops in plain C for diff.pyx (declared in diff_kernels.pxd). Semantics follow
 * vaultsync/pure/diff.py, which documents them.
 *
 * Contract: pointers address aligned, C-contiguous arrays that the caller validated (types,
 * lengths) and normalised; no Python objects are touched, so callers may release the GIL.
 * Functions that produce a variable number of rows write them into df_vec buffers grown with
 * realloc (the caller frees them) and return -1 only when memory runs out.
 *
 * Why C: every function is one linear pass, and the ones over two sorted columns (diff_sorted)
 * skip long equal runs with memcmp, which libc implements with wide vector loads; a replica pair
 * differing in 0.1 % of its rows is compared at memory bandwidth instead of one branch per row.
 */
#ifndef VAULTSYNC_DIFF_KERNELS_H
#define VAULTSYNC_DIFF_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *data;
    ptrdiff_t len;
    ptrdiff_t cap;
} df_vec;

static void df_vec_free(df_vec *v) {
    free(v->data);
    v->data = NULL;
    v->len = v->cap = 0;
}

static int df_vec_grow(df_vec *v) {
    ptrdiff_t cap = v->cap ? v->cap * 2 : 1024;
    int64_t *p = (int64_t *)realloc(v->data, (size_t)cap * sizeof(int64_t));
    if (!p) {
        return -1;
    }
    v->data = p;
    v->cap = cap;
    return 0;
}

static inline int df_push(df_vec *v, int64_t x) {
    if (v->len == v->cap && df_vec_grow(v) < 0) {
        return -1;
    }
    v->data[v->len++] = x;
    return 0;
}

/* ---- sortedness ------------------------------------------------------------------------- */

/* First i >= 1 with k[i] <= k[i-1] (strict) / k[i] < k[i-1] (!strict), or -1. Checked in blocks
   without early exit inside a block so the comparisons vectorise. */
#define DF_FIRST_UNSORTED(NAME, T)                                                              \
    static ptrdiff_t NAME(const T *k, ptrdiff_t n, int strict) {                                 \
        const ptrdiff_t block = 1024;                                                           \
        for (ptrdiff_t start = 1; start < n; start += block) {                                  \
            ptrdiff_t end = start + block < n ? start + block : n;                              \
            int bad = 0;                                                                        \
            if (strict) {                                                                       \
                for (ptrdiff_t i = start; i < end; i++) bad |= k[i] <= k[i - 1];                \
            } else {                                                                            \
                for (ptrdiff_t i = start; i < end; i++) bad |= k[i] < k[i - 1];                 \
            }                                                                                   \
            if (bad) {                                                                          \
                for (ptrdiff_t i = start; i < end; i++) {                                       \
                    if (strict ? k[i] <= k[i - 1] : k[i] < k[i - 1]) return i;                  \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        return -1;                                                                              \
    }

DF_FIRST_UNSORTED(df_first_unsorted_i64, int64_t)
DF_FIRST_UNSORTED(df_first_unsorted_u64, uint64_t)

/* ---- lacking ---------------------------------------------------------------------------- */

/* First i with origins[i] outside 0..width-1, or -1. */
static ptrdiff_t df_first_unknown(const int32_t *origins, ptrdiff_t n, ptrdiff_t width) {
    const ptrdiff_t block = 4096;
    for (ptrdiff_t start = 0; start < n; start += block) {
        ptrdiff_t end = start + block < n ? start + block : n;
        int bad = 0;
        for (ptrdiff_t i = start; i < end; i++) {
            bad |= (uint64_t)(int64_t)origins[i] >= (uint64_t)width;
        }
        if (bad) {
            for (ptrdiff_t i = start; i < end; i++) {
                if ((uint64_t)(int64_t)origins[i] >= (uint64_t)width) return i;
            }
        }
    }
    return -1;
}

typedef struct {
    int64_t seq;
    int64_t row;
    int32_t origin;
} df_change;

static int df_change_cmp(const void *pa, const void *pb) {
    const df_change *a = (const df_change *)pa, *b = (const df_change *)pb;
    if (a->origin != b->origin) return a->origin < b->origin ? -1 : 1;
    if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* Rows with seqs[i] > clock[origins[i]] into out (capacity n), in (origin, seq, row) order.
   Origins must all be in range (df_first_unknown). Returns the row count, or -1 out of memory. */
static ptrdiff_t df_lacking(int64_t *out, const int32_t *origins, const int64_t *seqs, ptrdiff_t n,
                            const int64_t *clock) {
    ptrdiff_t m = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        out[m] = i; /* branch-free select: write always, advance only when lacking */
        m += seqs[i] > clock[origins[i]];
    }
    int sorted = 1;
    for (ptrdiff_t j = 1; j < m && sorted; j++) {
        int32_t o0 = origins[out[j - 1]], o1 = origins[out[j]];
        sorted = o0 < o1 || (o0 == o1 && seqs[out[j - 1]] <= seqs[out[j]]);
    }
    if (sorted) {
        return m;
    }
    df_change *tmp = (df_change *)malloc((size_t)m * sizeof(df_change));
    if (!tmp) {
        return -1;
    }
    for (ptrdiff_t j = 0; j < m; j++) {
        tmp[j].origin = origins[out[j]];
        tmp[j].seq = seqs[out[j]];
        tmp[j].row = out[j];
    }
    qsort(tmp, (size_t)m, sizeof(df_change), df_change_cmp);
    for (ptrdiff_t j = 0; j < m; j++) {
        out[j] = tmp[j].row;
    }
    free(tmp);
    return m;
}

/* ---- diff_sorted ------------------------------------------------------------------------ */

/* Merge-join of two key columns, validating as it goes that both strictly increase: it returns
   DF_UNSORTED as soon as it meets a key that does not exceed its predecessor (the caller then
   runs the validators, which name the first offending position), so the columns are read once
   instead of once to validate and once to compare. Runs where keys and versions agree are
   skipped a block at a time by a branch-free XOR/OR over the block, with the sortedness check
   of the same block fused in (equal blocks need it on one side only); with target clones these
   loops run at AVX2/AVX-512 width. */
#define DF_UNSORTED (-2)

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && defined(__GLIBC__) && !defined(VAULTSYNC_NO_MULTIVERSION)
#define DF_KERNEL static __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DF_KERNEL static
#endif

#define DF_DIFF_SORTED(NAME, T)                                                                 \
    DF_KERNEL int NAME(const T *ka, const int64_t *va, ptrdiff_t na, const T *kb,               \
                       const int64_t *vb, ptrdiff_t nb, df_vec *only_a, df_vec *only_b,         \
                       df_vec *diff_a, df_vec *diff_b) {                                        \
        enum { block = 32 };                                                                    \
        ptrdiff_t i = 0, j = 0;                                                                 \
        while (i < na && j < nb) {                                                              \
            while (i + block <= na && j + block <= nb) {                                        \
                uint64_t d = 0;                                                                 \
                for (ptrdiff_t k = 0; k < block; k++) {                                         \
                    d |= ((uint64_t)ka[i + k] ^ (uint64_t)kb[j + k])                            \
                         | ((uint64_t)va[i + k] ^ (uint64_t)vb[j + k]);                         \
                }                                                                               \
                if (d) break;                                                                   \
                int bad = (i > 0 && ka[i] <= ka[i - 1]) | (j > 0 && kb[j] <= kb[j - 1]);        \
                for (ptrdiff_t k = 1; k < block; k++) bad |= ka[i + k] <= ka[i + k - 1];        \
                if (bad) return DF_UNSORTED;                                                    \
                i += block;                                                                     \
                j += block;                                                                     \
            }                                                                                   \
            ptrdiff_t stop = i + block < na ? i + block : na;                                   \
            while (i < stop && j < nb) {                                                        \
                T x = ka[i], y = kb[j];                                                         \
                if ((i > 0 && x <= ka[i - 1]) || (j > 0 && y <= kb[j - 1])) return DF_UNSORTED; \
                if (x == y) {                                                                   \
                    if (va[i] != vb[j]) {                                                       \
                        if (df_push(diff_a, i) < 0 || df_push(diff_b, j) < 0) return -1;        \
                    }                                                                           \
                    i++;                                                                        \
                    j++;                                                                        \
                } else if (x < y) {                                                             \
                    if (df_push(only_a, i++) < 0) return -1;                                    \
                } else {                                                                        \
                    if (df_push(only_b, j++) < 0) return -1;                                    \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        for (; i < na; i++) {                                                                   \
            if (i > 0 && ka[i] <= ka[i - 1]) return DF_UNSORTED;                                \
            if (df_push(only_a, i) < 0) return -1;                                              \
        }                                                                                       \
        for (; j < nb; j++) {                                                                   \
            if (j > 0 && kb[j] <= kb[j - 1]) return DF_UNSORTED;                                \
            if (df_push(only_b, j) < 0) return -1;                                              \
        }                                                                                       \
        return 0;                                                                               \
    }

DF_DIFF_SORTED(df_diff_sorted_i64, int64_t)
DF_DIFF_SORTED(df_diff_sorted_u64, uint64_t)

/* ---- buckets ---------------------------------------------------------------------------- */

static inline uint64_t df_mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/*
 * One pass over strictly increasing keys (raw 64-bit patterns; flip = 1 << 63 for int64 keys,
 * which maps signed order onto unsigned order, 0 for uint64). lo/hi are bit patterns in the same
 * encoding as the keys, width = (hi - lo) / nb + 1 (as computed by the reference, capped to
 * UINT64_MAX). Adds each row's term to hashes[bucket] (if hashes; zeroed by the caller) and
 * writes the nb + 1 bucket start offsets (if offsets). Bucket ids only grow along sorted keys, so
 * a division happens only when a key leaves the current bucket.
 */
static void df_buckets(uint64_t *hashes, int64_t *offsets, const uint64_t *keys,
                       const int64_t *versions, ptrdiff_t n, uint64_t flip, uint64_t lo,
                       uint64_t hi, uint64_t width, ptrdiff_t nb) {
    const uint64_t ulo = lo ^ flip, uhi = hi ^ flip;
    ptrdiff_t b = 0;
    uint64_t end = width; /* bucket b covers offsets [b * width, end) */
    int last = nb == 1;
    if (offsets) offsets[0] = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        uint64_t u = keys[i] ^ flip;
        uint64_t off = (u < ulo ? ulo : u > uhi ? uhi : u) - ulo;
        if (!last && off >= end) {
            uint64_t q = off / width;
            ptrdiff_t nbk = q > (uint64_t)(nb - 1) ? nb - 1 : (ptrdiff_t)q;
            if (offsets) {
                for (ptrdiff_t c = b + 1; c <= nbk; c++) offsets[c] = i;
            }
            b = nbk;
            last = b == nb - 1;
            if (!last) end = (uint64_t)(b + 1) * width; /* (nb - 1) * width cannot overflow */
        }
        if (hashes) hashes[b] += df_mix(df_mix(keys[i]) ^ (uint64_t)versions[i]);
    }
    if (offsets) {
        for (ptrdiff_t c = b + 1; c <= nb; c++) offsets[c] = n;
    }
}

#endif /* VAULTSYNC_DIFF_KERNELS_H */

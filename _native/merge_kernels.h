/*
 * Batch last-writer-wins decision in plain C for merge.pyx (declared in merge_kernels.pxd).
 * Semantics follow vaultsync/pure/merge.py, which documents them.
 *
 * Contract: aligned C-contiguous int64 inputs validated by the caller (lengths; incoming keys
 * non-decreasing, current keys strictly increasing); no Python objects, callable without the GIL.
 *
 * One merge-join pass: for each run of equal incoming keys, find the greatest (hlc, node) (first
 * on an exact tie) and compare it with the current version found by advancing through cur_keys.
 * The current column is advanced by galloping (exponential then binary search), so a small batch
 * against a large table costs O(batch * log(table)) instead of a scan of the table, and a dense
 * batch stays linear.
 */
#ifndef VAULTSYNC_MERGE_KERNELS_H
#define VAULTSYNC_MERGE_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define LWW_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define LWW_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#define LWW_PREFETCH(p) ((void)(p))
#define LWW_PREFETCH_W(p) ((void)(p))
#endif

/* Smallest j' >= j with ck[j'] >= key (m if none). */
static inline ptrdiff_t lww_seek(const int64_t *ck, ptrdiff_t m, ptrdiff_t j, int64_t key) {
    if (j >= m || ck[j] >= key) {
        return j;
    }
    /* ck[j] < key: gallop to a bound hi with ck[hi] >= key (or m), then binary search. */
    ptrdiff_t step = 1, lo = j, hi = j + 1;
    while (hi < m && ck[hi] < key) {
        lo = hi;
        step <<= 1;
        hi = lo + step;
    }
    if (hi > m) {
        hi = m;
    }
    /* invariant: ck[lo] < key, and hi == m or ck[hi] >= key */
    while (hi - lo > 1) {
        ptrdiff_t mid = lo + (hi - lo) / 2;
        if (ck[mid] < key) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return hi;
}

static void lww_decide(uint8_t *win, int64_t *pos, const int64_t *keys, const int64_t *hlcs,
                       const int64_t *nodes, ptrdiff_t n, const int64_t *ck, const int64_t *ch,
                       const int64_t *cn, ptrdiff_t m) {
    ptrdiff_t i = 0, j = 0;
    while (i < n) {
        const int64_t key = keys[i];
        j = lww_seek(ck, m, j, key);
        const ptrdiff_t p = (j < m && ck[j] == key) ? j : -1;
        ptrdiff_t best = i;
        int64_t bh = hlcs[i], bn = nodes[i];
        win[i] = 0;
        pos[i] = p;
        ptrdiff_t e = i + 1;
        for (; e < n && keys[e] == key; e++) {
            win[e] = 0;
            pos[e] = p;
            if (hlcs[e] > bh || (hlcs[e] == bh && nodes[e] > bn)) {
                best = e;
                bh = hlcs[e];
                bn = nodes[e];
            }
        }
        win[best] = p < 0 || bh > ch[p] || (bh == ch[p] && bn > cn[p]);
        i = e;
    }
}

/* First i >= 1 with k[i] <= k[i-1] (strict) / k[i] < k[i-1] (!strict), or -1. */
static ptrdiff_t lww_first_unsorted(const int64_t *k, ptrdiff_t n, int strict) {
    const ptrdiff_t block = 1024;
    for (ptrdiff_t start = 1; start < n; start += block) {
        ptrdiff_t end = start + block < n ? start + block : n;
        int bad = 0;
        if (strict) {
            for (ptrdiff_t i = start; i < end; i++) bad |= k[i] <= k[i - 1];
        } else {
            for (ptrdiff_t i = start; i < end; i++) bad |= k[i] < k[i - 1];
        }
        if (bad) {
            for (ptrdiff_t i = start; i < end; i++) {
                if (strict ? k[i] <= k[i - 1] : k[i] < k[i - 1]) return i;
            }
        }
    }
    return -1;
}

/*
 * decide for a batch in any order (arrival order): a stable LSD radix sort of the batch by key,
 * then the same per-key-run decision, with win/pos scattered back to arrival positions.
 *
 * Why radix: argsort (a comparison sort) plus three gathers costs ~6x the decision itself at a
 * million changes; a radix sort over only the key bits that vary is a few linear passes. Keys are
 * offset by the batch minimum (unsigned difference: exact over the whole int64 range), so only
 * bit-length(max - min) bits are sorted, in 8..11-bit digits. When those bits and the row index
 * fit one 64-bit word together (the common case: keys within 2^44 of each other for a million
 * rows) each record is that one word (offset << index bits | row) - half the memory traffic of
 * (key, row) pairs, which are the fallback. LSD is stable and the input is in row order, so equal
 * keys come out in row order: "first on an exact tie" means lowest row, as in the reference.
 *
 * Returns 0, or -1 if the scratch memory (16 or 32 bytes per change) cannot be allocated.
 */
#define LWW_DIGIT_MAX 11
#define LWW_AHEAD 16 /* records ahead whose row data the decision pass prefetches */

static inline int lww_bit_length(uint64_t x) {
    int b = 0;
    while (x) {
        b++;
        x >>= 1;
    }
    return b;
}

/* Stable LSD sort of a[0:n] by bits [lo, lo + nbits) of each word, using tmp[0:n] as scratch;
   returns the buffer (a or tmp) that holds the result. */
static uint64_t *lww_radix_words(uint64_t *a, uint64_t *tmp, ptrdiff_t n, int lo, int nbits) {
    if (nbits <= 0) return a;
    const int passes = (nbits + LWW_DIGIT_MAX - 1) / LWW_DIGIT_MAX;
    const int digit = (nbits + passes - 1) / passes;
    const uint64_t mask = ((uint64_t)1 << digit) - 1;
    ptrdiff_t *count = (ptrdiff_t *)calloc((size_t)passes << digit, sizeof(ptrdiff_t));
    if (!count) return NULL;
    for (ptrdiff_t i = 0; i < n; i++) {
        const uint64_t v = a[i] >> lo;
        for (int p = 0; p < passes; p++) count[((ptrdiff_t)p << digit) + (ptrdiff_t)((v >> (p * digit)) & mask)]++;
    }
    for (int p = 0; p < passes; p++) {
        ptrdiff_t *c = count + ((ptrdiff_t)p << digit), sum = 0;
        const int shift = lo + p * digit;
        int single = 0; /* every record has the same digit here: the pass would not move anything */
        for (uint64_t d = 0; d <= mask; d++) {
            single |= c[d] == n;
            const ptrdiff_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        if (single) continue;
        for (ptrdiff_t i = 0; i < n; i++) {
            const uint64_t v = a[i];
            tmp[c[(v >> shift) & mask]++] = v;
        }
        uint64_t *t = a;
        a = tmp;
        tmp = t;
    }
    free(count);
    return a;
}

/* The same for (key, row) pairs kept in two arrays; sorts by all nbits low bits of the key. */
static int lww_radix_pairs(uint64_t **kp, uint64_t **rp, uint64_t *kt, uint64_t *rt, ptrdiff_t n, int nbits) {
    uint64_t *k = *kp, *r = *rp;
    if (nbits <= 0) return 0;
    const int passes = (nbits + LWW_DIGIT_MAX - 1) / LWW_DIGIT_MAX;
    const int digit = (nbits + passes - 1) / passes;
    const uint64_t mask = ((uint64_t)1 << digit) - 1;
    ptrdiff_t *count = (ptrdiff_t *)calloc((size_t)passes << digit, sizeof(ptrdiff_t));
    if (!count) return -1;
    for (ptrdiff_t i = 0; i < n; i++) {
        for (int p = 0; p < passes; p++) count[((ptrdiff_t)p << digit) + (ptrdiff_t)((k[i] >> (p * digit)) & mask)]++;
    }
    for (int p = 0; p < passes; p++) {
        ptrdiff_t *c = count + ((ptrdiff_t)p << digit), sum = 0;
        const int shift = p * digit;
        int single = 0;
        for (uint64_t d = 0; d <= mask; d++) {
            single |= c[d] == n;
            const ptrdiff_t x = c[d];
            c[d] = sum;
            sum += x;
        }
        if (single) continue;
        for (ptrdiff_t i = 0; i < n; i++) {
            const ptrdiff_t at = c[(k[i] >> shift) & mask]++;
            kt[at] = k[i];
            rt[at] = r[i];
        }
        uint64_t *t = k; k = kt; kt = t;
        t = r; r = rt; rt = t;
    }
    free(count);
    *kp = k;
    *rp = r;
    return 0;
}

/* One key run [r, e) of the sorted batch: rows via row(), decision as in lww_decide. */
#define LWW_DECIDE_RUNS(KEY_AT, ROW_AT)                                                              \
    do {                                                                                             \
        ptrdiff_t r = 0, j = 0;                                                                      \
        while (r < n) {                                                                              \
            const uint64_t ko = KEY_AT(r);                                                           \
            const int64_t key = (int64_t)((uint64_t)kmin + ko);                                      \
            j = lww_seek(ck, m, j, key);                                                             \
            const ptrdiff_t p = (j < m && ck[j] == key) ? j : -1;                                    \
            ptrdiff_t e = r, best = -1;                                                              \
            int64_t bh = 0, bn = 0;                                                                  \
            for (; e < n && KEY_AT(e) == ko; e++) {                                                  \
                if (e + LWW_AHEAD < n) {                                                             \
                    const ptrdiff_t ahead = (ptrdiff_t)ROW_AT(e + LWW_AHEAD);                        \
                    LWW_PREFETCH(&hlcs[ahead]);                                                      \
                    LWW_PREFETCH(&nodes[ahead]);                                                     \
                    LWW_PREFETCH_W(&win[ahead]);                                                     \
                    LWW_PREFETCH_W(&pos[ahead]);                                                     \
                }                                                                                    \
                const ptrdiff_t i = (ptrdiff_t)ROW_AT(e);                                            \
                win[i] = 0;                                                                          \
                pos[i] = p;                                                                          \
                if (best < 0 || hlcs[i] > bh || (hlcs[i] == bh && nodes[i] > bn)) {                  \
                    best = i;                                                                        \
                    bh = hlcs[i];                                                                    \
                    bn = nodes[i];                                                                   \
                }                                                                                    \
            }                                                                                        \
            win[best] = p < 0 || bh > ch[p] || (bh == ch[p] && bn > cn[p]);                          \
            r = e;                                                                                   \
        }                                                                                            \
    } while (0)

static int lww_decide_unsorted(uint8_t *win, int64_t *pos, const int64_t *keys, const int64_t *hlcs,
                               const int64_t *nodes, ptrdiff_t n, const int64_t *ck, const int64_t *ch,
                               const int64_t *cn, ptrdiff_t m) {
    if (n <= 0) return 0;
    int64_t kmin = keys[0], kmax = keys[0];
    for (ptrdiff_t i = 1; i < n; i++) {
        kmin = keys[i] < kmin ? keys[i] : kmin;
        kmax = keys[i] > kmax ? keys[i] : kmax;
    }
    const int kbits = lww_bit_length((uint64_t)kmax - (uint64_t)kmin);
    const int rbits = lww_bit_length((uint64_t)(n - 1)) > 0 ? lww_bit_length((uint64_t)(n - 1)) : 1;
    if (kbits + rbits <= 64) {
        uint64_t *a = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
        uint64_t *t = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
        if (!a || !t) {
            free(a);
            free(t);
            return -1;
        }
        for (ptrdiff_t i = 0; i < n; i++) {
            a[i] = (((uint64_t)keys[i] - (uint64_t)kmin) << rbits) | (uint64_t)i;
        }
        uint64_t *sorted = lww_radix_words(a, t, n, rbits, kbits);
        if (!sorted) {
            free(a);
            free(t);
            return -1;
        }
        const uint64_t rmask = ((uint64_t)1 << rbits) - 1;
#define LWW_PK_KEY(x) (sorted[x] >> rbits)
#define LWW_PK_ROW(x) (sorted[x] & rmask)
        LWW_DECIDE_RUNS(LWW_PK_KEY, LWW_PK_ROW);
#undef LWW_PK_KEY
#undef LWW_PK_ROW
        free(a);
        free(t);
        return 0;
    }
    uint64_t *k = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
    uint64_t *r = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
    uint64_t *kt = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
    uint64_t *rt = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
    uint64_t *blocks[4] = {k, r, kt, rt};
    int rc = -1;
    if (k && r && kt && rt) {
        for (ptrdiff_t i = 0; i < n; i++) {
            k[i] = (uint64_t)keys[i] - (uint64_t)kmin;
            r[i] = (uint64_t)i;
        }
        uint64_t *sk = k, *sr = r;
        rc = lww_radix_pairs(&sk, &sr, kt, rt, n, kbits);
        if (rc == 0) {
#define LWW_PR_KEY(x) (sk[x])
#define LWW_PR_ROW(x) (sr[x])
            LWW_DECIDE_RUNS(LWW_PR_KEY, LWW_PR_ROW);
#undef LWW_PR_KEY
#undef LWW_PR_ROW
        }
    }
    for (int b = 0; b < 4; b++) free(blocks[b]);
    return rc;
}

#endif /* VAULTSYNC_MERGE_KERNELS_H */

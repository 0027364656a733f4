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

#endif /* VAULTSYNC_MERGE_KERNELS_H */

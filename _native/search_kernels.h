/* SKU search kernel helpers (used by _native/search.pyx): hashing, substring find, bounded
 * optimal-string-alignment distance. Plain C99, no Python API, so the loops stay tight. */
#ifndef VAULTSYNC_SEARCH_KERNELS_H
#define VAULTSYNC_SEARCH_KERNELS_H

#include <stdint.h>
#include <string.h>

/* Hint that *p will be read soon (a posting list's next documents); a no-op without GCC/Clang. */
#if defined(__GNUC__)
#define SK_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#else
#define SK_PREFETCH(p) ((void)(p))
#endif

/* FNV-1a, 64-bit: token interning (collisions are resolved by comparing bytes). */
static inline uint64_t sk_hash(const char *s, int32_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* First occurrence of needle (m >= 1 bytes) in hay[0..n), or -1. memchr on the first byte
 * (vectorised in libc) then memcmp: fast for the short needles queries have, and portable
 * (memmem is not on every platform). */
static inline int64_t sk_find(const char *hay, int64_t n, const char *needle, int32_t m) {
    if (m <= 0 || n < m) return -1;
    const char first = needle[0];
    const char *p = hay, *end = hay + n - m + 1;
    while (p < end) {
        const char *q = (const char *)memchr(p, first, (size_t)(end - p));
        if (!q) return -1;
        if (memcmp(q + 1, needle + 1, (size_t)(m - 1)) == 0) return (int64_t)(q - hay);
        p = q + 1;
    }
    return -1;
}

/* The set of byte values of s[0..n), folded into 64 bits (bit b & 63). One edit changes such a
 * set by at most two bits (a substitution drops one value and adds one; an insertion or deletion
 * one; a transposition none), so popcount(mask(a) ^ mask(b)) > 2k proves the OSA distance > k:
 * a filter that spares the DP for most same-length tokens in the typo scan. */
static inline uint64_t sk_mask(const char *s, int32_t n) {
    uint64_t m = 0;
    for (int32_t i = 0; i < n; i++) m |= (uint64_t)1 << ((unsigned char)s[i] & 63);
    return m;
}

static inline int sk_popcount(uint64_t x) {
#if defined(__GNUC__)
    return __builtin_popcountll(x);
#else
    int c = 0;
    for (; x; x &= x - 1) c++;
    return c;
#endif
}

/* Optimal-string-alignment distance between a[0..la) and b[0..lb) if it is <= k, else k + 1.
 * Banded DP (only cells within k of the diagonal can stay <= k) with an early exit once a whole
 * row exceeds k. Lengths are at most SK_MAX_FUZZY bytes (callers check). */
#define SK_MAX_FUZZY 64
static inline int sk_osa_within(const unsigned char *a, int la, const unsigned char *b, int lb, int k) {
    int d = la > lb ? la - lb : lb - la;
    if (d > k) return k + 1;
    if (la > SK_MAX_FUZZY || lb > SK_MAX_FUZZY) return k + 1;
    const int BIG = 1 << 20;
    int r0[SK_MAX_FUZZY + 1], r1[SK_MAX_FUZZY + 1], r2[SK_MAX_FUZZY + 1];
    int *prev2 = r0, *prev = r1, *cur = r2;
    for (int j = 0; j <= lb; j++) prev[j] = j <= k ? j : BIG;
    for (int j = 0; j <= lb; j++) prev2[j] = BIG;
    for (int i = 1; i <= la; i++) {
        int lo = i - k > 1 ? i - k : 1, hi = i + k < lb ? i + k : lb;
        int rowmin = BIG;
        cur[0] = i <= k ? i : BIG;
        if (lo > 1) cur[lo - 1] = BIG;
        unsigned char ai = a[i - 1];
        for (int j = lo; j <= hi; j++) {
            int cost = ai == b[j - 1] ? 0 : 1;
            int v = prev[j - 1] + cost;
            int t = prev[j] + 1; if (t < v) v = t;
            t = cur[j - 1] + 1; if (t < v) v = t;
            if (i > 1 && j > 1 && ai == b[j - 2] && a[i - 2] == b[j - 1]) {
                t = prev2[j - 2] + 1; if (t < v) v = t;
            }
            cur[j] = v;
            if (v < rowmin) rowmin = v;
        }
        if (hi < lb) cur[hi + 1] = BIG;
        if (cur[0] < rowmin) rowmin = cur[0];
        if (rowmin > k) return k + 1;
        int *tmp = prev2; prev2 = prev; prev = cur; cur = tmp;
    }
    return prev[lb] <= k ? prev[lb] : k + 1;
}

#endif

/*
 * Vector-clock loops in plain C, shared by every native module that needs them (vclock.pyx now,
 * diff/merge later) through vclock_kernels.pxd.
 *
 * Why C rather than Cython: int64 max/compare only vectorise with AVX2 / AVX-512, which the
 * portable x86-64 baseline a wheel is compiled for does not include. On x86-64 Linux with GCC the
 * loops are therefore built several times (target_clones) and the dynamic loader picks the best
 * one for the CPU at import (ifunc); everywhere else they are ordinary portable loops. Without
 * this, a 1000 x 64 merge_many runs ~3.5x slower than with it and slower than numpy.
 *
 * Contract for every function: pointers address aligned, C-contiguous int64 (callers validate and
 * normalise their inputs), no Python objects are touched, so callers may release the GIL. Arrays
 * marked VC_RESTRICT must not overlap. Semantics follow vaultsync/pure/vclock.py.
 */
#ifndef VAULTSYNC_VCLOCK_KERNELS_H
#define VAULTSYNC_VCLOCK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) \
    && defined(__GLIBC__) && !defined(VAULTSYNC_NO_MULTIVERSION)
#define VC_KERNEL static __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VC_KERNEL static
#endif

#if defined(_MSC_VER)
#define VC_RESTRICT __restrict
#else
#define VC_RESTRICT restrict
#endif

enum { VC_BEFORE = -1, VC_EQUAL = 0, VC_AFTER = 1, VC_CONCURRENT = 2 };

static inline int vc_verdict(int lt, int gt) {
    if (lt) {
        return gt ? VC_CONCURRENT : VC_BEFORE;
    }
    return gt ? VC_AFTER : VC_EQUAL;
}

/* Bitwise OR of a[0:n]: negative exactly when some entry is (the sign bit survives OR).
   Branch-free, so the "no negative seq" check costs a fraction of the real work. */
VC_KERNEL int64_t vc_or(const int64_t *a, ptrdiff_t n) {
    int64_t acc = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        acc |= a[i];
    }
    return acc;
}

/* out[i] = max(a[i], b[i]) */
VC_KERNEL void vc_max(int64_t *VC_RESTRICT out, const int64_t *VC_RESTRICT a,
                      const int64_t *VC_RESTRICT b, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        out[i] = a[i] > b[i] ? a[i] : b[i];
    }
}

/* dst[i] = max(dst[i], src[i]); dst and src must not overlap (callers skip dst == src: a no-op). */
VC_KERNEL void vc_max_into(int64_t *VC_RESTRICT dst, const int64_t *VC_RESTRICT src, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) {
        dst[i] = src[i] > dst[i] ? src[i] : dst[i];
    }
}

/* VC_BEFORE / VC_EQUAL / VC_AFTER / VC_CONCURRENT for a vs b; no early exit, so it vectorises. */
VC_KERNEL int vc_compare(const int64_t *a, const int64_t *b, ptrdiff_t n) {
    int lt = 0, gt = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        lt |= a[i] < b[i];
        gt |= a[i] > b[i];
    }
    return vc_verdict(lt, gt);
}

/* out[0:k] = column-wise max of the n x k matrix m; zeros when n == 0 (zero is merge's identity
   for non-negative clocks). */
VC_KERNEL void vc_fold_rows(int64_t *VC_RESTRICT out, const int64_t *VC_RESTRICT m, ptrdiff_t n,
                            ptrdiff_t k) {
    for (ptrdiff_t j = 0; j < k; j++) {
        out[j] = 0;
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        const int64_t *row = m + i * k;
        for (ptrdiff_t j = 0; j < k; j++) {
            out[j] = row[j] > out[j] ? row[j] : out[j];
        }
    }
}

/* out[i] = verdict of row i of the n x k matrix m against clock. */
VC_KERNEL void vc_compare_rows(int8_t *VC_RESTRICT out, const int64_t *VC_RESTRICT m,
                               const int64_t *VC_RESTRICT clock, ptrdiff_t n, ptrdiff_t k) {
    for (ptrdiff_t i = 0; i < n; i++) {
        const int64_t *row = m + i * k;
        int lt = 0, gt = 0;
        for (ptrdiff_t j = 0; j < k; j++) {
            lt |= row[j] < clock[j];
            gt |= row[j] > clock[j];
        }
        out[i] = (int8_t)vc_verdict(lt, gt);
    }
}

#endif /* VAULTSYNC_VCLOCK_KERNELS_H */

# Cython declarations of the C helpers in search_kernels.h (header-only; no runtime import).

from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from "search_kernels.h" nogil:
    enum:
        SK_MAX_FUZZY

    void SK_PREFETCH(const void* p) noexcept
    uint64_t sk_mask(const char* s, int32_t n) noexcept
    int sk_popcount(uint64_t x) noexcept
    uint64_t sk_hash(const char* s, int32_t n) noexcept
    int64_t sk_find(const char* hay, int64_t n, const char* needle, int32_t m) noexcept
    int sk_osa_within(const unsigned char* a, int la, const unsigned char* b, int lb, int k) noexcept

# Cython declarations of the C vector-clock loops in vclock_kernels.h, for any native module:
#
#     from vclock_kernels cimport vc_compare, vc_max_into
#
# Header-only: cimporting this compiles the loops into the importing module (no runtime import).
# Contract (see the header): aligned C-contiguous int64 buffers, no Python objects, callable
# without the GIL; arguments documented as restrict must not overlap.

from libc.stdint cimport int8_t, int64_t


cdef extern from "vclock_kernels.h" nogil:
    enum:
        VC_BEFORE
        VC_EQUAL
        VC_AFTER
        VC_CONCURRENT

    int vc_verdict(int lt, int gt) noexcept
    int64_t vc_or(const int64_t* a, Py_ssize_t n) noexcept
    void vc_max(int64_t* out, const int64_t* a, const int64_t* b, Py_ssize_t n) noexcept
    void vc_max_into(int64_t* dst, const int64_t* src, Py_ssize_t n) noexcept
    int vc_compare(const int64_t* a, const int64_t* b, Py_ssize_t n) noexcept
    void vc_fold_rows(int64_t* out, const int64_t* m, Py_ssize_t n, Py_ssize_t k) noexcept
    void vc_compare_rows(int8_t* out, const int64_t* m, const int64_t* clock,
                         Py_ssize_t n, Py_ssize_t k) noexcept

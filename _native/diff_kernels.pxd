# Cython declarations of the C diff loops in diff_kernels.h (header-only: cimporting compiles the
# loops into the importing module). Contract in the header: validated, aligned, C-contiguous
# buffers, no Python objects, callable without the GIL.

from libc.stdint cimport int32_t, int64_t, uint64_t


cdef extern from "diff_kernels.h" nogil:
    enum:
        DF_UNSORTED

    ctypedef struct df_vec:
        int64_t* data
        Py_ssize_t len
        Py_ssize_t cap

    void df_vec_free(df_vec* v) noexcept
    Py_ssize_t df_first_unsorted_i64(const int64_t* k, Py_ssize_t n, int strict) noexcept
    Py_ssize_t df_first_unsorted_u64(const uint64_t* k, Py_ssize_t n, int strict) noexcept
    Py_ssize_t df_first_unknown(const int32_t* origins, Py_ssize_t n, Py_ssize_t width) noexcept
    Py_ssize_t df_lacking(int64_t* out, const int32_t* origins, const int64_t* seqs, Py_ssize_t n,
                          const int64_t* clock) noexcept
    int df_diff_sorted_i64(const int64_t* ka, const int64_t* va, Py_ssize_t na,
                           const int64_t* kb, const int64_t* vb, Py_ssize_t nb,
                           df_vec* only_a, df_vec* only_b, df_vec* diff_a, df_vec* diff_b) noexcept
    int df_diff_sorted_u64(const uint64_t* ka, const int64_t* va, Py_ssize_t na,
                           const uint64_t* kb, const int64_t* vb, Py_ssize_t nb,
                           df_vec* only_a, df_vec* only_b, df_vec* diff_a, df_vec* diff_b) noexcept
    void df_buckets(uint64_t* hashes, int64_t* offsets, const uint64_t* keys,
                    const int64_t* versions, Py_ssize_t n, uint64_t flip, uint64_t lo,
                    uint64_t hi, uint64_t width, Py_ssize_t nb) noexcept

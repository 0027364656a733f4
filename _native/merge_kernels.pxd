# Cython declarations of the C batch-LWW loop in merge_kernels.h (header-only). Contract in the
# header: validated, aligned, C-contiguous int64 buffers, no Python objects, callable without the GIL.

from libc.stdint cimport int64_t, uint8_t


cdef extern from "merge_kernels.h" nogil:
    void lww_decide(uint8_t* win, int64_t* pos, const int64_t* keys, const int64_t* hlcs,
                    const int64_t* nodes, Py_ssize_t n, const int64_t* ck, const int64_t* ch,
                    const int64_t* cn, Py_ssize_t m) noexcept
    int lww_decide_unsorted(uint8_t* win, int64_t* pos, const int64_t* keys, const int64_t* hlcs,
                            const int64_t* nodes, Py_ssize_t n, const int64_t* ck, const int64_t* ch,
                            const int64_t* cn, Py_ssize_t m) noexcept
    Py_ssize_t lww_first_unsorted(const int64_t* k, Py_ssize_t n, int strict) noexcept

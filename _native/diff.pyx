"""Diff: the compiled kernel (built as ``vaultsync._compiled.diff``).

Same public API, results and exceptions as the reference ``vaultsync.pure.diff``, which documents
the semantics and how the sync engine uses each function; this module only makes them fast. Do
not import it directly: use ``vaultsync.native``.

How it is fast: argument types, shapes and lengths are checked by the reference's own validators
(a few attribute reads, so the messages cannot drift); every data-dependent check (sortedness,
unknown origins, negative clock entries) and the work itself are single C passes in
``diff_kernels.h`` over the raw buffers, with the GIL released for large inputs. Variable-size
results are collected in C buffers and copied once into exact-size arrays, so a 1,000,000-row
comparison allocates only what it returns.
"""

from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from diff_kernels cimport (
    DF_UNSORTED,
    df_buckets,
    df_diff_sorted_i64,
    df_diff_sorted_u64,
    df_first_unknown,
    df_first_unsorted_i64,
    df_first_unsorted_u64,
    df_lacking,
    df_vec,
    df_vec_free,
)
from vclock_kernels cimport vc_or

import numpy as np

from vaultsync.pure import diff as _ref
from vaultsync.pure.diff import MAX_BUCKETS

__all__ = [
    "MAX_BUCKETS",
    "bucket_bounds",
    "bucket_hashes",
    "diff_buckets",
    "diff_sorted",
    "lacking",
]

cdef object _INT64 = np.dtype(np.int64)
cdef object _UINT64 = np.dtype(np.uint64)
cdef object _empty = np.empty
cdef object _zeros = np.zeros
cdef object _ascontiguous = np.ascontiguousarray
cdef uint64_t _MASK64 = 0xFFFFFFFFFFFFFFFF
cdef uint64_t _SIGN = 0x8000000000000000

# Release the GIL only for inputs this large (rows): below it, the round trip costs more than it frees.
cdef Py_ssize_t _NOGIL_MIN = 1 << 15


cdef class _Buf:
    """A held buffer of a C-contiguous array, released when the object dies (exception-safe)."""

    cdef Py_buffer view
    cdef bint held

    def __cinit__(self, object obj, bint writable=False):
        PyObject_GetBuffer(obj, &self.view, PyBUF_ANY_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0))
        self.held = True

    def __dealloc__(self):
        if self.held:
            PyBuffer_Release(&self.view)


cdef inline object _contig(object x):
    """``x`` if it is C-contiguous and aligned, else such a copy (strided views, odd buffers)."""
    flags = x.flags
    if flags.c_contiguous and flags.aligned:
        return x
    return np.array(x, order="C", copy=True)


cdef object _take(df_vec* v):
    """An exact-size int64 array holding the contents of ``v``."""
    out = _empty(v.len, dtype=_INT64)
    cdef _Buf b
    if v.len:
        b = _Buf(out, True)
        memcpy(b.view.buf, v.data, <size_t>v.len * sizeof(int64_t))
    return out


cdef Py_ssize_t _first_unsorted(_Buf keys, Py_ssize_t n, bint unsigned) noexcept nogil:
    if unsigned:
        return df_first_unsorted_u64(<const uint64_t*>keys.view.buf, n, 1)
    return df_first_unsorted_i64(<const int64_t*>keys.view.buf, n, 1)


def lacking(origins, seqs, peer_clock, limit=None):
    """Row indices of the change index a peer lacks (see ``vaultsync.pure.diff.lacking``)."""
    cdef Py_ssize_t cap = _ref._check_lacking(origins, seqs, peer_clock, limit)
    origins = _contig(origins)
    seqs = _contig(seqs)
    peer_clock = _contig(peer_clock)
    cdef _Buf bo = _Buf(origins), bs = _Buf(seqs), bc = _Buf(peer_clock)
    cdef Py_ssize_t n = origins.shape[0], width = peer_clock.shape[0], m, i
    if vc_or(<const int64_t*>bc.view.buf, width) < 0:
        raise _ref._negative("peer_clock")
    i = df_first_unknown(<const int32_t*>bo.view.buf, n, width)
    if i >= 0:
        raise _ref._unknown_node(i, int(origins[i]), width)
    cdef int64_t* rows = <int64_t*>malloc(<size_t>(n if n else 1) * sizeof(int64_t))
    if rows == NULL:
        raise MemoryError()
    try:
        if n >= _NOGIL_MIN:
            with nogil:
                m = df_lacking(rows, <const int32_t*>bo.view.buf, <const int64_t*>bs.view.buf, n,
                               <const int64_t*>bc.view.buf)
        else:
            m = df_lacking(rows, <const int32_t*>bo.view.buf, <const int64_t*>bs.view.buf, n,
                           <const int64_t*>bc.view.buf)
        if m < 0:
            raise MemoryError()
        if 0 <= cap < m:
            m = cap
        out = _empty(m, dtype=_INT64)
        if m:
            memcpy((<_Buf>_Buf(out, True)).view.buf, rows, <size_t>m * sizeof(int64_t))
        return out
    finally:
        free(rows)


def diff_sorted(keys_a, versions_a, keys_b, versions_b):
    """Compare two replicas' sorted (key, version) columns (see ``vaultsync.pure.diff.diff_sorted``)."""
    _ref._check_diff_sorted(keys_a, versions_a, keys_b, versions_b)
    keys_a = _contig(keys_a)
    versions_a = _contig(versions_a)
    keys_b = _contig(keys_b)
    versions_b = _contig(versions_b)
    cdef bint unsigned = keys_a.dtype == _UINT64
    cdef _Buf ka = _Buf(keys_a), va = _Buf(versions_a), kb = _Buf(keys_b), vb = _Buf(versions_b)
    cdef Py_ssize_t na = keys_a.shape[0], nb = keys_b.shape[0], i
    cdef int rc
    cdef df_vec vecs[4]
    memset(vecs, 0, sizeof(vecs))
    try:
        # The join validates key order as it reads (one pass over the columns, not three); when
        # it meets a key out of order, the validators find the first one and raise.
        with nogil:
            if unsigned:
                rc = df_diff_sorted_u64(<const uint64_t*>ka.view.buf, <const int64_t*>va.view.buf, na,
                                        <const uint64_t*>kb.view.buf, <const int64_t*>vb.view.buf, nb,
                                        &vecs[0], &vecs[1], &vecs[2], &vecs[3])
            else:
                rc = df_diff_sorted_i64(<const int64_t*>ka.view.buf, <const int64_t*>va.view.buf, na,
                                        <const int64_t*>kb.view.buf, <const int64_t*>vb.view.buf, nb,
                                        &vecs[0], &vecs[1], &vecs[2], &vecs[3])
        if rc == DF_UNSORTED:
            with nogil:
                i = _first_unsorted(ka, na, unsigned)
            if i >= 0:
                raise _ref._not_increasing("keys_a", keys_a, i)
            with nogil:
                i = _first_unsorted(kb, nb, unsigned)
            if i >= 0:
                raise _ref._not_increasing("keys_b", keys_b, i)
            raise AssertionError("diff_sorted: the join saw unsorted keys the validators did not")
        if rc < 0:
            raise MemoryError()
        return (_take(&vecs[0]), _take(&vecs[1]), _take(&vecs[2]), _take(&vecs[3]))
    finally:
        for i in range(4):
            df_vec_free(&vecs[i])


cdef object _buckets(object keys, object versions, Py_ssize_t nb, object low, object high, object width):
    """Hashes (``versions`` given) or bounds (``versions`` None) of validated, sorted ``keys``."""
    cdef uint64_t flip = 0 if keys.dtype == _UINT64 else _SIGN
    cdef uint64_t lo = <uint64_t>(low & _MASK64), hi = <uint64_t>(high & _MASK64)
    cdef uint64_t w = <uint64_t>width
    cdef Py_ssize_t n = keys.shape[0]
    cdef _Buf bk = _Buf(keys), bv, bo
    if versions is None:
        out = _empty(nb + 1, dtype=_INT64)
        bo = _Buf(out, True)
        with nogil:
            df_buckets(NULL, <int64_t*>bo.view.buf, <const uint64_t*>bk.view.buf, NULL, n, flip, lo,
                       hi, w, nb)
    else:
        out = _zeros(nb, dtype=_UINT64)
        bo = _Buf(out, True)
        bv = _Buf(versions)
        with nogil:
            df_buckets(<uint64_t*>bo.view.buf, NULL, <const uint64_t*>bk.view.buf,
                       <const int64_t*>bv.view.buf, n, flip, lo, hi, w, nb)
    return out


def bucket_bounds(keys, n_buckets, lo=None, hi=None):
    """Row offsets of the key-range buckets (see ``vaultsync.pure.diff.bucket_bounds``)."""
    nb, low, high, width = _ref._bucket_params(keys, n_buckets, lo, hi)
    keys = _contig(keys)
    cdef _Buf bk = _Buf(keys)
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef bint unsigned = keys.dtype == _UINT64
    with nogil:
        i = _first_unsorted(bk, n, unsigned)
    if i >= 0:
        raise _ref._not_increasing("keys", keys, i)
    return _buckets(keys, None, nb, low, high, width)


def bucket_hashes(keys, versions, n_buckets, lo=None, hi=None):
    """Order-independent hash of each key-range bucket (see ``vaultsync.pure.diff.bucket_hashes``)."""
    nb, low, high, width = _ref._bucket_params(keys, n_buckets, lo, hi)
    _ref._check_int64(versions, "versions")
    _ref._check_same_length("keys", keys, "versions", versions)
    keys = _contig(keys)
    versions = _contig(versions)
    cdef _Buf bk = _Buf(keys)
    cdef Py_ssize_t i, n = keys.shape[0]
    cdef bint unsigned = keys.dtype == _UINT64
    with nogil:
        i = _first_unsorted(bk, n, unsigned)
    if i >= 0:
        raise _ref._not_increasing("keys", keys, i)
    return _buckets(keys, versions, nb, low, high, width)


def diff_buckets(a_hashes, b_hashes):
    """Indices of the buckets whose hashes differ (see ``vaultsync.pure.diff.diff_buckets``)."""
    _ref._check_array(a_hashes, "a_hashes", (_UINT64,), "uint64")
    _ref._check_array(b_hashes, "b_hashes", (_UINT64,), "uint64")
    _ref._check_same_length("a_hashes", a_hashes, "b_hashes", b_hashes)
    a_hashes = _contig(a_hashes)
    b_hashes = _contig(b_hashes)
    cdef _Buf ba = _Buf(a_hashes), bb = _Buf(b_hashes)
    cdef const uint64_t* a = <const uint64_t*>ba.view.buf
    cdef const uint64_t* b = <const uint64_t*>bb.view.buf
    cdef Py_ssize_t n = a_hashes.shape[0], i, m = 0
    for i in range(n):
        m += a[i] != b[i]
    out = _empty(m, dtype=_INT64)
    cdef _Buf bo
    cdef int64_t* o
    if m:
        bo = _Buf(out, True)
        o = <int64_t*>bo.view.buf
        m = 0
        for i in range(n):
            if a[i] != b[i]:
                o[m] = i
                m += 1
    return out

"""Batch last-writer-wins merge: the compiled kernel (built as ``vaultsync._compiled.merge``).

Same public API, results and exceptions as the reference ``vaultsync.pure.merge``, which documents
the semantics (and why they make anti-entropy idempotent and commutative); this module only makes
them fast. Do not import it directly: use ``vaultsync.native``.

How it is fast: types, shapes and lengths are checked by the reference's validators (a few
attribute reads, so messages cannot drift); the key-order checks and the decision are single C
passes in ``merge_kernels.h`` (a merge-join with galloping over the current keys) with the GIL
released for large batches. The reference needs a lexsort of the batch; this needs none, because
the batch arrives sorted by key and the best change of a key run is found in the same pass.
``decide_unsorted`` takes a batch in arrival order and sorts it inside the kernel with a stable
radix sort over the key bits that vary (see ``merge_kernels.h``): at a million changes that is
several times faster than ``np.argsort`` plus the gathers, and no caller-side sort is needed.
``apply`` is the reference's own state update driven by this ``decide``.
"""

from cpython.buffer cimport PyBUF_ANY_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from libc.stdint cimport int64_t, uint8_t

from merge_kernels cimport lww_decide, lww_decide_unsorted, lww_first_unsorted

import numpy as np

from vaultsync.pure import merge as _ref

__all__ = ["apply", "decide", "decide_unsorted"]

cdef object _INT64 = np.dtype(np.int64)
cdef object _BOOL = np.dtype(np.bool_)
cdef object _empty = np.empty

# Release the GIL only for batches this large: below it, the round trip costs more than it frees.
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


def decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes):
    """Which incoming changes win, and where their keys are (see ``vaultsync.pure.merge.decide``)."""
    _ref._check_decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    keys = _contig(keys)
    hlcs = _contig(hlcs)
    nodes = _contig(nodes)
    cur_keys = _contig(cur_keys)
    cur_hlcs = _contig(cur_hlcs)
    cur_nodes = _contig(cur_nodes)
    cdef _Buf bk = _Buf(keys), bh = _Buf(hlcs), bn = _Buf(nodes)
    cdef _Buf ck = _Buf(cur_keys), ch = _Buf(cur_hlcs), cn = _Buf(cur_nodes)
    cdef Py_ssize_t n = keys.shape[0], m = cur_keys.shape[0], i
    cdef const int64_t* k = <const int64_t*>bk.view.buf
    cdef const int64_t* h = <const int64_t*>bh.view.buf
    cdef const int64_t* d = <const int64_t*>bn.view.buf
    cdef const int64_t* K = <const int64_t*>ck.view.buf
    cdef const int64_t* H = <const int64_t*>ch.view.buf
    cdef const int64_t* D = <const int64_t*>cn.view.buf
    with nogil:
        i = lww_first_unsorted(k, n, 0)
    if i >= 0:
        raise _ref._not_sorted("keys", keys, i, False)
    with nogil:
        i = lww_first_unsorted(K, m, 1)
    if i >= 0:
        raise _ref._not_sorted("cur_keys", cur_keys, i, True)
    win = _empty(n, dtype=_BOOL)
    pos = _empty(n, dtype=_INT64)
    cdef _Buf bw = _Buf(win, True), bp = _Buf(pos, True)
    cdef uint8_t* w = <uint8_t*>bw.view.buf
    cdef int64_t* p = <int64_t*>bp.view.buf
    if n + m >= _NOGIL_MIN:
        with nogil:
            lww_decide(w, p, k, h, d, n, K, H, D, m)
    else:
        lww_decide(w, p, k, h, d, n, K, H, D, m)
    return win, pos


def apply(cur_keys, cur_hlcs, cur_nodes, cur_refs, keys, hlcs, nodes, refs):
    """Merge a batch into a state (see ``vaultsync.pure.merge.apply``)."""
    return _ref._apply(decide, cur_keys, cur_hlcs, cur_nodes, cur_refs, keys, hlcs, nodes, refs)


def decide_unsorted(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes):
    """``decide`` for a batch in any order (see ``vaultsync.pure.merge.decide_unsorted``)."""
    _ref._check_decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    keys = _contig(keys)
    hlcs = _contig(hlcs)
    nodes = _contig(nodes)
    cur_keys = _contig(cur_keys)
    cur_hlcs = _contig(cur_hlcs)
    cur_nodes = _contig(cur_nodes)
    cdef _Buf bk = _Buf(keys), bh = _Buf(hlcs), bn = _Buf(nodes)
    cdef _Buf ck = _Buf(cur_keys), ch = _Buf(cur_hlcs), cn = _Buf(cur_nodes)
    cdef Py_ssize_t n = keys.shape[0], m = cur_keys.shape[0], i
    cdef int rc
    cdef const int64_t* k = <const int64_t*>bk.view.buf
    cdef const int64_t* h = <const int64_t*>bh.view.buf
    cdef const int64_t* d = <const int64_t*>bn.view.buf
    cdef const int64_t* K = <const int64_t*>ck.view.buf
    cdef const int64_t* H = <const int64_t*>ch.view.buf
    cdef const int64_t* D = <const int64_t*>cn.view.buf
    with nogil:
        i = lww_first_unsorted(K, m, 1)
    if i >= 0:
        raise _ref._not_sorted("cur_keys", cur_keys, i, True)
    win = _empty(n, dtype=_BOOL)
    pos = _empty(n, dtype=_INT64)
    cdef _Buf bw = _Buf(win, True), bp = _Buf(pos, True)
    cdef uint8_t* w = <uint8_t*>bw.view.buf
    cdef int64_t* p = <int64_t*>bp.view.buf
    if n + m >= _NOGIL_MIN:
        with nogil:
            rc = lww_decide_unsorted(w, p, k, h, d, n, K, H, D, m)
    else:
        rc = lww_decide_unsorted(w, p, k, h, d, n, K, H, D, m)
    if rc < 0:
        raise MemoryError("no memory for sorting the batch")
    return win, pos

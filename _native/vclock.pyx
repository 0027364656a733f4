"""Vector clocks: the compiled kernel (built as ``vaultsync._compiled.vclock``).

Same public API, results and exceptions as the reference ``vaultsync.pure.vclock``, which
documents the semantics; this module only makes them fast. Do not import it directly: use
``vaultsync.native``.

How it is fast:

* dict form: validation and the work share C-level passes over CPython's dict iteration (seqs
  read straight from exact ints, ``merge`` starts from a C copy of ``a``, the caller's int objects
  are reused), no intermediate key sets or per-entry Python calls;
* dense form: per call, the checks are a few loads from the array structs through numpy's C API
  and results are allocated with ``PyArray_EMPTY`` (a buffer request, a Python attribute read or
  ``a.copy()`` each cost about as much as the 64-node merge itself); then the raw data go to the
  C loops in ``vclock_kernels.h`` (branch-free, AVX2/AVX-512 clones where the compiler supports
  them; no per-element Python objects, no typed-memoryview setup); large batches release the GIL.

Only clean input takes the fast paths: an exact ``dict`` of exact ``str`` -> exact ``int`` in
range, aligned contiguous arrays. Anything else (subclasses, numpy integer seqs, every error) is
handed to the reference, or normalised first, so the fast paths stay simple and the two
implementations cannot drift apart on corner cases.
"""

from cpython.buffer cimport PyBUF_STRIDES, PyBuffer_Release, PyObject_GetBuffer
from cpython.dict cimport PyDict_CheckExact, PyDict_Copy
from cpython.long cimport PyLong_CheckExact
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport int8_t, int64_t, uintptr_t

cimport numpy as cnp

from vclock_kernels cimport (
    VC_AFTER,
    VC_BEFORE,
    VC_CONCURRENT,
    VC_EQUAL,
    vc_compare,
    vc_compare_rows,
    vc_fold_rows,
    vc_max,
    vc_max_into,
    vc_or,
    vc_verdict,
)


cdef extern from "Python.h":
    # Declared without an error check: for an exact int it never raises (overflow is reported
    # through the flag), and it is only ever called on exact ints here.
    long long _long_as_ll "PyLong_AsLongLongAndOverflow" (object obj, int* overflow) noexcept

import numpy as np

from vaultsync.pure import vclock as _ref
from vaultsync.pure.vclock import MAX_SEQ, NodeIndex

__all__ = [
    "AFTER",
    "BEFORE",
    "CONCURRENT",
    "EQUAL",
    "MAX_SEQ",
    "NodeIndex",
    "compare",
    "compare_dense",
    "compare_many",
    "dominates",
    "merge",
    "merge_dense",
    "merge_into",
    "merge_many",
    "missing",
]

BEFORE = VC_BEFORE
EQUAL = VC_EQUAL
AFTER = VC_AFTER
CONCURRENT = VC_CONCURRENT

if (BEFORE, EQUAL, AFTER, CONCURRENT) != (_ref.BEFORE, _ref.EQUAL, _ref.AFTER, _ref.CONCURRENT):
    raise ImportError("vaultsync._compiled.vclock constants disagree with vaultsync.pure.vclock")

cnp.import_array()

cdef object _INT64 = np.dtype(np.int64)
cdef object _INT8 = np.dtype(np.int8)
cdef object _ndarray = np.ndarray
cdef object _empty = np.empty

# Release the GIL only for batches this large (elements): below it, the release/re-acquire
# round trip costs more than the loop it would free other threads for.
cdef Py_ssize_t _NOGIL_MIN = 1 << 15


# ---------------------------------------------------------------------------------------------
# dict form


cdef inline int64_t _clean_seq(object seq) noexcept:
    """``seq`` as int64 if it is an exact int in 0..MAX_SEQ, else -1 (hand the call to the reference)."""
    cdef int overflow = 0
    cdef long long x
    if not PyLong_CheckExact(seq):
        return -1
    x = _long_as_ll(seq, &overflow)
    return -1 if overflow else x  # a negative seq also comes back negative


def merge(a, b):
    """Element-wise max of two clocks (see ``vaultsync.pure.vclock.merge``)."""
    if not (PyDict_CheckExact(a) and PyDict_CheckExact(b)):
        return _ref.merge(a, b)
    cdef bint zeros = False
    cdef int64_t x, y
    for node, seq in (<dict>a).items():
        x = _clean_seq(seq)
        if x < 0 or not PyUnicode_CheckExact(node):
            return _ref.merge(a, b)
        zeros |= x == 0
    cdef dict out = PyDict_Copy(a)
    for node, seq in (<dict>b).items():
        y = _clean_seq(seq)
        if y < 0 or not PyUnicode_CheckExact(node):
            return _ref.merge(a, b)
        if y:
            current = out.get(node)  # a's value (already validated) or None
            if current is None or y > _clean_seq(current):
                out[node] = seq
    if zeros:
        out = {node: seq for node, seq in out.items() if seq}
    return out


cdef int _order_flags(dict a, dict b) except -2:
    """Bit 1: a < b somewhere; bit 2: a > b somewhere; -1: not clean, ask the reference."""
    cdef Py_ssize_t positive = 0  # entries of a with seq > 0
    cdef Py_ssize_t matched = 0  # ... of which b also has the node
    cdef int flags = 0
    cdef int64_t x, y
    for node, seq in a.items():
        x = _clean_seq(seq)
        if x < 0 or not PyUnicode_CheckExact(node):
            return -1
        positive += x > 0
    for node, seq in b.items():
        y = _clean_seq(seq)
        if y < 0 or not PyUnicode_CheckExact(node):
            return -1
        current = a.get(node)
        x = 0 if current is None else _clean_seq(current)
        matched += x > 0
        if x < y:
            flags |= 1
        elif x > y:
            flags |= 2
    if matched < positive:  # a has seen some node b has no entry for
        flags |= 2
    return flags


def compare(a, b):
    """Causal order of ``a`` relative to ``b`` (see ``vaultsync.pure.vclock.compare``)."""
    cdef int flags = -1
    if PyDict_CheckExact(a) and PyDict_CheckExact(b):
        flags = _order_flags(<dict>a, <dict>b)
    if flags < 0:
        return _ref.compare(a, b)
    return vc_verdict(flags & 1, flags & 2)


def dominates(a, b):
    """True if ``a`` >= ``b`` everywhere (see ``vaultsync.pure.vclock.dominates``)."""
    cdef int flags = -1
    if PyDict_CheckExact(a) and PyDict_CheckExact(b):
        flags = _order_flags(<dict>a, <dict>b)
    if flags < 0:
        return _ref.dominates(a, b)
    return not (flags & 1)


def missing(local, remote):
    """``{origin: (first, last)}`` that ``remote`` lacks (see ``vaultsync.pure.vclock.missing``)."""
    if not (PyDict_CheckExact(local) and PyDict_CheckExact(remote)):
        return _ref.missing(local, remote)
    cdef dict dr = <dict>remote
    cdef dict out = {}
    cdef int64_t x, y
    for node, seq in (<dict>local).items():
        x = _clean_seq(seq)
        if x < 0 or not PyUnicode_CheckExact(node):
            return _ref.missing(local, remote)
        current = dr.get(node)
        if current is None:
            y = 0
        else:
            y = _clean_seq(current)
            if y < 0:
                return _ref.missing(local, remote)
        if x > y:
            out[node] = (y + 1, seq)
    for node, seq in dr.items():
        if _clean_seq(seq) < 0 or not PyUnicode_CheckExact(node):
            return _ref.missing(local, remote)
    return out


# ---------------------------------------------------------------------------------------------
# dense form: buffer plumbing


cdef inline bint _is_array(object x, int ndim):
    return isinstance(x, _ndarray) and x.ndim == ndim and x.dtype == _INT64


cdef inline int _check_vector(object x, str name) except -1:
    if not _is_array(x, 1):
        _ref._check_vector(x, name)  # raises the reference's error
    return 0


cdef inline int _check_matrix(object x, str name) except -1:
    if not _is_array(x, 2):
        _ref._check_matrix(x, name)
    return 0


cdef inline bint _is_c_contiguous(const Py_buffer* view) noexcept nogil:
    """True if the int64 buffer can be walked as an aligned C-contiguous block."""
    cdef Py_ssize_t expected = sizeof(int64_t)
    cdef int d
    for d in range(view.ndim):
        if view.shape[d] == 0:
            return True  # empty: nothing is ever read
    for d in range(view.ndim - 1, -1, -1):
        if view.shape[d] != 1 and view.strides[d] != expected:
            return False
        expected *= view.shape[d]
    return (<uintptr_t>view.buf) % sizeof(int64_t) == 0


cdef object _acquire(object x, Py_buffer* view):
    """Fill ``view`` with an aligned C-contiguous buffer of the int64 array ``x``.

    Returns the object actually held: ``x`` itself, or for the rare strided or unaligned array an
    aligned contiguous copy (which the caller must keep alive until the buffer is released).
    """
    PyObject_GetBuffer(x, view, PyBUF_STRIDES)
    if _is_c_contiguous(view):
        return x
    PyBuffer_Release(view)
    x = np.array(x, dtype=_INT64, order="C", copy=True)
    PyObject_GetBuffer(x, view, PyBUF_STRIDES)
    return x


cdef inline void _release(Py_buffer* views, int held) noexcept:
    cdef int i
    for i in range(held):
        PyBuffer_Release(&views[i])


cdef inline const int64_t* _data(const Py_buffer* view) noexcept nogil:
    return <const int64_t*>view.buf


cdef inline int64_t* _fast_data(object x, Py_ssize_t* n) noexcept:
    """Data pointer of ``x`` if it is an exact ndarray holding a 1-D aligned C-contiguous native
    int64 vector (its length in ``n``), else NULL: the per-call fast path.

    Read straight from the array struct through numpy's C API: a handful of loads, no buffer
    request, no Python attribute access (at 64 nodes those would cost more than the merge). For
    anything else the caller takes the general path, which validates through the reference.
    Accepting only what the reference accepts keeps the two from drifting: NPY_LONG and
    NPY_LONGLONG are the type numbers of a native 8-byte int64 array.
    """
    cdef cnp.ndarray arr
    cdef int t
    if type(x) is not _ndarray:
        return NULL
    arr = <cnp.ndarray>x
    t = cnp.PyArray_TYPE(arr)
    if (
        cnp.PyArray_NDIM(arr) == 1
        and (t == cnp.NPY_LONG or t == cnp.NPY_LONGLONG)
        and cnp.PyArray_ITEMSIZE(arr) == 8
        and cnp.PyArray_ISCARRAY_RO(arr)  # C-contiguous, aligned, native byte order
    ):
        n[0] = cnp.PyArray_DIM(arr, 0)
        return <int64_t*>cnp.PyArray_DATA(arr)
    return NULL


cdef inline object _new_vector(Py_ssize_t n):
    """A fresh uninitialised int64 vector (C-contiguous, aligned) straight from numpy's C API."""
    cdef cnp.npy_intp dims = n
    return cnp.PyArray_EMPTY(1, &dims, cnp.NPY_INT64, 0)


# ---------------------------------------------------------------------------------------------
# dense form: public functions


def merge_dense(a, b):
    """Element-wise max of two dense clocks (see ``vaultsync.pure.vclock.merge_dense``)."""
    cdef Py_ssize_t n = 0, nb = 0
    cdef const int64_t* pa = _fast_data(a, &n)
    cdef const int64_t* pb
    if pa != NULL:
        pb = _fast_data(b, &nb)
        if pb != NULL and nb == n and n < _NOGIL_MIN and (vc_or(pa, n) | vc_or(pb, n)) >= 0:
            out = _new_vector(n)
            vc_max(<int64_t*>cnp.PyArray_DATA(<cnp.ndarray>out), pa, pb, n)
            return out
    return _merge_dense(a, b)


cdef object _merge_dense(object a, object b):
    """General path of merge_dense: any layout, every error."""
    _check_vector(a, "a")
    _check_vector(b, "b")
    cdef Py_buffer views[3]
    cdef int held = 0
    cdef Py_ssize_t n
    try:
        a = _acquire(a, &views[0])
        held += 1
        b = _acquire(b, &views[1])
        held += 1
        n = views[0].shape[0]
        if views[1].shape[0] != n:
            raise _ref._length_mismatch("a", n, "b", views[1].shape[0])
        if vc_or(_data(&views[0]), n) < 0:
            raise _ref._negative("a")
        if vc_or(_data(&views[1]), n) < 0:
            raise _ref._negative("b")
        out = _new_vector(n)
        out = _acquire(out, &views[2])
        held += 1
        if n >= _NOGIL_MIN:
            with nogil:
                vc_max(<int64_t*>views[2].buf, _data(&views[0]), _data(&views[1]), n)
        else:
            vc_max(<int64_t*>views[2].buf, _data(&views[0]), _data(&views[1]), n)
        return out
    finally:
        _release(views, held)


def merge_into(dst, src):
    """Advance ``dst`` in place to ``max(dst, src)`` (see ``vaultsync.pure.vclock.merge_into``)."""
    cdef Py_ssize_t n = 0, ns = 0
    cdef int64_t* pd = _fast_data(dst, &n)
    cdef const int64_t* ps
    cdef uintptr_t d0, s0, nbytes
    if pd != NULL and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>dst):
        ps = _fast_data(src, &ns)
        if ps != NULL and ns == n and n < _NOGIL_MIN:
            d0 = <uintptr_t>pd
            s0 = <uintptr_t>ps
            nbytes = <uintptr_t>n * sizeof(int64_t)
            if (d0 + nbytes <= s0 or s0 + nbytes <= d0) and (vc_or(pd, n) | vc_or(ps, n)) >= 0:
                # disjoint (which also rules out n == 0) and clean
                vc_max_into(pd, ps, n)
                return None
    return _merge_into(dst, src)


cdef object _merge_into(object dst, object src):
    """General path of merge_into: any layout, overlapping views, every error."""
    _check_vector(dst, "dst")
    _check_vector(src, "src")
    cdef Py_buffer views[2]
    cdef int held = 0
    cdef Py_ssize_t n
    cdef uintptr_t d0, s0, nbytes
    try:
        PyObject_GetBuffer(dst, &views[0], PyBUF_STRIDES)
        held += 1
        src = _acquire(src, &views[1])
        held += 1
        n = views[0].shape[0]
        if views[1].shape[0] != n:
            raise _ref._length_mismatch("dst", n, "src", views[1].shape[0])
        if views[0].readonly:
            raise _ref._read_only("dst")
        if not _is_c_contiguous(&views[0]):
            # Rare (a strided view): validate, merge into a contiguous copy, write it back.
            _release(views, held)
            held = 0
            tmp = np.array(dst, dtype=_INT64, order="C", copy=True)
            merge_into(tmp, src)
            dst[...] = tmp
            return None
        if vc_or(_data(&views[0]), n) < 0:
            raise _ref._negative("dst")
        if vc_or(_data(&views[1]), n) < 0:
            raise _ref._negative("src")
        d0 = <uintptr_t>views[0].buf
        s0 = <uintptr_t>views[1].buf
        nbytes = <uintptr_t>n * sizeof(int64_t)
        if n == 0 or d0 == s0:
            return None  # nothing to do, or merging a clock into itself
        if d0 < s0 + nbytes and s0 < d0 + nbytes:
            # src is a shifted view of dst's memory: read it from a copy, as numpy would.
            PyBuffer_Release(&views[1])
            held -= 1
            src = _acquire(np.array(src, dtype=_INT64, order="C", copy=True), &views[1])
            held += 1
        if n >= _NOGIL_MIN:
            with nogil:
                vc_max_into(<int64_t*>views[0].buf, _data(&views[1]), n)
        else:
            vc_max_into(<int64_t*>views[0].buf, _data(&views[1]), n)
        return None
    finally:
        _release(views, held)


def compare_dense(a, b):
    """Causal order of two dense clocks (see ``vaultsync.pure.vclock.compare_dense``)."""
    cdef Py_ssize_t n = 0, nb = 0
    cdef const int64_t* pa = _fast_data(a, &n)
    cdef const int64_t* pb
    if pa != NULL:
        pb = _fast_data(b, &nb)
        if pb != NULL and nb == n and n < _NOGIL_MIN and (vc_or(pa, n) | vc_or(pb, n)) >= 0:
            return vc_compare(pa, pb, n)
    return _compare_dense(a, b)


cdef object _compare_dense(object a, object b):
    """General path of compare_dense: any layout, every error."""
    _check_vector(a, "a")
    _check_vector(b, "b")
    cdef Py_buffer views[2]
    cdef int held = 0
    cdef Py_ssize_t n
    cdef int verdict
    try:
        a = _acquire(a, &views[0])
        held += 1
        b = _acquire(b, &views[1])
        held += 1
        n = views[0].shape[0]
        if views[1].shape[0] != n:
            raise _ref._length_mismatch("a", n, "b", views[1].shape[0])
        if vc_or(_data(&views[0]), n) < 0:
            raise _ref._negative("a")
        if vc_or(_data(&views[1]), n) < 0:
            raise _ref._negative("b")
        if n >= _NOGIL_MIN:
            with nogil:
                verdict = vc_compare(_data(&views[0]), _data(&views[1]), n)
        else:
            verdict = vc_compare(_data(&views[0]), _data(&views[1]), n)
        return verdict
    finally:
        _release(views, held)


def merge_many(m):
    """Column-wise max of an ``(n, k)`` matrix (see ``vaultsync.pure.vclock.merge_many``)."""
    _check_matrix(m, "m")
    cdef Py_buffer views[2]
    cdef int held = 0
    cdef Py_ssize_t n, k
    try:
        m = _acquire(m, &views[0])
        held += 1
        n = views[0].shape[0]
        k = views[0].shape[1]
        if vc_or(_data(&views[0]), n * k) < 0:
            raise _ref._negative("m")
        out = _new_vector(k)
        out = _acquire(out, &views[1])
        held += 1
        if n * k >= _NOGIL_MIN:
            with nogil:
                vc_fold_rows(<int64_t*>views[1].buf, _data(&views[0]), n, k)
        else:
            vc_fold_rows(<int64_t*>views[1].buf, _data(&views[0]), n, k)
        return out
    finally:
        _release(views, held)


def compare_many(m, clock):
    """Every row of ``m`` against ``clock``, as int8 (see ``vaultsync.pure.vclock.compare_many``)."""
    _check_matrix(m, "m")
    _check_vector(clock, "clock")
    cdef Py_buffer views[3]
    cdef int held = 0
    cdef Py_ssize_t n, k
    try:
        m = _acquire(m, &views[0])
        held += 1
        clock = _acquire(clock, &views[1])
        held += 1
        n = views[0].shape[0]
        k = views[0].shape[1]
        if views[1].shape[0] != k:
            raise _ref._length_mismatch("m rows", k, "clock", views[1].shape[0])
        if vc_or(_data(&views[0]), n * k) < 0:
            raise _ref._negative("m")
        if vc_or(_data(&views[1]), k) < 0:
            raise _ref._negative("clock")
        out = _empty(n, dtype=_INT8)
        PyObject_GetBuffer(out, &views[2], PyBUF_STRIDES)
        held += 1
        if n * k >= _NOGIL_MIN:
            with nogil:
                vc_compare_rows(<int8_t*>views[2].buf, _data(&views[0]), _data(&views[1]), n, k)
        else:
            vc_compare_rows(<int8_t*>views[2].buf, _data(&views[0]), _data(&views[1]), n, k)
        return out
    finally:
        _release(views, held)

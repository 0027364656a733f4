"""Diff: what a peer lacks, and full reconciliation of two replicas. The pure-Python reference.

Anti-entropy (DESIGN.md section 4) has two ways to work out what to send:

**With trusted vector clocks** (the normal case): every change a node holds is one row of its
*change index*, ``(origin, seq)`` with ``origin`` a dense node index (see
``vaultsync.pure.vclock.NodeIndex``). A peer that has applied everything from ``origin`` up to
``peer_clock[origin]`` lacks exactly the rows with ``seq > peer_clock[origin]``: :func:`lacking`
returns their row indices in ``(origin, seq)`` order, optionally only the first ``limit`` of them.
That order matters because a clock holds the highest *contiguous* seq applied: a bounded batch
sent in seq order lets the receiver advance its clock as soon as the batch is applied, and the
next call (with the advanced clock) yields the next batch, so a terminal that was off for a week
catches up in bounded steps without either side keeping a cursor.

**Without trusted clocks** (a restored backup, a suspected divergence, a new node checking its
snapshot): compare the data itself. Each replica describes a table as a sorted unique key column
(``int64`` or ``uint64``: a row id, or a packed ``(row, column)`` id) plus an ``int64`` version per
key (e.g. a 64-bit hash of the row's contents, or its packed ``(hlc, node)``):

1. Each side computes :func:`bucket_hashes` over the same ``n_buckets`` and key range ``[lo, hi]``
   and sends the (small) hash vector; :func:`diff_buckets` names the buckets that differ.
2. For each differing bucket, :func:`bucket_bounds` gives the slice of each side's sorted columns
   that falls in it; the sides exchange just those slices and :func:`diff_sorted` returns the keys
   only one side has and the keys whose versions differ, which are then sent / merged by LWW.

With 1,000 differences in 1,000,000 rows and 65,536 buckets, step 2 ships ~1.5 % of the rows
instead of all of them; when both replicas are local (tests, ``vaultsync doctor``),
:func:`diff_sorted` on the full columns is a single linear merge-join.

Bucketing is by *key range*: the closed range ``[lo, hi]`` (by default the whole range of the key
dtype) is cut into ``n_buckets`` contiguous ranges of ``width = (hi - lo) // n_buckets + 1`` keys;
key ``k`` lands in bucket ``min((clamp(k, lo, hi) - lo) // width, n_buckets - 1)``, so keys below
``lo`` count in the first bucket and keys above ``hi`` in the last (nothing is ever left out of
the comparison). Range (rather than hash) partitioning keeps a bucket a contiguous slice of the
sorted columns, so step 2 is two binary searches, not a scan. Both sides must use the same
``n_buckets``, ``lo`` and ``hi``: pass the key space the table actually uses (e.g. ``0`` to the
largest row id either side has), since with the default full range small ids all fall into the
first bucket. A bucket's hash is the wrapping 64-bit sum of ``mix(mix(key) ^ version)`` over its
rows, ``mix`` being the splitmix64 finaliser: order-independent (either side may compute it in any
order or incrementally: add a row's term on insert, subtract it on delete) and, keys being unique,
equal buckets collide only by chance (2**-64 per bucket). An empty bucket hashes to 0.

Validation (identical in this module and the compiled ``vaultsync._compiled.diff``): arguments
must be ``numpy.ndarray`` (``TypeError``) of the documented dtype and 1-D (``ValueError``), with
matching lengths (``ValueError``); key columns must be strictly increasing (``ValueError`` naming
the first offending position); an origin outside the peer clock is an unknown node
(``ValueError``); counts and bounds must be ints (``TypeError``; ``bool`` rejected) in range
(``ValueError``). Inputs are never modified; results are new C-contiguous ``int64`` (indices) or
``uint64`` (hashes) arrays.

This module is the specification: the compiled kernel must return identical results and raise the
same exceptions with the same messages (tests/native/test_diff_parity.py).
"""

from __future__ import annotations

import operator
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_BUCKETS",
    "bucket_bounds",
    "bucket_hashes",
    "diff_buckets",
    "diff_sorted",
    "lacking",
]

#: Upper bound on ``n_buckets``: 16 M buckets (128 MiB of hashes) is far more than range
#: reconciliation needs and keeps a hostile or mistaken count from allocating without limit.
MAX_BUCKETS: Final = 1 << 24

Index = npt.NDArray[np.int64]
Hashes = npt.NDArray[np.uint64]

_INT32: Final = np.dtype(np.int32)
_INT64: Final = np.dtype(np.int64)
_UINT64: Final = np.dtype(np.uint64)
_KEY_DTYPES: Final = (_INT64, _UINT64)
_MASK64: Final = (1 << 64) - 1
_MAX_LIMIT: Final = 1 << 62

# splitmix64 constants (Steele, Lea & Flood 2014; the finaliser of java.util.SplittableRandom)
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_MUL1: Final = np.uint64(0xBF58476D1CE4E5B9)
_MUL2: Final = np.uint64(0x94D049BB133111EB)
_S30: Final = np.uint64(30)
_S27: Final = np.uint64(27)
_S31: Final = np.uint64(31)


# --------------------------------------------------------------------------------------------
# validation helpers; the compiled kernel calls these so both raise identical exceptions


def _check_array(value: object, name: str, dtypes: tuple[np.dtype[np.generic], ...], what: str) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of {what}, got {type(value).__name__}")
    if value.dtype not in dtypes:
        raise ValueError(f"{name} must have dtype {what}, got {value.dtype}")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {value.shape}")


def _check_int64(value: object, name: str) -> None:
    _check_array(value, name, (_INT64,), "int64")


def _check_keys(value: object, name: str) -> None:
    _check_array(value, name, _KEY_DTYPES, "int64 or uint64")


def _check_same_length(
    name_a: str, a: npt.NDArray[np.generic], name_b: str, b: npt.NDArray[np.generic]
) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same length, got {a.shape[0]} and {b.shape[0]}"
        )


def _not_increasing(name: str, keys: npt.NDArray[np.generic], i: int) -> ValueError:
    return ValueError(
        f"{name} must be sorted in strictly increasing order (unique keys): "
        f"{name}[{i}] = {keys[i]} follows {keys[i - 1]}"
    )


def _first_not_increasing(keys: npt.NDArray[np.generic]) -> int:
    """Index ``i >= 1`` of the first ``keys[i] <= keys[i - 1]``, or -1 if strictly increasing."""
    if keys.shape[0] < 2:
        return -1
    bad: npt.NDArray[np.bool_] = np.less_equal(keys[1:], keys[:-1])
    return int(np.argmax(bad)) + 1 if bad.any() else -1


def _check_increasing(keys: npt.NDArray[np.generic], name: str) -> None:
    i = _first_not_increasing(keys)
    if i >= 0:
        raise _not_increasing(name, keys, i)


def _unknown_node(i: int, origin: int, width: int) -> ValueError:
    return ValueError(f"origins[{i}] = {origin} is not a node of peer_clock (unknown node; width {width})")


def _negative(name: str) -> ValueError:
    return ValueError(f"{name} contains a negative seq")


def _int_arg(value: object, name: str) -> int:
    """``value`` as an exact int: ints and ``__index__`` types, never ``bool`` (``TypeError``)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        return int(operator.index(value))  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


def _limit(limit: object) -> int:
    """``limit`` as a row cap, ``-1`` for none."""
    if limit is None:
        return -1
    cap = _int_arg(limit, "limit")
    if cap < 0:
        raise ValueError(f"limit must be >= 0 or None, got {cap}")
    return min(cap, _MAX_LIMIT)  # any cap beyond the largest possible index means no cap


def _check_lacking(origins: object, seqs: object, peer_clock: object, limit: object) -> int:
    """Validate the shape of :func:`lacking`'s arguments (not the data); return the row cap."""
    _check_array(origins, "origins", (_INT32,), "int32")
    _check_int64(seqs, "seqs")
    _check_int64(peer_clock, "peer_clock")
    assert isinstance(origins, np.ndarray) and isinstance(seqs, np.ndarray)
    _check_same_length("origins", origins, "seqs", seqs)
    return _limit(limit)


def _check_diff_sorted(keys_a: object, versions_a: object, keys_b: object, versions_b: object) -> None:
    """Validate the shape of :func:`diff_sorted`'s arguments (sortedness is checked separately)."""
    _check_keys(keys_a, "keys_a")
    _check_int64(versions_a, "versions_a")
    _check_keys(keys_b, "keys_b")
    _check_int64(versions_b, "versions_b")
    assert isinstance(keys_a, np.ndarray) and isinstance(keys_b, np.ndarray)
    assert isinstance(versions_a, np.ndarray) and isinstance(versions_b, np.ndarray)
    if keys_a.dtype != keys_b.dtype:
        raise ValueError(f"keys_a and keys_b must have the same dtype, got {keys_a.dtype} and {keys_b.dtype}")
    _check_same_length("keys_a", keys_a, "versions_a", versions_a)
    _check_same_length("keys_b", keys_b, "versions_b", versions_b)


def _bucket_params(keys: object, n_buckets: object, lo: object, hi: object) -> tuple[int, int, int, int]:
    """Validate the bucket arguments; return ``(n_buckets, lo, hi, width)`` as Python ints.

    ``width`` is capped at ``2**64 - 1`` (only reachable with one bucket over the full range, where
    every key lands in bucket 0 regardless), so it always fits a uint64.
    """
    _check_keys(keys, "keys")
    assert isinstance(keys, np.ndarray)
    n = _int_arg(n_buckets, "n_buckets")
    if not 1 <= n <= MAX_BUCKETS:
        raise ValueError(f"n_buckets must be in 1..{MAX_BUCKETS}, got {n}")
    info = np.iinfo(keys.dtype)
    low = int(info.min) if lo is None else _int_arg(lo, "lo")
    high = int(info.max) if hi is None else _int_arg(hi, "hi")
    for name, bound in (("lo", low), ("hi", high)):
        if not int(info.min) <= bound <= int(info.max):
            raise ValueError(f"{name} = {bound} is outside the range of the key dtype {keys.dtype}")
    if low > high:
        raise ValueError(f"lo must be <= hi, got lo = {low} and hi = {high}")
    width = min((high - low) // n + 1, _MASK64)
    return n, low, high, width


# --------------------------------------------------------------------------------------------
# with clocks


def lacking(
    origins: npt.NDArray[np.int32],
    seqs: npt.NDArray[np.int64],
    peer_clock: npt.NDArray[np.int64],
    limit: int | None = None,
) -> Index:
    """Row indices of the change index that a peer with ``peer_clock`` lacks.

    Row ``i`` (change ``(origins[i], seqs[i])``) is lacking iff ``seqs[i] > peer_clock[origins[i]]``.
    The result is ordered by ``(origin, seq)``, ties by row index (a well-formed index has no
    ties), so it is a valid send order; with ``limit`` it is the first ``limit`` rows of that order
    (see the module docstring for why bounded batches take the lowest seqs). An index already
    stored in ``(origin, seq)`` order costs one pass and no sort.

    Raises ``ValueError`` for an origin outside ``0 .. len(peer_clock) - 1`` (a node the peer's
    clock does not know: widen it first, see ``NodeIndex.widen``) and for a negative clock entry.
    """
    cap = _check_lacking(origins, seqs, peer_clock, limit)
    width = peer_clock.shape[0]
    if width and int(peer_clock.min()) < 0:
        raise _negative("peer_clock")
    bad = (origins < 0) | (origins >= width)
    if bad.any():
        i = int(np.argmax(bad))
        raise _unknown_node(i, int(origins[i]), width)
    rows = np.flatnonzero(seqs > peer_clock[origins]).astype(np.int64, copy=False)
    if rows.shape[0] > 1:
        rows = rows[np.lexsort((seqs[rows], origins[rows]))]  # stable: ties keep row order
    if 0 <= cap < rows.shape[0]:
        rows = rows[:cap].copy()
    return rows


# --------------------------------------------------------------------------------------------
# without clocks


def diff_sorted(
    keys_a: npt.NDArray[np.int64] | npt.NDArray[np.uint64],
    versions_a: npt.NDArray[np.int64],
    keys_b: npt.NDArray[np.int64] | npt.NDArray[np.uint64],
    versions_b: npt.NDArray[np.int64],
) -> tuple[Index, Index, Index, Index]:
    """Compare two replicas' sorted ``(key, version)`` columns.

    Returns ``(only_a, only_b, differ_a, differ_b)``, int64 row indices, each ascending:
    ``only_a`` rows of ``a`` whose key ``b`` lacks, ``only_b`` the mirror image, and the aligned
    pairs ``differ_a[j]``, ``differ_b[j]`` of rows with the same key and different versions.
    Both key columns must have the same dtype (int64 or uint64) and be strictly increasing.
    """
    _check_diff_sorted(keys_a, versions_a, keys_b, versions_b)
    _check_increasing(keys_a, "keys_a")
    _check_increasing(keys_b, "keys_b")
    na, nb = keys_a.shape[0], keys_b.shape[0]
    if nb:
        pos_a = np.searchsorted(keys_b, keys_a)
        in_b = keys_b[np.minimum(pos_a, nb - 1)] == keys_a
    else:
        pos_a = np.zeros(na, dtype=np.int64)
        in_b = np.zeros(na, dtype=bool)
    if na:
        pos_b = np.searchsorted(keys_a, keys_b)
        in_a = keys_a[np.minimum(pos_b, na - 1)] == keys_b
    else:
        in_a = np.zeros(nb, dtype=bool)
    only_a = np.flatnonzero(~in_b).astype(np.int64, copy=False)
    only_b = np.flatnonzero(~in_a).astype(np.int64, copy=False)
    both_a = np.flatnonzero(in_b)
    both_b = pos_a[both_a]
    changed = versions_a[both_a] != versions_b[both_b]
    return (
        only_a,
        only_b,
        both_a[changed].astype(np.int64, copy=False),
        both_b[changed].astype(np.int64, copy=False),
    )


def _offsets(keys: npt.NDArray[np.generic], lo: int, hi: int) -> npt.NDArray[np.uint64]:
    """Each key's offset ``clamp(key, lo, hi) - lo`` as uint64 (exact: 0 .. hi - lo)."""
    clipped = np.clip(keys, np.array(lo, dtype=keys.dtype), np.array(hi, dtype=keys.dtype))
    return clipped.view(np.uint64) - np.uint64(lo & _MASK64)


def _bucket_ids(
    keys: npt.NDArray[np.generic], n: int, lo: int, hi: int, width: int
) -> npt.NDArray[np.uint64]:
    return np.minimum(_offsets(keys, lo, hi) // np.uint64(width), np.uint64(n - 1))


def _starts(ids: npt.NDArray[np.uint64], n: int) -> Index:
    return np.searchsorted(ids, np.arange(n + 1, dtype=np.uint64), side="left").astype(np.int64)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser, element-wise with wrapping uint64 arithmetic."""
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


def bucket_bounds(
    keys: npt.NDArray[np.int64] | npt.NDArray[np.uint64],
    n_buckets: int,
    lo: int | None = None,
    hi: int | None = None,
) -> Index:
    """Row offsets of the buckets in sorted ``keys``: bucket ``b`` is ``keys[out[b]:out[b + 1]]``.

    ``n_buckets + 1`` int64 entries, ``out[0] == 0`` and ``out[-1] == len(keys)``; buckets are as
    in :func:`bucket_hashes`. ``keys`` must be strictly increasing.
    """
    n, low, high, width = _bucket_params(keys, n_buckets, lo, hi)
    _check_increasing(keys, "keys")
    return _starts(_bucket_ids(keys, n, low, high, width), n)


def bucket_hashes(
    keys: npt.NDArray[np.int64] | npt.NDArray[np.uint64],
    versions: npt.NDArray[np.int64],
    n_buckets: int,
    lo: int | None = None,
    hi: int | None = None,
) -> Hashes:
    """Order-independent 64-bit hash of each key-range bucket of a replica (uint64, ``n_buckets``).

    See the module docstring for the bucketing and the hash. ``keys`` (int64 or uint64, strictly
    increasing) and ``versions`` (int64) must have the same length.
    """
    n, low, high, width = _bucket_params(keys, n_buckets, lo, hi)
    _check_int64(versions, "versions")
    _check_same_length("keys", keys, "versions", versions)
    _check_increasing(keys, "keys")
    starts = _starts(_bucket_ids(keys, n, low, high, width), n)
    terms = _mix(_mix(keys.view(np.uint64)) ^ versions.view(np.uint64))
    sums = np.zeros(keys.shape[0] + 1, dtype=np.uint64)
    np.cumsum(terms, dtype=np.uint64, out=sums[1:])
    return sums[starts[1:]] - sums[starts[:-1]]


def diff_buckets(a_hashes: Hashes, b_hashes: Hashes) -> Index:
    """Ascending int64 indices of the buckets whose hashes differ (same-length uint64 vectors)."""
    _check_array(a_hashes, "a_hashes", (_UINT64,), "uint64")
    _check_array(b_hashes, "b_hashes", (_UINT64,), "uint64")
    _check_same_length("a_hashes", a_hashes, "b_hashes", b_hashes)
    return np.flatnonzero(a_hashes != b_hashes).astype(np.int64, copy=False)

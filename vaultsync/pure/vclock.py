"""Vector clocks: the pure-Python reference kernel.

A node's vector clock maps each origin node id to the highest *contiguous* change sequence number
from that origin it has applied (DESIGN.md section 4). Anti-entropy compares clocks to decide who
is behind and uses :func:`missing` to work out exactly which ``(origin, seq)`` ranges to send.

Two representations, one semantics:

* **dict form** ``{node_id: seq}``, used on the wire and in the store. A missing key means seq 0,
  so ``{}`` is the zero clock and ``{"a": 0}`` equals it. Functions that *return* a clock return it
  in canonical form: zero entries omitted.
* **dense form**: 1-D ``numpy.int64`` arrays indexed through a :class:`NodeIndex`, used for batch
  work (comparing one clock against many peers, folding many clocks at once) where per-key dict
  access would dominate.

Validation is the same in both forms and in both implementations (this module and the compiled
``vaultsync._compiled.vclock``): a clock must be a ``dict`` (``TypeError``) with ``str`` node ids
(``TypeError``) and integer seqs (``TypeError``; ``bool`` is rejected, anything else implementing
``__index__`` is accepted and normalised to ``int``) in ``0 .. MAX_SEQ`` (``ValueError``). Each
argument is checked in full, first to last, before any work, so invalid input always raises and
never yields a plausible-looking result. Dense arrays must be ``numpy.ndarray`` (``TypeError``) of
dtype int64 with the right number of dimensions and matching lengths, and hold no negative seq
(``ValueError``).

This module is the specification: the compiled kernel must return identical results and raise
the same exceptions (tests/native/test_vclock_parity.py). It takes a fast path only for the
common clean input (an exact ``dict`` of exact ``str`` -> exact ``int``) and hands everything
else to the functions here.
"""

from __future__ import annotations

import operator
import reprlib
from collections.abc import Iterable, Iterator
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt

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

#: ``compare(a, b)`` results. Plain ints (not an enum) so the compiled kernel can return them
#: without allocating and ``compare_many`` can store them in an int8 array.
BEFORE: Final = -1
EQUAL: Final = 0
AFTER: Final = 1
CONCURRENT: Final = 2

#: Largest seq either form can hold: dense clocks are int64, so the dict form is capped to match.
MAX_SEQ: Final = 2**63 - 1

Clock = dict[str, int]
DenseClock = npt.NDArray[np.int64]

_INT64: Final = np.dtype(np.int64)
_STR_ONLY: Final = frozenset({str})
_INT_ONLY: Final = frozenset({int})
_repr = reprlib.Repr()
_repr.maxstring = 40
_repr.maxother = 40


# --------------------------------------------------------------------------------------------
# validation helpers; the compiled kernel calls these on its slow/error paths so that both
# implementations raise identical exceptions with identical messages


def _check_dict(value: object, name: str) -> None:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict mapping node id -> seq, got {type(value).__name__}")


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"node id must be a str, got {type(key).__name__} {_repr.repr(key)}")


def _seq(node: object, value: object) -> int:
    """Return ``value`` as an exact ``int`` seq, or raise the documented error."""
    if type(value) is int:
        seq = value
    else:
        if isinstance(value, bool):
            raise TypeError(f"seq for node {_repr.repr(node)} must be an int, got bool")
        try:
            seq = int(operator.index(value))  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(
                f"seq for node {_repr.repr(node)} must be an int, got {type(value).__name__}"
            ) from None
    if seq < 0:
        raise ValueError(f"seq for node {_repr.repr(node)} must be >= 0, got {seq}")
    if seq > MAX_SEQ:
        raise ValueError(f"seq for node {_repr.repr(node)} exceeds the int64 maximum: {seq}")
    return seq


def _clock(value: object, name: str) -> Clock:
    """Validate a dict-form clock argument; return it with exact ``int`` seqs.

    The common case (exact dict, exact str keys, exact int seqs in range) is recognised with a few
    C-level passes and returned as is, never copied; callers must not modify it. Anything else is
    checked entry by entry, first to last, raising for the first bad one, and returned as a new
    plain dict of normalised seqs.
    """
    if type(value) is dict:
        if not value:
            return value
        seqs = value.values()
        if (
            _STR_ONLY.issuperset(map(type, value))
            and _INT_ONLY.issuperset(map(type, seqs))
            and min(seqs) >= 0
            and max(seqs) <= MAX_SEQ
        ):
            return value
    _check_dict(value, name)
    clock = cast("dict[Any, Any]", value)
    out: Clock = {}
    for node, seq in clock.items():
        _check_key(node)
        out[node] = _seq(node, seq)
    return out


def _check_vector(value: object, name: str) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of int64, got {type(value).__name__}")
    if value.dtype != _INT64:
        raise ValueError(f"{name} must have dtype int64, got {value.dtype}")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {value.shape}")


def _check_matrix(value: object, name: str) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of int64, got {type(value).__name__}")
    if value.dtype != _INT64:
        raise ValueError(f"{name} must have dtype int64, got {value.dtype}")
    if value.ndim != 2:
        raise ValueError(f"{name} must be 2-D (clocks x nodes), got shape {value.shape}")


def _length_mismatch(name_a: str, len_a: int, name_b: str, len_b: int) -> ValueError:
    return ValueError(f"{name_a} and {name_b} must have the same number of nodes, got {len_a} and {len_b}")


def _negative(name: str) -> ValueError:
    return ValueError(f"{name} contains a negative seq")


def _read_only(name: str) -> ValueError:
    return ValueError(f"{name} is read-only")


def _check_nonnegative(value: npt.NDArray[np.int64], name: str) -> None:
    if value.size and int(value.min()) < 0:
        raise _negative(name)


def _verdict(lt: bool, gt: bool) -> int:
    if lt:
        return CONCURRENT if gt else BEFORE
    return AFTER if gt else EQUAL


# --------------------------------------------------------------------------------------------
# dict form


def merge(a: Clock, b: Clock) -> Clock:
    """Element-wise max of two clocks: the state after applying everything either has seen.

    The result is a new dict in canonical form: exactly the nodes whose merged seq is > 0, keys of
    ``a`` first (in ``a``'s order), then keys only in ``b`` (in ``b``'s order). Neither input is
    modified.
    """
    a = _clock(a, "a")
    b = _clock(b, "b")
    out = dict(a)
    get = out.get
    for node, y in b.items():
        if y > get(node, 0):
            out[node] = y
    if 0 in out.values():  # only a's zero entries can survive; drop them (order is kept)
        out = {node: seq for node, seq in out.items() if seq}
    return out


def _order_flags(a: Clock, b: Clock) -> tuple[bool, bool]:
    """Return (a < b somewhere, a > b somewhere)."""
    a = _clock(a, "a")
    b = _clock(b, "b")
    lt = gt = False
    get = b.get
    for node, x in a.items():
        y = get(node, 0)
        if x < y:
            lt = True
        elif x > y:
            gt = True
    if not lt:
        lt = any(y and node not in a for node, y in b.items())
    return lt, gt


def compare(a: Clock, b: Clock) -> int:
    """Causal order of ``a`` relative to ``b``.

    ``BEFORE``: a <= b everywhere and < somewhere (a is behind: it should receive);
    ``AFTER``: the mirror image; ``EQUAL``: same clock (zero entries do not count);
    ``CONCURRENT``: each has seen something the other has not (both should send).
    """
    lt, gt = _order_flags(a, b)
    return _verdict(lt, gt)


def dominates(a: Clock, b: Clock) -> bool:
    """True if ``a`` >= ``b`` everywhere, i.e. ``a`` has already seen everything ``b`` has.

    Equivalent to ``compare(a, b) in (AFTER, EQUAL)``; equal clocks dominate each other.
    """
    a = _clock(a, "a")
    b = _clock(b, "b")
    get = a.get
    return all(y <= get(node, 0) for node, y in b.items())


def missing(local: Clock, remote: Clock) -> dict[str, tuple[int, int]]:
    """What ``remote`` lacks that ``local`` has, as ``{origin: (first_seq, last_seq)}``.

    Ranges are inclusive, ``(remote[o] + 1, local[o])``, present only where ``local[o] >
    remote[o]``, in ``local``'s order. Sending exactly these changes and applying them makes
    ``remote`` dominate ``local``: ``merge(remote, {o: last for o, (_, last) in
    missing(local, remote).items()})`` equals ``merge(local, remote)``.
    """
    local = _clock(local, "local")
    remote = _clock(remote, "remote")
    out: dict[str, tuple[int, int]] = {}
    get = remote.get
    for node, x in local.items():
        y = get(node, 0)
        if x > y:
            out[node] = (y + 1, x)
    return out


# --------------------------------------------------------------------------------------------
# dense form


def merge_dense(a: DenseClock, b: DenseClock) -> DenseClock:
    """Element-wise max of two dense clocks of equal length, as a new int64 array."""
    _check_vector(a, "a")
    _check_vector(b, "b")
    if a.shape[0] != b.shape[0]:
        raise _length_mismatch("a", a.shape[0], "b", b.shape[0])
    _check_nonnegative(a, "a")
    _check_nonnegative(b, "b")
    return np.maximum(a, b)


def merge_into(dst: DenseClock, src: DenseClock) -> None:
    """Advance ``dst`` in place to ``max(dst, src)``: no allocation on the anti-entropy hot path.

    Everything is validated before ``dst`` is touched, so on error ``dst`` is unchanged.
    """
    _check_vector(dst, "dst")
    _check_vector(src, "src")
    if dst.shape[0] != src.shape[0]:
        raise _length_mismatch("dst", dst.shape[0], "src", src.shape[0])
    if not dst.flags.writeable:
        raise _read_only("dst")
    _check_nonnegative(dst, "dst")
    _check_nonnegative(src, "src")
    np.maximum(dst, src, out=dst)


def compare_dense(a: DenseClock, b: DenseClock) -> int:
    """:func:`compare` for two dense clocks of equal length."""
    _check_vector(a, "a")
    _check_vector(b, "b")
    if a.shape[0] != b.shape[0]:
        raise _length_mismatch("a", a.shape[0], "b", b.shape[0])
    _check_nonnegative(a, "a")
    _check_nonnegative(b, "b")
    return _verdict(bool(np.any(a < b)), bool(np.any(a > b)))


def merge_many(m: npt.NDArray[np.int64]) -> DenseClock:
    """Fold ``n`` clocks (the rows of an ``(n, k)`` matrix) into their merge, shape ``(k,)``.

    ``n == 0`` gives the zero clock of width ``k``: zero is the identity of merge.
    """
    _check_matrix(m, "m")
    _check_nonnegative(m, "m")
    if m.shape[0] == 0:
        return np.zeros(m.shape[1], dtype=np.int64)
    return m.max(axis=0)


def compare_many(m: npt.NDArray[np.int64], clock: DenseClock) -> npt.NDArray[np.int8]:
    """``compare_dense(row, clock)`` for every row of ``m``, as an int8 array of shape ``(n,)``.

    One call answers "which peers are behind / ahead of / concurrent with me".
    """
    _check_matrix(m, "m")
    _check_vector(clock, "clock")
    if m.shape[1] != clock.shape[0]:
        raise _length_mismatch("m rows", m.shape[1], "clock", clock.shape[0])
    _check_nonnegative(m, "m")
    _check_nonnegative(clock, "clock")
    lt = np.any(m < clock, axis=1)
    gt = np.any(m > clock, axis=1)
    out = np.full(m.shape[0], EQUAL, dtype=np.int8)
    out[lt] = BEFORE
    out[gt] = AFTER
    out[lt & gt] = CONCURRENT
    return out


# --------------------------------------------------------------------------------------------
# node id <-> dense index


class NodeIndex:
    """Maps node ids to dense column indices for the dense clock functions.

    Append-only: a node keeps its index forever and new nodes get the next one, so a dense clock
    built earlier stays valid; it is merely shorter (absent trailing columns mean seq 0, see
    :meth:`widen`). Shared by the pure and the compiled kernel (it is bookkeeping, not a hot
    loop), so ``vaultsync.native.vclock.NodeIndex`` is this class whichever kernel is loaded.
    """

    __slots__ = ("_ids", "_pos")

    def __init__(self, nodes: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        for node in nodes:
            self.add(node)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, node: object) -> bool:
        return node in self._pos

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __repr__(self) -> str:
        return f"NodeIndex({self._ids!r})"

    @property
    def nodes(self) -> tuple[str, ...]:
        """Node ids in index order."""
        return tuple(self._ids)

    def add(self, node: str) -> int:
        """Index of ``node``, assigning the next free index if it is new."""
        pos = self._pos.get(node)
        if pos is None:
            _check_key(node)
            pos = self._pos[node] = len(self._ids)
            self._ids.append(node)
        return pos

    def get(self, node: str) -> int | None:
        """Index of ``node``, or None if it has never been added."""
        return self._pos.get(node)

    def node(self, index: int) -> str:
        """Node id at ``index`` (IndexError if out of range)."""
        if index < 0:
            raise IndexError(f"node index must be >= 0, got {index}")
        return self._ids[index]

    def to_dense(self, clock: Clock) -> DenseClock:
        """Dense form of ``clock`` with width ``len(self)``, adding any new nodes first.

        The clock is validated in full before any node is added, so bad input changes nothing.
        """
        clock = _clock(clock, "clock")
        positions = [self.add(node) for node in clock]
        out = np.zeros(len(self._ids), dtype=np.int64)
        out[positions] = list(clock.values())
        return out

    def to_dict(self, arr: DenseClock) -> Clock:
        """Canonical dict form of a dense clock (zero entries omitted)."""
        _check_vector(arr, "arr")
        self._check_width(arr)
        _check_nonnegative(arr, "arr")
        ids = self._ids
        return {ids[pos]: int(arr[pos]) for pos in np.flatnonzero(arr).tolist()}

    def widen(self, arr: DenseClock) -> DenseClock:
        """Copy of ``arr`` zero-padded to the current width (for clocks built before growth)."""
        _check_vector(arr, "arr")
        self._check_width(arr)
        out = np.zeros(len(self._ids), dtype=np.int64)
        out[: arr.shape[0]] = arr
        return out

    def to_matrix(self, clocks: Iterable[Clock]) -> npt.NDArray[np.int64]:
        """Stack dict clocks into an ``(n, len(self))`` matrix for the batch functions."""
        rows = [self.to_dense(clock) for clock in clocks]
        out = np.zeros((len(rows), len(self._ids)), dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, : row.shape[0]] = row
        return out

    def _check_width(self, arr: DenseClock) -> None:
        if arr.shape[0] > len(self._ids):
            raise ValueError(
                f"dense clock has {arr.shape[0]} entries but the index only knows {len(self._ids)} nodes"
            )

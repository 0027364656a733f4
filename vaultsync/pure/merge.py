"""Batch last-writer-wins merge: the pure-Python reference.

Mutable records merge per column by last-writer-wins on ``(hlc, node)`` (DESIGN.md section 4).
In memory a table's LWW state is four aligned columns sorted by key:

``cur_keys``   strictly increasing ``int64``: one entry per replicated cell, the caller packing
               ``(row, column)`` into one id (e.g. ``row_id * n_columns + column_no``);
``cur_hlcs``   ``int64`` hybrid logical clock of the write that set the cell;
``cur_nodes``  ``int64`` node rank of that write (the HLC tie-break);
``cur_refs``   ``int64`` index of the value in a value store (only :func:`apply` carries it).

An incoming batch is the same four columns, sorted by key (non-decreasing: one key may appear
several times, e.g. two terminals edited the same price offline). A batch in arrival
(``(origin, seq)``) order goes to :func:`decide_unsorted`, which sorts inside the kernel; or sort
it first with ``np.argsort(keys)``: any sort kind will do, since only exact duplicates of one
write can swap places and they carry the same value.

:func:`decide` is the kernel: one merge-join pass over both key columns that returns

* ``win``: bool per incoming change, True for exactly the changes to apply: for each key, the
  incoming change with the greatest ``(hlc, node)`` of the batch (the first such on an exact tie),
  and only if that is strictly greater than the current ``(hlc, node)`` or the key is new;
* ``pos``: int64 per incoming change, the index of its key in ``cur_keys``, or -1 for a new key,
  so the caller can update in place or insert without searching again.

:func:`decide_unsorted` is the same decision for a batch in any key order, ``win`` and ``pos``
given per change in the order the batch came in; "first on an exact tie" is then the change
that comes first in the batch (for a key-sorted batch both functions return the same).

Why these rules give the replication guarantees: the state after applying a set of changes is,
per key, the maximum ``(hlc, node)`` over the current version and all changes ever seen; a max is
idempotent (applying a batch twice, or a change already applied, changes nothing: an equal
``(hlc, node)`` never wins), commutative and associative (any batch order, any split into batches
gives the same state). ``(hlc, node)`` identifies a write uniquely (a node never issues the same
HLC twice), so an exact tie is the same write delivered twice and which copy "wins" cannot change
the state. Tombstones are ordinary writes whose value ref points at a tombstone.

:func:`apply` builds on :func:`decide` to produce the merged state columns (the in-memory form the
sync engine and the benchmarks use).

Validation (identical here and in the compiled ``vaultsync._compiled.merge``): arguments must be
``numpy.ndarray`` (``TypeError``) of dtype int64, 1-D (``ValueError``); the incoming columns must
all have the same length, as must the current ones (``ValueError``); incoming keys must be
non-decreasing and current keys strictly increasing (``ValueError`` naming the first offending
position). Inputs are never modified.

This module is the specification: the compiled kernel must return identical results and raise the
same exceptions with the same messages (tests/native/test_merge_parity.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["apply", "decide", "decide_unsorted"]

Int64s = npt.NDArray[np.int64]
Decision = tuple[npt.NDArray[np.bool_], Int64s]
State = tuple[Int64s, Int64s, Int64s, Int64s]

_INT64: Final = np.dtype(np.int64)


# --------------------------------------------------------------------------------------------
# validation helpers; the compiled kernel calls these so both raise identical exceptions


def _check_int64(value: object, name: str) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of int64, got {type(value).__name__}")
    if value.dtype != _INT64:
        raise ValueError(f"{name} must have dtype int64, got {value.dtype}")
    if value.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {value.shape}")


def _check_columns(names: tuple[str, ...], arrays: tuple[object, ...]) -> None:
    """Each array is a 1-D int64 ndarray and all have the length of the first."""
    for name, value in zip(names, arrays, strict=True):
        _check_int64(value, name)
    first = arrays[0]
    assert isinstance(first, np.ndarray)
    for name, value in zip(names[1:], arrays[1:], strict=True):
        assert isinstance(value, np.ndarray)
        if value.shape[0] != first.shape[0]:
            raise ValueError(
                f"{names[0]} and {name} must have the same length, got {first.shape[0]} and {value.shape[0]}"
            )


INCOMING: Final = ("keys", "hlcs", "nodes")
CURRENT: Final = ("cur_keys", "cur_hlcs", "cur_nodes")


def _check_decide(
    keys: object, hlcs: object, nodes: object, cur_keys: object, cur_hlcs: object, cur_nodes: object
) -> None:
    """Validate types, shapes and lengths of :func:`decide`'s arguments (not the key order)."""
    _check_columns(INCOMING, (keys, hlcs, nodes))
    _check_columns(CURRENT, (cur_keys, cur_hlcs, cur_nodes))


def _not_sorted(name: str, keys: Int64s, i: int, strict: bool) -> ValueError:
    order = "strictly increasing order (unique keys)" if strict else "non-decreasing order"
    return ValueError(f"{name} must be sorted in {order}: {name}[{i}] = {keys[i]} follows {keys[i - 1]}")


def _check_sorted(keys: Int64s, name: str, strict: bool) -> None:
    if keys.shape[0] < 2:
        return
    bad = keys[1:] <= keys[:-1] if strict else keys[1:] < keys[:-1]
    if bad.any():
        i = int(np.argmax(bad)) + 1
        raise _not_sorted(name, keys, i, strict)


# --------------------------------------------------------------------------------------------
# kernel


def decide(
    keys: Int64s,
    hlcs: Int64s,
    nodes: Int64s,
    cur_keys: Int64s,
    cur_hlcs: Int64s,
    cur_nodes: Int64s,
) -> Decision:
    """Which incoming changes win, and where their keys are in the current state.

    Returns ``(win, pos)`` as described in the module docstring: ``win`` a bool array and ``pos``
    an int64 array, both as long as ``keys``.
    """
    _check_decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    _check_sorted(keys, "keys", strict=False)
    _check_sorted(cur_keys, "cur_keys", strict=True)
    return _decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)


def decide_unsorted(
    keys: Int64s,
    hlcs: Int64s,
    nodes: Int64s,
    cur_keys: Int64s,
    cur_hlcs: Int64s,
    cur_nodes: Int64s,
) -> Decision:
    """:func:`decide` for a batch in any order (e.g. as it arrived from peers).

    Same arguments, validation (except that ``keys`` may be in any order) and results; ``win``
    and ``pos`` follow the batch's own order, and of exact ties the earliest change wins.
    """
    _check_decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    _check_sorted(cur_keys, "cur_keys", strict=True)
    return _decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)


def _decide(
    keys: Int64s,
    hlcs: Int64s,
    nodes: Int64s,
    cur_keys: Int64s,
    cur_hlcs: Int64s,
    cur_nodes: Int64s,
) -> Decision:
    """The decision for validated input; needs no key order (lexsort and searchsorted)."""
    n, m = keys.shape[0], cur_keys.shape[0]
    win = np.zeros(n, dtype=bool)
    if m:
        pos = np.searchsorted(cur_keys, keys).astype(np.int64)
        found = cur_keys[np.minimum(pos, m - 1)] == keys
        pos[~found] = -1
    else:
        pos = np.full(n, -1, dtype=np.int64)
    if not n:
        return win, pos
    # Best change per key: sort by (key, hlc, node, -row); the last of each key run is the
    # greatest (hlc, node), and on an exact tie the lowest row.
    order = np.lexsort((-np.arange(n, dtype=np.int64), nodes, hlcs, keys))
    sorted_keys = keys[order]
    last = np.ones(n, dtype=bool)
    last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
    best = order[last]
    p = pos[best]
    known = p >= 0
    at = np.where(known, p, 0)
    if m:
        ch, cn = cur_hlcs[at], cur_nodes[at]
        newer = (hlcs[best] > ch) | ((hlcs[best] == ch) & (nodes[best] > cn))
    else:
        newer = np.zeros(best.shape[0], dtype=bool)
    win[best[~known | newer]] = True
    return win, pos


# --------------------------------------------------------------------------------------------
# state update on top of the kernel, shared with the compiled module


def _apply(
    decide_fn: Callable[[Int64s, Int64s, Int64s, Int64s, Int64s, Int64s], Decision],
    cur_keys: Int64s,
    cur_hlcs: Int64s,
    cur_nodes: Int64s,
    cur_refs: Int64s,
    keys: Int64s,
    hlcs: Int64s,
    nodes: Int64s,
    refs: Int64s,
) -> State:
    _check_decide(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    _check_columns(("keys", "refs"), (keys, refs))
    _check_columns(("cur_keys", "cur_refs"), (cur_keys, cur_refs))
    win, pos = decide_fn(keys, hlcs, nodes, cur_keys, cur_hlcs, cur_nodes)
    out = [cur_keys.copy(), cur_hlcs.copy(), cur_nodes.copy(), cur_refs.copy()]
    winners = np.flatnonzero(win)
    at = pos[winners]
    update, insert = winners[at >= 0], winners[at < 0]
    where = at[at >= 0]
    for column, source in zip(out[1:], (hlcs, nodes, refs), strict=True):
        column[where] = source[update]
    if insert.shape[0]:
        slots = np.searchsorted(cur_keys, keys[insert])
        out = [
            np.insert(column, slots, source[insert])
            for column, source in zip(out, (keys, hlcs, nodes, refs), strict=True)
        ]
    return out[0], out[1], out[2], out[3]


def apply(
    cur_keys: Int64s,
    cur_hlcs: Int64s,
    cur_nodes: Int64s,
    cur_refs: Int64s,
    keys: Int64s,
    hlcs: Int64s,
    nodes: Int64s,
    refs: Int64s,
) -> State:
    """Merge an incoming batch into a state: the new ``(keys, hlcs, nodes, refs)`` columns.

    Winning changes (see :func:`decide`) overwrite their key's version and value ref or are
    inserted in key order; the inputs are not modified. ``apply(apply(s, b), b) == apply(s, b)``
    and the result does not depend on how the changes are ordered or split into batches.
    """
    return _apply(decide, cur_keys, cur_hlcs, cur_nodes, cur_refs, keys, hlcs, nodes, refs)

"""Batch LWW merge kernel: compiled vs pure parity, and the algebra replication relies on.

* Parity: ``vaultsync._compiled.merge`` and ``vaultsync.pure.merge`` on the same generated
  batches give identical ``(win, pos)`` / merged states, or the same exception and message.
  Skipped when the extension is not built, a failure under ``VAULTSYNC_REQUIRE_NATIVE=1``.
* Properties, for every available implementation: the result equals a brute-force per-key max
  over ``(hlc, node)``; applying a batch twice changes nothing (idempotent); any order of the
  changes and any split into batches gives the same final state (commutative, associative).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.native import kernels
from vaultsync.pure import merge as P

I64 = np.iinfo(np.int64)


C, C_ERROR = kernels.load("merge")
require_compiled = kernels.requirer("merge", C, C_ERROR)


@pytest.fixture(scope="module")
def compiled() -> ModuleType:
    return require_compiled()


@pytest.fixture(scope="module", params=["pure", "compiled"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return P if request.param == "pure" else require_compiled()


parity = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
props = settings(max_examples=100, deadline=None)


def _norm(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tolist())
    if isinstance(value, tuple):
        return ("tuple", [_norm(v) for v in value])
    return (type(value).__name__, value)


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        result = fn(*args)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    return ("returned", _norm(result))


def assert_parity(compiled: ModuleType, name: str, *args: Any) -> Any:
    expected = outcome(getattr(P, name), *args)
    assert outcome(getattr(compiled, name), *args) == expected, name
    return expected


# ---------------------------------------------------------------------------------------------
# strategies. A write is (key, hlc, node); its value ref is a function of the write, as in the
# real system (one write, one value), so duplicates of a write are indistinguishable.

Write = tuple[int, int, int]


def ref_of(key: int, hlc: int, node: int) -> int:
    return (key * 1_000_003 + hlc * 31 + node) % (2**62)


small_writes = st.tuples(st.integers(0, 12), st.integers(0, 5), st.integers(0, 3))
wide_writes = st.tuples(
    st.one_of(st.integers(0, 12), st.integers(I64.min, I64.max)),
    st.one_of(st.integers(0, 5), st.integers(I64.min, I64.max)),
    st.one_of(st.integers(0, 3), st.sampled_from([I64.min, -1, I64.max])),
)


def batch_arrays(writes: list[Write], sort: bool = True) -> tuple[np.ndarray, ...]:
    if sort:
        writes = sorted(writes, key=lambda w: w[0])  # stable: same-key writes keep their order
    cols = list(zip(*writes, strict=True)) if writes else [(), (), ()]
    keys, hlcs, nodes = (np.array(c, dtype=np.int64) for c in cols)
    refs = np.array([ref_of(*w) for w in writes], dtype=np.int64)
    return keys, hlcs, nodes, refs


def state_arrays(writes: list[Write]) -> tuple[np.ndarray, ...]:
    """A valid current state: one (greatest) write per key, sorted by key."""
    best: dict[int, Write] = {}
    for w in writes:
        if w[0] not in best or w[1:] > best[w[0]][1:]:
            best[w[0]] = w
    return batch_arrays([best[k] for k in sorted(best)])


def brute_state(*batches: list[Write]) -> dict[int, tuple[int, int, int]]:
    out: dict[int, tuple[int, int, int]] = {}
    for batch in batches:
        for key, hlc, node in batch:
            if key not in out or (hlc, node) > out[key][:2]:
                out[key] = (hlc, node, ref_of(key, hlc, node))
    return out


def as_dict(state: tuple[np.ndarray, ...]) -> dict[int, tuple[int, int, int]]:
    keys, hlcs, nodes, refs = (x.tolist() for x in state)
    assert keys == sorted(set(keys))
    return {k: (h, n, r) for k, h, n, r in zip(keys, hlcs, nodes, refs, strict=True)}


# ---------------------------------------------------------------------------------------------


def test_compiled_kernel_is_available_when_required() -> None:
    require_compiled()


def test_public_api_is_identical(compiled: ModuleType) -> None:
    assert compiled.__all__ == P.__all__
    for name in P.__all__:
        ours = getattr(compiled, name)
        assert list(inspect.signature(ours).parameters) == list(
            inspect.signature(getattr(P, name)).parameters
        )
        assert ours.__doc__


@parity
@given(
    batch=st.lists(st.one_of(small_writes, wide_writes), max_size=30),
    current=st.lists(st.one_of(small_writes, wide_writes), max_size=30),
    strided=st.booleans(),
)
def test_decide_and_apply_match(
    compiled: ModuleType, batch: list[Write], current: list[Write], strided: bool
) -> None:
    keys, hlcs, nodes, refs = batch_arrays(batch)
    state = state_arrays(current)
    if strided:
        keys = np.repeat(keys, 2)[::2]
    assert_parity(compiled, "decide", keys, hlcs, nodes, *state[:3])
    assert_parity(compiled, "apply", *state, keys, hlcs, nodes, refs)


@props
@given(batch=st.lists(small_writes, max_size=30), current=st.lists(small_writes, max_size=20))
def test_decide_against_brute_force(impl: ModuleType, batch: list[Write], current: list[Write]) -> None:
    keys, hlcs, nodes, _ = batch_arrays(batch)
    ck, ch, cn, _ = state_arrays(current)
    win, pos = impl.decide(keys, hlcs, nodes, ck, ch, cn)
    assert win.dtype == np.bool_ and pos.dtype == np.int64
    cur = {k: (h, n) for k, h, n in zip(ck.tolist(), ch.tolist(), cn.tolist(), strict=True)}
    where = {k: i for i, k in enumerate(ck.tolist())}
    expected = []
    for i, (k, h, n) in enumerate(zip(keys.tolist(), hlcs.tolist(), nodes.tolist(), strict=True)):
        same = [
            (hh, nn)
            for kk, hh, nn in zip(keys.tolist(), hlcs.tolist(), nodes.tolist(), strict=True)
            if kk == k
        ]
        first_best = next(
            j for j, kk in enumerate(keys.tolist()) if kk == k and (hlcs[j], nodes[j]) == max(same)
        )
        expected.append(i == first_best and (k not in cur or (h, n) > cur[k]))
    assert win.tolist() == expected
    assert pos.tolist() == [where.get(k, -1) for k in keys.tolist()]


@props
@given(
    b1=st.lists(small_writes, max_size=25),
    b2=st.lists(small_writes, max_size=25),
    current=st.lists(small_writes, max_size=15),
    seed=st.integers(0, 2**32 - 1),
)
def test_apply_is_idempotent_commutative_associative(
    impl: ModuleType, b1: list[Write], b2: list[Write], current: list[Write], seed: int
) -> None:
    s0 = state_arrays(current)

    def apply(state: tuple[np.ndarray, ...], batch: list[Write]) -> tuple[np.ndarray, ...]:
        keys, hlcs, nodes, refs = batch_arrays(batch)
        return impl.apply(*state, keys, hlcs, nodes, refs)

    one = apply(s0, b1)
    assert as_dict(one) == brute_state(current, b1)
    assert as_dict(apply(one, b1)) == as_dict(one)  # the same batch twice: nothing changes
    both = as_dict(apply(one, b2))
    assert both == as_dict(apply(apply(s0, b2), b1))  # batch order does not matter
    assert both == as_dict(apply(s0, b1 + b2))  # nor how changes are split into batches
    shuffled = list(b1 + b2)
    np.random.default_rng(seed).shuffle(shuffled)
    assert both == as_dict(apply(s0, shuffled))  # nor the order inside a batch
    assert both == brute_state(current, b1, b2)


def test_decide_edge_cases(impl: ModuleType) -> None:
    e = np.zeros(0, dtype=np.int64)
    win, pos = impl.decide(e, e, e, e, e, e)
    assert win.shape == pos.shape == (0,)
    k = np.array([1, 1, 1, 2], dtype=np.int64)
    h = np.array([5, 7, 7, 1], dtype=np.int64)
    n = np.array([0, 3, 3, 0], dtype=np.int64)
    win, pos = impl.decide(k, h, n, e, e, e)
    assert win.tolist() == [False, True, False, True]  # greatest (hlc, node), first on an exact tie
    assert pos.tolist() == [-1, -1, -1, -1]
    ck, ch, cn = np.array([1], dtype=np.int64), np.array([7], dtype=np.int64), np.array([3], dtype=np.int64)
    win, pos = impl.decide(k, h, n, ck, ch, cn)
    assert win.tolist() == [False, False, False, True]  # equal to the current version: not newer
    assert pos.tolist() == [0, 0, 0, -1]
    win, _ = impl.decide(k, h, n + 1, ck, ch, cn)
    assert win.tolist() == [False, True, False, True]  # node breaks the hlc tie


def test_decide_bad_input(impl: ModuleType) -> None:
    k = np.array([1, 2, 3], dtype=np.int64)
    e = np.zeros(0, dtype=np.int64)
    with pytest.raises(ValueError, match=r"keys\[2\] = 1 follows 2"):
        impl.decide(np.array([1, 2, 1], dtype=np.int64), k, k, e, e, e)
    with pytest.raises(ValueError, match=r"cur_keys\[1\] = 1 follows 1"):
        impl.decide(k, k, k, np.array([1, 1], dtype=np.int64), k[:2], k[:2])
    with pytest.raises(ValueError, match="same length"):
        impl.decide(k, k[:2], k, e, e, e)
    with pytest.raises(ValueError, match="same length"):
        impl.decide(k, k, k, k, k, e)
    with pytest.raises(ValueError, match="dtype int64"):
        impl.decide(k.astype(np.int32), k, k, e, e, e)
    with pytest.raises(TypeError):
        impl.decide(k, k, [1, 2, 3], e, e, e)
    with pytest.raises(ValueError, match="same length"):
        impl.apply(e, e, e, e, k, k, k, k[:1])


def test_large_batches_match(compiled: ModuleType) -> None:
    """Above the GIL-release threshold, with galloping over a much larger current table."""
    rng = np.random.default_rng(11)
    ck = np.unique(rng.integers(0, 10**8, 400_000))
    ch = rng.integers(0, 50, ck.shape[0])
    cn = rng.integers(0, 4, ck.shape[0])
    for n in (100, 50_000):
        keys = np.sort(np.concatenate([rng.choice(ck, n // 2), rng.integers(0, 10**8, n - n // 2)]))
        hlcs = rng.integers(0, 50, n)
        nodes = rng.integers(0, 4, n)
        assert_parity(compiled, "decide", keys, hlcs, nodes, ck, ch, cn)


# ---------------------------------------------------------------------------------------------
# decide_unsorted: the same decision for a batch in arrival order (radix-sorted in the kernel)


@parity
@given(
    batch=st.lists(st.one_of(small_writes, wide_writes), max_size=30),
    current=st.lists(st.one_of(small_writes, wide_writes), max_size=30),
    strided=st.booleans(),
)
def test_decide_unsorted_matches(
    compiled: ModuleType, batch: list[Write], current: list[Write], strided: bool
) -> None:
    keys, hlcs, nodes, _ = batch_arrays(batch, sort=False)
    state = state_arrays(current)
    if strided:
        keys = np.repeat(keys, 2)[::2]
    assert_parity(compiled, "decide_unsorted", keys, hlcs, nodes, *state[:3])


@props
@given(batch=st.lists(st.one_of(small_writes, wide_writes), max_size=30), current=st.lists(small_writes))
def test_decide_unsorted_is_decide_in_arrival_order(
    impl: ModuleType, batch: list[Write], current: list[Write]
) -> None:
    """Per change, the same verdict as ``decide`` on the stably key-sorted batch."""
    keys, hlcs, nodes, _ = batch_arrays(batch, sort=False)
    ck, ch, cn, _ = state_arrays(current)
    win, pos = impl.decide_unsorted(keys, hlcs, nodes, ck, ch, cn)
    order = np.argsort(keys, kind="stable")
    swin, spos = impl.decide(keys[order], hlcs[order], nodes[order], ck, ch, cn)
    assert win.dtype == np.bool_ and pos.dtype == np.int64
    assert win[order].tolist() == swin.tolist()
    assert pos[order].tolist() == spos.tolist()


def test_decide_unsorted_edge_cases(impl: ModuleType) -> None:
    e = np.zeros(0, dtype=np.int64)
    win, pos = impl.decide_unsorted(e, e, e, e, e, e)
    assert win.shape == pos.shape == (0,)
    k = np.array([2, 1, 1, 1], dtype=np.int64)
    h = np.array([1, 7, 5, 7], dtype=np.int64)
    n = np.array([0, 3, 0, 3], dtype=np.int64)
    win, pos = impl.decide_unsorted(k, h, n, e, e, e)
    assert win.tolist() == [True, True, False, False]  # the earliest of an exact tie wins
    ck, ch, cn = np.array([1], dtype=np.int64), np.array([7], dtype=np.int64), np.array([3], dtype=np.int64)
    win, pos = impl.decide_unsorted(k, h, n, ck, ch, cn)
    assert win.tolist() == [True, False, False, False]
    assert pos.tolist() == [-1, 0, 0, 0]
    extreme = np.array([I64.max, I64.min, 0, I64.max, I64.min], dtype=np.int64)  # full key range
    one = np.ones(5, dtype=np.int64)
    win, pos = impl.decide_unsorted(extreme, np.arange(5, dtype=np.int64), one, e, e, e)
    assert win.tolist() == [False, False, True, True, True]


def test_decide_unsorted_bad_input(impl: ModuleType) -> None:
    k = np.array([3, 1, 2], dtype=np.int64)
    e = np.zeros(0, dtype=np.int64)
    impl.decide_unsorted(k, k, k, e, e, e)  # any batch order is fine
    with pytest.raises(ValueError, match=r"cur_keys\[1\] = 1 follows 1"):
        impl.decide_unsorted(k, k, k, np.array([1, 1], dtype=np.int64), k[:2], k[:2])
    with pytest.raises(ValueError, match="same length"):
        impl.decide_unsorted(k, k[:2], k, e, e, e)
    with pytest.raises(ValueError, match="dtype int64"):
        impl.decide_unsorted(k.astype(np.int32), k, k, e, e, e)
    with pytest.raises(TypeError):
        impl.decide_unsorted(k, k, [1, 2, 3], e, e, e)


@pytest.mark.parametrize("spread", [1, 2**40], ids=["packed", "wide-keys"])
def test_large_unsorted_batches_match(compiled: ModuleType, spread: int) -> None:
    """Both radix paths (key offset and row packed in one word; (key, row) pairs when the keys
    span too many bits), above the GIL-release threshold."""
    rng = np.random.default_rng(12)
    ck = np.unique(rng.integers(0, 10**6, 200_000)) * spread
    ch = rng.integers(0, 50, ck.shape[0])
    cn = rng.integers(0, 4, ck.shape[0])
    for n in (100, 60_000):
        keys = np.concatenate([rng.choice(ck, n // 2), rng.integers(0, 10**6, n - n // 2) * spread])
        rng.shuffle(keys)
        hlcs = rng.integers(0, 50, n)
        nodes = rng.integers(0, 4, n)
        assert_parity(compiled, "decide_unsorted", keys, hlcs, nodes, ck, ch, cn)

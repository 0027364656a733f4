"""Diff kernel: compiled vs pure parity, and correctness against brute-force set computations.

* Parity tests run ``vaultsync._compiled.diff`` and ``vaultsync.pure.diff`` on the same generated
  input and require the same outcome: equal arrays of the same dtype, or the same exception type
  and message. They skip when the extension is not built, unless ``VAULTSYNC_REQUIRE_NATIVE=1``,
  which turns the skip into a failure so CI cannot lose the compiled coverage silently.
* Property tests check every available implementation against a brute-force model (Python sets
  and dicts), so the reference itself is verified, and check that bucket reconciliation finds
  every difference (the sync engine's drill-down loop, end to end).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.native import kernels
from vaultsync.pure import diff as P

I64 = np.iinfo(np.int64)
I64_MIN, I64_MAX = int(I64.min), int(I64.max)


C, C_ERROR = kernels.load("diff")
require_compiled = kernels.requirer("diff", C, C_ERROR)


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
        assert value.flags.c_contiguous
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


def layout(values: np.ndarray, how: str) -> np.ndarray:
    """``values`` as a fresh array in another memory layout (the kernels must not care)."""
    if how == "strided":
        wide = np.zeros(2 * values.shape[0], dtype=values.dtype)
        wide[::2] = values
        return wide[::2]
    if how == "readonly":
        out = values.copy()
        out.flags.writeable = False
        return out
    if how == "unaligned" and values.size:
        buf = bytearray(values.nbytes + 1)
        out = np.frombuffer(buf, dtype=values.dtype, count=values.size, offset=1)
        out[...] = values
        return out
    return values.copy()


LAYOUTS = st.sampled_from(["c", "c", "c", "strided", "readonly", "unaligned"])


# ---------------------------------------------------------------------------------------------
# strategies


@st.composite
def change_index(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origins, seqs, peer_clock); sometimes stored in (origin, seq) order, sometimes shuffled."""
    width = draw(st.integers(0, 6))
    n = draw(st.integers(0, 40))
    origins = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n)) if width else []
    seqs = draw(
        st.lists(
            st.one_of(st.integers(0, 12), st.integers(0, I64.max)),
            min_size=len(origins),
            max_size=len(origins),
        )
    )
    clock = draw(
        st.lists(st.one_of(st.integers(0, 12), st.integers(0, I64.max)), min_size=width, max_size=width)
    )
    o = np.array(origins, dtype=np.int32)
    s = np.array(seqs, dtype=np.int64)
    if draw(st.booleans()):
        order = np.lexsort((s, o))
        o, s = o[order], s[order]
    return o, s, np.array(clock, dtype=np.int64)


@st.composite
def replica_pair(draw: st.DrawFn, dtype: Any = None) -> tuple[np.ndarray, ...]:
    """Two replicas of one key space: shared keys (some with changed versions) plus own keys."""
    dtype = dtype or draw(st.sampled_from([np.int64, np.uint64]))
    lo, hi = (0, 2**64 - 1) if dtype == np.uint64 else (I64.min, I64.max)
    small = draw(st.booleans())
    key = (
        st.integers(-20, 20)
        if small and dtype == np.int64
        else st.integers(0, 40)
        if small
        else st.integers(lo, hi)
    )
    keys = sorted(draw(st.sets(key, max_size=60)))
    in_a = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    in_b = draw(st.lists(st.booleans(), min_size=len(keys), max_size=len(keys)))
    version = st.one_of(st.integers(0, 2), st.integers(I64.min, I64.max))
    va_all = draw(st.lists(version, min_size=len(keys), max_size=len(keys)))
    flip = draw(st.lists(st.integers(0, 3), min_size=len(keys), max_size=len(keys)))
    ka = [k for k, x in zip(keys, in_a, strict=True) if x]
    kb = [k for k, x in zip(keys, in_b, strict=True) if x]
    va = [v for v, x in zip(va_all, in_a, strict=True) if x]
    vb = [(v if f else v ^ 1) for v, f, x in zip(va_all, flip, in_b, strict=True) if x]
    return (
        np.array(ka, dtype=dtype),
        np.array(va, dtype=np.int64),
        np.array(kb, dtype=dtype),
        np.array(vb, dtype=np.int64),
    )


def brute_diff(ka: np.ndarray, va: np.ndarray, kb: np.ndarray, vb: np.ndarray) -> tuple[list[int], ...]:
    a = {int(k): (i, int(v)) for i, (k, v) in enumerate(zip(ka, va, strict=True))}
    b = {int(k): (i, int(v)) for i, (k, v) in enumerate(zip(kb, vb, strict=True))}
    only_a = sorted(a[k][0] for k in a.keys() - b.keys())
    only_b = sorted(b[k][0] for k in b.keys() - a.keys())
    pairs = sorted((a[k][0], b[k][0]) for k in a.keys() & b.keys() if a[k][1] != b[k][1])
    return only_a, only_b, [p[0] for p in pairs], [p[1] for p in pairs]


# ---------------------------------------------------------------------------------------------
# API


def test_compiled_kernel_is_available_when_required() -> None:
    require_compiled()


def test_public_api_is_identical(compiled: ModuleType) -> None:
    import inspect

    assert compiled.__all__ == P.__all__
    for name in P.__all__:
        ref, ours = getattr(P, name), getattr(compiled, name)
        if callable(ref):
            assert list(inspect.signature(ours).parameters) == list(inspect.signature(ref).parameters), name
            assert ours.__doc__, name
        else:
            assert ours == ref, name


# ---------------------------------------------------------------------------------------------
# lacking


@parity
@given(data=change_index(), limit=st.one_of(st.none(), st.integers(0, 50)), how=LAYOUTS)
def test_lacking_matches(
    compiled: ModuleType, data: tuple[np.ndarray, ...], limit: int | None, how: str
) -> None:
    o, s, c = data
    assert_parity(compiled, "lacking", layout(o, how), layout(s, how), layout(c, how), limit)


@props
@given(data=change_index(), limit=st.one_of(st.none(), st.integers(0, 50)))
def test_lacking_is_exactly_what_the_peer_needs(
    impl: ModuleType, data: tuple[np.ndarray, ...], limit: int | None
) -> None:
    o, s, c = data
    rows = impl.lacking(o, s, c, limit)
    assert rows.dtype == np.int64
    expected = sorted((int(o[i]), int(s[i]), i) for i in range(len(o)) if s[i] > c[o[i]])
    if limit is not None:
        expected = expected[:limit]
    assert rows.tolist() == [i for _, _, i in expected]


def test_lacking_bad_input(impl: ModuleType) -> None:
    o = np.array([0, 2, 1], dtype=np.int32)
    s = np.array([1, 2, 3], dtype=np.int64)
    c = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match=r"origins\[1\] = 2 .*unknown node"):
        impl.lacking(o, s, c)
    with pytest.raises(ValueError, match="unknown node"):
        impl.lacking(np.array([-1], dtype=np.int32), s[:1], c)
    with pytest.raises(ValueError, match="same length"):
        impl.lacking(o, s[:2], np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dtype int32"):
        impl.lacking(o.astype(np.int64), s, c)
    with pytest.raises(TypeError):
        impl.lacking([0, 1], s[:2], c)
    with pytest.raises(ValueError, match="negative"):
        impl.lacking(o[:1], s[:1], np.array([-1], dtype=np.int64))
    with pytest.raises(TypeError):
        impl.lacking(o, s, np.zeros(3, dtype=np.int64), True)
    with pytest.raises(ValueError):
        impl.lacking(o, s, np.zeros(3, dtype=np.int64), -1)
    assert impl.lacking(o, s, np.zeros(3, dtype=np.int64), np.int64(2)).tolist() == [0, 2]


def test_lacking_large_unsorted(compiled: ModuleType) -> None:
    """Above the GIL-release threshold, shuffled (needs the sort) and sorted."""
    rng = np.random.default_rng(3)
    o = rng.integers(0, 64, 100_000).astype(np.int32)
    s = rng.integers(0, 1000, 100_000)
    c = rng.integers(0, 1000, 64)
    for limit in (None, 10, 50_000):
        assert_parity(compiled, "lacking", o, s, c, limit)
    order = np.lexsort((s, o))
    assert_parity(compiled, "lacking", o[order], s[order], c, None)


# ---------------------------------------------------------------------------------------------
# diff_sorted


@parity
@given(pair=replica_pair(), how=LAYOUTS)
def test_diff_sorted_matches(compiled: ModuleType, pair: tuple[np.ndarray, ...], how: str) -> None:
    assert_parity(compiled, "diff_sorted", *(layout(x, how) for x in pair))
    ka, va, _, _ = pair
    assert_parity(compiled, "diff_sorted", ka, va, ka, va)


@props
@given(pair=replica_pair())
def test_diff_sorted_against_brute_force(impl: ModuleType, pair: tuple[np.ndarray, ...]) -> None:
    got = impl.diff_sorted(*pair)
    assert all(x.dtype == np.int64 for x in got)
    assert [x.tolist() for x in got] == list(brute_diff(*pair))


@parity
@given(
    keys=st.lists(st.integers(-5, 5), max_size=12),
    dtype=st.sampled_from([np.int64, np.uint64]),
    which=st.sampled_from(["a", "b"]),
)
def test_diff_sorted_rejects_unsorted_the_same_way(
    compiled: ModuleType, keys: list[int], dtype: Any, which: str
) -> None:
    k = np.array([abs(x) for x in keys] if dtype == np.uint64 else keys, dtype=dtype)
    v = np.zeros(len(k), dtype=np.int64)
    good = np.arange(3, dtype=dtype)
    args = (
        (k, v, good, np.zeros(3, dtype=np.int64))
        if which == "a"
        else (good, np.zeros(3, dtype=np.int64), k, v)
    )
    assert_parity(compiled, "diff_sorted", *args)


def test_diff_sorted_large(compiled: ModuleType) -> None:
    rng = np.random.default_rng(5)
    ka = np.unique(rng.integers(0, 10**7, 300_000))
    va = rng.integers(0, 3, ka.shape[0])
    kb = np.unique(np.concatenate([ka[rng.random(ka.shape[0]) < 0.999], rng.integers(0, 10**7, 200)]))
    vb = rng.integers(0, 3, (kb.shape[0],))
    vb[: kb.shape[0] // 2] = 0
    assert_parity(compiled, "diff_sorted", ka, va, kb, vb)
    assert_parity(compiled, "diff_sorted", ka, va, ka, va)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("at", [1, 31, 32, 33, 64, 150, 199])
def test_diff_sorted_finds_disorder_anywhere(compiled: ModuleType, dtype: Any, at: int) -> None:
    """The compiled join checks key order while it reads: inside equal blocks it skips, at their
    edges, in the element-wise part and in the tails, on either side."""
    keys = np.arange(0, 400, 2, dtype=dtype)
    versions = np.arange(200, dtype=np.int64)
    bad = keys.copy()
    bad[at] = bad[at - 1]  # a duplicate
    for ka, kb in ((bad, keys), (keys, bad), (bad, bad)):
        assert_parity(compiled, "diff_sorted", ka, versions, kb, versions)
        assert_parity(compiled, "diff_sorted", ka, versions, kb[:150], versions[:150])  # tails
        assert_parity(compiled, "diff_sorted", ka[:150], versions[:150], kb, versions)
        other = versions.copy()
        other[::7] += 1  # no equal blocks: the element-wise part
        assert_parity(compiled, "diff_sorted", ka, versions, kb, other)


def test_diff_sorted_bad_input(impl: ModuleType) -> None:
    k = np.arange(3, dtype=np.int64)
    v = np.zeros(3, dtype=np.int64)
    with pytest.raises(ValueError, match=r"keys_b\[2\] = 1 follows 1"):
        impl.diff_sorted(k, v, np.array([0, 1, 1], dtype=np.int64), v)
    with pytest.raises(ValueError, match="same dtype"):
        impl.diff_sorted(k, v, k.astype(np.uint64), v)
    with pytest.raises(ValueError, match="same length"):
        impl.diff_sorted(k, v[:2], k, v)
    with pytest.raises(ValueError, match="dtype"):
        impl.diff_sorted(k.astype(np.int32), v, k, v)
    with pytest.raises(TypeError):
        impl.diff_sorted(k, v, [0, 1, 2], v)
    with pytest.raises(ValueError, match="1-D"):
        impl.diff_sorted(k.reshape(3, 1), v, k, v)


# ---------------------------------------------------------------------------------------------
# buckets


@st.composite
def bucket_args(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int | None, int | None]:
    ka, va, _, _ = draw(replica_pair())
    n = draw(st.one_of(st.integers(1, 9), st.sampled_from([1, 2, 64, 1000])))
    info = np.iinfo(ka.dtype)
    bound = st.one_of(
        st.none(),
        st.integers(int(info.min), int(info.max)),
        st.integers(-25, 45).filter(lambda x: x >= int(info.min)),
    )
    lo, hi = draw(bound), draw(bound)
    if lo is not None and hi is not None and lo > hi and draw(st.booleans()):
        lo, hi = hi, lo
    return ka, va, n, lo, hi


@parity
@given(args=bucket_args(), how=LAYOUTS)
def test_buckets_match(compiled: ModuleType, args: tuple[Any, ...], how: str) -> None:
    ka, va, n, lo, hi = args
    assert_parity(compiled, "bucket_hashes", layout(ka, how), layout(va, how), n, lo, hi)
    assert_parity(compiled, "bucket_bounds", layout(ka, how), n, lo, hi)


@props
@given(args=bucket_args())
def test_buckets_against_brute_force(impl: ModuleType, args: tuple[Any, ...]) -> None:
    ka, va, n, lo, hi = args
    info = np.iinfo(ka.dtype)
    low = int(info.min) if lo is None else lo
    high = int(info.max) if hi is None else hi
    if low > high:
        with pytest.raises(ValueError, match="lo must be <= hi"):
            impl.bucket_hashes(ka, va, n, lo, hi)
        return
    width = (high - low) // n + 1
    mask = (1 << 64) - 1

    def mix(z: int) -> int:
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    expected = [0] * n
    members: list[list[int]] = [[] for _ in range(n)]
    for i, (k, v) in enumerate(zip(ka.tolist(), va.tolist(), strict=True)):
        b = min((min(max(k, low), high) - low) // width, n - 1)
        expected[b] = (expected[b] + mix(mix(k & mask) ^ (v & mask))) & mask
        members[b].append(i)
    assert impl.bucket_hashes(ka, va, n, lo, hi).tolist() == expected
    bounds = impl.bucket_bounds(ka, n, lo, hi).tolist()
    assert [list(range(bounds[b], bounds[b + 1])) for b in range(n)] == members


@props
@given(pair=replica_pair(np.int64), n=st.integers(1, 16))
def test_bucket_reconciliation_finds_every_difference(
    impl: ModuleType, pair: tuple[np.ndarray, ...], n: int
) -> None:
    """The sync engine's loop: compare bucket hashes, drill into differing buckets with diff_sorted."""
    ka, va, kb, vb = pair
    lo, hi = -20, 20
    ha, hb = impl.bucket_hashes(ka, va, n, lo, hi), impl.bucket_hashes(kb, vb, n, lo, hi)
    ba, bb = impl.bucket_bounds(ka, n, lo, hi), impl.bucket_bounds(kb, n, lo, hi)
    found: list[list[int]] = [[], [], [], []]
    for b in impl.diff_buckets(ha, hb).tolist():
        sa, sb = slice(ba[b], ba[b + 1]), slice(bb[b], bb[b + 1])
        parts = impl.diff_sorted(ka[sa], va[sa], kb[sb], vb[sb])
        for acc, part, base in zip(found, parts, (ba[b], bb[b], ba[b], bb[b]), strict=True):
            acc.extend((part + base).tolist())
    assert found == list(brute_diff(*pair))


def test_bucket_hash_is_order_independent_and_incremental(impl: ModuleType) -> None:
    keys = np.arange(0, 1000, 7, dtype=np.int64)
    versions = (keys * 31) % 11
    whole = impl.bucket_hashes(keys, versions, 1, 0, 1000)
    parts = [impl.bucket_hashes(keys[i::3].copy(), versions[i::3].copy(), 1, 0, 1000) for i in range(3)]
    assert int(whole[0]) == sum(int(p[0]) for p in parts) % 2**64


def test_bucket_bad_input(impl: ModuleType) -> None:
    k = np.arange(4, dtype=np.int64)
    v = np.zeros(4, dtype=np.int64)
    for n, error in [
        (0, ValueError),
        (P.MAX_BUCKETS + 1, ValueError),
        (True, TypeError),
        (2.0, TypeError),
        ("2", TypeError),
    ]:
        with pytest.raises(error):
            impl.bucket_hashes(k, v, n)
        with pytest.raises(error):
            impl.bucket_bounds(k, n)
    with pytest.raises(ValueError, match="outside the range"):
        impl.bucket_hashes(k, v, 4, -1 << 63, 1 << 63)
    with pytest.raises(ValueError, match="outside the range"):
        impl.bucket_bounds(k.astype(np.uint64), 4, -1)
    with pytest.raises(ValueError, match="strictly increasing"):
        impl.bucket_hashes(k[::-1].copy(), v, 4)
    with pytest.raises(ValueError, match="same length"):
        impl.bucket_hashes(k, v[:3], 4)
    with pytest.raises(ValueError, match="same length"):
        impl.diff_buckets(np.zeros(3, dtype=np.uint64), np.zeros(2, dtype=np.uint64))
    with pytest.raises(ValueError, match="uint64"):
        impl.diff_buckets(np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.uint64))
    assert impl.bucket_hashes(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64), 3).tolist() == [
        0,
        0,
        0,
    ]
    assert impl.bucket_bounds(np.zeros(0, dtype=np.int64), 2).tolist() == [0, 0, 0]


@parity
@given(
    a=st.lists(st.integers(0, 3), max_size=20),
    b=st.lists(st.integers(0, 3), max_size=20),
)
def test_diff_buckets_matches(compiled: ModuleType, a: list[int], b: list[int]) -> None:
    b = (b + a)[: len(a)] if b else a
    assert_parity(compiled, "diff_buckets", np.array(a, dtype=np.uint64), np.array(b, dtype=np.uint64))


def test_large_buckets_match(compiled: ModuleType) -> None:
    rng = np.random.default_rng(9)
    k = np.unique(rng.integers(I64.min, I64.max, 200_000, dtype=np.int64))
    v = rng.integers(I64.min, I64.max, k.shape[0], dtype=np.int64)
    for n, lo, hi in [(65536, None, None), (1000, -(10**18), 10**18), (7, 0, 0)]:
        assert_parity(compiled, "bucket_hashes", k, v, n, lo, hi)
        assert_parity(compiled, "bucket_bounds", k, n, lo, hi)

"""Vector-clock kernel: compiled vs pure parity, and the algebra both must satisfy.

* Parity tests run ``vaultsync._compiled.vclock`` and ``vaultsync.pure.vclock`` on the same
  generated input and require the same outcome: equal results of the same types (dict order
  included), or the same exception type with the same message. They skip when the extension is
  not built, unless ``VAULTSYNC_REQUIRE_NATIVE=1``, which turns the skip into a failure so CI
  cannot lose the compiled coverage silently.
* Property tests state what anti-entropy relies on (merge is a join, compare is a partial order,
  ``missing`` is exactly what the peer needs) and run against every available implementation,
  so the pure reference is always checked.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable
from functools import reduce
from types import MappingProxyType, ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.native import kernels
from vaultsync.pure import vclock as P

MAX = P.MAX_SEQ
FLIP = {P.BEFORE: P.AFTER, P.AFTER: P.BEFORE, P.EQUAL: P.EQUAL, P.CONCURRENT: P.CONCURRENT}


C, C_ERROR = kernels.load("vclock")
require_compiled = kernels.requirer("vclock", C, C_ERROR)


@pytest.fixture(scope="module")
def compiled() -> ModuleType:
    return require_compiled()


@pytest.fixture(scope="module", params=["pure", "compiled"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return P if request.param == "pure" else require_compiled()


parity = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
props = settings(max_examples=150, deadline=None)


# ---------------------------------------------------------------------------------------------
# outcome comparison


def _norm(value: Any) -> Any:
    """Structure-preserving, type-strict form of a result (dict order and int types count)."""
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tolist())
    if isinstance(value, dict):
        return ("dict", [(_norm(k), _norm(v)) for k, v in value.items()])
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
# strategies: dict form

NODE_POOL = ("a", "b", "c", "d", "e", "f", "g", "h")


class StrSub(str):
    """A str subclass: a valid node id that is not an exact str."""


class IntSub(int):
    """An int subclass: accepted as a seq through __index__, like numpy integers."""


class DictSub(dict):  # type: ignore[type-arg]
    """A dict subclass: the compiled kernel hands these to the reference."""


node_ids = st.one_of(st.sampled_from(NODE_POOL), st.text(max_size=4))
seqs = st.one_of(st.integers(0, 6), st.integers(0, MAX), st.sampled_from([0, 1, MAX - 1, MAX]))
clocks = st.dictionaries(node_ids, seqs, max_size=12)
small_clocks = st.dictionaries(st.sampled_from(NODE_POOL), st.integers(0, 4), max_size=8)

odd_seqs = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=MAX + 1),
    st.booleans(),
    st.floats(),
    st.none(),
    st.text(max_size=2),
    st.builds(np.int64, st.integers(0, 2**40)),
    st.builds(np.int32, st.integers(-(2**31), 2**31 - 1)),
    st.builds(np.uint64, st.integers(0, 2**64 - 1)),
    st.builds(IntSub, st.integers(-3, 2**64)),
)
odd_keys = st.one_of(
    st.integers(-3, 3),
    st.none(),
    st.binary(max_size=2),
    st.tuples(st.integers(0, 2)),
    st.builds(StrSub, st.sampled_from(NODE_POOL)),
)
messy_clocks = st.dictionaries(
    st.one_of(node_ids, node_ids, odd_keys), st.one_of(seqs, seqs, seqs, odd_seqs), max_size=6
)
dict_args = st.one_of(
    clocks,
    messy_clocks,
    st.builds(DictSub, messy_clocks),
    st.builds(OrderedDict, clocks),
    st.builds(MappingProxyType, clocks),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
)

DICT_FUNCS = ("merge", "compare", "dominates", "missing")


# ---------------------------------------------------------------------------------------------
# strategies: dense form. Arrays come as (values, layout) recipes and are materialised afresh
# for each implementation, so merge_into cannot leak state and every memory layout is covered.

VEC_LAYOUTS = ("c", "c", "strided", "reversed", "readonly", "unaligned")
MAT_LAYOUTS = ("c", "c", "fortran", "rows", "cols", "readonly", "unaligned")


def _unaligned(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values.copy()
    buf = bytearray(values.nbytes + 1)
    out = np.frombuffer(buf, dtype=np.int64, count=values.size, offset=1).reshape(values.shape)
    out[...] = values
    return out


def make(values: np.ndarray, layout: str) -> np.ndarray:
    """A fresh int64 array equal to ``values`` in the given memory layout."""
    if layout == "c":
        return values.copy()
    if layout == "readonly":
        out = values.copy()
        out.flags.writeable = False
        return out
    if layout == "unaligned":
        return _unaligned(values)
    if values.ndim == 1:
        if layout == "strided":
            wide = np.full(2 * values.shape[0], -7, dtype=np.int64)  # junk between the elements
            wide[::2] = values
            return wide[::2]
        if layout == "reversed":
            return values[::-1].copy()[::-1]
    else:
        n, k = values.shape
        if layout == "fortran":
            return np.asfortranarray(values)
        if layout == "rows":
            wide = np.full((2 * n, k), -7, dtype=np.int64)
            wide[::2] = values
            return wide[::2]
        if layout == "cols":
            wide = np.full((n, 2 * k), -7, dtype=np.int64)
            wide[:, ::2] = values
            return wide[:, ::2]
    raise AssertionError(f"unknown layout {layout!r} for ndim {values.ndim}")


def seq_elements(negative: bool) -> st.SearchStrategy[int]:
    base = st.one_of(st.integers(0, 3), st.integers(0, MAX))
    return st.one_of(base, st.integers(-(2**63), -1)) if negative else base


@st.composite
def vectors(draw: st.DrawFn, k: int, negative: bool = False) -> tuple[np.ndarray, str]:
    values = draw(hnp.arrays(np.int64, k, elements=seq_elements(negative)))
    return values, draw(st.sampled_from(VEC_LAYOUTS))


@st.composite
def matrices(draw: st.DrawFn, n: int, k: int, negative: bool = False) -> tuple[np.ndarray, str]:
    values = draw(hnp.arrays(np.int64, (n, k), elements=seq_elements(negative)))
    return values, draw(st.sampled_from(MAT_LAYOUTS))


not_clock_arrays = st.one_of(
    st.none(),
    st.lists(st.integers(0, 3), max_size=3),
    st.just(np.zeros(3, dtype=np.int32)),
    st.just(np.zeros(3, dtype=np.uint64)),
    st.just(np.zeros(3, dtype=np.float64)),
    st.just(np.zeros(3, dtype=">i8")),
    st.just(np.zeros((), dtype=np.int64)),
    st.just(np.zeros((3, 1), dtype=np.int64)),
    st.just(np.zeros((1, 3, 1), dtype=np.int64)),
)
NOT_MATRICES = (
    None,
    [[0, 1, 2]],
    np.zeros((2, 3), dtype=np.int32),
    np.zeros((2, 3), dtype=">i8"),
    np.zeros(3, dtype=np.int64),
    np.zeros((1, 3, 1), dtype=np.int64),
)


# ---------------------------------------------------------------------------------------------
# the API itself


def test_compiled_kernel_is_available_when_required() -> None:
    """Under VAULTSYNC_REQUIRE_NATIVE=1 a missing extension is a failure, never a skip."""
    require_compiled()


def test_public_api_is_identical(compiled: ModuleType) -> None:
    assert compiled.__all__ == P.__all__
    for name in P.__all__:
        ref, ours = getattr(P, name), getattr(compiled, name)
        if callable(ref) and not isinstance(ref, type):
            assert list(inspect.signature(ours).parameters) == list(inspect.signature(ref).parameters), name
            assert ours.__doc__, name
        else:
            assert ours == ref, name
    assert compiled.NodeIndex is P.NodeIndex
    assert (P.BEFORE, P.EQUAL, P.AFTER, P.CONCURRENT) == (-1, 0, 1, 2)


# ---------------------------------------------------------------------------------------------
# parity: dict form


@parity
@given(a=clocks, b=clocks)
def test_dict_functions_match(compiled: ModuleType, a: dict[str, int], b: dict[str, int]) -> None:
    a_before, b_before = dict(a), dict(b)
    for name in DICT_FUNCS:
        assert_parity(compiled, name, a, b)
        assert_parity(compiled, name, a, a)
    assert (a, b) == (a_before, b_before)  # inputs are never modified


@parity
@given(a=dict_args, b=dict_args)
def test_dict_functions_match_on_odd_input(compiled: ModuleType, a: Any, b: Any) -> None:
    for name in DICT_FUNCS:
        assert_parity(compiled, name, a, b)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (-1, ValueError),
        (MAX + 1, ValueError),
        (True, TypeError),
        (1.0, TypeError),
        ("1", TypeError),
        (None, TypeError),
        (np.int8(-1), ValueError),
    ],
)
@pytest.mark.parametrize("name", DICT_FUNCS)
def test_bad_seq_is_rejected_wherever_it_is(impl: ModuleType, name: str, value: Any, error: type) -> None:
    fn = getattr(impl, name)
    for a, b in [({"a": value}, {}), ({}, {"a": value}), ({"a": 1}, {"a": value}), ({"z": 5}, {"a": value})]:
        with pytest.raises(error):
            fn(a, b)


@pytest.mark.parametrize("name", DICT_FUNCS)
def test_bad_container_and_key(impl: ModuleType, name: str) -> None:
    fn = getattr(impl, name)
    with pytest.raises(TypeError):
        fn({}, None)
    with pytest.raises(TypeError):
        fn([("a", 1)], {})
    with pytest.raises(TypeError):
        fn({1: 1}, {})
    with pytest.raises(TypeError):
        fn({}, {b"a": 0})


def test_index_types_are_accepted_and_normalised(impl: ModuleType) -> None:
    merged = impl.merge({"a": np.int64(3), "b": IntSub(2)}, {"b": np.uint8(1)})
    assert merged == {"a": 3, "b": 2}
    assert all(type(v) is int for v in merged.values())
    assert impl.missing({"a": np.int32(4)}, {"a": IntSub(1)}) == {"a": (2, 4)}


# ---------------------------------------------------------------------------------------------
# parity: dense form


@parity
@given(data=st.data())
def test_dense_pair_functions_match(compiled: ModuleType, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, 9), label="k")
    negative = data.draw(st.integers(0, 4), label="negatives") == 0
    kb = data.draw(st.sampled_from([k, k, k, k + 1, max(k - 1, 0)]), label="len(b)")
    a_vals, a_layout = data.draw(vectors(k, negative), label="a")
    b_vals, b_layout = data.draw(vectors(kb, negative), label="b")
    if data.draw(st.booleans(), label="b near a") and kb == k:
        b_vals = a_vals + data.draw(hnp.arrays(np.int64, k, elements=st.integers(0, 1)))
        b_vals = np.where(b_vals < 0, 0, b_vals)  # a + 1 may wrap at MAX
    for name in ("merge_dense", "compare_dense"):
        assert_parity(compiled, name, make(a_vals, a_layout), make(b_vals, b_layout))

    results = []
    for mod in (P, compiled):
        dst = make(a_vals, a_layout)
        before = dst.copy()
        result = outcome(mod.merge_into, dst, make(b_vals, b_layout))
        if result[0] == "raised":
            np.testing.assert_array_equal(dst, before)  # failed calls leave dst untouched
        results.append((result, dst.tolist()))
    assert results[1] == results[0]


@parity
@given(data=st.data())
def test_dense_batch_functions_match(compiled: ModuleType, data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 6), label="n")
    k = data.draw(st.integers(0, 8), label="k")
    negative = data.draw(st.integers(0, 4), label="negatives") == 0
    m_vals, m_layout = data.draw(matrices(n, k, negative), label="m")
    assert_parity(compiled, "merge_many", make(m_vals, m_layout))

    how = data.draw(st.sampled_from(["random", "row", "merged", "width+1"]), label="clock")
    if how == "row" and n:
        c_vals = m_vals[data.draw(st.integers(0, n - 1))].copy()
    elif how == "merged" and not negative:
        c_vals = m_vals.max(axis=0) if n else np.zeros(k, dtype=np.int64)
    else:
        c_vals, _ = data.draw(vectors(k + 1 if how == "width+1" else k, negative))
    c_layout = data.draw(st.sampled_from(VEC_LAYOUTS), label="clock layout")
    assert_parity(compiled, "compare_many", make(m_vals, m_layout), make(c_vals, c_layout))


@parity
@given(bad=not_clock_arrays, data=st.data())
def test_dense_functions_reject_the_same_input(compiled: ModuleType, bad: Any, data: st.DataObject) -> None:
    good = np.arange(3, dtype=np.int64)
    matrix = np.ones((2, 3), dtype=np.int64)
    bad_matrix = data.draw(st.sampled_from(NOT_MATRICES), label="bad matrix")
    for name, args in [
        ("merge_dense", (bad, good)),
        ("merge_dense", (good, bad)),
        ("compare_dense", (bad, good)),
        ("compare_dense", (good, bad)),
        ("merge_many", (bad_matrix,)),
        ("compare_many", (bad_matrix, good)),
        ("compare_many", (matrix, bad)),
    ]:
        result = assert_parity(compiled, name, *args)
        assert result[0] == "raised", (name, result)
        assert result[1] in {"TypeError", "ValueError"}
    for dst, src in [(bad, good), (good.copy(), bad)]:
        assert outcome(compiled.merge_into, dst, src) == outcome(P.merge_into, dst, src)


def test_dense_edge_cases(impl: ModuleType) -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert impl.merge_dense(empty, empty).shape == (0,)
    assert impl.compare_dense(empty, empty) == impl.EQUAL
    impl.merge_into(empty.copy(), empty)
    out = impl.merge_many(np.zeros((0, 3), dtype=np.int64))
    assert out.dtype == np.int64
    assert out.tolist() == [0, 0, 0]
    assert impl.merge_many(np.zeros((0, 0), dtype=np.int64)).shape == (0,)
    assert impl.merge_many(np.zeros((4, 0), dtype=np.int64)).shape == (0,)
    verdicts = impl.compare_many(np.zeros((0, 3), dtype=np.int64), np.zeros(3, dtype=np.int64))
    assert verdicts.dtype == np.int8
    assert verdicts.shape == (0,)
    assert impl.compare_many(np.zeros((2, 0), dtype=np.int64), empty).tolist() == [impl.EQUAL] * 2


def test_merge_into_validates_before_writing(impl: ModuleType) -> None:
    dst = np.array([1, 5, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="negative"):
        impl.merge_into(dst, np.array([9, 9, -1], dtype=np.int64))
    assert dst.tolist() == [1, 5, 2]
    with pytest.raises(ValueError, match="same number of nodes"):
        impl.merge_into(dst, np.array([9, 9], dtype=np.int64))
    frozen = dst.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        impl.merge_into(frozen, np.array([9, 9, 9], dtype=np.int64))
    assert frozen.tolist() == [1, 5, 2]


def test_merge_into_with_overlapping_views_reads_src_before_writing(impl: ModuleType) -> None:
    buf = np.arange(10, dtype=np.int64)[::-1].copy()  # 9, 8, ..., 0
    impl.merge_into(buf[1:], buf[:-1])  # as numpy does: each element sees the *old* neighbour
    assert buf.tolist() == [9, 9, 8, 7, 6, 5, 4, 3, 2, 1]
    same = np.array([3, 1, 2], dtype=np.int64)
    impl.merge_into(same, same)
    assert same.tolist() == [3, 1, 2]


def test_large_batches_match(compiled: ModuleType) -> None:
    """Sizes above the compiled kernel's GIL-release threshold take the nogil path."""
    rng = np.random.default_rng(7)
    m = rng.integers(0, 1000, size=(1200, 64), dtype=np.int64)
    clock = m[17].copy()
    assert_parity(compiled, "merge_many", m)
    assert_parity(compiled, "compare_many", m, clock)
    a = rng.integers(0, 50, size=100_000, dtype=np.int64)
    b = rng.integers(0, 50, size=100_000, dtype=np.int64)
    assert_parity(compiled, "merge_dense", a, b)
    assert_parity(compiled, "compare_dense", a, np.maximum(a, b))
    dst_c, dst_p = a.copy(), a.copy()
    compiled.merge_into(dst_c, b)
    P.merge_into(dst_p, b)
    np.testing.assert_array_equal(dst_c, dst_p)
    m[5, 3] = -1
    assert_parity(compiled, "merge_many", m)


# ---------------------------------------------------------------------------------------------
# properties, for every implementation


def canonical(clock: dict[str, int]) -> dict[str, int]:
    return {node: seq for node, seq in clock.items() if seq}


@props
@given(a=small_clocks, b=small_clocks, c=small_clocks)
def test_merge_is_a_join(impl: ModuleType, a: dict[str, int], b: dict[str, int], c: dict[str, int]) -> None:
    m = impl.merge
    assert m(a, b) == m(b, a)
    assert m(m(a, b), c) == m(a, m(b, c))
    assert m(a, a) == canonical(a)
    assert m(a, {}) == canonical(a) == m({}, a)
    assert m(m(a, b), b) == m(a, b)
    assert all(seq > 0 for seq in m(a, b).values())  # canonical: no zero entries


@props
@given(a=small_clocks, b=small_clocks)
def test_compare_is_a_partial_order(impl: ModuleType, a: dict[str, int], b: dict[str, int]) -> None:
    verdict = impl.compare(a, b)
    assert verdict in (impl.BEFORE, impl.EQUAL, impl.AFTER, impl.CONCURRENT)
    assert impl.compare(b, a) == FLIP[verdict]
    assert (verdict == impl.EQUAL) == (canonical(a) == canonical(b))
    assert impl.compare(a, a) == impl.EQUAL
    assert impl.dominates(a, b) == (verdict in (impl.AFTER, impl.EQUAL))
    assert impl.dominates(b, a) == (verdict in (impl.BEFORE, impl.EQUAL))
    merged = impl.merge(a, b)
    assert impl.compare(merged, a) in (impl.AFTER, impl.EQUAL)
    assert (impl.compare(merged, a) == impl.EQUAL) == impl.dominates(a, b)
    assert impl.dominates(merged, a)
    assert impl.dominates(merged, b)


@props
@given(local=small_clocks, remote=small_clocks)
def test_missing_is_exactly_what_merging_needs(
    impl: ModuleType, local: dict[str, int], remote: dict[str, int]
) -> None:
    need = impl.missing(local, remote)
    assert set(need) == {o for o, seq in local.items() if seq > remote.get(o, 0)}
    for origin, (first, last) in need.items():
        assert first == remote.get(origin, 0) + 1  # nothing the remote already has is resent
        assert last == local[origin]
        assert first <= last
    # the remote applies the ranges, advancing its clock to the last seq of each
    assert impl.merge(remote, {o: last for o, (_, last) in need.items()}) == impl.merge(local, remote)
    assert (need == {}) == impl.dominates(remote, local)
    changes = sum(last - first + 1 for first, last in need.values())
    assert changes == sum(max(seq - remote.get(o, 0), 0) for o, seq in local.items())


@props
@given(clocks_=st.lists(small_clocks, max_size=6), ref=small_clocks)
def test_dense_form_agrees_with_dict_form(
    impl: ModuleType, clocks_: list[dict[str, int]], ref: dict[str, int]
) -> None:
    index = impl.NodeIndex()
    ref_dense = index.to_dense(ref)
    rows = [index.to_dense(c) for c in clocks_]
    rows = [index.widen(r) for r in rows]
    ref_dense = index.widen(ref_dense)
    matrix = index.to_matrix(clocks_)
    assert matrix.shape == (len(clocks_), len(index))
    for row, c in zip(rows, clocks_, strict=True):
        assert index.to_dict(row) == canonical(c)
        assert impl.compare_dense(row, ref_dense) == impl.compare(c, ref)
        assert index.to_dict(impl.merge_dense(row, ref_dense)) == impl.merge(c, ref)
        dst = row.copy()
        impl.merge_into(dst, ref_dense)
        np.testing.assert_array_equal(dst, impl.merge_dense(row, ref_dense))
    assert index.to_dict(impl.merge_many(matrix)) == reduce(impl.merge, clocks_, {})
    assert impl.compare_many(matrix, ref_dense).tolist() == [impl.compare(c, ref) for c in clocks_]


def test_node_index() -> None:
    index = P.NodeIndex(["a", "b"])
    first = index.to_dense({"b": 2})
    assert first.tolist() == [0, 2]
    grown = index.to_dense({"c": 7, "a": 1})
    assert index.nodes == ("a", "b", "c")
    assert grown.tolist() == [1, 0, 7]
    assert index.add("a") == 0
    assert index.get("zz") is None
    assert "c" in index
    assert list(index) == ["a", "b", "c"]
    assert index.node(2) == "c"
    assert index.widen(first).tolist() == [0, 2, 0]
    assert index.to_dict(first) == {"b": 2}
    assert index.to_matrix([]).shape == (0, 3)
    with pytest.raises(ValueError, match="only knows 3 nodes"):
        index.to_dict(np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match="negative"):
        index.to_dict(np.array([0, -1], dtype=np.int64))
    with pytest.raises(TypeError):
        index.add(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        index.to_dense({"a": -1})
    with pytest.raises(IndexError):
        index.node(-1)

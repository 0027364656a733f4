"""Fuzz every kernel function (vclock, diff, merge) with arbitrary arguments.

Whatever comes in (wrong types, wrong dtypes and shapes, 0-d and 3-D arrays, object arrays,
views, huge or negative values, wrong argument counts of plausible arrays), a kernel either
returns or raises ``TypeError`` / ``ValueError`` — never another exception, never a crash (a
segfault would take the test process down with it). Both implementations are fuzzed and, when
the compiled one is built, must agree on the outcome class: both return, or both raise the same
exception type.
"""

from __future__ import annotations

import inspect
import os
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vaultsync import native

REQUIRE_NATIVE = os.environ.get("VAULTSYNC_REQUIRE_NATIVE", "").strip().lower() in {"1", "true", "yes", "on"}
KERNELS = ("vclock", "diff", "merge")
CLEAN = (TypeError, ValueError)


def _compiled(name: str) -> ModuleType | None:
    try:
        return native.load_compiled(name)
    except ImportError:
        if REQUIRE_NATIVE:
            raise
        return None


PURE = {name: native.load_pure(name) for name in KERNELS}
COMPILED = {name: _compiled(name) for name in KERNELS}
FUNCTIONS = [
    (kernel, fn)
    for kernel in KERNELS
    for fn in PURE[kernel].__all__
    if inspect.isfunction(getattr(PURE[kernel], fn))
]

DTYPES = [np.int64, np.int32, np.uint64, np.int8, np.float64, np.bool_, ">i8", np.uint8]
int_values = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0, 2**70, -(2**70), 2**64]),
)


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(st.one_of(st.integers(0, 6), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)  # type: ignore[type-var]
        elements: st.SearchStrategy[Any] = st.integers(int(info.min), int(info.max))
    else:
        elements = hnp.from_dtype(dtype)
    out = draw(hnp.arrays(dtype, shape, elements=elements))
    if dtype == np.int64 and out.ndim == 1 and draw(st.booleans()):
        out = np.sort(out)  # plausible sorted keys reach the deeper checks
    how = draw(st.sampled_from(["plain", "plain", "reversed", "readonly", "fortran"]))
    if how == "reversed" and out.ndim:
        out = out[::-1]
    elif how == "readonly":
        out.flags.writeable = False
    elif how == "fortran":
        out = np.asfortranarray(out)
    return out


anything = st.one_of(
    arrays(),
    arrays(),
    arrays(),
    st.none(),
    int_values,
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.lists(int_values, max_size=4),
    st.dictionaries(st.text(max_size=2), int_values, max_size=3),
    st.just(np.array([1, 2], dtype=object)),
    st.just(np.int64(3)),
)


def copy_of(value: Any) -> Any:
    """An independent copy for the reference (so in-place kernels cannot affect the compiled
    call), keeping what validation looks at: a read-only array stays read-only."""
    if not isinstance(value, np.ndarray):
        return value
    out = value.copy(order="K")
    out.flags.writeable = value.flags.writeable
    return out


def outcome(fn: Any, args: list[Any]) -> str:
    try:
        fn(*args)
    except CLEAN as exc:
        return type(exc).__name__
    return "returned"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.parametrize(("kernel", "name"), FUNCTIONS, ids=[f"{k}.{f}" for k, f in FUNCTIONS])
@given(data=st.data())
def test_arbitrary_input_fails_cleanly(kernel: str, name: str, data: st.DataObject) -> None:
    ref = getattr(PURE[kernel], name)
    params = list(inspect.signature(ref).parameters.values())
    required = sum(p.default is inspect.Parameter.empty for p in params)
    count = data.draw(st.sampled_from([required, required, len(params)]), label="argc")
    args = [data.draw(anything, label=p.name) for p in params[:count]]
    expected = outcome(ref, [copy_of(a) for a in args])
    compiled = COMPILED[kernel]
    if compiled is not None:
        assert outcome(getattr(compiled, name), args) == expected


def test_every_kernel_function_is_fuzzed() -> None:
    assert {k for k, _ in FUNCTIONS} == set(KERNELS)
    assert len(FUNCTIONS) >= 15

"""Fuzz the search kernel: arbitrary text, bytes and types only ever raise ValueError, TypeError
or KeyError - never crash, hang or corrupt the index - and both implementations agree."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.native.test_search_parity import C, require_compiled
from vaultsync.pure import search as P

anything = st.one_of(
    st.text(max_size=40),  # includes NUL and lone surrogates
    st.text(alphabet=st.characters(codec=None), max_size=40),
    st.binary(max_size=40),
    st.text(alphabet="ab \x00", min_size=1000, max_size=1100),
    st.integers(),
    st.none(),
    st.floats(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
ALLOWED = (ValueError, TypeError, KeyError)
fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _run(module: ModuleType, calls: list[tuple[str, list[Any], dict[str, Any]]]) -> list[Any]:
    index = module.SearchIndex()
    index.add(1, "Pokémon Flabébé", sku_code="PKM-1", on_hand=1)
    out: list[Any] = []
    for name, args, kwargs in calls:
        try:
            out.append(("ok", getattr(index, name)(*args, **kwargs)))
        except ALLOWED as exc:
            out.append(type(exc).__name__)  # messages of arity errors differ (Cython vs Python)
    out.append(index.query("", limit=50))
    out.append(index.query("pokemon"))
    return out


call = st.one_of(
    st.tuples(st.just("query"), st.lists(anything, min_size=1, max_size=1), st.just({})),
    st.tuples(
        st.just("query"),
        st.just(["poke"]),
        st.dictionaries(
            st.sampled_from(["game", "limit", "offset", "in_stock", "finish"]), anything, max_size=2
        ),
    ),
    st.tuples(st.just("add"), st.lists(anything, min_size=1, max_size=8), st.just({})),
    st.tuples(
        st.just("add"),
        st.tuples(st.integers(0, 5), anything).map(list),
        st.dictionaries(
            st.sampled_from(["game", "on_hand", "popularity", "condition"]), anything, max_size=2
        ),
    ),
    st.tuples(
        st.sampled_from(["remove", "set_stock", "set_popularity", "update"]),
        st.lists(anything, min_size=1, max_size=2),
        st.just({}),
    ),
)


@fuzz
@given(calls=st.lists(call, max_size=6))
def test_fuzz_pure_only_clean_errors(calls: list[Any]) -> None:
    _run(P, calls)


@fuzz
@given(calls=st.lists(call, max_size=6))
def test_fuzz_compiled_matches_pure(calls: list[Any]) -> None:
    compiled = require_compiled()
    assert C is compiled
    assert _run(compiled, calls) == _run(P, calls)

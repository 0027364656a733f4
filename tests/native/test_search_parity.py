"""SKU search kernel: compiled vs pure parity, a brute-force oracle, folding and bad input.

* Parity: ``vaultsync._compiled.search`` and ``vaultsync.pure.search`` replay the same random
  catalogs, updates, removals, stock/popularity changes and queries and must give the same
  results (or the same exception type and message). Skipped when the extension is not built,
  a failure under ``VAULTSYNC_REQUIRE_NATIVE=1`` (same rule as the vclock parity tests).
* Oracle: every available implementation is checked against a brute force written straight from
  the documented semantics (tokens, classes, tiers, ranking), sharing no index code.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.native import kernels
from vaultsync.pure import search as P

C, C_ERROR = kernels.load("search")
require_compiled = kernels.requirer("search", C, C_ERROR)


@pytest.fixture(scope="module", params=["pure", "compiled"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    return P if request.param == "pure" else require_compiled()


parity = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A small vocabulary with shared stems, accents and numbers, so prefixes, substrings, typos and
# collisions between documents are frequent.
WORDS = [
    "dragon",
    "drake",
    "dragonlord",
    "sheoldred",
    "apocalypse",
    "pokémon",
    "flabébé",
    "Pikachu",
    "lord",
    "Ω",
    "straße",
    "élan",
    "nm",
    "107",
    "1070",
    "2000",
    "ex",
    "v",
    "mtg",
    "dmu",
    "sv03",
    "Char-mander",
    "crimson",
    "cinder",
    "ÉCLAIR",
    "ﬁre",
    "x",
]
word = st.sampled_from(WORDS)
field = st.one_of(
    st.none(),
    st.lists(word, min_size=0, max_size=4).map(" ".join),
    st.text(alphabet="abcdeé 0123-", max_size=12),
)
attr = st.one_of(st.none(), st.sampled_from(["MTG", "PKM", "NM", "LP", "foil", "normal"]))
doc = st.fixed_dictionaries(
    {
        "name": field,
        "set_code": field,
        "set_name": field,
        "collector_number": field,
        "sku_code": field,
        "barcode": st.one_of(st.none(), st.sampled_from(["200000000011", "820650853012", "107"])),
        "cert_number": st.one_of(st.none(), st.sampled_from(["12345678", "4100000001"])),
        "game": attr,
        "condition": attr,
        "finish": attr,
        "on_hand": st.integers(-3, 5),
        "popularity": st.integers(0, 40),
    }
)


def _mutate(w: str, data: st.DataObject) -> str:
    """A typo, a prefix or a substring of ``w``, or ``w`` itself."""
    kind = data.draw(st.sampled_from(["same", "prefix", "sub", "typo", "swap"]))
    if not w or kind == "same":
        return w
    i = data.draw(st.integers(0, len(w) - 1))
    if kind == "prefix":
        return w[: i + 1]
    if kind == "sub":
        return w[i:]
    if kind == "swap" and i + 1 < len(w):
        return w[:i] + w[i + 1] + w[i] + w[i + 2 :]
    return w[:i] + data.draw(st.sampled_from("aeiorx")) + w[i + 1 :]


query_kw = st.fixed_dictionaries(
    {},
    optional={
        "game": attr,
        "condition": attr,
        "finish": attr,
        "in_stock": st.booleans(),
        "limit": st.integers(1, 8),
        "offset": st.integers(0, 3),
    },
)


def _outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:
        return ("error", type(exc), str(exc))


def _apply(index: Any, op: tuple[Any, ...]) -> Any:
    kind, doc_id, payload = op
    if kind == "add":
        return _outcome(index.add, doc_id, **payload)
    if kind == "update":
        return _outcome(index.update, doc_id, **payload)
    if kind == "remove":
        return _outcome(index.remove, doc_id)
    if kind == "stock":
        return _outcome(index.set_stock, doc_id, payload)
    return _outcome(index.set_popularity, doc_id, payload)


ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["add", "update"]), st.integers(0, 12), doc),
        st.tuples(st.just("remove"), st.integers(0, 12), st.none()),
        st.tuples(st.just("stock"), st.integers(0, 12), st.integers(-2, 3)),
        st.tuples(st.just("pop"), st.integers(0, 12), st.integers(0, 9)),
    ),
    max_size=40,
)


def _queries(data: st.DataObject) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for _ in range(data.draw(st.integers(1, 8))):
        words = data.draw(st.lists(word, min_size=0, max_size=3))
        text = " ".join(_mutate(w, data) for w in words)
        out.append((text, data.draw(query_kw)))
    return out


# ---------------------------------------------------------------------------------------------
# parity


@parity
@given(initial=st.lists(doc, max_size=25), changes=ops, data=st.data())
def test_compiled_matches_pure(
    initial: list[dict[str, Any]], changes: list[Any], data: st.DataObject
) -> None:
    c = require_compiled()
    a, b = P.SearchIndex(), c.SearchIndex()
    for i, d in enumerate(initial):
        assert _outcome(a.add, i, **d) == _outcome(b.add, i, **d)
    for text, kw in _queries(data):
        assert _outcome(a.query, text, **kw) == _outcome(b.query, text, **kw), (text, kw)
    for op in changes:
        assert _apply(a, op) == _apply(b, op), op
    assert len(a) == len(b)
    assert [i in a for i in range(14)] == [i in b for i in range(14)]
    for text, kw in _queries(data):
        assert _outcome(a.query, text, **kw) == _outcome(b.query, text, **kw), (text, kw)


def test_compiled_large_postings_and_tail_merge() -> None:
    """Thousands of docs: swap-remove bookkeeping, the sorted-vocabulary merge, the heap path."""
    c = require_compiled()
    a, b = P.SearchIndex(), c.SearchIndex()
    for i in range(3000):
        kw: dict[str, Any] = {
            "name": f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} w{i % 700}",
            "sku_code": f"SKU-{i}",
            "barcode": f"{200000000000 + i}",
            "on_hand": i % 3,
            "popularity": (i * 31) % 17,
            "game": "MTG" if i % 2 else "PKM",
        }
        a.add(i, **kw)
        b.add(i, **kw)
    for i in range(0, 3000, 7):
        assert a.remove(i) == b.remove(i)
    for i in range(1, 3000, 11):
        a.add(i, name=f"renamed {i}", sku_code=f"R-{i}")
        b.add(i, name=f"renamed {i}", sku_code=f"R-{i}")
    for q in ["dra", "w1", "w12", "renamed", "sku 1", "2000000000", "dragn lord", "", "ragon", "pokemon w3"]:
        for kw2 in ({}, {"limit": 50}, {"game": "MTG", "in_stock": True, "limit": 7, "offset": 40}):
            assert a.query(q, **kw2) == b.query(q, **kw2), (q, kw2)


# ---------------------------------------------------------------------------------------------
# brute-force oracle (independent of both indexes)


def _brute(docs: dict[int, dict[str, Any]], text: str, **kw: Any) -> tuple[int, list[int]]:
    words = P.tokenize(text)
    limit, offset = kw.get("limit", 20), kw.get("offset", 0)
    fields = ("name", "set_code", "set_name", "collector_number", "sku_code", "barcode", "cert_number")
    ranked = []
    for doc_id, d in docs.items():
        if any(kw.get(k) is not None and d.get(k) != kw[k] for k in ("game", "condition", "finish")):
            continue
        if kw.get("in_stock") and d["on_hand"] <= 0:
            continue
        toks = [t for f in fields if d.get(f) for t in P.tokenize(d[f])]
        tier = P.WORD_PREFIX
        for w in words:
            wb = w.encode()
            best = 9
            for t in toks:
                tb = t.encode()
                numeric = t.isascii() and t.isdigit()
                budget = 0 if (w.isascii() and w.isdigit()) else P.edit_budget(len(wb))
                if tb.startswith(wb):
                    best = min(best, P.WORD_PREFIX)
                elif not numeric and len(wb) >= 3 and wb in tb:
                    best = min(best, P.SUBSTRING)
                elif (
                    not numeric
                    and budget
                    and max(len(wb), len(tb)) <= 64
                    and P.osa_distance(wb, tb) <= budget
                ):
                    best = min(best, P.FUZZY)
            tier = max(tier, best)
        if tier > P.FUZZY:
            continue
        if words:
            name = P.tokenize(d["name"] or "")
            codes = [P.tokenize(d[f]) for f in ("sku_code", "barcode", "cert_number") if d.get(f)]
            if words in codes:
                tier = P.EXACT_CODE
            elif name == words:
                tier = P.NAME_EXACT
            elif (
                len(name) >= len(words)
                and name[: len(words) - 1] == words[:-1]
                and name[len(words) - 1].encode().startswith(words[-1].encode())
            ):
                tier = P.NAME_PREFIX
        ranked.append(((tier, d["on_hand"] <= 0, -d["popularity"], doc_id), doc_id))
    ranked.sort()
    return len(ranked), [d for _, d in ranked[offset : offset + limit]]


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(catalog=st.lists(doc, max_size=20), data=st.data())
def test_matches_brute_force(impl: ModuleType, catalog: list[dict[str, Any]], data: st.DataObject) -> None:
    index = impl.SearchIndex()
    docs = {}
    for i, d in enumerate(catalog):
        index.add(i, **d)
        docs[i] = d
    for text, kw in _queries(data):
        assert index.query(text, **kw) == _brute(docs, text, **kw), (text, kw)


# ---------------------------------------------------------------------------------------------
# semantics examples


def _shop(impl: ModuleType) -> Any:
    index = impl.SearchIndex()
    index.add(
        1,
        "Sheoldred, the Apocalypse",
        "DMU",
        "Dominaria United",
        "107",
        "MTG-DMU-107-NM-N",
        "200000000011",
        game="MTG",
        condition="NM",
        finish="normal",
        on_hand=2,
        popularity=9,
    )
    index.add(
        2,
        "Sheoldred, the Apocalypse",
        "DMU",
        "Dominaria United",
        "107",
        "MTG-DMU-107-LP-F",
        game="MTG",
        condition="LP",
        finish="foil",
        on_hand=0,
        popularity=30,
    )
    index.add(
        3,
        "Pokémon Center Elite Trainer Box",
        "SV03",
        "Obsidian Flames",
        None,
        "PKM-SV03-ETB",
        "820650853012",
        game="PKM",
        finish="normal",
        on_hand=4,
    )
    index.add(
        4,
        "Flabébé",
        "SV03",
        "Obsidian Flames",
        "085/197",
        "PKM-SV03-085-NM-N",
        game="PKM",
        condition="NM",
        finish="normal",
        on_hand=1,
    )
    index.add(
        5,
        "Shivan Dragon",
        "M19",
        "Core Set 2019",
        "1",
        "MTG-M19-1-NM-N",
        cert_number="41234567",
        game="MTG",
        condition="NM",
        finish="normal",
        on_hand=1,
        popularity=1,
    )
    index.add(6, "Dragon Shield Sleeves", None, None, None, "SUP-DS-1", game="SUP", on_hand=9)
    return index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pokemon", [3]),
        ("POKÉMON center", [3]),
        ("flabebe", [4]),
        ("FLABÉBÉ", [4]),
        ("sheoldrde", [1, 2]),  # two edits (transposition counts one)
        ("sheoldred apoc", [1, 2]),
        ("apocalypse sheoldred", [1, 2]),
        ("820650853012", [3]),
        ("mtg-dmu-107-lp-f", [2]),
        ("41234567", [5]),
        ("dmu 107", [1, 2]),
        ("107 mtg-dmu-107-lp-f", [2]),
        ("dragon", [6, 5]),  # name prefix beats word prefix
        ("ragon", [5, 6]),  # same tier: popularity decides
        ("drgaon", [5, 6]),
        ("085", [4]),
    ],
)
def test_semantics(impl: ModuleType, text: str, expected: list[int]) -> None:
    total, ids = _shop(impl).query(text)
    assert ids == expected
    assert total == len(expected)


def test_ranking_and_filters(impl: ModuleType) -> None:
    index = _shop(impl)
    assert index.query("sheoldred")[1] == [1, 2]  # in stock first, then popularity
    index.set_stock(1, 0)
    assert index.query("sheoldred")[1] == [2, 1]  # now popularity decides
    index.set_popularity(1, 99)
    assert index.query("sheoldred")[1] == [1, 2]
    assert index.query("", game="PKM") == (2, [3, 4])
    assert index.query("", in_stock=True, game="MTG") == (1, [5])
    assert index.query("sheoldred", condition="LP", finish="foil") == (1, [2])
    assert index.query("sheoldred", game="nope") == (0, [])
    assert index.query("", limit=2, offset=5) == (6, [2])  # out of stock last
    assert index.remove(2) is True
    assert index.remove(2) is False
    assert index.query("sheoldred") == (1, [1])
    index.update(1, "Renamed", on_hand=1)
    assert index.query("sheoldred") == (0, [])
    assert index.query("renamed") == (1, [1])
    with pytest.raises(KeyError):
        index.update(77, "x")
    with pytest.raises(KeyError):
        index.set_stock(2, 1)
    assert len(index) == 5
    assert 1 in index and 2 not in index and "1" not in index and True not in index


def test_numbers_do_not_match_fuzzily_or_inside(impl: ModuleType) -> None:
    index = impl.SearchIndex()
    index.add(1, "Card", collector_number="1070")
    assert index.query("107") == (1, [1])  # prefix of a number
    assert index.query("070") == (0, [])  # not inside one
    assert index.query("1071") == (0, [])  # nor a typo of one


def test_fold_and_tokenize() -> None:
    assert P.fold("Pokémon") == "pokemon"
    assert P.fold("STRASSE") == P.fold("straße") == "strasse"
    assert P.tokenize("MTG-DMU-107-NM-N") == ["mtg", "dmu", "107", "nm", "n"]
    assert P.tokenize("Yu-Gi-Oh! ﬁre_ball") == ["yu", "gi", "oh", "fire", "ball"]
    assert P.osa_distance(b"sheoldrde", b"sheoldred") == 1
    assert P.osa_distance(b"kitten", b"sitting") == 3
    assert [P.edit_budget(n) for n in (3, 4, 7, 8)] == [0, 1, 1, 2]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ix: ix.query("a\x00b"), ValueError),
        (lambda ix: ix.query("\ud800"), ValueError),
        (lambda ix: ix.query(b"\xff\xfe"), ValueError),
        (lambda ix: ix.query("x" * 5000), ValueError),
        (lambda ix: ix.query(" ".join("w" * 20)), ValueError),
        (lambda ix: ix.query(None), TypeError),
        (lambda ix: ix.query("x", limit=0), ValueError),
        (lambda ix: ix.query("x", limit=True), TypeError),
        (lambda ix: ix.query("x", game=3), TypeError),
        (lambda ix: ix.add(-1, "x"), ValueError),
        (lambda ix: ix.add(1 << 40, "x"), ValueError),
        (lambda ix: ix.add("1", "x"), TypeError),
        (lambda ix: ix.add(1, "x\x00"), ValueError),
        (lambda ix: ix.add(1, "y" * 5000), ValueError),
        (lambda ix: ix.add(1, 12), TypeError),
        (lambda ix: ix.add(1, "x", popularity=-1), ValueError),
        (lambda ix: ix.add(1, "x", on_hand=1 << 70), ValueError),
        (lambda ix: ix.add(1, "x", on_hand=1.5), TypeError),
        (lambda ix: ix.set_stock(1, 1), KeyError),
    ],
)
def test_bad_input(impl: ModuleType, call: Any, error: type[Exception]) -> None:
    index = impl.SearchIndex()
    with pytest.raises(error):
        call(index)
    assert index.query("") == (0, [])  # nothing half-written


def test_bytes_input_is_utf8(impl: ModuleType) -> None:
    index = impl.SearchIndex()
    index.add(1, "Pokémon".encode())
    assert index.query(b"pokemon") == (1, [1])

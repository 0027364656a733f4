"""The demo shop generator: complete, realistic-looking, deterministic, captured, and safe.

One demo database is generated per module (it takes well under a second at this size)
and inspected from many angles; determinism and the refusal paths use their own.
"""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")  # cheap argon2; set before services import

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from vaultsync.domain.enums import Condition, Finish, Grader, ProductKind
from vaultsync.domain.errors import ConflictError, ValidationError
from vaultsync.services.auth import AuthService
from vaultsync.services.demo import (
    DEMO_CREDENTIALS,
    SHOP_SETTINGS,
    DemoResult,
    generate_demo_shop,
    shelf_round,
    upc_a,
    upc_is_valid,
)
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, open_store
from vaultsync.store.base import replicated_tables
from vaultsync.store.models import (
    CardSet,
    Change,
    CreditEntry,
    Customer,
    CustomerBalance,
    Event,
    Game,
    Location,
    Product,
    Setting,
    Sku,
    Station,
    StockLevel,
    StockMovement,
    User,
)

SIZE = 1_500


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoResult]]:
    path = tmp_path_factory.mktemp("demo") / "shop.db"
    store = open_store(f"sqlite:///{path}")
    result = generate_demo_shop(store, skus=SIZE, seed=7)
    yield store, result
    store.close()


def _count(store: Store, model: type) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _pairs(s: Session, stmt: Executable) -> dict[Any, Any]:
    return {row[0]: row[1] for row in s.execute(stmt)}


# ----------------------------------------------------------------------------- shape


def test_counts_match_the_database(demo: tuple[Store, DemoResult]) -> None:
    store, result = demo
    assert result.counts["skus"] == SIZE
    assert result.seconds > 0
    tables = (Game, CardSet, Product, Sku, StockMovement, Location, Customer, CreditEntry, Event, Station,
              User)
    for model in tables:
        assert result.counts[model.__tablename__] == _count(store, model), model.__tablename__
    kinds = {k: v for k, v in result.counts.items() if k.startswith("skus.")}
    assert sum(kinds.values()) == SIZE
    assert 150 <= result.counts["customers"] <= 400
    assert result.counts["events"] >= 4


def test_every_game_condition_finish_and_kind_is_present(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        games = set(s.scalars(select(Game.name)))
        games_with_products = set(s.scalars(select(Game.name).join(Product, Product.game_id == Game.id)))
        conditions = set(s.scalars(select(Sku.condition).where(Sku.condition.is_not(None))))
        finishes = set(s.scalars(select(Sku.finish)))
        kinds = set(s.scalars(select(Product.kind)))
        names = list(s.scalars(select(Product.name)))
    for expected in ("Magic: The Gathering", "Pokémon", "Yu-Gi-Oh!", "Disney Lorcana", "Comics"):
        assert expected in games
    assert games == games_with_products  # no empty categories
    assert any("Baseball" in g for g in games) and any("Football" in g for g in games)
    assert conditions == {c.value for c in Condition}
    assert finishes == {f.value for f in Finish}
    assert kinds == {k.value for k in ProductKind}
    assert any(not name.isascii() for name in names)  # "Pokémon Center...", "Flabébé", "Éowyn"...


def test_sets_collector_numbers_and_sku_codes_look_real(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        sets = {(g, c): n for g, c, n in s.execute(select(Game.code, CardSet.code, CardSet.name).join(Game))}
        codes = list(s.scalars(select(Sku.sku_code)))
        numbers = _pairs(
            s,
            select(Game.code, func.max(Product.collector_number))
            .join(Game, Product.game_id == Game.id)
            .where(Product.kind == "single")
            .group_by(Game.code),
        )
    assert sets[("MTG", "DMU")] == "Dominaria United"
    assert sets[("PKM", "SV03")] == "Obsidian Flames"
    assert sets[("YGO", "LOB")] == "Legend of Blue Eyes White Dragon"
    assert len(codes) == len(set(codes)) == SIZE
    assert "MTG-DMU-1-NM-F" in codes and "MTG-DMU-1-DMG-E" in codes
    assert all(len(c) <= 64 and " " not in c for c in codes)
    assert "/" in numbers["PKM"]  # "045/197"
    assert numbers["YGO"].startswith("LOB-EN")


def test_prices_are_cents_with_shop_endings_and_sane_costs(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        rows = s.execute(
            select(Sku.shelf_price_cents, Sku.market_price_cents, Sku.cost_basis_cents, Sku.price_source,
                   Sku.price_as_of, Product.kind).join(Product)
        ).all()
    singles = [r for r in rows if r.kind == "single"]
    for shelf, market, cost, source, as_of, _kind in rows:
        assert isinstance(shelf, int) and shelf > 0
        assert source == "demo" and as_of is not None and as_of <= datetime.now(UTC)
        assert market is not None and cost is not None
        assert 0.45 * market <= cost <= 0.62 * market + 1
        if shelf < 100:
            assert shelf in (10, 15, 19, 25, 29, 35, 39, 49, 59, 69, 75, 79, 89, 99)
    cheap = sum(1 for r in singles if 10 <= r.shelf_price_cents <= 300)
    assert cheap / len(singles) > 0.6  # most singles are $0.10-$3
    assert any(r.shelf_price_cents >= 2_000 for r in singles)


def test_condition_and_foil_pricing(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        prices = _pairs(
            s, select(Sku.sku_code, Sku.market_price_cents).where(Sku.sku_code.like("MTG-DMU-1-%"))
        )
    nm, lp, mp, hp, dmg = (prices[f"MTG-DMU-1-{c}-N"] for c in ("NM", "LP", "MP", "HP", "DMG"))
    assert lp == pytest.approx(nm * 0.85, abs=1)
    assert mp == pytest.approx(nm * 0.70, abs=1)
    assert hp == pytest.approx(nm * 0.50, abs=1)
    assert dmg == pytest.approx(nm * 0.30, abs=1)
    assert prices["MTG-DMU-1-NM-F"] > nm and prices["MTG-DMU-1-NM-E"] > nm


def test_graded_slabs_are_unique_serialized_singletons(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        slabs = s.execute(
            select(Sku.id, Sku.grader, Sku.grade, Sku.sub_grades, Sku.cert_number, Sku.serialized,
                   Sku.condition)
            .join(Product)
            .where(Product.kind == "graded")
        ).all()
        on_hand = _pairs(
            s, select(StockLevel.sku_id, func.sum(StockLevel.on_hand)).group_by(StockLevel.sku_id)
        )
    assert len(slabs) >= 8
    certs = [r.cert_number for r in slabs]
    assert all(certs) and len(set(certs)) == len(certs)
    assert {r.grader for r in slabs} == {g.value for g in Grader}
    for r in slabs:
        assert r.serialized and r.grade and r.condition is None
        assert on_hand.get(r.id) == 1
        if r.grader == "BGS":
            assert set(r.sub_grades) == {"centering", "corners", "edges", "surface"}


def test_bulk_lots_one_offs_sealed_and_supplies(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        rows = s.execute(
            select(Product.kind, Product.name, Sku.unit_size, Sku.serialized, Sku.barcode).join(Product)
        ).all()
        one_off_stock = s.execute(
            select(func.sum(StockLevel.on_hand)).join(Sku, Sku.id == StockLevel.sku_id).join(Product)
            .where(Product.kind == "one_off").group_by(Sku.id)
        ).scalars().all()
    bulk = [r for r in rows if r.kind == "bulk"]
    assert any(r.name == "Magic Bulk Commons (per 100)" and r.unit_size == 100 for r in bulk)
    assert all(r.unit_size > 1 for r in bulk)
    assert all(r.serialized for r in rows if r.kind == "one_off")
    assert set(one_off_stock) == {1}
    for r in rows:
        if r.kind in ("sealed", "supply"):
            assert r.barcode and upc_is_valid(r.barcode), r
    assert any("Elite Trainer Box" in r.name for r in rows if r.kind == "sealed")
    assert any("Sleeves" in r.name for r in rows if r.kind == "supply")


def test_barcodes_are_valid_and_unique(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        rows = s.execute(
            select(Sku.barcode, Product.kind).join(Product).where(Sku.barcode.is_not(None))
        ).all()
        singles = _count(store, Sku)
    codes = [r.barcode for r in rows]
    assert len(codes) == len(set(codes))
    assert all(upc_is_valid(c) for c in codes)
    labelled = [r.barcode for r in rows if r.kind == "single"]
    assert 0.1 * singles < len(labelled) < 0.6 * singles  # a share of singles carry shop labels
    assert all(c.startswith("2") for c in labelled)  # UPC number system 2: in-store labels


# ----------------------------------------------------------------------------- stock and ledgers


def test_stock_cache_equals_ledger(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        ledger = dict(
            ((sku, loc), total)
            for sku, loc, total in s.execute(
                select(StockMovement.sku_id, StockMovement.location_id, func.sum(StockMovement.delta))
                .group_by(StockMovement.sku_id, StockMovement.location_id)
            )
        )
        cache = {(r.sku_id, r.location_id): r.on_hand for r in s.scalars(select(StockLevel))}
        reasons = set(s.scalars(select(StockMovement.reason)))
        stocked = s.scalar(select(func.count(func.distinct(StockLevel.sku_id))).where(StockLevel.on_hand > 0))
    assert cache == ledger
    assert all(v > 0 for v in cache.values())
    assert reasons == {"receive"}
    assert 0.7 * SIZE < (stocked or 0) < SIZE  # most SKUs stocked, some sold out


def test_store_credit_balances_equal_ledger(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        ledger = _pairs(
            s,
            select(CreditEntry.customer_id, func.sum(CreditEntry.delta_cents))
            .group_by(CreditEntry.customer_id),
        )
        cache = {r.customer_id: r.balance_cents for r in s.scalars(select(CustomerBalance))}
        reasons = set(s.scalars(select(CreditEntry.reason)))
        exempt = s.scalar(select(func.count()).select_from(Customer).where(Customer.tax_exempt.is_(True)))
    assert ledger and cache == ledger
    assert all(v > 0 for v in cache.values())
    assert reasons <= {"buylist", "adjustment"}
    assert (exempt or 0) >= 1


def test_every_replicated_row_has_exactly_one_change(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        per_table = _pairs(s, select(Change.table_name, func.count()).group_by(Change.table_name))
        ops = set(s.scalars(select(Change.op)))
        for name, model in replicated_tables().items():
            rows = s.scalar(select(func.count()).select_from(model)) or 0
            assert per_table.get(name, 0) == rows, name
    assert ops == {"upsert"}
    assert per_table["skus"] == SIZE


def test_locations_form_a_findable_hierarchy(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    with store.read() as s:
        locs = {loc.id: loc for loc in s.scalars(select(Location))}
        used = set(s.scalars(select(StockLevel.location_id)))
    by_name = {loc.name: loc for loc in locs.values()}
    roots = [loc for loc in locs.values() if loc.parent_id is None]
    assert [r.name for r in roots] == ["Main Store"] and roots[0].kind == "store"
    for name in ("Case 1", "Back Room", "Events Table", "Binder MTG-1", "Binder PKM-1", "Long Box 1"):
        assert name in by_name, name
    assert by_name["Case 1"].parent_id == roots[0].id
    assert by_name["Long Box 1"].parent_id == by_name["Back Room"].id
    kinds = {loc.kind for loc in locs.values()}
    assert kinds >= {"store", "case", "row", "slot", "binder", "box", "backroom", "event"}
    assert used <= set(locs)
    depth = 0
    slot = next(loc for loc in locs.values() if loc.kind == "slot")
    while slot.parent_id:
        slot, depth = locs[slot.parent_id], depth + 1
    assert depth == 3  # store -> case -> row -> slot


# ----------------------------------------------------------------------------- people and settings


def test_demo_users_log_in_with_the_printed_credentials(demo: tuple[Store, DemoResult]) -> None:
    store, result = demo
    auth = AuthService(store)
    assert result.credentials == list(DEMO_CREDENTIALS)
    assert {c.role for c in result.credentials} == {"admin", "manager", "cashier"}
    for cred in result.credentials:
        user = auth.by_username(cred.username)
        assert user.role.value == cred.role
        if cred.password:
            assert auth.login_password(cred.username, cred.password).id == user.id
        else:
            assert not user.has_password
        assert cred.pin is not None
        assert auth.login_pin(user.id, cred.pin).id == user.id
    admin = next(c for c in result.credentials if c.role == "admin")
    assert (admin.username, admin.password, admin.pin) == ("admin", "admin-demo-1", "9999")


def test_shop_settings_stations_and_events(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    shop = ShopService(store)
    assert shop.name == "Dragon's Hoard Games"
    assert shop.get("shop.currency") == "USD"
    assert shop.get("shop.demo") is True
    for key, value in SHOP_SETTINGS.items():
        assert shop.get(key) == value
    with store.read() as s:
        stations = {st.name: st for st in s.scalars(select(Station))}
        events = list(s.scalars(select(Event)))
    assert stations["Register 1"].receipt_prefix == "T1" and stations["Register 1"].has_drawer
    assert stations["Register 2"].receipt_prefix == "T2"
    assert stations["Price Check"].role == "kiosk" and stations["Price Check"].receipt_prefix == "K1"
    assert stations["Back Office"].role == "manager" and stations["Back Office"].receipt_prefix == "M1"
    names = " | ".join(e.name for e in events)
    for expected in ("Friday Night Magic", "Pokémon League", "Lorcana Challenge", "Yu-Gi-Oh!"):
        assert expected in names
    now = datetime.now(UTC)
    assert all(e.starts_at > now and e.status == "scheduled" for e in events)
    assert any(e.fee_cents > 0 and e.prize_structure and e.capacity for e in events)


# ----------------------------------------------------------------------------- determinism


def _catalog(store: Store) -> set[tuple[object, ...]]:
    with store.read() as s:
        on_hand = (
            select(StockLevel.sku_id, func.sum(StockLevel.on_hand).label("n"))
            .group_by(StockLevel.sku_id)
            .subquery()
        )
        rows = s.execute(
            select(Sku.sku_code, Product.name, Product.collector_number, Sku.shelf_price_cents,
                   Sku.market_price_cents, Sku.cost_basis_cents, Sku.barcode, Sku.cert_number,
                   func.coalesce(on_hand.c.n, 0))
            .join(Product)
            .outerjoin(on_hand, on_hand.c.sku_id == Sku.id)
        ).all()
        placed = s.execute(
            select(Sku.sku_code, Location.code, StockLevel.on_hand)
            .join(StockLevel, StockLevel.sku_id == Sku.id)
            .join(Location, Location.id == StockLevel.location_id)
        ).all()
    return {tuple(r) for r in rows} | {("at", *r) for r in placed}


def test_same_seed_same_shop_other_seed_other_shop(tmp_path: Path) -> None:
    catalogs = []
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        store = open_store(f"sqlite:///{tmp_path / name}.db")
        try:
            generate_demo_shop(store, skus=600, seed=seed)
            catalogs.append(_catalog(store))
        finally:
            store.close()
    a, b, c = catalogs
    assert a == b
    assert a != c
    assert len(a) > 600


def test_a_shop_service_that_read_settings_before_the_demo_was_built_sees_it_after_forget(
    tmp_path: Path,
) -> None:
    """`vaultsync demo` builds its services first: the banner named the default shop."""
    store = open_store(f"sqlite:///{tmp_path / 'demo.db'}")
    try:
        shop = ShopService(store)
        assert shop.name == "My Card Shop"  # read (and cached) before the demo exists
        generate_demo_shop(store, skus=200, seed=7)
        shop.forget()
        assert shop.name == "Dragon's Hoard Games"
    finally:
        store.close()


# ----------------------------------------------------------------------------- refusals


def test_refuses_a_database_that_already_has_a_shop(demo: tuple[Store, DemoResult]) -> None:
    store, _ = demo
    before = _count(store, Sku)
    with pytest.raises(ConflictError, match="already holds shop data"):
        generate_demo_shop(store, skus=200)
    assert _count(store, Sku) == before


def test_refuses_a_real_shop_with_only_users(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'real.db'}")
    try:
        AuthService(store).add_user("owner", "Real Owner", "admin", password="a-real-password")
        with pytest.raises(ConflictError, match="1 users"):
            generate_demo_shop(store, skus=200)
        assert _count(store, Product) == 0
        assert _count(store, Setting) == 0  # not even marked as a demo
    finally:
        store.close()


@pytest.mark.parametrize("size", [0, 99, 2_000_001, -5, True, "1000", 1000.0])
def test_bad_sizes_are_rejected_before_anything_is_written(tmp_path: Path, size: object) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with pytest.raises(ValidationError, match="demo size"):
            generate_demo_shop(store, skus=size)  # type: ignore[arg-type]
        assert _count(store, Setting) == 0 and _count(store, Product) == 0
    finally:
        store.close()


# ----------------------------------------------------------------------------- helpers


def test_upc_check_digit() -> None:
    assert upc_a("03600029145") == "036000291452"  # the textbook example
    assert upc_is_valid("036000291452")
    assert not upc_is_valid("036000291453")
    assert not upc_is_valid("12345")


@pytest.mark.parametrize(
    ("cents", "expected"),
    [(3, 10), (10, 10), (23, 25), (96, 99), (412, 399), (430, 449), (1_234, 1_249), (24_987, 24_999),
     (13_020, 12_999), (123_456, 122_499)],
)
def test_shelf_round(cents: int, expected: int) -> None:
    assert shelf_round(cents) == expected

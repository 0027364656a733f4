"""Price age readers: an unchanged re-import refreshes every SKU's price age through ONE
confirmation row, without touching the SKU rows — and every reader of age sees it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.services.auth import AuthService
from vaultsync.services.inventory import InventoryService
from vaultsync.services.price_age import EXCEPT, ONLY, AgeResolver, age_buckets, decode_skus
from vaultsync.services.price_feeds import PriceFeedService
from vaultsync.services.pricing import PricingService
from vaultsync.services.shop import ShopService
from vaultsync.store import Store, open_store
from vaultsync.store.models import Change, PriceConfirmation, Product, Sku
from vaultsync.store.types import utcnow
from vaultsync.sync.apply import apply_batch, changes_since, vector_clock

CSV = "SKU,TCG Market Price\n"
#: every priced SKU of the fixture at its current market price
ALL_UNCHANGED = (
    CSV
    + "MTG-DMU-107-NM,70.00\nMTG-DMU-107-LP,60.00\nMTG-DMU-107-NM-F,120.00\n"
    + "MTG-M10-146-NM,1.00\nPKM-BS-4-PSA10,9000.00\n"
)


@pytest.fixture
def shop(store: Store) -> Shop:
    return build_shop(store)


def age_back(shop: Shop, days: int, *sku_ids: str) -> None:
    """Make the SKUs' own prices ``days`` old (as if last priced then)."""
    with shop.store.uow() as uow:
        for sku_id in sku_ids:
            row = uow.session.get(Sku, sku_id)
            assert row is not None
            row.price_as_of = utcnow() - timedelta(days=days)


def sku_rows(shop: Shop) -> dict[str, tuple[object, ...]]:
    with shop.store.read() as s:
        return {
            r.id: (r.market_price_cents, r.shelf_price_cents, r.price_source, r.price_as_of, r.updated_at)
            for r in s.scalars(select(Sku))
        }


def sku_changes(shop: Shop) -> int:
    with shop.store.read() as s:
        return int(s.scalar(select(func.count()).where(Change.table_name == "skus")) or 0)


def confirmations(shop: Shop) -> list[PriceConfirmation]:
    with shop.store.read() as s:
        return list(s.scalars(select(PriceConfirmation).order_by(PriceConfirmation.as_of)))


def test_unchanged_reimport_refreshes_every_reader_without_touching_skus(shop: Shop) -> None:
    age_back(shop, 40, shop.nm, shop.lp, shop.foil, shop.bolt, shop.slab)
    before_rows, before_changes = sku_rows(shop), sku_changes(shop)
    assert shop.pricing.sku_prices(shop.lp).stale
    assert "stale" in shop.pricing.buylist_guard(shop.lp).flags
    feeds = PriceFeedService(shop.store)
    assert feeds.price_ages().older == 5

    report = shop.pricing.import_file(ALL_UNCHANGED.encode(), actor=shop.manager, source="tcgplayer-csv")
    assert report.committed and report.unchanged == 5 and report.applied == 0

    # the SKU rows and their change log are exactly as before: one confirmation row instead
    assert sku_rows(shop) == before_rows
    assert sku_changes(shop) == before_changes
    [conf] = confirmations(shop)
    assert conf.mode == EXCEPT and conf.listed == 1 and decode_skus(conf.skus) == {shop.fresh}
    # ...and every reader of price age sees the refreshed age and the confirming source
    view = shop.pricing.sku_prices(shop.lp)
    assert view.price_as_of == conf.as_of and view.price_source == "tcgplayer-csv"
    assert not view.stale and view.age_days is not None and view.age_days < 0.01
    cap, flags = shop.pricing.buylist_guard(shop.lp)
    assert "stale" not in flags and cap is None
    detail = InventoryService(shop.store).detail(shop.lp)
    assert detail.price_as_of == conf.as_of.isoformat() and detail.price_source == "tcgplayer-csv"
    ages = feeds.price_ages()
    assert (ages.day, ages.week, ages.month, ages.older, ages.never) == (5, 0, 0, 0, 1)


def test_held_and_unpriced_skus_keep_their_own_age(shop: Shop) -> None:
    age_back(shop, 40, shop.nm, shop.lp, shop.foil, shop.bolt, shop.slab)
    # the foil's +67 % is held; the bolt is not in the file; the rest are unchanged
    text = (
        CSV + "MTG-DMU-107-NM,70.00\nMTG-DMU-107-LP,60.00\nMTG-DMU-107-NM-F,200.00\nPKM-BS-4-PSA10,9000.00\n"
    )
    report = shop.pricing.import_file(text.encode(), actor=shop.manager, source="tcgplayer-csv")
    assert (report.unchanged, report.held) == (3, 1)
    [conf] = confirmations(shop)
    # as short as it gets: the 3 confirmed (the 3 others — held, not in the file, unpriced — are not)
    assert conf.mode == ONLY and decode_skus(conf.skus) == {shop.nm, shop.lp, shop.slab}
    for sku_id in (shop.foil, shop.bolt):
        view = shop.pricing.sku_prices(sku_id)
        assert view.stale and view.price_source == "tcgplayer" and view.price_as_of != conf.as_of
        assert "stale" in shop.pricing.buylist_guard(sku_id).flags
    # the review queue shows the held SKU's real (old) price age
    [review] = shop.pricing.reviews().rows
    assert review.sku_id == shop.foil and review.price_as_of is not None
    assert utcnow() - review.price_as_of > timedelta(days=39)
    assert shop.pricing.sku_prices(shop.nm).price_as_of == conf.as_of


def test_a_small_file_lists_only_what_it_confirmed(shop: Shop) -> None:
    age_back(shop, 40, shop.nm, shop.lp)
    report = shop.pricing.import_file(
        (CSV + "MTG-DMU-107-LP,60.00\n").encode(), actor=shop.manager, source="feed:tcg"
    )
    assert report.unchanged == 1
    [conf] = confirmations(shop)
    assert conf.mode == ONLY and decode_skus(conf.skus) == {shop.lp}
    assert shop.pricing.sku_prices(shop.lp).price_source == "feed:tcg"
    assert shop.pricing.sku_prices(shop.nm).stale


def test_a_sku_created_after_the_import_is_not_covered(shop: Shop) -> None:
    shop.pricing.import_file(ALL_UNCHANGED.encode(), actor=shop.manager, source="tcgplayer-csv")
    [conf] = confirmations(shop)
    assert conf.mode == EXCEPT
    old = utcnow() - timedelta(days=60)
    with shop.store.uow() as uow:
        s = uow.session
        product_id = s.scalar(select(Product.id).limit(1))
        late = Sku(
            product_id=product_id,
            sku_code="LATE-1",
            shelf_price_cents=100,
            market_price_cents=90,
            price_source="old-list",
            price_as_of=old,
        )
        s.add(late)
        s.flush()
        late_id = late.id
    view = shop.pricing.sku_prices(late_id)
    assert view.price_source == "old-list" and view.stale


def test_a_newer_own_price_wins_over_an_older_confirmation(shop: Shop) -> None:
    shop.pricing.import_file(ALL_UNCHANGED.encode(), actor=shop.manager, source="tcgplayer-csv")
    shop.pricing.set_market_price(shop.lp, 6100, actor=shop.manager)
    view = shop.pricing.sku_prices(shop.lp)
    assert view.price_source == "manual"
    assert view.price_as_of is not None and view.price_as_of > confirmations(shop)[0].as_of


def test_confirmations_replicate_and_give_the_same_ages_on_a_peer(tmp_path: Path) -> None:
    a = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    b = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        shop = build_shop(a)
        age_back(shop, 40, shop.nm, shop.lp, shop.foil, shop.bolt, shop.slab)
        shop.pricing.import_file(
            (CSV + "MTG-DMU-107-LP,60.00\nMTG-DMU-107-NM-F,200.00\n").encode(),
            actor=shop.manager,
            source="tcgplayer-csv",
        )
        for _ in range(100):
            batch = changes_since(a, vector_clock(b), 500)
            if not batch:
                break
            apply_batch(b, batch)
        auth_b = AuthService(b)
        peer = PricingService(b, auth_b, ShopService(b))
        for sku_id in (shop.lp, shop.foil, shop.nm):
            mine, theirs = shop.pricing.sku_prices(sku_id), peer.sku_prices(sku_id)
            assert (mine.price_as_of, mine.price_source, mine.stale) == (
                theirs.price_as_of,
                theirs.price_source,
                theirs.stale,
            )
        assert not peer.sku_prices(shop.lp).stale and peer.sku_prices(shop.foil).stale
    finally:
        a.close()
        b.close()


def test_age_buckets_agree_with_each_skus_own_age(shop: Shop) -> None:
    """The catalog-wide buckets (one grouped query) put every SKU where its own age says,
    across several confirmations of both modes and a SKU created after an import."""
    age_back(shop, 40, shop.nm, shop.lp, shop.foil, shop.bolt, shop.slab)
    shop.pricing.import_file(ALL_UNCHANGED.encode(), actor=shop.manager, source="all")  # except mode
    age_back(shop, 50, shop.bolt)  # own price older than the first confirmation: it still covers it
    with shop.store.uow() as uow:
        product_id = uow.session.scalar(select(Product.id).limit(1))
        uow.add(
            Sku(
                product_id=product_id,
                sku_code="LATE-1",
                shelf_price_cents=100,
                market_price_cents=90,
                price_as_of=utcnow() - timedelta(days=60),
            )
        )
    shop.pricing.import_file((CSV + "MTG-DMU-107-LP,60.00\n").encode(), actor=shop.manager, source="lp")
    shop.pricing.import_file((CSV + "MTG-DMU-107-NM,70.00\n").encode(), actor=shop.manager, source="nm")
    confs = confirmations(shop)
    assert [c.mode for c in confs] == [EXCEPT, ONLY, ONLY]
    # a bucket per confirmation: newest first, as the feeds tab orders day/week/month
    bounds = [(f"c{i}", c.as_of) for i, c in reversed(list(enumerate(confs)))]
    with shop.store.read() as s:
        got = age_buckets(s, bounds)
        resolver = AgeResolver(s)
        want = dict.fromkeys([*(name for name, _ in bounds), "older", "never"], 0)
        for sku in s.scalars(select(Sku)):
            age = resolver.of(sku).as_of
            if sku.market_price_cents is None:
                want["never"] += 1
            else:
                want[next((n for n, at in bounds if age is not None and age >= at), "older")] += 1
    assert got == want
    # the LATE SKU (after the except-mode import, never confirmed) is the one "older" price
    assert (got["c2"], got["c1"], got["older"]) == (1, 1, 1)

"""Per-SKU shelf price lock: imports, feeds, review decisions and rules never move a locked
shelf price; the market price and its history still follow the feeds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.domain.errors import NotFoundError, PermissionDenied
from vaultsync.services.pricing import ReviewDecision, RuleInput
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, PriceUpdate, Sku

CSV = "SKU,TCG Market Price\n"


@pytest.fixture
def shop(store: Store) -> Shop:
    shop = build_shop(store)
    shop.pricing.save_rule(
        RuleInput(name="Magic singles", game_id=shop.game_id, markup_bps=11_000, rounding="49_99"),
        actor=shop.manager,
    )
    return shop


def row(shop: Shop, sku_id: str) -> Sku:
    with shop.store.read() as s:
        found = s.get(Sku, sku_id)
        assert found is not None
        return found


def test_lock_and_unlock_are_managers_only_and_audited(shop: Shop) -> None:
    with pytest.raises(PermissionDenied):
        shop.pricing.set_price_lock(shop.nm, True, actor=shop.cashier)
    with pytest.raises(NotFoundError):
        shop.pricing.set_price_lock("no-such-sku", True, actor=shop.manager)
    view = shop.pricing.set_price_lock(shop.nm, True, actor=shop.manager, reason="showcase copy")
    assert view.price_locked and row(shop, shop.nm).price_locked
    assert not shop.pricing.set_price_lock(shop.nm, False, actor=shop.manager).price_locked
    with shop.store.read() as s:
        entries = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.entity_id == shop.nm, AuditEntry.action.like("pricing.%lock"))
                .order_by(AuditEntry.node_seq)
            )
        )
    assert [e.action for e in entries] == ["pricing.lock", "pricing.unlock"]
    assert entries[0].user_id == shop.manager.id and entries[0].after["reason"] == "showcase copy"


def test_an_import_updates_a_locked_skus_market_but_never_its_shelf(shop: Shop) -> None:
    shop.pricing.set_price_lock(shop.nm, True, actor=shop.manager)
    text = CSV + "MTG-DMU-107-NM,71.00\nMTG-DMU-107-LP,61.00\n"
    report = shop.pricing.import_file(text.encode(), actor=shop.manager, source="tcgplayer-csv")
    assert report.committed and (report.applied, report.repriced, report.locked) == (2, 1, 1)
    nm, lp = row(shop, shop.nm), row(shop, shop.lp)
    assert (nm.market_price_cents, nm.shelf_price_cents) == (7100, 7499)  # shelf untouched
    assert (lp.market_price_cents, lp.shelf_price_cents) == (6100, 6749)  # $67.10 -> $67.49
    with shop.store.read() as s:
        [entry] = s.scalars(select(PriceUpdate).where(PriceUpdate.sku_id == shop.nm))
    # the price history records the market move, and why the shelf stayed
    assert (entry.old_cents, entry.new_cents, entry.shelf_new_cents) == (7000, 7100, None)
    assert entry.note == "shelf price locked"


def test_review_decisions_and_typed_market_prices_skip_a_locked_shelf(shop: Shop) -> None:
    shop.pricing.import_file(
        (CSV + "MTG-DMU-107-NM-F,200.00\n").encode(), actor=shop.manager, source="tcgplayer-csv"
    )
    shop.pricing.set_price_lock(shop.foil, True, actor=shop.manager)
    [review] = shop.pricing.reviews().rows
    result = shop.pricing.decide([ReviewDecision(review.id, "accept")], actor=shop.manager)
    assert (result.accepted, result.repriced) == (1, 0)
    foil = row(shop, shop.foil)
    assert (foil.market_price_cents, foil.shelf_price_cents) == (20000, 12999)
    view = shop.pricing.set_market_price(shop.foil, 21000, actor=shop.manager)
    assert (view.market_price_cents, view.shelf_price_cents, view.price_locked) == (21000, 12999, True)
    # a person may still set a locked shelf price by hand
    assert shop.pricing.set_shelf_price(shop.foil, 15000, actor=shop.manager).shelf_price_cents == 15000
    # unlocked again, the rules apply to the next move
    shop.pricing.set_price_lock(shop.foil, False, actor=shop.manager)
    assert shop.pricing.set_market_price(shop.foil, 21100, actor=shop.manager).shelf_price_cents == 23249

"""Price feeds end to end against a real local HTTP server: a bad feed never costs the shop its prices."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.pricing.feed_server import Script, csv_answer, feed_server
from tests.services.pos_fixtures import build_pos
from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.domain.errors import ConflictError, PermissionDenied, ValidationError
from vaultsync.services.price_feeds import FeedInput, PriceFeedService
from vaultsync.store import Store
from vaultsync.store.models import Sku, StockMovement


@pytest.fixture
def shop(sqlite_store: Store) -> Shop:
    return build_shop(sqlite_store)


def market(shop: Shop, sku_id: str) -> int | None:
    with shop.store.read() as s:
        row = s.get(Sku, sku_id)
        assert row is not None
        return row.market_price_cents


def test_feed_states_ok_down_slow_and_garbage_keep_the_last_prices(shop: Shop) -> None:
    service = PriceFeedService(shop.store, sleep=lambda _s: None)
    script = Script([csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\n")])
    with feed_server(script) as url:
        feed = service.save_feed(
            FeedInput(name="tcg", url=url, timeout_seconds=1, retries=1, backoff_ms=10), actor=shop.manager
        )
        assert feed.status == "never" and service.due() == [feed.id]
        view, report = service.fetch(feed.id, actor=shop.manager)
        assert view.status == "ok" and report is not None and report.applied == 1
        assert view.age_hours is not None and view.age_hours < 0.01 and view.last_applied == 1
        assert market(shop, shop.nm) == 7100
        assert service.due() == []

        script.answers = [(503, "text/plain", b"maintenance", 0)]
        view, report = service.fetch(feed.id)
        assert view.status == "down" and report is None and view.consecutive_failures == 1
        assert "503" in (view.last_error or "") and "2 attempt" in (view.last_error or "")
        assert view.last_success_at is not None  # the age of the last good fetch is still shown
        assert market(shop, shop.nm) == 7100

        script.answers = [(200, "text/html", b"<html>login</html>", 0)]
        view, _ = service.fetch(feed.id)
        assert view.status == "garbage" and view.consecutive_failures == 2

        script.answers = [csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,abc\nMTG-DMU-107-LP,61.00\n")]
        view, report = service.fetch(feed.id)
        assert view.status == "garbage" and report is not None and report.error_count == 1
        assert market(shop, shop.lp) == 6000  # all-or-nothing: the good row was not applied either

        script.answers = [csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,72.00\n", delay=2.0)]
        view, _ = service.fetch(feed.id)
        assert view.status == "slow"
        assert market(shop, shop.nm) == 7100
    assert [f.name for f in service.feeds()] == ["tcg"]


def test_valid_rows_only_feed_applies_the_good_rows(shop: Shop) -> None:
    service = PriceFeedService(shop.store, sleep=lambda _s: None)
    script = Script([csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,abc\nMTG-DMU-107-LP,61.00\n")])
    with feed_server(script) as url:
        feed = service.save_feed(FeedInput(name="lenient", url=url, valid_rows_only=True), actor=shop.manager)
        view, _report = service.fetch(feed.id)
    assert view.status == "ok" and view.last_errors == 1 and market(shop, shop.lp) == 6100


def test_feed_configuration_is_validated(shop: Shop) -> None:
    service = PriceFeedService(shop.store)
    with pytest.raises(ValidationError, match="http"):
        service.save_feed(FeedInput(name="x", url="file:///etc/passwd"), actor=shop.manager)
    with pytest.raises(ValidationError, match="retries"):
        service.save_feed(FeedInput(name="x", url="http://h/x.csv", retries=50), actor=shop.manager)
    with pytest.raises(PermissionDenied):
        service.save_feed(FeedInput(name="x", url="http://h/x.csv"), actor=shop.cashier)
    service.save_feed(FeedInput(name="x", url="http://h/x.csv"), actor=shop.manager)
    with pytest.raises(ConflictError):
        service.save_feed(FeedInput(name="x", url="http://h/y.csv"), actor=shop.manager)
    ages = service.price_ages()
    assert (ages.week, ages.never) == (5, 1)


def test_register_line_warns_when_the_market_spiked_above_shelf(sqlite_store: Store) -> None:
    pos = build_pos(sqlite_store)
    with sqlite_store.uow() as uow:
        nm = uow.session.get(Sku, pos.nm_id)
        assert nm is not None
        nm.market_price_cents = 9000  # shelf $74.99: the market moved past it
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.scan(cart.id, "111111111111", actor=pos.cashier)
    assert view.lines[0].price_warning and "$90.00" in view.lines[0].price_warning
    view = pos.checkout.scan(cart.id, "333333333333", actor=pos.cashier)
    assert view.lines[1].price_warning is None
    with sqlite_store.read() as s:
        assert s.scalars(select(StockMovement)).first() is not None


def test_scheduler_fetches_due_feeds_in_the_background(shop: Shop) -> None:
    import time

    from vaultsync.services.price_feeds import FeedScheduler

    service = PriceFeedService(shop.store, sleep=lambda _s: None)
    script = Script([csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\n")])
    with feed_server(script) as url:
        service.save_feed(FeedInput(name="tcg", url=url, retries=0), actor=shop.manager)
        scheduler = FeedScheduler(service, period=0.05)
        scheduler.start()
        try:
            deadline = time.monotonic() + 10
            while market(shop, shop.nm) != 7100 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            scheduler.stop()
    assert market(shop, shop.nm) == 7100
    assert script.hits == 1  # fetched once: not due again before its interval
    assert service.feeds()[0].status == "ok"

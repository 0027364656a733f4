"""Feed API keys in the feed service: sent to a real server that requires them, never shown back,
never written to the audit log."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.pricing.feed_server import Script, csv_answer, feed_server
from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.domain.errors import ValidationError
from vaultsync.services.price_feeds import FeedInput, PriceFeedService, merge_headers
from vaultsync.store import Store
from vaultsync.store.models import AuditEntry, PriceFeed, Sku

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture
def shop(store: Store) -> Shop:
    return build_shop(store)


def market(shop: Shop, sku_id: str) -> int | None:
    with shop.store.read() as s:
        return s.scalar(select(Sku.market_price_cents).where(Sku.id == sku_id))


def audit_text(shop: Shop) -> str:
    with shop.store.read() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "pricing.feed.save")).all()
        return json.dumps([[r.before, r.after] for r in rows], default=str)


def test_a_feed_with_a_key_fetches_and_the_key_is_write_only(shop: Shop) -> None:
    service = PriceFeedService(shop.store, sleep=lambda _s: None)
    script = Script(
        [csv_answer("SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\n")], require_header=("X-Api-Key", SECRET)
    )
    with feed_server(script) as url:
        view = service.save_feed(FeedInput(name="tcg", url=url, retries=0), actor=shop.manager)
        assert view.header_names == ()
        view, _ = service.fetch(view.id, actor=shop.manager)
        assert view.status == "refused" and "needs an API key" in (view.last_error or "")
        assert market(shop, shop.nm) == 7000  # the last prices stay

        view = service.save_feed(
            FeedInput(name="tcg", url=url, retries=0, headers={"X-Api-Key": SECRET}),
            actor=shop.manager,
            feed_id=view.id,
        )
        assert view.header_names == ("X-Api-Key",)
        assert SECRET not in repr(view) and SECRET not in repr(service.feeds())
        view, report = service.fetch(view.id, actor=shop.manager)
        assert view.status == "ok" and report is not None and report.committed
        assert market(shop, shop.nm) == 7100

        # saving the form again without headers keeps the key
        view = service.save_feed(
            FeedInput(name="tcg", url=url, retries=1), actor=shop.manager, feed_id=view.id
        )
        assert view.header_names == ("X-Api-Key",)
        assert service.fetch(view.id)[0].status == "ok"
    assert SECRET not in audit_text(shop)
    assert '"request_headers_changed": true' in audit_text(shop)


def test_replace_remove_and_clear(shop: Shop) -> None:
    service = PriceFeedService(shop.store)
    url = "https://prices.example.com/export.csv"
    view = service.save_feed(
        FeedInput(name="pc", url=url, headers={"Authorization": "Bearer one", "X-Client": "shop-7"}),
        actor=shop.manager,
    )
    assert view.header_names == ("Authorization", "X-Client")
    view = service.save_feed(
        FeedInput(name="pc", url=url, headers={"authorization": "Bearer two"}),
        actor=shop.manager,
        feed_id=view.id,
    )
    with shop.store.read() as s:
        feed = s.get(PriceFeed, view.id)
        assert feed is not None and feed.request_headers == {
            "authorization": "Bearer two",
            "X-Client": "shop-7",
        }
    view = service.save_feed(
        FeedInput(name="pc", url=url, headers={"X-Client": None}), actor=shop.manager, feed_id=view.id
    )
    assert view.header_names == ("authorization",)
    view = service.save_feed(
        FeedInput(name="pc", url=url, clear_headers=True), actor=shop.manager, feed_id=view.id
    )
    assert view.header_names == ()
    with shop.store.read() as s:
        feed = s.get(PriceFeed, view.id)
        assert feed is not None and feed.request_headers is None
    assert "Bearer" not in audit_text(shop) and "shop-7" not in audit_text(shop)


@pytest.mark.parametrize(
    ("url", "headers", "message"),
    [
        ("https://h/x.csv", {"X-Api-Key": "abc\r\nX-Injected: 1"}, "no line breaks"),
        ("https://h/x.csv", {"X Api Key": "abc"}, "is not valid"),
        ("https://h/x.csv", {"Host": "evil"}, "set by VaultSync"),
        ("https://h/x.csv", {"X-Api-Key": "a" * 5000}, "longer than"),
        ("http://prices.example.com/x.csv", {"X-Api-Key": "abc"}, "https://"),
    ],
)
def test_bad_headers_change_nothing(shop: Shop, url: str, headers: dict[str, str], message: str) -> None:
    service = PriceFeedService(shop.store)
    view = service.save_feed(
        FeedInput(name="f", url="https://h/x.csv", headers={"X-Api-Key": "good"}), actor=shop.manager
    )
    with pytest.raises(ValidationError, match=message) as err:
        service.save_feed(FeedInput(name="f", url=url, headers=headers), actor=shop.manager, feed_id=view.id)
    assert "abc" not in str(err.value) and "evil" not in str(err.value)
    with shop.store.read() as s:
        feed = s.get(PriceFeed, view.id)
        assert (
            feed is not None
            and feed.request_headers == {"X-Api-Key": "good"}
            and feed.url == "https://h/x.csv"
        )


def test_moving_a_keyed_feed_to_plain_http_on_the_internet_is_refused(shop: Shop) -> None:
    service = PriceFeedService(shop.store)
    view = service.save_feed(
        FeedInput(name="f", url="https://h/x.csv", headers={"X-Api-Key": "k"}), actor=shop.manager
    )
    with pytest.raises(ValidationError, match="https://"):
        service.save_feed(
            FeedInput(name="f", url="http://h.example/x.csv"), actor=shop.manager, feed_id=view.id
        )


def test_merge_headers_is_case_insensitive() -> None:
    assert merge_headers({"X-Api-Key": "a"}, {"x-api-key": "b"}) == {"x-api-key": "b"}
    assert merge_headers({"A": "1", "B": "2"}, {"b": None}) == {"A": "1"}
    assert merge_headers({"A": "1"}, {"C": " 3 "}, clear=True) == {"C": "3"}
    assert merge_headers(None, None) == {}

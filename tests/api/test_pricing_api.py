"""Pricing over HTTP: rules, imports (raw CSV body), the review queue, SKU prices, feeds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.pricing.feed_server import Script, csv_answer, feed_server
from tests.services.pricing_fixtures import Shop, build_shop
from vaultsync.api import build_router
from vaultsync.config import Config
from vaultsync.services.container import Services
from vaultsync.store import Store

CSV_HEADERS = {"Content-Type": "text/csv"}


@pytest.fixture
def shop(sqlite_store: Store) -> Shop:
    return build_shop(sqlite_store)


@pytest.fixture
def app(shop: Shop, tmp_path: Path) -> Iterator[TestClient]:
    services = Services.build(Config.resolve(data_dir=tmp_path, db=shop.store.url), shop.store)
    api = FastAPI()
    api.include_router(build_router(services))
    with TestClient(api) as client:
        yield client
    services.devices.stop()


def login(client: TestClient, shop: Shop, *, manager: bool = True) -> TestClient:
    if manager:
        r = client.post("/api/v1/auth/token", json={"username": "mia", "password": "manager pass"})
    else:
        r = client.post("/api/v1/auth/pin", json={"user_id": shop.cashier.id, "pin": "1234"})
    assert r.status_code == 200, r.text
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


def test_import_preview_commit_and_review_over_http(app: TestClient, shop: Shop) -> None:
    api = login(app, shop)
    body = "SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\nMTG-DMU-107-NM-F,200.00\n"
    r = api.post("/api/v1/pricing/imports", params={"dry_run": "true"}, content=body, headers=CSV_HEADERS)
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["dry_run"] and not preview["committed"] and preview["held"] == 1
    assert {p["sku_code"] for p in preview["preview"]} == {"MTG-DMU-107-NM", "MTG-DMU-107-NM-F"}
    r = api.post("/api/v1/pricing/imports", params={"source": "tcg"}, content=body, headers=CSV_HEADERS)
    assert r.json()["committed"] and r.json()["applied"] == 1
    reviews = api.get("/api/v1/pricing/reviews").json()
    assert reviews["total"] == 1
    [row] = reviews["rows"]
    assert row["proposed_cents"] == 20000 and row["sku_code"] == "MTG-DMU-107-NM-F"
    r = api.post(
        "/api/v1/pricing/reviews/decide",
        json={"decisions": [{"review_id": row["id"], "action": "edit", "cents": 15000}]},
    )
    assert r.status_code == 200 and r.json()["edited"] == 1
    prices = api.get(f"/api/v1/pricing/skus/{shop.foil}").json()
    assert prices["market_price_cents"] == 15000 and prices["history"][-1]["new_cents"] == 15000


def test_bad_files_get_a_per_row_report_and_change_nothing(app: TestClient, shop: Shop) -> None:
    api = login(app, shop)
    body = "SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\nNOPE,1.00\nMTG-DMU-107-LP,oops\n"
    report = api.post("/api/v1/pricing/imports", content=body, headers=CSV_HEADERS).json()
    assert not report["committed"] and report["error_count"] == 2
    assert [(e["line"], "NOPE" in e["message"]) for e in report["errors"]] == [(3, True), (4, False)]
    assert api.get(f"/api/v1/pricing/skus/{shop.nm}").json()["market_price_cents"] == 7000
    html = api.post("/api/v1/pricing/imports", content="<html>login</html>", headers=CSV_HEADERS).json()
    assert "HTML" in html["refused"]
    r = api.post("/api/v1/pricing/imports", content="", headers=CSV_HEADERS)
    assert r.status_code == 422 and "request body" in r.json()["error"]
    r = api.post("/api/v1/pricing/imports", params={"format": "excel"}, content=body, headers=CSV_HEADERS)
    assert r.status_code == 422


def test_rules_and_manual_prices_over_http(app: TestClient, shop: Shop) -> None:
    api = login(app, shop)
    r = api.post(
        "/api/v1/pricing/rules",
        json={"name": "Magic", "game_id": shop.game_id, "markup_bps": 11000, "rounding": "99"},
    )
    assert r.status_code == 201, r.text
    rule = r.json()
    assert api.post("/api/v1/pricing/rules", json={"name": "dup", "game_id": shop.game_id}).status_code == 409
    assert api.post("/api/v1/pricing/rules", json={"name": "x", "markup_bps": 1}).status_code == 422
    assert api.post("/api/v1/pricing/rules", json={"name": "x", "sneaky": 1}).status_code == 422
    r = api.put(f"/api/v1/pricing/skus/{shop.nm}/market", json={"cents": 8000})
    assert r.json()["shelf_price_cents"] == 8899  # 88.00 -> .99
    r = api.put(f"/api/v1/pricing/skus/{shop.nm}/shelf", json={"cents": 1000})
    assert r.status_code == 409 and "below the cost" in r.json()["error"]
    r = api.put(f"/api/v1/pricing/skus/{shop.nm}/shelf", json={"cents": 1000, "allow_below_cost": True})
    assert r.status_code == 200 and r.json()["shelf_price_cents"] == 1000
    assert api.get("/api/v1/pricing/rules").json()[0]["id"] == rule["id"]
    assert api.delete(f"/api/v1/pricing/rules/{rule['id']}").status_code == 204
    guard = api.get(f"/api/v1/pricing/skus/{shop.fresh}/buylist-guard").json()
    assert guard == {"cap_cents": None, "flags": ["no_market"]}


def test_cashiers_may_read_prices_but_not_change_them(app: TestClient, shop: Shop) -> None:
    api = login(app, shop, manager=False)
    assert api.get(f"/api/v1/pricing/skus/{shop.nm}").status_code == 200
    assert api.get(f"/api/v1/pricing/skus/{shop.nm}/buylist-guard").status_code == 200
    body = "SKU,TCG Market Price\nMTG-DMU-107-NM,1.00\n"
    assert api.post("/api/v1/pricing/imports", content=body, headers=CSV_HEADERS).status_code == 403
    assert api.get("/api/v1/pricing/reviews").status_code == 403
    assert api.put(f"/api/v1/pricing/skus/{shop.nm}/shelf", json={"cents": 1}).status_code == 403
    assert api.get("/api/v1/pricing/feeds").status_code == 403
    del api.headers["Authorization"]
    assert api.get(f"/api/v1/pricing/skus/{shop.nm}").status_code == 401


def test_feeds_over_http(app: TestClient, shop: Shop) -> None:
    api = login(app, shop)
    script = Script([csv_answer("SKU,TCG Market Price\nMTG-DMU-107-LP,61.00\n")])
    with feed_server(script) as url:
        r = api.post("/api/v1/pricing/feeds", json={"name": "tcg", "url": url, "retries": 0})
        assert r.status_code == 201, r.text
        feed_id = r.json()["id"]
        r = api.post(f"/api/v1/pricing/feeds/{feed_id}/fetch")
        assert r.json()["feed"]["status"] == "ok" and r.json()["report"]["applied"] == 1
        script.answers = [(500, "text/plain", b"down", 0)]
        r = api.post(f"/api/v1/pricing/feeds/{feed_id}/fetch")
        assert r.json()["feed"]["status"] == "down" and r.json()["report"] is None
    listing = api.get("/api/v1/pricing/feeds").json()
    assert listing["feeds"][0]["consecutive_failures"] == 1
    assert sum(listing["price_ages"].values()) == 6
    assert api.post("/api/v1/pricing/feeds", json={"name": "bad", "url": "ftp://x"}).status_code == 422
    assert api.delete(f"/api/v1/pricing/feeds/{feed_id}").status_code == 204


def test_lock_a_shelf_price_over_http(app: TestClient, shop: Shop) -> None:
    cashier = login(app, shop, manager=False)
    r = cashier.put(f"/api/v1/pricing/skus/{shop.nm}/lock", json={"locked": True})
    assert r.status_code == 403, r.text
    api = login(app, shop)
    r = api.put(f"/api/v1/pricing/skus/{shop.nm}/lock", json={"locked": True, "reason": "showcase"})
    assert r.status_code == 200, r.text
    assert r.json()["price_locked"] is True
    assert api.put(f"/api/v1/pricing/skus/{shop.nm}/lock", json={"locked": "maybe"}).status_code == 422
    assert api.put("/api/v1/pricing/skus/nope/lock", json={"locked": True}).status_code == 404
    body = "SKU,TCG Market Price\nMTG-DMU-107-NM,71.00\n"
    report = api.post("/api/v1/pricing/imports", content=body, headers=CSV_HEADERS).json()
    assert report["committed"] and report["locked"] == 1 and report["repriced"] == 0
    prices = api.get(f"/api/v1/pricing/skus/{shop.nm}").json()
    assert (prices["market_price_cents"], prices["shelf_price_cents"], prices["price_locked"]) == (
        7100,
        7499,
        True,
    )
    r = api.put(f"/api/v1/pricing/skus/{shop.nm}/lock", json={"locked": False})
    assert r.json()["price_locked"] is False

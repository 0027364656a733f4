"""The cart → sale → receipt → refund lifecycle over HTTP, with the real services behind it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.api import build_router
from vaultsync.config import Config
from vaultsync.services.container import Services
from vaultsync.store import Store
from vaultsync.store.models import Change, Transaction


@pytest.fixture
def pos(sqlite_store: Store) -> Pos:
    return build_pos(sqlite_store)


@pytest.fixture
def api(pos_client: TestClient) -> TestClient:
    return pos_client


def changes(pos: Pos) -> int:
    with pos.store.read() as s:
        return int(s.scalar(select(func.count()).select_from(Change)) or 0)


def test_sale_lifecycle(api: TestClient, pos: Pos) -> None:
    cart = api.post("/api/v1/carts", json={"station_id": pos.station_id})
    assert cart.status_code == 201
    cid = cart.json()["id"]
    r = api.post(f"/api/v1/carts/{cid}/scan", json={"code": "111111111111"})
    assert r.status_code == 200 and r.json()["total_cents"] == 8118
    r = api.post(f"/api/v1/carts/{cid}/lines", json={"sku_id": pos.bulk_id, "quantity": 4})
    line_id = r.json()["lines"][1]["line_id"]
    r = api.patch(f"/api/v1/carts/{cid}/lines/{line_id}", json={"quantity": 2})
    assert r.json()["lines"][1]["quantity"] == 2
    total = r.json()["total_cents"]
    r = api.post(
        f"/api/v1/carts/{cid}/complete",
        json={"tenders": [{"kind": "cash", "amount_cents": 10000}], "client_request_id": "api-1"},
    )
    assert r.status_code == 201, r.text
    sale = r.json()
    assert sale["change_cents"] == 10000 - total and sale["number"] == "T1-000001"
    receipt = api.get(f"/api/v1/receipts/{sale['number']}").json()
    assert receipt["total_cents"] == total and receipt["cashier"] == "Sam Cashier"
    refundable = api.get(f"/api/v1/receipts/{sale['number']}/refundable").json()
    first = refundable["lines"][0]
    assert first["remaining"] == 1
    r = api.post(
        "/api/v1/refunds",
        json={
            "number": sale["number"],
            "lines": [{"line_id": first["line_id"], "quantity": 1}],
            "client_request_id": "api-r1",
            "station_id": pos.station_id,
        },
    )
    assert r.status_code == 201 and r.json()["refund_cents"] == 8118


def test_approval_required_is_a_403_the_client_can_answer(api: TestClient, pos: Pos) -> None:
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    line = api.post(f"/api/v1/carts/{cid}/scan", json={"code": "111111111111"}).json()["lines"][0]["line_id"]
    r = api.post(f"/api/v1/carts/{cid}/lines/{line}/discount", json={"kind": "percent", "value": 5000})
    assert r.status_code == 403 and r.json()["approval_required"] is True and "discount" in r.json()["reason"]
    r = api.post(
        f"/api/v1/carts/{cid}/lines/{line}/discount",
        json={"kind": "percent", "value": 5000, "approval_pin": "2468"},
    )
    assert r.status_code == 200 and r.json()["lines"][0]["discount_cents"] == 3750


@pytest.mark.parametrize(
    "body",
    [
        {"tenders": [], "client_request_id": "x"},
        {"tenders": [{"kind": "cash", "amount_cents": -1}], "client_request_id": "x"},
        {"tenders": [{"kind": "bitcoin", "amount_cents": 100}], "client_request_id": "x"},
        {"tenders": [{"kind": "cash", "amount_cents": 10**16}], "client_request_id": "x"},
        {"tenders": [{"kind": "card", "amount_cents": 8118}], "client_request_id": "x"},
        {"tenders": [{"kind": "cash", "amount_cents": 100}], "client_request_id": "x"},
        {"tenders": [{"kind": "cash", "amount_cents": 9000}]},
        {"tenders": [{"kind": "cash", "amount_cents": 9000}], "client_request_id": "x", "surprise": 1},
    ],
)
def test_bad_completions_are_4xx_and_change_nothing(api: TestClient, pos: Pos, body: dict) -> None:
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    api.post(f"/api/v1/carts/{cid}/scan", json={"code": "111111111111"})
    before = changes(pos)
    r = api.post(f"/api/v1/carts/{cid}/complete", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert changes(pos) == before


def test_bad_cart_input(api: TestClient, pos: Pos) -> None:
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    assert api.post(f"/api/v1/carts/{cid}/scan", json={"code": "nope"}).status_code == 404
    r = api.post(f"/api/v1/carts/{cid}/scan", json={"code": "222222222222"})
    assert r.status_code == 409 and "out of stock" in r.json()["error"]
    assert (
        api.post(f"/api/v1/carts/{cid}/lines", json={"sku_id": pos.nm_id, "quantity": 0}).status_code == 422
    )
    assert (
        api.post(f"/api/v1/carts/{cid}/lines", json={"sku_id": pos.nm_id, "quantity": -2}).status_code == 422
    )
    assert api.get("/api/v1/carts/not-a-cart").status_code == 404
    assert api.get("/api/v1/receipts/T1-999999").status_code == 404


def test_double_submit_returns_the_same_sale(api: TestClient, pos: Pos) -> None:
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    api.post(f"/api/v1/carts/{cid}/scan", json={"code": "333333333333"})
    body = {"tenders": [{"kind": "cash", "amount_cents": 100}], "client_request_id": "dup"}
    first = api.post(f"/api/v1/carts/{cid}/complete", json=body).json()
    second = api.post(f"/api/v1/carts/{cid}/complete", json=body).json()
    assert second["replayed"] and second["number"] == first["number"]
    with pos.store.read() as s:
        assert s.scalar(select(func.count()).select_from(Transaction)) == 1


def test_park_resume_and_void_over_http(api: TestClient, pos: Pos) -> None:
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    api.post(f"/api/v1/carts/{cid}/scan", json={"code": "333333333333"})
    held = api.post(f"/api/v1/carts/{cid}/park", json={"label": "red cap"}).json()["held_id"]
    assert [h["label"] for h in api.get("/api/v1/carts/held").json()] == ["red cap"]
    resumed = api.post(f"/api/v1/carts/held/{held}/resume", json={"station_id": pos.station_id}).json()
    assert resumed["item_count"] == 1
    assert api.post(f"/api/v1/carts/{resumed['id']}/void", json={"reason": "walked out"}).status_code == 204
    assert api.get(f"/api/v1/carts/{resumed['id']}").status_code == 404


def test_cart_endpoints_need_a_token(pos: Pos, tmp_path: Path) -> None:
    services = Services.build(Config.resolve(data_dir=tmp_path, db=pos.store.url), pos.store)
    app = FastAPI()
    app.include_router(build_router(services))
    with TestClient(app) as anon:
        assert anon.post("/api/v1/carts", json={}).status_code == 401


def test_local_station_is_created_once_with_a_node_prefix(api: TestClient, pos: Pos) -> None:
    first = api.post("/api/v1/carts", json={}).json()
    second = api.post("/api/v1/carts", json={}).json()
    assert first["id"] != second["id"]
    from vaultsync.services.stations import StationService

    mine = [s for s in StationService(pos.store).list() if s.node_id == pos.store.node_id]
    assert len(mine) == 1 and mine[0].receipt_prefix == pos.store.node_id[:4].upper()

"""Catalog, stock operations, counts, import, labels and valuation over HTTP, real services behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.api import build_router
from vaultsync.config import Config
from vaultsync.domain.enums import Tender
from vaultsync.services.catalog_import import TEMPLATE_HEADER
from vaultsync.services.checkout import TenderInput
from vaultsync.services.container import Services
from vaultsync.store import Store

V1 = "/api/v1"


@pytest.fixture
def pos(sqlite_store: Store) -> Pos:
    return build_pos(sqlite_store)


@pytest.fixture
def services(pos: Pos, tmp_path: Path) -> Iterator[Services]:
    svc = Services.build(
        Config.resolve(data_dir=tmp_path, db=pos.store.url, station_role="manager"), pos.store
    )
    yield svc
    svc.devices.stop()


def _client(services: Services, login: dict[str, str], path: str) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(build_router(services))
    with TestClient(app) as client:
        token = client.post(f"{V1}/auth/{path}", json=login).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture
def manager(services: Services) -> Iterator[TestClient]:
    yield from _client(services, {"username": "mia", "password": "manager pass"}, "token")


@pytest.fixture
def cashier(services: Services, pos: Pos) -> Iterator[TestClient]:
    yield from _client(services, {"user_id": pos.cashier.id, "pin": "1234"}, "pin")


def on_hand(api: TestClient, sku_id: str) -> int:
    return int(api.get(f"{V1}/skus/{sku_id}").json()["row"]["on_hand"])


def test_catalog_create_and_edit(manager: TestClient, cashier: TestClient) -> None:
    r = manager.post(f"{V1}/catalog/games", json={"code": "PKM", "name": "Pokémon"})
    assert r.status_code == 201, r.text
    assert (
        manager.post(
            f"{V1}/catalog/sets", json={"game_code": "PKM", "code": "SV03", "name": "OF"}
        ).status_code
        == 201
    )
    product = manager.post(
        f"{V1}/catalog/products",
        json={"game_code": "PKM", "name": "Charizard ex", "set_code": "SV03", "collector_number": "125"},
    ).json()["id"]
    r = manager.post(
        f"{V1}/catalog/skus", json={"product_id": product, "condition": "NM", "shelf_price_cents": 2999}
    )
    assert r.status_code == 201, r.text
    sku_id = r.json()["id"]
    r = manager.patch(f"{V1}/catalog/skus/{sku_id}", json={"shelf_price_cents": 3499, "finish": "foil"})
    assert r.status_code == 200 and r.json()["row"]["shelf_price_cents"] == 3499
    assert r.json()["row"]["sku_code"] == "PKM-SV03-125-NM"
    r = manager.patch(f"{V1}/catalog/products/{product}", json={"rarity": "double rare"})
    assert r.status_code == 200
    # bad input: clear errors, nothing changed
    r = manager.post(f"{V1}/catalog/skus", json={"product_id": product, "condition": "MINT"})
    assert r.status_code == 422 and "condition" in r.json()["error"]
    r = manager.post(
        f"{V1}/catalog/skus", json={"product_id": product, "condition": "NM", "cost_basis_cents": -5}
    )
    assert r.status_code == 422
    r = manager.patch(f"{V1}/catalog/skus/{sku_id}", json={"sku_code": "X"})
    assert r.status_code == 422  # not an editable field
    assert cashier.post(f"{V1}/catalog/games", json={"code": "YGO", "name": "Yu-Gi-Oh!"}).status_code == 403
    assert [s["code"] for s in cashier.get(f"{V1}/catalog/sets?game=PKM").json()] == ["SV03"]


def test_duplicate_cert_is_409_and_says_fraud(manager: TestClient, pos: Pos) -> None:
    product = manager.post(
        f"{V1}/catalog/products", json={"game_code": "mtg", "name": "Slab", "kind": "graded"}
    ).json()["id"]
    r = manager.post(
        f"{V1}/catalog/skus",
        json={"product_id": product, "grader": "PSA", "grade": "10", "cert_number": "55555555"},
    )
    assert r.status_code == 409 and "possible fraud" in r.json()["error"]


def test_receive_transfer_write_off_and_history(manager: TestClient, pos: Pos) -> None:
    r = manager.post(
        f"{V1}/stock/receive",
        json={
            "location_id": pos.case_id,
            "lines": [{"sku_id": pos.nm_id, "quantity": 2, "unit_cost_cents": 5000}],
            "supplier": "Alliance",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["new_cost_cents"] == 4400
    loc = manager.post(
        f"{V1}/locations", json={"name": "Binder 3", "kind": "binder", "parent_id": pos.case_id}
    )
    binder = loc.json()["id"]
    r = manager.post(
        f"{V1}/stock/transfer",
        json={"sku_id": pos.nm_id, "from_location_id": pos.case_id, "to_location_id": binder, "quantity": 2},
    )
    assert r.status_code == 201, r.text
    where = manager.get(f"{V1}/skus/{pos.nm_id}/where").json()
    assert [(w["path"], w["on_hand"]) for w in where] == [("Case 1", 3), ("Case 1 › Binder 3", 2)]
    r = manager.post(
        f"{V1}/stock/write-off",
        json={"sku_id": pos.nm_id, "location_id": binder, "quantity": 1, "reason": "damaged"},
    )
    assert r.status_code == 201
    assert on_hand(manager, pos.nm_id) == 4
    history = manager.get(f"{V1}/stock/movements/{pos.nm_id}").json()
    assert [h["reason"] for h in history] == ["adjust", "transfer", "transfer", "receive", "receive"]
    r = manager.post(
        f"{V1}/stock/receive",
        json={
            "location_id": pos.case_id,
            "lines": [{"sku_id": pos.nm_id, "quantity": 1, "unit_cost_cents": -1}],
        },
    )
    assert r.status_code == 422 and "negative" in r.json()["error"]


def test_cashier_cannot_move_stock_but_can_see_where(cashier: TestClient, pos: Pos) -> None:
    r = cashier.post(
        f"{V1}/stock/write-off",
        json={"sku_id": pos.nm_id, "location_id": pos.case_id, "quantity": 1, "reason": "lost"},
    )
    assert r.status_code == 403
    assert cashier.get(f"{V1}/stock/valuation").status_code == 403
    assert cashier.get(f"{V1}/skus/{pos.nm_id}/where").json()[0]["path"] == "Case 1"


def test_count_over_http_keeps_a_sale_made_during_it(
    manager: TestClient, cashier: TestClient, pos: Pos, services: Services
) -> None:
    count = manager.post(f"{V1}/stock/counts", json={"location_id": pos.case_id}).json()
    r = cashier.post(f"{V1}/stock/counts/{count['id']}/entries", json={"code": "111111111111", "counted": 2})
    assert r.status_code == 201, r.text
    assert (r.json()["seen_on_hand"], r.json()["adjustment"]) == (3, -1)
    cart = pos.checkout.new_cart(actor=pos.cashier, station_id=pos.station_id)
    view = pos.checkout.add_sku(cart.id, pos.nm_id, 1, actor=pos.cashier)
    pos.checkout.complete(
        cart.id, [TenderInput(Tender.CASH, view.total_cents)], actor=pos.cashier, client_request_id="c1"
    )
    shown = manager.get(f"{V1}/stock/counts/{count['id']}").json()
    assert shown["counted_lines"] == 1 and shown["missing_lines"] == 2
    assert cashier.post(f"{V1}/stock/counts/{count['id']}/commit", json={}).status_code == 403
    r = manager.post(f"{V1}/stock/counts/{count['id']}/commit", json={})
    assert r.status_code == 200 and r.json()["adjusted"] == 1
    assert on_hand(manager, pos.nm_id) == 1
    assert manager.post(f"{V1}/stock/counts/{count['id']}/commit", json={}).status_code == 409
    again = {"counted": 1, "sku_id": pos.nm_id}
    assert manager.post(f"{V1}/stock/counts/{count['id']}/entries", json=again).status_code == 409
    assert manager.post(f"{V1}/stock/counts/{count['id']}/entries", json={"counted": 1}).status_code == 422


def test_reorder_points_low_stock_and_valuation(manager: TestClient, pos: Pos) -> None:
    r = manager.put(f"{V1}/stock/reorder-points/{pos.nm_id}", json={"min_on_hand": 5, "reorder_qty": 12})
    assert r.json() == {"sku_id": pos.nm_id, "min_on_hand": 5, "reorder_qty": 12}
    low = manager.get(f"{V1}/stock/low").json()
    assert [(x["sku_code"], x["suggested_order"]) for x in low] == [("MTG-DMU-107-NM", 12)]
    assert manager.put(f"{V1}/stock/reorder-points/{pos.nm_id}", json={"min_on_hand": -1}).status_code == 422
    value = manager.get(f"{V1}/stock/valuation").json()
    assert value["cost_cents"] == 3 * 4000 + 30000 + 1000 * 5
    assert value["retail_cents"] == 3 * 7499 + 50000 + 1000 * 25
    assert {r["category"] for r in value["by_category"]} == {"single", "bulk"}


def test_csv_import_preview_then_commit(manager: TestClient, pos: Pos) -> None:
    csv = f"{TEMPLATE_HEADER}\nMTG,New Card,single,DMU,9,,EN,NM,,,,,,,,2.50,1.00,4,Case 1\n"
    bad = csv + "MTG,Bad,single,NOPE,1,,EN,NM,,,,,,,,1,,,\n"
    r = manager.post(f"{V1}/catalog/import", content=bad.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["dry_run"] and not report["committed"]
    assert report["errors"] == [
        {"row": 3, "column": "set_code", "message": "unknown set code 'NOPE' for MTG"}
    ]
    r = manager.post(f"{V1}/catalog/import?dry_run=false", content=bad.encode())
    assert not r.json()["committed"]  # all-or-nothing
    r = manager.post(f"{V1}/catalog/import?dry_run=false&only_valid=true", content=bad.encode())
    assert r.json()["committed"] and r.json()["units_received"] == 4
    found = manager.get(f"{V1}/skus?q=new card").json()["rows"]
    assert found[0]["on_hand"] == 4 and found[0]["where"] == "Case 1 (4)"
    r = manager.post(f"{V1}/catalog/import", content=b"colour\nred\n")
    assert r.status_code == 422 and "unknown column" in r.json()["error"]


def test_label_sheet_and_print(manager: TestClient, pos: Pos) -> None:
    r = manager.post(f"{V1}/labels/sheet?format=pdf", json={"labels": [{"sku_id": pos.nm_id, "copies": 3}]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    r = manager.post(f"{V1}/labels/sheet?format=png", json={"labels": [{"sku_id": pos.nm_id}]})
    assert r.content.startswith(b"\x89PNG")
    r = manager.post(f"{V1}/labels/sheet", json={"labels": [{"sku_id": "nope"}]})
    assert r.status_code == 404
    r = manager.post(
        f"{V1}/labels/print", json={"labels": [{"sku_id": pos.nm_id}], "station_id": pos.station_id}
    )
    assert r.status_code == 202 and r.json()["job_id"]

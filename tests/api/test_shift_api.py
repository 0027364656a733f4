"""Shift open → sale → pay-out/no-sale → close → Z report over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.services.pos_fixtures import Pos, build_pos
from vaultsync.store import Store
from vaultsync.store.models import Shift


@pytest.fixture
def pos(sqlite_store: Store) -> Pos:
    pos = build_pos(sqlite_store)
    with sqlite_store.uow() as uow:  # start without the fixture's open shift
        shift = uow.session.get(Shift, pos.shift_id)
        assert shift is not None
        shift.status = "closed"
    return pos


@pytest.fixture
def api(pos_client: TestClient) -> TestClient:
    return pos_client


def test_shift_lifecycle_over_http(api: TestClient, pos: Pos) -> None:
    r = api.post("/api/v1/shifts", json={"station_id": pos.station_id, "denominations": {"2000": 5}})
    assert r.status_code == 201, r.text
    shift = r.json()
    assert shift["opening_float_cents"] == 10000
    assert (
        api.get("/api/v1/shifts/current", params={"station_id": pos.station_id}).json()["id"] == shift["id"]
    )
    cid = api.post("/api/v1/carts", json={"station_id": pos.station_id}).json()["id"]
    api.post(f"/api/v1/carts/{cid}/scan", json={"code": "333333333333"})
    sale = api.post(
        f"/api/v1/carts/{cid}/complete",
        json={"tenders": [{"kind": "cash", "amount_cents": 100}], "client_request_id": "s1"},
    ).json()
    assert (
        api.post(
            f"/api/v1/shifts/{shift['id']}/pay-in", json={"amount_cents": 500, "reason": "change"}
        ).status_code
        == 201
    )
    r = api.post(f"/api/v1/shifts/{shift['id']}/pay-out", json={"amount_cents": 9000, "reason": "pizza"})
    assert r.status_code == 403 and r.json()["approval_required"]
    r = api.post(f"/api/v1/shifts/{shift['id']}/no-sale", json={"reason": "change for a 20"})
    assert r.status_code == 403 and r.json()["approval_required"]
    r = api.post(
        f"/api/v1/shifts/{shift['id']}/no-sale", json={"reason": "change for a 20", "approval_pin": "2468"}
    )
    assert r.status_code == 201 and r.json()["approved_by"] == pos.manager.id
    expected = api.get(f"/api/v1/shifts/{shift['id']}").json()["expected_cash_cents"]
    assert expected == 10000 + sale["total_cents"] + 500
    r = api.post(f"/api/v1/shifts/{shift['id']}/close", json={"counted_cents": expected - 25})
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["status"] == "closed" and closed["variance_cents"] == -25
    report = api.get(f"/api/v1/shifts/{shift['id']}/report").json()
    assert "Z REPORT" in report["text"] and report["report"]["cash"]["variance_cents"] == -25
    assert api.post(f"/api/v1/shifts/{shift['id']}/report/print").status_code == 202


@pytest.mark.parametrize(
    "body",
    [
        {"denominations": {"twenty": 1}},
        {"opening_float_cents": -1},
        {"denominations": {"2000": -1}},
        {"opening_float_cents": 100, "surprise": True},
    ],
)
def test_bad_open_requests(api: TestClient, pos: Pos, body: dict) -> None:
    r = api.post("/api/v1/shifts", json={"station_id": pos.station_id, **body})
    assert 400 <= r.status_code < 500
    assert api.get("/api/v1/shifts/current", params={"station_id": pos.station_id}).json() is None


def test_double_open_and_unknown_shift(api: TestClient, pos: Pos) -> None:
    assert (
        api.post("/api/v1/shifts", json={"station_id": pos.station_id, "opening_float_cents": 0}).status_code
        == 201
    )
    r = api.post("/api/v1/shifts", json={"station_id": pos.station_id, "opening_float_cents": 0})
    assert r.status_code == 409
    assert api.get("/api/v1/shifts/nope").status_code == 404
    assert api.post("/api/v1/shifts/nope/close", json={"counted_cents": 0}).status_code == 404

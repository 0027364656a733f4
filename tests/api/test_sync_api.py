"""Sync endpoints: managers only; pairing code, revocation, status; clear errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vaultsync.services.container import Services
from vaultsync.store.models import Node
from vaultsync.sync import pairing, pki


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sync_status_pairing_and_revocation(client: TestClient, token: str, services: Services) -> None:
    r = client.get("/api/v1/sync/status", headers=_auth(token))
    assert r.status_code == 200
    assert r.json()["paired"] is False and "shop init" in r.json()["problem"]
    r = client.post("/api/v1/sync/pairing-codes", headers=_auth(token))
    assert r.status_code == 409 and "shop certificate" in r.json()["error"]

    services.sync.init_shop("Card Castle")
    r = client.post("/api/v1/sync/pairing-codes", headers=_auth(token))
    assert r.status_code == 201, r.text
    assert pairing.normalize_code(r.json()["code"])

    other = "00000000000000bb"
    ca = pki.load_identity(services.config.data_dir)
    key = pki.new_node_key()
    cert = pki.issue_node_cert(
        ca.ca_key(), ca.ca_cert(), node_id=other, shop_id=ca.shop_id, public_key_pem=pki.public_pem(key)
    )
    pairing.record_node(services.store, other, "Register 2", pki.cert_pem(cert))
    r = client.post(f"/api/v1/sync/terminals/{other}/revoke", headers=_auth(token))
    assert r.status_code == 200 and r.json()["revoked_at"]
    with services.store.read() as s:
        row = s.get(Node, other)
        assert row is not None and row.revoked_at is not None
    r = client.post(f"/api/v1/sync/terminals/{other}/revoke", headers=_auth(token))
    assert r.status_code == 409
    r = client.post("/api/v1/sync/terminals/ffffffffffffffff/revoke", headers=_auth(token))
    assert r.status_code == 404
    r = client.post(f"/api/v1/sync/terminals/{services.store.node_id}/revoke", headers=_auth(token))
    assert r.status_code == 422
    status = client.get("/api/v1/sync/status", headers=_auth(token)).json()
    assert status["paired"] and status["can_pair"]
    assert {t["node_id"]: bool(t["revoked_at"]) for t in status["terminals"]} == {
        services.store.node_id: False,
        other: True,
    }
    r = client.post("/api/v1/sync/now", headers=_auth(token))
    assert r.status_code == 409 and "not running" in r.json()["error"]


def test_cashiers_and_strangers_are_refused(client: TestClient, services: Services) -> None:
    assert client.get("/api/v1/sync/status").status_code == 401
    sam = services.auth.by_username("sam")
    r = client.post("/api/v1/auth/pin", json={"user_id": sam.id, "pin": "1234"})
    assert r.status_code == 200, r.text
    cashier = r.json()["access_token"]
    assert client.get("/api/v1/sync/status", headers=_auth(cashier)).status_code == 403
    assert client.post("/api/v1/sync/pairing-codes", headers=_auth(cashier)).status_code == 403

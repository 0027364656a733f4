from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from vaultsync.services import tokens
from vaultsync.services.container import Services


def test_health_is_open_and_minimal(client: TestClient, services: Services) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["node_id"] == services.store.node_id


def test_detailed_health(client: TestClient) -> None:
    body = client.get("/health/detailed").json()
    assert body["database_ok"] is True
    assert body["schema_revision"] == body["schema_head"]
    assert body["native"] in ("compiled", "pure", "mixed")
    assert "database_url" not in body
    assert body["wal_bytes"] is not None


def test_token_and_authenticated_search(client: TestClient, token: str) -> None:
    r = client.get("/api/v1/skus", params={"q": ""}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"total": 0, "rows": []}


def test_pin_token(client: TestClient, services: Services) -> None:
    sam = services.auth.by_username("sam")
    r = client.post("/api/v1/auth/pin", json={"user_id": sam.id, "pin": "1234"})
    assert r.status_code == 200 and r.json()["role"] == "cashier"
    r = client.post("/api/v1/auth/pin", json={"user_id": sam.id, "pin": "0000"})
    assert r.status_code == 401 and r.json()["error"] == "wrong PIN"


def test_missing_bad_and_expired_tokens(client: TestClient, services: Services) -> None:
    assert client.get("/api/v1/skus").status_code == 401
    r = client.get("/api/v1/skus", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["error"] == "invalid token"
    boss = services.auth.by_username("boss")
    expired = tokens.issue(boss, services.config.secret(), ttl=timedelta(seconds=-5)).token
    r = client.get("/api/v1/skus", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]
    forged = tokens.issue(boss, "another terminal's secret" * 2).token
    assert client.get("/api/v1/skus", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_wrong_password_is_401_without_detail(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", json={"username": "boss", "password": "nope"})
    assert r.status_code == 401
    assert r.json()["error"] == "wrong username or password"


def test_validation_errors_are_4xx(client: TestClient, token: str) -> None:
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/skus", params={"limit": 0}, headers=h).status_code == 422
    r = client.get("/api/v1/skus", params={"condition": "MINT"}, headers=h)
    assert r.status_code == 422 and "unknown condition" in r.json()["error"]
    assert client.get("/api/v1/skus/does-not-exist", headers=h).status_code == 404
    assert client.post("/api/v1/auth/token", json={"username": ""}).status_code == 422


def test_disabled_user_token_stops_working(client: TestClient, services: Services) -> None:
    sam = services.auth.by_username("sam")
    tok = client.post("/api/v1/auth/pin", json={"user_id": sam.id, "pin": "1234"}).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get("/api/v1/games", headers=h).status_code == 200
    services.auth.set_active("sam", False)
    assert client.get("/api/v1/games", headers=h).status_code == 403

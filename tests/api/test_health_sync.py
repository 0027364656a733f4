"""``/health/detailed`` with sync: this node, sync on/port, peers (online, last seen, lag both
ways), open alerts — against real sync nodes on loopback (mutual TLS), and on a lone terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.services.pos_fixtures import build_pos
from tests.sync.test_transport_node import Mesh, caught_up, sell, wait_for
from vaultsync.api import build_router
from vaultsync.config import Config
from vaultsync.services.container import Services
from vaultsync.sync import alerts


def client_for(services: Services) -> TestClient:
    app = FastAPI()
    app.include_router(build_router(services))
    return TestClient(app)


def token(client: TestClient, username: str, password: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def detailed(client: TestClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = client.get("/health/detailed", headers=headers or {})
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    m = Mesh(tmp_path)
    yield m
    m.close()


def test_a_lone_terminal_reports_sync_off_without_a_problem(client: TestClient, services: Services) -> None:
    body = detailed(client)
    sync = body["sync"]
    assert sync["node_id"] == services.store.node_id
    assert (sync["paired"], sync["enabled"], sync["port"]) == (False, False, None)
    assert (sync["peers_known"], sync["peers_online"], sync["alerts_open"]) == (0, 0, 0)
    assert "peers" not in sync
    assert not any(p.startswith("sync") for p in body["problems"])
    # the liveness probe stays cheap: no sync, no database
    assert set(client.get("/health").json()) == {"status", "version", "node_id"}


def test_peers_lag_and_alerts_of_a_running_node(mesh: Mesh, tmp_path: Path) -> None:
    a = mesh.terminal("a", [])
    b = mesh.terminal("b", [mesh.ports[0]])
    pos = build_pos(a.store)  # users sam (cashier) and mia (manager), replicated to b
    sell(pos, "first")
    assert wait_for(lambda: caught_up(a.store, b.store))
    services = Services.build(Config.resolve(data_dir=tmp_path / "a", db=a.store.url), a.store)
    services.sync.node = a
    with client_for(services) as client:
        manager = token(client, "mia", "manager pass")

        def peer_b(headers: dict[str, str]) -> dict[str, Any]:
            [peer] = detailed(client, headers)["sync"]["peers"]
            return dict(peer)

        def b_caught_up() -> bool:
            # a's link to b is listed before its hello names b (node id "" until then)
            peer = peer_b(manager)
            return bool(peer["node_id"] == b.store.node_id and peer["online"] and peer["peer_lacks"] == 0)

        assert wait_for(b_caught_up)
        body = detailed(client)
        sync = body["sync"]
        assert (sync["paired"], sync["enabled"], sync["port"]) == (True, True, mesh.ports[0])
        assert (sync["peers_known"], sync["peers_online"]) == (1, 1)
        assert "peers" not in sync  # without a manager's token: counts only
        peer = peer_b(manager)
        assert peer["node_id"] == b.store.node_id and peer["last_seen"] and peer["we_lack"] == 0
        assert peer["address"].startswith("127.0.0.1")

        # b goes away; a keeps selling: a shows b offline and behind by a's new changes
        mesh.nodes[1].stop()
        sell(pos, "while-b-is-off-1")
        sell(pos, "while-b-is-off-2")
        assert wait_for(lambda: not peer_b(manager)["online"] and peer_b(manager)["peer_lacks"] > 0)
        sync = detailed(client)["sync"]
        assert sync["peers_online"] == 0 and sync["changes_peers_lack"] == peer_b(manager)["peer_lacks"]
        assert sync["changes_we_lack"] == 0

        with a.store.uow() as uow:
            alerts.record(
                uow.session,
                a.store.node_id,
                [
                    alerts.NewAlert(
                        "oversell", "critical", "skus", pos.bulk_id, "stock below zero after a merge", {}
                    )
                ],
            )
        sync = detailed(client)["sync"]
        assert (sync["alerts_open"], sync["alerts_critical"]) == (1, 1)

        # a cashier's token shows counts only; a bad token is refused, not ignored
        r = client.post("/api/v1/auth/pin", json={"user_id": pos.cashier.id, "pin": "1234"})
        cashier = {"Authorization": f"Bearer {r.json()['access_token']}"}
        assert "peers" not in detailed(client, cashier)["sync"]
        r = client.get("/health/detailed", headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401
    services.devices.stop()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.services.pos_fixtures import Pos
from vaultsync.api import build_router
from vaultsync.config import Config
from vaultsync.domain.enums import Role
from vaultsync.services.container import Services
from vaultsync.store import Store


@pytest.fixture
def services(sqlite_store: Store, tmp_path: Path) -> Services:
    config = Config.resolve(data_dir=tmp_path, db=sqlite_store.url)
    svc = Services.build(config, sqlite_store)
    svc.auth.add_user("boss", "The Boss", Role.ADMIN, password="correct horse", pin="9999")
    svc.auth.add_user("sam", "Sam", Role.CASHIER, pin="1234")
    return svc


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(build_router(services))
    with TestClient(app) as c:
        yield c


@pytest.fixture
def token(client: TestClient) -> str:
    r = client.post("/api/v1/auth/token", json={"username": "boss", "password": "correct horse"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def pos_client(pos: Pos, tmp_path: Path) -> Iterator[TestClient]:
    """An API client logged in as the POS fixture's cashier (each test module defines ``pos``)."""
    services = Services.build(
        Config.resolve(data_dir=tmp_path, db=pos.store.url, station_role="cashier"), pos.store
    )
    app = FastAPI()
    app.include_router(build_router(services))
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/pin", json={"user_id": pos.cashier.id, "pin": "1234"}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield client
    services.devices.stop()

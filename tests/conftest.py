"""Shared fixtures: real databases (SQLite always, PostgreSQL when one is configured).

PostgreSQL tests run when ``VAULTSYNC_TEST_PG_URL`` points at a server (``.ci/run``
starts one). With ``VAULTSYNC_REQUIRE_PG=1`` a missing server fails the run instead
of skipping, so CI cannot silently lose the PostgreSQL coverage.
"""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")  # cheap argon2 in tests only

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from vaultsync.store import Store, open_store

PG_URL = os.environ.get("VAULTSYNC_TEST_PG_URL")


def _pg_database() -> Iterator[str]:
    """Create a throw-away PostgreSQL database for one test and drop it afterwards."""
    if not PG_URL:
        if os.environ.get("VAULTSYNC_REQUIRE_PG") == "1":
            pytest.fail("VAULTSYNC_REQUIRE_PG=1 but VAULTSYNC_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL configured (set VAULTSYNC_TEST_PG_URL)")
    name = f"vs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shop.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{db_path}")
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same test against SQLite and PostgreSQL."""
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'shop.db'}")
        yield s
        s.close()
        return
    gen = _pg_database()
    url = next(gen)
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()
        next(gen, None)

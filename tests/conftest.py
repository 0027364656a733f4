"""Shared fixtures: real databases (SQLite always, PostgreSQL when one is configured).

PostgreSQL tests use ``VAULTSYNC_TEST_PG_URL`` if set, otherwise a private server the
session starts from the machine's PostgreSQL binaries (see tests/pg_server.py). Where
neither exists they skip; with ``VAULTSYNC_REQUIRE_PG=1`` (CI) they fail instead, so
CI cannot silently lose the PostgreSQL coverage.
"""

from __future__ import annotations

import os

os.environ.setdefault("VAULTSYNC_HASH_PROFILE", "test")  # cheap argon2 in tests only

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests import pg_server
from vaultsync.store import Store, open_store


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """Undo ``vaultsync.logs.setup`` run by an in-process CLI test.

    It replaces the root handlers with one bound to the stderr of that moment — pytest's
    capture, closed after the test — so every later warning (from a sync thread, say)
    would fail with "I/O operation on closed file".
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server for this test session (configured, or started here)."""
    url = os.environ.get("VAULTSYNC_TEST_PG_URL")
    if url:
        yield url
        return
    bindir = pg_server.find_bin()
    if bindir is None:
        if os.environ.get("VAULTSYNC_REQUIRE_PG") == "1":
            pytest.fail("VAULTSYNC_REQUIRE_PG=1 but no PostgreSQL server binaries are installed")
        pytest.skip("no PostgreSQL here (install the postgresql package or set VAULTSYNC_TEST_PG_URL)")
    server = pg_server.PgServer(bindir)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_url: str) -> str:
    """A database migrated to head once per session; tests clone it (much faster than migrating)."""
    from vaultsync.store import migrate
    from vaultsync.store.engine import make_engine

    name = f"vs_template_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(f"{pg_url.rpartition('/')[0]}/{name}")
    migrate.upgrade(engine)
    engine.dispose()
    return name


def _pg_database(pg_url: str, template: str) -> Iterator[str]:
    """Create a throw-away PostgreSQL database for one test and drop it afterwards."""
    name = f"vs_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    base, _, _ = pg_url.rpartition("/")
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
    gen = _pg_database(request.getfixturevalue("pg_url"), request.getfixturevalue("pg_template"))
    url = next(gen)
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()
        next(gen, None)

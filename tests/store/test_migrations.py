"""Schema migrations and opening databases, including every way a person can get it wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from vaultsync.domain.errors import StoreError
from vaultsync.store import Store, migrate, open_store
from vaultsync.store.base import Base
from vaultsync.store.engine import make_engine


def test_upgrade_from_empty_reaches_head_and_matches_models(store: Store) -> None:
    assert store.revision() == migrate.head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_sqlite_pragmas(sqlite_store: Store) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    open_store(f"sqlite:///{db_path}").close()
    mtime = db_path.stat().st_mtime_ns
    store = open_store(f"sqlite:///{db_path}", migrate_schema=False)
    assert store.revision() == migrate.head_revision()
    store.close()
    assert db_path.stat().st_mtime_ns == mtime


def test_newer_schema_is_refused_untouched(db_path: Path) -> None:
    open_store(f"sqlite:///{db_path}").close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="newer than this VaultSync"):
        open_store(f"sqlite:///{db_path}")
    assert db_path.read_bytes() == before


def test_corrupt_file_is_refused_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"this is a spreadsheet, not a database" * 100)
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="not a VaultSync database"):
        open_store(f"sqlite:///{db_path}")
    assert db_path.read_bytes() == before


def test_damaged_sqlite_pages_are_reported(db_path: Path) -> None:
    open_store(f"sqlite:///{db_path}").close()
    data = bytearray(db_path.read_bytes())
    page = 4096
    data[page * 2 : page * 2 + 200] = b"\xff" * 200  # trash an interior page, keep the header
    db_path.write_bytes(bytes(data))
    with pytest.raises(StoreError):
        open_store(f"sqlite:///{db_path}", integrity_check=True)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'nope' / 'shop.db'}")


def test_directory_as_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a file"):
        open_store(f"sqlite:///{tmp_path}")


def test_open_without_create_needs_an_existing_file(db_path: Path) -> None:
    with pytest.raises(StoreError, match="no database"):
        open_store(f"sqlite:///{db_path}", create=False)
    assert not db_path.exists()


def test_outdated_schema_without_migrate_is_refused(db_path: Path) -> None:
    engine = make_engine(f"sqlite:///{db_path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
    engine.dispose()
    with pytest.raises(StoreError, match="vaultsync migrate"):
        open_store(f"sqlite:///{db_path}", migrate_schema=False)


@pytest.mark.parametrize(
    "url, message",
    [
        ("not a url", "not a database URL"),
        ("mysql://u@localhost/x", "unsupported database"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot use database"),
    ],
)
def test_bad_urls_get_one_line_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    assert "\n" not in str(info.value)


def test_checkpoint_truncates_the_wal(sqlite_store: Store, db_path: Path) -> None:
    from tests.store.factories import game

    with sqlite_store.uow() as uow:
        for _ in range(50):
            game(uow.session)
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.stat().st_size > 0
    sqlite_store.checkpoint()
    assert wal.stat().st_size == 0

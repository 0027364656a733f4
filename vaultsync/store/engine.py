"""Engine creation: SQLite (WAL) by default, PostgreSQL (or any SQLAlchemy URL) by URL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from vaultsync.domain.errors import StoreError

#: How long a writer waits for another terminal process's write lock before giving up.
BUSY_TIMEOUT_MS = 10_000


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} (expected e.g. sqlite:///path/shop.db)") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///... or postgresql://..."
        )
    return parsed


#: execution option for a write transaction whose loss in a power cut costs nothing but a re-fetch
#: (a merge of other terminals' changes: see ``Store.uow(durable=False)``). On SQLite it commits
#: with ``synchronous=NORMAL``: in WAL mode that survives a crash of the process, is atomic, and
#: skips the fsync; the next FULL commit (any local sale) makes it durable along with its own.
RELAXED_SYNC_OPTION = "vaultsync_relaxed_sync"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine with the pragmas and transaction behaviour VaultSync relies on."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo=echo)
    try:
        return create_engine(parsed, echo=echo, pool_pre_ping=True, future=True)
    except ImportError as exc:
        raise StoreError(f"PostgreSQL driver missing: pip install 'vaultsync[postgres]' ({exc})") from exc


def _sqlite_engine(url: URL, *, echo: bool) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        path = Path(database)
        if path.exists() and path.is_dir():
            raise StoreError(f"database path is a directory: {path}")
        if not path.parent.exists():
            raise StoreError(f"database directory does not exist: {path.parent}")
    kwargs: dict[str, Any] = {"echo": echo}
    if memory:
        from sqlalchemy.pool import StaticPool

        kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        # the UI runs blocking work in worker threads; connections move between them
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's begin hook control transactions (pysqlite's own is broken
        # for SAVEPOINT and never issues BEGIN IMMEDIATE).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            # FULL: a sale the cashier saw confirmed survives a power cut, not just kill -9
            cur.execute("PRAGMA synchronous=FULL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # SQLite refuses to change the level inside a transaction: set it before BEGIN, and
        # only when it differs from what this connection has (a pooled connection keeps it)
        level = "NORMAL" if options.get(RELAXED_SYNC_OPTION) else "FULL"
        info = conn.connection.info
        if info.get("vaultsync_synchronous", "FULL") != level:
            conn.exec_driver_sql(f"PRAGMA synchronous={level}")
            info["vaultsync_synchronous"] = level
        if options.get("vaultsync_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine

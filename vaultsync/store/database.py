"""Opening a shop database: engine, schema check/upgrade, node identity."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import sessionmaker

from vaultsync.domain.errors import StoreError
from vaultsync.domain.ids import new_id, new_node_id
from vaultsync.store import migrate
from vaultsync.store.engine import make_engine, parse_url
from vaultsync.store.models import NodeState
from vaultsync.store.session import UnitOfWork, VaultSession


@dataclass
class Store:
    """An open shop database. One per process per database; cheap to share across threads."""

    url: str
    engine: Engine
    node_id: str
    shop_id: str
    factory: sessionmaker[VaultSession] = field(repr=False)

    def uow(self, *, write: bool = True, durable: bool = True) -> UnitOfWork:
        """One write transaction. ``durable=False`` only for writes a power cut may take back
        because they exist elsewhere and are fetched again (merging peers' changes); anything
        this terminal originates — a sale, a price edit — must stay durable."""
        return UnitOfWork(self.factory, write=write, durable=durable)

    def read(self) -> VaultSession:
        """A session for reads (use as a context manager); writes belong in ``uow()``."""
        return self.factory()

    def checkpoint(self) -> None:
        """Fold SQLite's write-ahead log back into the database file and truncate it.

        SQLite checkpoints by itself, but after a bulk load (demo, import) the log can be
        hundreds of MB until then; doing it at once keeps the first reads fast."""
        if self.engine.url.get_backend_name() == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def revision(self) -> str | None:
        return migrate.current_revision(self.engine)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_path(url: str) -> Path | None:
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database or "")


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if not path.exists():
        if not create:
            raise StoreError(
                f"no database at {path} (create one with `vaultsync migrate` or `vaultsync demo`)"
            )
        if not path.parent.is_dir():
            raise StoreError(f"data directory does not exist: {path.parent}")
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"data directory is not writable: {path.parent}")
        return
    if not path.is_file():
        raise StoreError(f"database path is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise StoreError(f"database file is not readable: {path}")
    with path.open("rb") as fh:
        header = fh.read(16)
    if header and header != b"SQLite format 3\x00":
        raise StoreError(f"{path} is not a VaultSync database (not an SQLite file, or corrupt)")


def open_store(
    url: str,
    *,
    migrate_schema: bool = True,
    create: bool = True,
    require_current: bool = True,
    integrity_check: bool = False,
) -> Store:
    """Open (and by default create and upgrade) the database at ``url``.

    ``require_current=False`` (for ``vaultsync doctor``) opens an outdated schema
    without upgrading it, so it can be inspected and reported on. ``integrity_check``
    runs SQLite's ``quick_check`` (a full scan: seconds on a large shop, so only on demand).

    Every failure a person can cause — a wrong URL, a missing or unwritable directory,
    a corrupt file, a schema from a newer VaultSync — raises StoreError with a one-line
    explanation, and leaves the file untouched.
    """
    path = _sqlite_path(url)
    if path is not None:
        _check_sqlite_file(path, create=create)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            if path is not None and integrity_check:
                result = conn.execute(text("PRAGMA quick_check")).scalar()
                if result != "ok":
                    raise StoreError(f"database {path} failed its integrity check: {result}")
        current = migrate.check_not_newer(engine)
        if current != migrate.head_revision():
            if not migrate_schema and require_current:
                raise StoreError(
                    f"database schema {current or 'empty'} needs upgrading to {migrate.head_revision()}: "
                    "run `vaultsync migrate`"
                )
            if migrate_schema:
                migrate.upgrade(engine)
        factory = sessionmaker(engine, class_=VaultSession, expire_on_commit=False)
        node_id, shop_id = _ensure_identity(factory, create=migrate_schema or current is not None)
    except StoreError:
        engine.dispose()
        raise
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        raw = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        reason = " ".join(line.strip() for line in raw.splitlines() if line.strip())
        raise StoreError(f"cannot use database {engine.url.render_as_string()}: {reason}") from exc
    factory.kw["info"] = {"node_id": node_id, "shop_id": shop_id}
    return Store(url=url, engine=engine, node_id=node_id, shop_id=shop_id, factory=factory)


def _ensure_identity(factory: sessionmaker[VaultSession], *, create: bool) -> tuple[str, str]:
    """Create this database's node id once; it never changes afterwards."""
    if not create:
        return "", ""
    with factory() as session, session.begin():
        state = session.scalar(select(NodeState).where(NodeState.id == 1))
        if state is None:
            state = NodeState(id=1, node_id=new_node_id(), shop_id=new_id(), last_seq=0, last_hlc=0)
            session.add(state)
        return state.node_id, state.shop_id

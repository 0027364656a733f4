"""The project's Session class and unit of work.

``VaultSession`` carries change capture. ``UnitOfWork`` is the one way services write:
one database transaction per use, committed only when the block finishes cleanly, and
on SQLite started with ``BEGIN IMMEDIATE`` so two terminals' processes writing at once
wait for each other (busy timeout) instead of failing half-way with "database is locked".
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from vaultsync.store import capture
from vaultsync.store.engine import RELAXED_SYNC_OPTION


class VaultSession(Session):
    """A Session whose flushes write the change log (see :mod:`vaultsync.store.capture`)."""


capture.install(VaultSession)

#: execution option that makes the SQLite begin hook take the write lock up front
IMMEDIATE = {"vaultsync_immediate": True}
#: the same, for a transaction that may be lost in a power cut (see ``RELAXED_SYNC_OPTION``)
IMMEDIATE_RELAXED = {**IMMEDIATE, RELAXED_SYNC_OPTION: True}


class UnitOfWork:
    """``with store.uow() as uow: ...`` — commit on success, roll back on any exception.

    ``uow.session`` is a fresh VaultSession. Objects stay usable after commit
    (``expire_on_commit=False``) so services can return them to callers.
    """

    def __init__(
        self, factory: sessionmaker[VaultSession], *, write: bool = True, durable: bool = True
    ) -> None:
        self._factory = factory
        self._write = write
        self._durable = durable
        self.session: VaultSession

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        if self._write:
            # procure the connection now so BEGIN IMMEDIATE is the first statement
            options = IMMEDIATE if self._durable else IMMEDIATE_RELAXED
            conn = self.session.connection(execution_options=options)
            if not self._durable and conn.dialect.name == "postgresql":
                # PostgreSQL's own equivalent, for this transaction only: the commit returns before
                # the WAL reaches the disk; a crash can lose it, never half of it
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()

    def flush(self) -> None:
        self.session.flush()

    def add(self, obj: Any) -> None:
        self.session.add(obj)

"""Declarative base and the replication classes of tables.

Each model declares ``__replication__``:

* ``"lww"`` — mutable records (catalog, customers, users, settings...). Replicated by
  last-writer-wins per column, ordered by (HLC, node id). Deletes are tombstones.
* ``"ledger"`` — insert-only facts (stock movements, credit entries, transactions,
  audit, price updates). Replicated by union. Updating or deleting a ledger row is
  refused by change capture: quantities and balances are derived from ledgers, and
  letting one terminal overwrite them would lose another terminal's sales.
* ``"local"`` — node-private state (change log, vector clock, derived caches,
  counters, peer links). Never replicated.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from vaultsync.domain.ids import new_id
from vaultsync.store.types import ID_LEN, UTCDateTime, utcnow

Replication = Literal["lww", "ledger", "local"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __replication__: ClassVar[Replication] = "local"


class IdMixin:
    """A globally unique primary key created on the terminal that makes the row."""

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True, default=new_id)


class TimestampMixin:
    """Creation and last-change wall times, for people; replication ordering uses HLCs."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Change capture stamps updated_at on every real modification (so the stamp itself
    # replicates with the change); no SQL-side onupdate that would bypass the change log.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def replicated_tables() -> dict[str, type[Base]]:
    """Map table name -> model class for every replicated (lww or ledger) table."""
    out: dict[str, type[Base]] = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if getattr(cls, "__replication__", "local") in ("lww", "ledger"):
            out[cls.__tablename__] = cls
    return out

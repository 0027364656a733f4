"""Audit trail: who did what, before and after, hash-chained per node so tampering shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime, utcnow


class AuditEntry(IdMixin, Base):
    __tablename__ = "audit_entries"
    __replication__ = "ledger"
    __table_args__ = (Index("ix_audit_entries_node_seq", "node_id", "node_seq", unique=True),)

    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    #: position in this node's chain, 1, 2, 3...
    node_seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    #: manager who approved an override, if any
    approved_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    station_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    action: Mapped[str] = mapped_column(String(48), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(32), default=None)
    entity_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)

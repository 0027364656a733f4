"""Alerts raised by merges: oversells, negative store credit, unique-value collisions.

Replicated (``lww``) so that a manager sees the same list on every terminal and resolving
an alert on one terminal resolves it everywhere. The id is derived from what the alert is
about (kind, subject, the observed value), so two terminals that detect the same oversell
while merging create the *same* row, not two; a worse state (a second copy oversold) is a
new alert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime


class SyncAlert(TimestampMixin, Base):
    __tablename__ = "sync_alerts"
    __replication__ = "lww"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    #: oversell | negative_credit | unique_collision | duplicate_cert
    kind: Mapped[str] = mapped_column(String(24), index=True)
    #: warning | critical
    severity: Mapped[str] = mapped_column(String(8))
    subject_table: Mapped[str] = mapped_column(String(48))
    subject_id: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    detected_by: Mapped[str] = mapped_column(String(NODE_LEN))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    resolution_note: Mapped[str | None] = mapped_column(Text, default=None)

"""Cash shifts: opening float, pay-ins/outs and no-sales, counted close and variance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import NODE_LEN, CentsType, UTCDateTime, utcnow


class Shift(IdMixin, TimestampMixin, Base):
    __tablename__ = "shifts"
    __replication__ = "lww"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.id"), index=True)
    opened_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    opening_float_cents: Mapped[int] = mapped_column(CentsType, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # ShiftStatus
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expected_cash_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    counted_cash_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    variance_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    #: {"2000": 3, "100": 12, ...}: count per denomination in cents
    denominations: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)
    z_report: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), default=None)


class CashMovement(IdMixin, Base):
    __tablename__ = "cash_movements"
    __replication__ = "ledger"

    shift_id: Mapped[str] = mapped_column(ForeignKey("shifts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # CashMovementKind
    amount_cents: Mapped[int] = mapped_column(CentsType, default=0)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

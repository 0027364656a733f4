"""In-store events (tournaments, prereleases) and the players entered in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import CentsType, UTCDateTime


class Event(IdMixin, TimestampMixin, Base):
    __tablename__ = "events"
    __replication__ = "lww"

    game_id: Mapped[str | None] = mapped_column(ForeignKey("games.id"), default=None)
    name: Mapped[str] = mapped_column(String(120))
    format: Mapped[str | None] = mapped_column(String(60), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    capacity: Mapped[int | None] = mapped_column(Integer, default=None)
    fee_cents: Mapped[int] = mapped_column(CentsType, default=0)
    #: e.g. {"1": 5000, "2": 3000, "3-4": 1500} in store-credit cents
    prize_structure: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # EventStatus
    notes: Mapped[str | None] = mapped_column(Text, default=None)


class EventEntry(IdMixin, TimestampMixin, Base):
    __tablename__ = "event_entries"
    __replication__ = "lww"
    __table_args__ = (Index("ix_event_entries_event_customer", "event_id", "customer_id"),)

    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    #: the sale that paid the entry fee
    transaction_id: Mapped[str | None] = mapped_column(ForeignKey("transactions.id"), default=None)
    status: Mapped[str] = mapped_column(String(16), default="registered")  # registered/checked_in/dropped
    placement: Mapped[int | None] = mapped_column(Integer, default=None)
    prize_cents: Mapped[int] = mapped_column(CentsType, default=0)

"""Inventory operations: stock counts and reorder points.

A stock count is a mutable header (``stock_counts``, last-writer-wins: its status moves
open → committed or abandoned) plus an insert-only ledger of what was counted
(``stock_count_entries``). Entries are facts ("at this moment Ann counted 4 of SKU X in
Binder 3") and are never edited: counting a line again appends a newer entry, and the
newest entry per (SKU, location) is the count's answer. Being a ledger, entries made on
two terminals for the same count are merged by union, and each carries the hybrid
logical clock of its write (``hlc``), which is the count's *position in the stock
ledger*: at commit the adjustment is ``counted − Σ movements positioned at or before it``,
so sales and receipts after that moment stay on top (see ``vaultsync.services.stock_ops``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime, utcnow


class StockCount(IdMixin, TimestampMixin, Base):
    """One count of a location (and everything below it in the location tree)."""

    __tablename__ = "stock_counts"
    __replication__ = "lww"

    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    #: StockCountStatus: open, committed, abandoned
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    started_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    closed_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class StockCountEntry(IdMixin, Base):
    """What was counted of one SKU at one location, at one moment (insert-only)."""

    __tablename__ = "stock_count_entries"
    __replication__ = "ledger"
    __table_args__ = (Index("ix_stock_count_entries_count_sku", "count_id", "sku_id", "location_id"),)

    count_id: Mapped[str] = mapped_column(ForeignKey("stock_counts.id"))
    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    counted: Mapped[int] = mapped_column(Integer)
    #: on hand as this terminal knew it when the entry was made (for showing the difference)
    seen_on_hand: Mapped[int] = mapped_column(Integer)
    #: "counted" (a person counted it) or "not_found" (expected, not counted: zeroed at commit)
    kind: Mapped[str] = mapped_column(String(16), default="counted")
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    #: set by change capture: the entry's position in the stock ledger
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReorderPoint(IdMixin, TimestampMixin, Base):
    """When a SKU's total on hand falls to ``min_on_hand`` or below, it is on the low-stock list."""

    __tablename__ = "reorder_points"
    __replication__ = "lww"

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"), unique=True)
    min_on_hand: Mapped[int] = mapped_column(Integer)
    #: how many to order when it is low (the suggestion on the low-stock list); 0: up to min + 1
    reorder_qty: Mapped[int] = mapped_column(Integer, default=0)

"""Stock as a ledger of movements, plus a derived on-hand cache.

On-hand is never written directly: it is Σ delta over ``stock_movements``. The
``stock_levels`` table is a cache maintained by the store in the same transaction as
each movement (locally and when peers' movements are merged), and can be rebuilt from
the ledger at any time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime, utcnow


class StockMovement(IdMixin, Base):
    __tablename__ = "stock_movements"
    __replication__ = "ledger"
    __table_args__ = (Index("ix_stock_movements_sku_location", "sku_id", "location_id"),)

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"))
    location_id: Mapped[str] = mapped_column(ForeignKey("locations.id"))
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))  # MovementReason
    #: what caused it: a transaction, a count, a transfer...
    ref_type: Mapped[str | None] = mapped_column(String(24), default=None)
    ref_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    #: set by change capture: the hybrid logical clock of the write
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockLevel(Base):
    """Derived cache: on-hand per (SKU, location). Local to each node, never replicated."""

    __tablename__ = "stock_levels"
    __replication__ = "local"

    sku_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)

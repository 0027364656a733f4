"""Price history (ledger) and the volatility guard's review queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, CentsType, UTCDateTime, utcnow


class PriceUpdate(IdMixin, Base):
    """Every change of a SKU's market or shelf price: source, old, new, who, when."""

    __tablename__ = "price_updates"
    __replication__ = "ledger"

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # "tcgplayer-csv", "manual", "feed:<name>"...
    field: Mapped[str] = mapped_column(String(16), default="shelf")  # "shelf" | "market"
    old_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    new_cents: Mapped[int] = mapped_column(CentsType)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    review_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class PriceReview(IdMixin, TimestampMixin, Base):
    """A market move the volatility guard held back for a manager to accept, reject or edit."""

    __tablename__ = "price_reviews"
    __replication__ = "lww"

    sku_id: Mapped[str] = mapped_column(ForeignKey("skus.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    old_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    proposed_cents: Mapped[int] = mapped_column(CentsType)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # PriceReviewStatus
    final_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)

"""Open and parked carts, gift cards, and this terminal's print queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, CentsType, UTCDateTime, utcnow


class Cart(IdMixin, TimestampMixin, Base):
    """A sale being rung up. Replicated (last writer wins) so a parked sale can be resumed
    on any terminal once synced; the completed sale itself is the Transaction ledger."""

    __tablename__ = "carts"
    __replication__ = "lww"

    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id"), index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    #: open | held | completed | voided
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    #: what the cashier calls a parked sale ("Blue hoodie, 2 boxes")
    label: Mapped[str | None] = mapped_column(String(80), default=None)
    #: lines, discounts, overrides: see vaultsync.domain.cart.Cart.to_json
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    transaction_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)


class GiftCard(IdMixin, TimestampMixin, Base):
    __tablename__ = "gift_cards"
    __replication__ = "lww"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class GiftCardEntry(IdMixin, Base):
    """Gift card value moves as a ledger, like store credit: balance = Σ delta."""

    __tablename__ = "gift_card_entries"
    __replication__ = "ledger"

    gift_card_id: Mapped[str] = mapped_column(ForeignKey("gift_cards.id"), index=True)
    delta_cents: Mapped[int] = mapped_column(CentsType)
    ref_type: Mapped[str | None] = mapped_column(String(24), default=None)
    ref_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PrintJob(IdMixin, Base):
    """A document waiting for (or sent to) this terminal's printer.

    Local: a receipt belongs to the printer it was rung up next to. A printer that is off
    or out of paper leaves the job pending for retry; the sale itself is already safe.
    """

    __tablename__ = "print_jobs"
    __replication__ = "local"

    station_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # receipt | z_report | label | drawer
    ref_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True, default=None)
    #: rendered ESC/POS bytes, ready to send
    data: Mapped[bytes] = mapped_column(LargeBinary)
    #: pending | printed | failed (gave up after too many attempts; can be retried by hand)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

"""Completed transactions with their lines and tenders: insert-only ledgers.

A completed transaction is never edited. A refund, a return or a void of a completed
sale is a new transaction whose ``original_id`` points at the one it reverses, so two
terminals can never disagree about what a sale was.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vaultsync.store.base import Base, IdMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, CentsType, UTCDateTime, utcnow


class Transaction(IdMixin, Base):
    __tablename__ = "transactions"
    __replication__ = "ledger"

    #: human receipt number, per terminal: "T2-000123"
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # TransactionKind
    station_id: Mapped[str | None] = mapped_column(ForeignKey("stations.id"), default=None)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), index=True, default=None)
    shift_id: Mapped[str | None] = mapped_column(ForeignKey("shifts.id"), index=True, default=None)
    original_id: Mapped[str | None] = mapped_column(ForeignKey("transactions.id"), index=True, default=None)
    #: who authorised an override on this transaction, if anyone
    approved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    subtotal_cents: Mapped[int] = mapped_column(CentsType, default=0)
    discount_cents: Mapped[int] = mapped_column(CentsType, default=0)
    tax_cents: Mapped[int] = mapped_column(CentsType, default=0)
    total_cents: Mapped[int] = mapped_column(CentsType, default=0)
    tax_inclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    #: makes a retried submit of the same sale a no-op
    client_request_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    lines: Mapped[list[TransactionLine]] = relationship(
        order_by="TransactionLine.line_no", back_populates="transaction"
    )
    tenders: Mapped[list[TransactionTender]] = relationship(back_populates="transaction")


class TransactionLine(IdMixin, Base):
    __tablename__ = "transaction_lines"
    __replication__ = "ledger"

    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    #: None for a custom line (manual price with a reason)
    sku_id: Mapped[str | None] = mapped_column(ForeignKey("skus.id"), index=True, default=None)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(CentsType)
    #: shelf price at the time, so overrides and discounts stay visible in reports
    list_price_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    discount_cents: Mapped[int] = mapped_column(CentsType, default=0)
    tax_cents: Mapped[int] = mapped_column(CentsType, default=0)
    total_cents: Mapped[int] = mapped_column(CentsType)
    cost_cents: Mapped[int | None] = mapped_column(CentsType, default=None)
    tax_category: Mapped[str | None] = mapped_column(String(32), default=None)
    #: refunds: the line being returned, and whether the item went back to stock
    original_line_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    restock: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str | None] = mapped_column(String(200), default=None)

    transaction: Mapped[Transaction] = relationship(back_populates="lines")


class TransactionTender(IdMixin, Base):
    __tablename__ = "transaction_tenders"
    __replication__ = "ledger"

    transaction_id: Mapped[str] = mapped_column(ForeignKey("transactions.id"), index=True)
    tender: Mapped[str] = mapped_column(String(16))  # Tender
    amount_cents: Mapped[int] = mapped_column(CentsType)
    #: cash: change handed back
    change_cents: Mapped[int] = mapped_column(CentsType, default=0)
    #: card: the external terminal's approval reference (no card data is ever stored);
    #: gift card: the card code
    reference: Mapped[str | None] = mapped_column(String(64), default=None)

    transaction: Mapped[Transaction] = relationship(back_populates="tenders")


class Counter(Base):
    """Per-terminal human numbering (receipts, buylist slips). Local: each terminal has its own
    prefix, so numbers never collide and need no coordination."""

    __tablename__ = "counters"
    __replication__ = "local"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)

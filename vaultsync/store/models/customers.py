"""Customers, their ID capture for buylist compliance, and the store-credit ledger."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, CentsType, UTCDateTime, utcnow


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"
    __replication__ = "lww"

    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80), default="")
    email: Mapped[str | None] = mapped_column(String(200), index=True, default=None)
    phone: Mapped[str | None] = mapped_column(String(32), index=True, default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    tax_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    tax_exempt_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    # ID capture: many jurisdictions require it before buying from the public
    id_type: Mapped[str | None] = mapped_column(String(32), default=None)
    id_number: Mapped[str | None] = mapped_column(String(64), default=None)
    id_captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    date_of_birth: Mapped[date | None] = mapped_column(Date, default=None)
    address: Mapped[str | None] = mapped_column(Text, default=None)
    marketing_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class CreditEntry(IdMixin, Base):
    """One movement of store credit. Balance = Σ delta; never overwritten."""

    __tablename__ = "credit_entries"
    __replication__ = "ledger"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    delta_cents: Mapped[int] = mapped_column(CentsType)
    reason: Mapped[str] = mapped_column(String(16))  # CreditReason
    ref_type: Mapped[str | None] = mapped_column(String(24), default=None)
    ref_id: Mapped[str | None] = mapped_column(String(ID_LEN), index=True, default=None)
    user_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    node_id: Mapped[str] = mapped_column(String(NODE_LEN))
    hlc: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CustomerBalance(Base):
    """Derived cache of Σ credit entries per customer; local, rebuilt from the ledger."""

    __tablename__ = "customer_balances"
    __replication__ = "local"

    customer_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(CentsType, default=0)

"""People who log in, the stations they use, and local login throttling."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __replication__ = "lww"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))  # Role
    #: argon2id hashes; never the secret itself
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    pin_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Station(IdMixin, TimestampMixin, Base):
    """A terminal's role and devices. ``node_id`` links it to the replica it runs."""

    __tablename__ = "stations"
    __replication__ = "lww"

    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # StationRole
    node_id: Mapped[str | None] = mapped_column(String(NODE_LEN), index=True, default=None)
    #: receipt number prefix, unique per station ("T2" -> "T2-000123")
    receipt_prefix: Mapped[str] = mapped_column(String(8), unique=True)
    #: python-escpos target, e.g. "network://10.0.0.20:9100", "usb://04b8:0202", "file:///dev/usb/lp0"
    printer_uri: Mapped[str | None] = mapped_column(String(200), default=None)
    has_drawer: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class LoginThrottle(Base):
    """Failed PIN/password attempts per user on this terminal (local: lockout is per device)."""

    __tablename__ = "login_throttle"
    __replication__ = "local"

    user_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

"""Local bookkeeping of the sync network: one-time pairing codes (DESIGN.md §4, §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base
from vaultsync.store.types import ID_LEN, NODE_LEN, UTCDateTime, utcnow


class PairingCode(Base):
    """A one-time code a manager showed so a new terminal can join the shop.

    Local, never replicated: the code is only good against the terminal that issued it.
    The code itself is not stored, only a salted scrypt key derived from it (what the
    joining terminal must prove it knows); a code is single use, expires, and is burnt
    after too many wrong proofs.
    """

    __tablename__ = "pairing_codes"
    __replication__ = "local"

    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    salt: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    used_by_node: Mapped[str | None] = mapped_column(String(NODE_LEN), default=None)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)

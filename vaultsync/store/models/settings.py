"""Shop-wide settings (name, currency, tax rules, receipt footer...) as replicated key/values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base
from vaultsync.store.types import UTCDateTime, utcnow


class Setting(Base):
    __tablename__ = "settings"
    __replication__ = "lww"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

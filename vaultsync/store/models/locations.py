"""Where stock physically is: store → case → binder/row → slot, so a cashier can find it."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vaultsync.store.base import Base, IdMixin, TimestampMixin


class Location(IdMixin, TimestampMixin, Base):
    __tablename__ = "locations"
    __replication__ = "lww"

    parent_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), index=True, default=None)
    #: store, case, binder, row, box, shelf, slot, backroom, event
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    #: short label printed on the case or binder ("C2", "B-MTG-3")
    code: Mapped[str | None] = mapped_column(String(24), default=None)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

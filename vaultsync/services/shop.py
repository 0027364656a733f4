"""Shop-wide settings: name, currency, receipt texts. Replicated key/values with defaults."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import ValidationError
from vaultsync.services import audit
from vaultsync.services.auth import UserView, require_role
from vaultsync.store import Store
from vaultsync.store.models import Setting
from vaultsync.store.types import utcnow

DEFAULTS: dict[str, Any] = {
    "shop.name": "My Card Shop",
    "shop.currency": "USD",
    "shop.currency_symbol": "$",
    "shop.address": "",
    "shop.phone": "",
    "receipt.footer": "Thank you! Returns within 14 days with receipt.",
    "receipt.width": 42,
    "smtp.host": "",
    "smtp.port": 587,
    "smtp.starttls": True,
    "smtp.ssl": False,
    "smtp.from": "",
    "smtp.username": "",
    "smtp.password": "",
    # tax rates per tax category, in basis points (825 = 8.25 %); games and products name
    # their category, "standard" unless they say otherwise
    "tax.rates": {"standard": 0},
    "tax.inclusive": False,
    # manager override needed above these (discount as basis points of the line or cart)
    "pos.discount_approval_bps": 2000,
    "pos.refund_approval_cents": 10000,
    # shifts: the cash denominations counted at open/close (cents, largest first), the pay-out
    # above which a manager must approve, and whether a no-sale drawer open needs a manager
    "shift.denominations": [10000, 5000, 2000, 1000, 500, 100, 25, 10, 5, 1],
    "shift.payout_approval_cents": 5000,
    "shift.no_sale_requires_approval": True,
    # register quick keys: {"label", "sku_code"} adds that SKU; {"label", "description",
    # "price_cents", "reason"} adds a custom line; "ask_quantity": true asks for a count first
    "pos.quick_keys": [
        {
            "label": "Bulk commons",
            "description": "Bulk commons (by count)",
            "price_cents": 10,
            "reason": "bulk by count",
            "ask_quantity": True,
        },
        {"label": "Sleeves", "description": "Card sleeves (pack)", "price_cents": 999, "reason": "supplies"},
        {
            "label": "Event entry",
            "description": "Event entry fee",
            "price_cents": 500,
            "reason": "event entry",
        },
    ],
}


#: settings are read on every scan; a short cache keeps that off the database while a
#: change made on another terminal still shows up within seconds
CACHE_SECONDS = 5.0


class ShopService:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, Any] | None = None
        self._cached_at = 0.0

    def get(self, key: str) -> Any:
        return self.all().get(key)

    def all(self) -> dict[str, Any]:
        cache, at = self._cache, self._cached_at
        if cache is not None and time.monotonic() - at < CACHE_SECONDS:
            return dict(cache)
        values = dict(DEFAULTS)
        with self.store.read() as s:
            values.update({row.key: row.value for row in s.scalars(select(Setting))})
        self._cache, self._cached_at = values, time.monotonic()
        return dict(values)

    def set(self, key: str, value: Any, *, actor: UserView | None = None) -> None:
        if actor is not None:
            require_role(actor, Role.MANAGER)
        if not key or len(key) > 64:
            raise ValidationError("setting keys are 1-64 characters")
        with self.store.uow() as uow:
            row = uow.session.get(Setting, key)
            before = row.value if row else None
            if row is None:
                uow.add(Setting(key=key, value=value))
            else:
                row.value = value
                row.updated_at = utcnow()
            audit.record(
                uow.session,
                "setting.set",
                user_id=actor.id if actor else None,
                entity_type="setting",
                entity_id=key[:32],
                before={"value": before},
                after={"value": value},
            )
        self.forget()  # this terminal sees its own change at once

    def forget(self) -> None:
        """Drop the cached settings: the next read sees what was written behind this service
        (the demo generator, a settings import), not what was cached up to 5 s before."""
        self._cache = None

    @property
    def name(self) -> str:
        return str(self.get("shop.name"))

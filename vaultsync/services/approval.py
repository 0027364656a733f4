"""Manager override: the one place a manager's PIN turns "not allowed" into "allowed, by her".

Checkout (discounts, price below cost, refunds over a threshold, no-receipt returns, voids)
and shifts (large pay-outs, no-sale drawer opens, closing another cashier's shift) all ask
the same question the same way, so the cashier screen can handle every case with one PIN
prompt: catch :class:`ApprovalRequired`, ask for a manager PIN, retry with it.

Call :func:`approve` BEFORE opening your unit of work. A wrong PIN is audited as
``override.denied`` in a unit of work of its own — the attempt must stay on record even
though the operation it was meant to unlock is refused and rolled back — and on SQLite a
second writer inside an open write transaction would wait on itself.
"""

from __future__ import annotations

from typing import Any

from vaultsync.domain.enums import Role
from vaultsync.domain.errors import AuthenticationError, PermissionDenied
from vaultsync.services import audit
from vaultsync.services.auth import AuthService, UserView

#: audit action of a refused override (wrong or non-manager PIN)
DENIED_ACTION = "override.denied"


class ApprovalRequired(PermissionDenied):
    """The action needs a manager's PIN. ``reason`` says why, for the prompt and the audit."""

    def __init__(self, reason: str, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"manager approval needed: {reason}")


def approve(
    auth: AuthService,
    pin: str | None,
    reason: str,
    *,
    actor: UserView | None = None,
    action: str | None = None,
    station_id: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> UserView:
    """Return the manager who approves ``reason``, or raise.

    * no PIN (None or blank): :class:`ApprovalRequired` — the UI should prompt for one;
      except that a logged-in, active manager or admin (``actor``) approves their own action
      (the audit then shows ``approved_by`` = themselves), because asking a manager to type
      her PIN to approve herself protects nothing;
    * a PIN that is not an active manager's: :class:`AuthenticationError`, and an
      ``override.denied`` audit row naming who tried, for what (``action``, ``reason``), where.
    """
    if pin is None or not pin.strip():
        if actor is not None and actor.is_active and actor.role.at_least(Role.MANAGER):
            return actor
        raise ApprovalRequired(reason)
    try:
        return auth.verify_manager_pin(pin.strip())
    except AuthenticationError:
        after: dict[str, Any] = {"action": action, "reason": reason}
        if details:
            after.update(details)
        with auth.store.uow() as uow:
            audit.record(
                uow.session,
                DENIED_ACTION,
                user_id=actor.id if actor else None,
                station_id=station_id,
                entity_type=entity_type,
                entity_id=entity_id,
                after=after,
            )
        raise

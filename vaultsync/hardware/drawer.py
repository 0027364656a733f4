"""Cash drawer: the ESC/POS kick pulse sent through the station's receipt printer.

Drawers are wired to the printer's RJ-11 "DK" port; the printer fires the solenoid when
it receives ``ESC p m t1 t2``. Most drawers use pin 2; a second drawer (or some
models) uses pin 5 — set ``Station.settings["drawer_pin"] = 5``.

The kick is sent directly, never through the print queue: a drawer that pops open
minutes later when a printer comes back would be a security problem, not a convenience.
Every open is audited (action ``drawer.open``) *before* the pulse is sent, so no open
— even one whose pulse then fails — escapes the trail; a failed pulse adds a
``drawer.open_failed`` entry. Printer failures come back in :class:`DrawerResult`
instead of being raised, so a cash sale that is already committed never shows a stack
trace because the drawer was unplugged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from escpos.printer import Dummy

from vaultsync.domain.errors import NotFoundError, ValidationError
from vaultsync.hardware.printers import PrinterError, send
from vaultsync.services import audit
from vaultsync.store import Store
from vaultsync.store.models import Station

log = logging.getLogger(__name__)

#: the pulse must be fast: the cashier is holding the customer's cash
DRAWER_TIMEOUT = 2.0


def kick_bytes(pin: int = 2) -> bytes:
    """The ESC/POS drawer-kick command for ``pin`` (2 or 5), exactly as escpos emits it."""
    if pin not in (2, 5):
        raise ValidationError("cash drawer pin must be 2 or 5")
    printer = Dummy()
    printer.cashdraw(pin)
    return printer.output


def kick(uri: str | None, *, pin: int = 2, timeout: float = DRAWER_TIMEOUT) -> None:
    """Send the kick pulse to the printer at ``uri``; raises PrinterError on failure. Not audited."""
    send(uri, kick_bytes(pin), timeout=timeout)


@dataclass(frozen=True)
class DrawerResult:
    """Outcome of :func:`open_drawer`: ``error`` is a message to show the cashier."""

    opened: bool
    error: str | None = None
    audit_seq: int | None = None


def drawer_pin(station: Station) -> int:
    pin = (station.settings or {}).get("drawer_pin", 2)
    return 5 if pin in (5, "5") else 2


def open_drawer(
    store: Store,
    station: Station | str,
    *,
    user_id: str | None,
    reason: str,
    approved_by: str | None = None,
    ref_id: str | None = None,
    timeout: float = DRAWER_TIMEOUT,
) -> DrawerResult:
    """Audit and kick the drawer of ``station`` (a Station or its id).

    ``reason`` is what the audit shows ("cash sale T1-000042", "no sale: change for
    the till"). Authority (a manager PIN for a no-sale) is the caller's check; pass the
    approving manager as ``approved_by`` so the trail shows who allowed it.
    """
    if not reason or not reason.strip():
        raise ValidationError("a drawer open needs a reason")
    with store.read() as s:
        row = s.get(Station, station) if isinstance(station, str) else s.get(Station, station.id)
        if row is None:
            raise NotFoundError("unknown station")
        s.expunge(row)
    if not row.has_drawer:
        return DrawerResult(False, f"{row.name} has no cash drawer")
    pin = drawer_pin(row)
    details = {"reason": reason.strip()[:200], "pin": pin, "ref_id": ref_id}
    with store.uow() as uow:
        entry = audit.record(
            uow.session,
            "drawer.open",
            user_id=user_id,
            approved_by=approved_by,
            station_id=row.id,
            entity_type="station",
            entity_id=row.id,
            after=details,
        )
    try:
        kick(row.printer_uri, pin=pin, timeout=timeout)
    except (PrinterError, ValidationError) as exc:
        message = f"cash drawer did not open: {exc}"
        log.warning("%s (station %s)", message, row.name)
        try:
            with store.uow() as uow:
                audit.record(
                    uow.session,
                    "drawer.open_failed",
                    user_id=user_id,
                    approved_by=approved_by,
                    station_id=row.id,
                    entity_type="station",
                    entity_id=row.id,
                    after={**details, "error": str(exc)[:300]},
                )
        except Exception:  # the failure is already reported to the cashier; never mask it
            log.exception("could not audit a failed drawer open")
        return DrawerResult(False, message, entry.node_seq)
    return DrawerResult(True, None, entry.node_seq)

"""What the screens may do with printers, drawers and email — only if that code is installed.

The hardware layer (:mod:`vaultsync.hardware`) is built separately from the screens and
may be missing or half-finished on a given build. The register must still sell, so every
hardware feature is looked up once at import time; a missing one simply hides its button
(no dead buttons a cashier taps in vain) and the receipt preview falls back to a plain
text rendering done here.

Printing never happens on the sale path: reprints and Z reports go through the
persistent print queue, which a worker drains; this module only adds jobs and reads the
queue's status for the "receipt not printed — retry" indicator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from vaultsync.domain.money import format_cents
from vaultsync.domain.receipt import Receipt
from vaultsync.services.container import Services

log = logging.getLogger(__name__)

_render: ModuleType | None
_queue_mod: ModuleType | None
_email: ModuleType | None
_drawer: ModuleType | None

try:
    from vaultsync.hardware import receipt_render as _render
except ImportError:  # pragma: no cover - depends on the build
    _render = None
try:
    from vaultsync.hardware import print_queue as _queue_mod
except ImportError:  # pragma: no cover
    _queue_mod = None
try:
    from vaultsync.hardware import email_receipt as _email
except ImportError:  # pragma: no cover
    _email = None
try:
    from vaultsync.hardware import drawer as _drawer
except ImportError:  # pragma: no cover
    _drawer = None

RECEIPT_WIDTH = 42


@dataclass(frozen=True)
class PrintStatus:
    """The indicator's facts: receipts waiting or given up on, and the last printer error."""

    pending: int
    failed: int
    last_error: str | None

    @property
    def needs_attention(self) -> bool:
        return self.failed > 0 or (self.pending > 0 and self.last_error is not None)


def devices(services: Services) -> Any | None:
    """The terminal's :class:`~vaultsync.services.devices.DeviceService`, if this build has one.

    It owns the print queue and its worker, so a reprint queued through it is actually
    printed; the screens never build a second queue of their own.
    """
    if _queue_mod is None or _render is None:
        return None
    return getattr(services, "devices", None)


def can_print(services: Services) -> bool:
    """Reprint / Print buttons are shown only when the print queue and its worker exist."""
    return devices(services) is not None


def can_email(services: Services) -> bool:
    return _email is not None and devices(services) is not None


def receipt_preview(services: Services, receipt: Receipt) -> str:
    """The receipt as text for the screen: the printer's own layout when available."""
    device = devices(services)
    if device is not None:
        try:
            return str(device.receipt_preview(receipt.number))
        except Exception:  # a preview must never hide the sale; fall back to the plain one
            log.exception("receipt preview failed; showing the plain one")
    elif _render is not None:
        try:
            return str(_render.receipt_text(receipt))
        except Exception:
            log.exception("receipt_text failed; showing the plain preview")
    return plain_receipt_text(receipt)


def plain_receipt_text(r: Receipt, width: int = RECEIPT_WIDTH) -> str:
    """A simple fixed-width receipt, used when the hardware renderer is not installed."""
    sym = r.currency_symbol

    def pair(left: str, right: str) -> str:
        room = width - len(right) - 1
        if len(left) > room:
            left = left[: max(room - 1, 0)] + "…"
        return f"{left:<{room}} {right}"

    rule = "-" * width
    out = [r.shop_name.center(width).rstrip(), *(h.center(width).rstrip() for h in r.header_lines)]
    if r.reprint:
        out.append("*** REPRINT ***".center(width).rstrip())
    title = {"refund": "REFUND", "void": "VOID"}.get(r.kind, "")
    if title:
        out.append(title.center(width).rstrip())
    out += [rule, pair("Receipt", r.number), pair("Date", _when(r.at)), pair("Cashier", r.cashier)]
    if r.original_number:
        out.append(pair("Original receipt", r.original_number))
    if r.customer:
        out.append(pair("Customer", r.customer))
    out.append(rule)
    for line in r.lines:
        out.append(line.description[:width])
        if line.detail:
            out.append(f"  {line.detail}"[:width])
        out.append(
            pair(
                f"  {line.quantity} x {format_cents(line.unit_price_cents, sym)}",
                format_cents(line.total_cents, sym),
            )
        )
        if line.discount_cents:
            out.append(pair("  discount", format_cents(-line.discount_cents, sym)))
    out += [rule, pair("Subtotal", format_cents(r.subtotal_cents, sym))]
    if r.discount_cents:
        out.append(pair("Discounts", format_cents(-r.discount_cents, sym)))
    out.append(pair("Tax (included)" if r.tax_inclusive else "Tax", format_cents(r.tax_cents, sym)))
    out.append(pair("TOTAL", format_cents(r.total_cents, sym)))
    for t in r.tenders:
        out.append(pair(t.label, format_cents(t.amount_cents, sym)))
    if r.change_cents:
        out.append(pair("Change", format_cents(r.change_cents, sym)))
    out.append(rule)
    out += [f.center(width).rstrip() for f in r.footer_lines]
    out.append(f"[{r.number}]".center(width).rstrip())
    return "\n".join(out) + "\n"


def _when(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def _required(services: Services) -> Any:
    device = devices(services)
    if device is None:
        raise RuntimeError("printing is not available on this build")
    return device


def reprint(services: Services, station_id: str, receipt: Receipt) -> None:
    """Queue a REPRINT copy of ``receipt`` for this station's printer."""
    _required(services).reprint(receipt.number, station_id)


def print_text(services: Services, station_id: str, kind: str, text: str) -> None:
    """Queue plain text (a Z report) as an ESC/POS job with a cut."""
    _required(services).print_text(station_id, kind, text)


def print_status(services: Services, station_id: str) -> PrintStatus | None:
    """Receipts waiting or failed at this station; None when printing is not available."""
    device = devices(services)
    if device is None:
        return None
    status = device.status(station_id)
    return PrintStatus(int(status.pending), int(status.failed), status.last_error)


def retry_prints(services: Services, station_id: str) -> int:
    device = devices(services)
    return int(device.retry_failed(station_id)) if device is not None else 0


def email_receipt(services: Services, receipt: Receipt, to: str) -> None:
    """Send the receipt by email with the shop's SMTP settings (blocking: call off the loop)."""
    if not can_email(services):
        raise RuntimeError("email receipts are not available on this build")
    _required(services).email(receipt.number, to)


def open_drawer(services: Services, station_id: str, *, user_id: str, reason: str) -> str | None:
    """Kick this station's drawer (audited); returns an error to show, or None.

    Only for drawer opens the services leave to the caller (no-sale, pay-out): a cash
    sale or cash refund already opened it inside checkout/refunds.
    """
    device = devices(services)
    if device is not None:
        result = device.open_drawer(station_id, user_id=user_id, reason=reason)
    elif _drawer is not None:
        result = _drawer.open_drawer(services.store, station_id, user_id=user_id, reason=reason)
    else:
        return None
    return None if result.opened else str(result.error or "")
